"""``scaffolder record``: against the local Binance stand-in, with canary credentials.

What a recording must prove: the cassettes replay with the exchange gone; no credential and no
signature reaches them, in any encoding; they name the testnet, not the stand-in; recording
again gives cassettes the same tests accept; mainnet and missing credentials are refused; and
when the audit finds a secret, nothing is written.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
import yaml
from click.testing import CliRunner
from vcr.request import Request

from brokers.errors import ConfigError
from scaffolder.cli import main
from scaffolder.errors import ScaffolderError, UsageError
from scaffolder.harness import session
from scaffolder.harness.audit import audit
from scaffolder.harness.matching import make_matcher
from scaffolder.harness.record import RecordReport, record, replay_contract
from scaffolder.standin import BinanceStandIn, RecordedRequest
from tests.conftest import own_copy

ROOT = Path(__file__).resolve().parents[2]
API_KEY = "CANARY-RECORD-API-KEY-0000"
SECRET = "CANARY-RECORD-SECRET-0000"
ENV = {"BINANCE_API_KEY": API_KEY, "BINANCE_API_SECRET": SECRET}
TESTNET = "https://testnet.binance.vision/api/v3/"
CALLS = [
    "get_balance",
    "get_ticker",
    "get_ohlcv",
    "create_order",
    "get_order",
    "get_open_orders",
    "cancel_order",
    "get_positions",
    "get_order_unknown",
    "cancel_order_unknown",
]
FILES = sorted(
    [f"{call}.yaml" for call in CALLS] + ["contract.json", "markets.json", "provenance.json"]
)
CONTRACT_TESTS = [
    "test_get_balance",
    "test_get_ticker",
    "test_get_ohlcv",
    "test_create_order",
    "test_get_order",
    "test_get_open_orders",
    "test_cancel_order",
    "test_get_positions",
    "test_get_unknown_order_raises_order_not_found",
    "test_cancel_unknown_order_raises_order_not_found",
]


def new_project(root: Path, *, testnet: bool = True) -> Path:
    """A minimal project: the binance config, its generated test file, an empty cassettes dir."""
    (root / "config" / "brokers").mkdir(parents=True)
    (root / "tests" / "brokers").mkdir(parents=True)
    (root / "cassettes" / "binance").mkdir(parents=True)
    config = json.loads((ROOT / "config" / "brokers" / "binance.json").read_text(encoding="utf-8"))
    config.pop("$schema", None)
    config["settings"]["testnet"] = testnet
    (root / "config" / "brokers" / "binance.json").write_text(json.dumps(config), encoding="utf-8")
    shutil.copy(ROOT / "tests" / "brokers" / "test_binance.py", root / "tests" / "brokers")
    return root


@dataclass
class Recording:
    root: Path
    report: RecordReport
    progress: list[str]
    requests: list[RecordedRequest]
    port: int


def record_against_standin(root: Path, *, replay: bool = True) -> Recording:
    """Record ``root``'s binance cassettes against a fresh stand-in, which is stopped after."""
    progress: list[str] = []
    with pytest.MonkeyPatch.context() as mp, BinanceStandIn(API_KEY, SECRET) as standin:
        for name, value in ENV.items():
            mp.setenv(name, value)
        report = record("binance", root, via=standin.url, progress=progress.append, replay=replay)
        requests = list(standin.requests)
        assert standin.errors == []
    return Recording(root, report, progress, requests, standin.port)


@pytest.fixture(scope="module")
def first(tmp_path_factory) -> Recording:
    return record_against_standin(new_project(tmp_path_factory.mktemp("first")))


@pytest.fixture(scope="module")
def second(tmp_path_factory, first) -> Recording:
    """A second recording into a copy of the first project: the re-recording path (overwrite)."""
    root = tmp_path_factory.mktemp("second") / "project"
    own_copy(first.root, root)
    return record_against_standin(root)


def interactions(path: Path) -> list[dict]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["interactions"]


def files_under(root: Path) -> Iterator[Path]:
    return (p for p in sorted(root.rglob("*")) if p.is_file())


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in files_under(root)}


def base64_fragments(value: str) -> set[str]:
    """Every way ``value`` shows inside base64 text, whatever its offset in the encoded bytes."""
    fragments = set()
    for offset in range(3):
        encoded = base64.b64encode(b"." * offset + value.encode() + b"..").decode()
        core = encoded[-(-8 * offset // 6) : 8 * (offset + len(value)) // 6]
        fragments |= {core, core.replace("+", "-").replace("/", "_")}
    return fragments


def as_request(recorded: dict) -> Request:
    return Request(recorded["method"], recorded["uri"], recorded["body"], recorded["headers"])


# -- the recording -------------------------------------------------------------------------------


def test_recording_writes_every_contract_call_and_replays(first):
    assert first.report.calls == CALLS
    assert first.report.files == FILES
    assert sorted(p.name for p in (first.root / "cassettes" / "binance").iterdir()) == FILES
    assert first.report.replay_exit_code == 0
    scenario = json.loads((first.root / "cassettes" / "binance" / "contract.json").read_text())
    assert list(scenario["calls"]) == CALLS and scenario["source"] == "recorded"
    markets = json.loads((first.root / "cassettes" / "binance" / "markets.json").read_text())
    assert sorted(markets) == ["BTC/USDT", "ETH/USDT"], (
        "the snapshot holds the configured pairs only"
    )
    for message in ("recording create_order", "auditing the cassettes for secrets", "replaying"):
        assert any(message in line for line in first.progress), (message, first.progress)


def test_only_a_safe_order_was_placed_and_it_was_cancelled(first):
    orders = [r for r in first.requests if r.path == "/api/v3/order" and r.method == "POST"]
    assert len(orders) == 1
    assert orders[0].params["type"] == "LIMIT" and orders[0].params["side"] == "BUY"
    ticker = [r for r in first.requests if r.path == "/api/v3/ticker/24hr"]
    assert ticker, "the price was taken from the market"
    cancels = [r for r in first.requests if r.method == "DELETE" and r.path == "/api/v3/order"]
    assert any(c.params.get("orderId") == "1" for c in cancels)


def test_cassettes_replay_with_the_exchange_stopped(first, capfd, monkeypatch):
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", first.port), timeout=1).close()
    capfd.readouterr()
    monkeypatch.chdir(first.root.parent)  # a root relative to the working directory works too
    assert replay_contract(Path(first.root.name), "binance") == 0
    # exit 0 would also mean "everything skipped": the contract must really have run
    summary = capfd.readouterr().out.strip().splitlines()[-1]
    counts = {
        word: int(n) for n, word in re.findall(r"(\d+) (passed|skipped|failed|error)", summary)
    }
    assert counts.get("passed", 0) >= len(CONTRACT_TESTS) + 3, summary
    assert counts.get("skipped", 0) <= 1, summary


def test_no_credential_and_no_signature_is_written_in_any_encoding(first):
    signatures = {r.params["signature"] for r in first.requests if "signature" in r.params}
    assert len(signatures) >= 7, "the recording made signed calls"
    forbidden = set(signatures)
    for value in (API_KEY, SECRET):
        forbidden |= {value, quote(value, safe=""), quote_plus(value)} | base64_fragments(value)
    written = list(files_under(first.root / "cassettes"))
    assert len(written) == len(FILES), written  # nothing else (no scratch directory left behind)
    for path in written:
        text = path.read_text(encoding="utf-8")
        for value in forbidden:
            assert value not in text, f"{value!r} leaked into {path.name}"
    scanned, findings = audit([first.root / "cassettes"], first.root, env=ENV)
    assert (scanned, findings) == (len(FILES), [])


def test_auth_parts_are_masked_and_meaningful_parts_kept(first):
    (order,) = interactions(first.root / "cassettes" / "binance" / "create_order.yaml")
    request = order["request"]
    assert request["headers"]["X-MBX-APIKEY"] == ["SCRUBBED"]
    assert "signature=SCRUBBED" in request["body"]
    assert "symbol=BTCUSDT" in request["body"] and "side=BUY" in request["body"]


def test_recorded_urls_are_the_testnet_not_the_standin(first):
    for path in (first.root / "cassettes" / "binance").glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        assert "127.0.0.1" not in text and str(first.port) not in text, path.name
        for interaction in interactions(path):
            assert interaction["request"]["uri"].startswith(TESTNET), interaction["request"]["uri"]


# -- recording twice -----------------------------------------------------------------------------


def test_recording_again_gives_cassettes_the_same_tests_accept(first, second):
    assert second.report.replay_exit_code == 0
    assert first.report.files == second.report.files == FILES
    old, new = first.root / "cassettes" / "binance", second.root / "cassettes" / "binance"
    assert sorted(p.name for p in new.iterdir()) == FILES
    # it really is a new recording (new client order id), not the copied files left in place
    assert (old / "contract.json").read_text() != (new / "contract.json").read_text()
    assert not any(p.name.startswith(".") for p in (second.root / "cassettes").iterdir())
    assert_same_requests(old, new, "binance")


def assert_same_requests(old: Path, new: Path, exchange: str) -> None:
    """Two recordings hold the same requests, up to the nonces, timestamps, signatures and
    client order ids the exchange's matcher ignores, answered with the same statuses."""
    matcher = make_matcher(exchange)
    for name in FILES:
        if not name.endswith(".yaml"):
            continue
        a, b = interactions(old / name), interactions(new / name)
        assert len(a) == len(b), name
        for one, other in zip(a, b, strict=True):
            matcher(as_request(one["request"]), as_request(other["request"]))
            matcher(as_request(other["request"]), as_request(one["request"]))
            assert one["response"]["status"] == other["response"]["status"], name


# -- refusals ------------------------------------------------------------------------------------


def test_mainnet_is_refused_without_allow_mainnet(tmp_path, monkeypatch):
    root = new_project(tmp_path, testnet=False)
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(UsageError, match="--allow-mainnet"):
        record("binance", root)
    assert list(files_under(root / "cassettes")) == []
    monkeypatch.chdir(root)
    result = CliRunner().invoke(main, ["record", "binance"])
    assert result.exit_code == 2
    assert "--allow-mainnet" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("value", [None, ""], ids=["unset", "empty"])
def test_a_missing_credential_is_named(tmp_path, monkeypatch, value):
    root = new_project(tmp_path)
    monkeypatch.setenv("BINANCE_API_KEY", API_KEY)
    if value is None:
        monkeypatch.delenv("BINANCE_API_SECRET", raising=False)
    else:
        monkeypatch.setenv("BINANCE_API_SECRET", value)
    with pytest.raises(ConfigError) as failure:
        record("binance", root)
    assert "BINANCE_API_SECRET" in str(failure.value)
    assert "BINANCE_API_KEY" not in str(failure.value)
    assert list(files_under(root / "cassettes")) == []


def test_an_unknown_broker_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="scaffolder new kraken"):
        record("kraken", new_project(tmp_path))


class _NoScrubbing:
    """A scrubber that scrubs nothing: what a regression in scrubbing would look like."""

    def __init__(self, exchange, secrets=()):
        pass

    def request(self, request):
        return request

    def response(self, response):
        return response


def test_when_the_audit_finds_a_secret_nothing_is_written(first, tmp_path, monkeypatch):
    root = tmp_path / "project"
    own_copy(first.root, root)  # with cassettes already there: they must stay as they are
    before = snapshot(root / "cassettes")
    monkeypatch.setattr(session, "Scrubber", _NoScrubbing)
    with pytest.raises(ScaffolderError) as failure:
        record_against_standin(root, replay=False)
    message = str(failure.value)
    assert "not written" in message and "audit found secrets" in message
    assert "X-MBX-APIKEY" in message and "$BINANCE_API_KEY" in message
    assert API_KEY not in message, "the error must not print the secret"
    assert snapshot(root / "cassettes") == before


# -- the command line, as the README documents it -------------------------------------------------


def test_scaffolder_record_via_the_standin_from_a_project_directory(tmp_path):
    root = new_project(tmp_path)
    scaffolder = Path(sys.executable).parent / "scaffolder"
    with BinanceStandIn(API_KEY, SECRET) as standin:
        run = subprocess.run(
            [str(scaffolder), "record", "binance", "--via", standin.url],
            cwd=root,
            env={**os.environ, **ENV},
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"recorded {len(CALLS)} calls for binance: {', '.join(CALLS)}" in run.stdout
    assert "[binance] recording create_order" in run.stderr
    assert "[binance] replaying the contract from the new cassettes" in run.stderr
    assert sorted(p.name for p in (root / "cassettes" / "binance").iterdir()) == FILES
    assert API_KEY not in run.stdout + run.stderr


def test_a_failure_after_the_order_is_placed_still_cancels_it(tmp_path, monkeypatch):
    """The recording promises one order, cancelled: a failing later call must not leave it open."""
    import shutil

    from brokers.ccxt_broker import CcxtBroker
    from scaffolder.errors import ScaffolderError
    from scaffolder.harness.record import record
    from scaffolder.standin import BinanceStandIn

    root = Path(__file__).resolve().parents[2]
    (tmp_path / "config" / "brokers").mkdir(parents=True)
    shutil.copy(root / "config" / "brokers" / "binance.json", tmp_path / "config" / "brokers")
    monkeypatch.setenv("BINANCE_API_KEY", "CANARY-API-KEY-0000")
    monkeypatch.setenv("BINANCE_API_SECRET", "CANARY-SECRET-0000")

    import ccxt

    def broken(self, *args, **kwargs):
        raise ccxt.ExchangeError("open orders endpoint down")

    monkeypatch.setattr(CcxtBroker, "get_open_orders", broken)
    with BinanceStandIn("CANARY-API-KEY-0000", "CANARY-SECRET-0000") as standin:
        with pytest.raises((ScaffolderError, ccxt.ExchangeError)):
            record("binance", tmp_path, via=standin.url, replay=False)
        assert standin.orders_created == 1
        assert [o["status"] for o in standin.orders()] == ["CANCELED"]
    assert not list((tmp_path / "cassettes").glob("binance/*.yaml"))
