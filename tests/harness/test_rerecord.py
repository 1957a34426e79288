"""Safe re-record: ``scaffolder record`` replaces the committed cassettes only once the new ones
replay, prints their drift, and keeps them aside (named) when they fail or the run stops.

Against the Binance stand-in: a re-record whose answers break the contract (the side of open
orders renamed) leaves ``cassettes/binance/`` byte for byte as it was; so do Ctrl-C, SIGTERM and
SIGKILL in the middle of a real ``scaffolder record`` process; a harmless change (a number
sent as a string) is reported as drift and swapped in; ``--only`` replaces one call.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from scaffolder.cli import main
from scaffolder.harness.record import record
from scaffolder.harness.rerecord import ReplayFailed, kept
from scaffolder.standin import BinanceStandIn
from tests.conftest import own_copy
from tests.harness.test_record import API_KEY, ENV, SECRET, new_project, snapshot

SCAFFOLDER = Path(sys.executable).parent / "scaffolder"


@pytest.fixture(scope="module")
def committed(tmp_path_factory) -> Path:
    """A project with a committed binance recording."""
    root = new_project(tmp_path_factory.mktemp("rerecord") / "project")
    (root / "templates" / "broker").mkdir(parents=True)
    (root / "templates" / "broker" / "copier.yml").write_text("{}\n")
    rerecord(root)
    return root


@pytest.fixture
def project(committed, tmp_path) -> Path:
    root = tmp_path / "project"
    return own_copy(committed, root)


def rerecord(root: Path, progress: list[str] | None = None, *, only=None, **shape) -> None:
    messages = [] if progress is None else progress
    with pytest.MonkeyPatch.context() as mp, BinanceStandIn(API_KEY, SECRET) as standin:
        for name, value in ENV.items():
            mp.setenv(name, value)
        if shape:
            standin.change_shape(**shape)
        record("binance", root, via=standin.url, only=only, progress=messages.append)


def test_a_rerecord_that_fails_its_replay_leaves_the_committed_cassettes_untouched(
    project, monkeypatch
):
    before = snapshot(project / "cassettes" / "binance")
    progress: list[str] = []
    with pytest.raises(ReplayFailed) as failure:
        rerecord(project, progress, rename={"side": "direction"}, path="/api/v3/openOrders")
    assert snapshot(project / "cassettes" / "binance") == before
    (new,) = kept(project, "binance")
    assert f"kept in cassettes/{new.name}" in str(failure.value)
    assert "untouched" in str(failure.value)
    assert (new / "get_open_orders.yaml").exists() and (new / "contract.json").exists()
    drift = "\n".join(progress)
    assert "get_open_orders: exchange answer changed, parsed result CHANGED" in drift
    assert "removed  $[].side (string)" in drift
    # the kept recording is what `cassettes diff` compares by default
    monkeypatch.chdir(project)
    result = CliRunner().invoke(main, ["cassettes", "diff", "binance"])
    assert result.exit_code == 1 and "get_open_orders" in result.output.splitlines()[-1]


def test_a_rerecord_that_replays_replaces_the_cassettes_and_prints_its_drift(project):
    before = snapshot(project / "cassettes" / "binance")
    progress: list[str] = []
    rerecord(project, progress, stringify={"closeTime"})
    after = snapshot(project / "cassettes" / "binance")
    assert after["create_order.yaml"] != before["create_order.yaml"]
    assert after.keys() == before.keys()
    assert "  get_ticker: exchange answer changed, parsed result unchanged" in progress
    assert "      type     $.closeTime: number -> string" in progress
    assert kept(project, "binance") == []
    assert not any(p.name.startswith(".") for p in (project / "cassettes").iterdir())


def test_only_replaces_the_named_call(project):
    before = snapshot(project / "cassettes" / "binance")
    rerecord(project, only=["get_ticker"], stringify={"closeTime"})
    after = snapshot(project / "cassettes" / "binance")
    changed = sorted(name for name in before if before[name] != after.get(name))
    assert changed == ["get_ticker.yaml", "provenance.json"]
    assert after.keys() == before.keys()


def test_only_names_a_contract_call(project):
    with pytest.raises(Exception, match="not a contract call"):
        rerecord(project, only=["fetchTicker"])


@pytest.mark.parametrize(
    "how", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=["ctrl-c", "term", "kill"]
)
def test_an_interrupted_rerecord_leaves_the_committed_cassettes_untouched(project, how):
    before = snapshot(project / "cassettes" / "binance")
    with BinanceStandIn(API_KEY, SECRET, fault_delay=60) as standin:
        standin.inject("timeout_before", method="GET", path="/api/v3/openOrders")
        run = subprocess.Popen(
            [str(SCAFFOLDER), "record", "binance", "--via", standin.url],
            cwd=project, env={**os.environ, **ENV}, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60  # a guard against hanging, not a timed assertion
        while not any(r.path == "/api/v3/openOrders" for r in standin.requests):
            assert run.poll() is None and time.monotonic() < deadline, run.stderr
            time.sleep(0.05)
        run.send_signal(how)
        _, stderr = run.communicate(timeout=60)
    assert run.returncode != 0
    assert snapshot(project / "cassettes" / "binance") == before
    (new,) = kept(project, "binance")
    assert (new / "create_order.yaml").exists(), "what was recorded before the stop is kept"
    if how != signal.SIGKILL:
        assert f"is kept in cassettes/{new.name}" in stderr and "untouched" in stderr
        assert [o["status"] for o in standin.orders()] == ["CANCELED"]


def test_a_freshly_generated_rest_broker_gets_the_same_protection(tmp_path, tmp_path_factory):
    """Not only the committed brokers: a REST broker just rendered by the template (and
    recorded once, by test_record_rest's project: copied here, since this test records again)."""
    from tests.harness.test_record_rest import KEY, NAME, SECRET, in_project, recorded_rest_project

    recorded, first = recorded_rest_project(tmp_path_factory)
    assert first.returncode == 0, first.stderr
    root = tmp_path / "project"
    own_copy(recorded, root)
    before = snapshot(root / "cassettes" / NAME)
    with BinanceStandIn(KEY, SECRET) as standin:
        standin.change_shape({"side": "direction"}, path="/api/v3/openOrders")
        again = in_project(root, "-m", "scaffolder.cli", "record", NAME, "--via", standin.url)
    assert again.returncode == 1 and "untouched" in again.stderr
    assert "get_open_orders: exchange answer changed, parsed result CHANGED" in again.stderr
    assert snapshot(root / "cassettes" / NAME) == before
    assert len(kept(root, NAME)) == 1
