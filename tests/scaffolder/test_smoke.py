"""``scaffolder smoke NAME``: the manual smoke run, against each exchange stand-in.

Read-only by default: the stand-in sees no order. With ``--with-order`` exactly one far-below-
market limit buy is placed and cancelled, and only after a confirmation (``--yes`` skips it;
a refusal places nothing). A step that fails is reported as failed, with exit 1.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from scaffolder.cli import main
from scaffolder.standin import BinanceStandIn
from tests.harness.test_record import API_KEY, ENV, SECRET
from tests.harness.test_record_standins import COINBASE, GEMINI, new_project

BINANCE_STANDIN = lambda: BinanceStandIn(API_KEY, SECRET)  # noqa: E731
STANDINS = {"binance": (BINANCE_STANDIN, ENV), "gemini": (GEMINI.standin, GEMINI.env),
            "coinbase": (COINBASE.standin, COINBASE.env)}  # fmt: skip
CANCELLED = {
    "binance": lambda order: order["status"] == "CANCELED",
    "gemini": lambda order: order["is_cancelled"] is True,
    "coinbase": lambda order: order["status"] == "CANCELLED",
}
READ_ONLY = ["connect", "balance", "ticker", "ohlcv", "disconnect"]


def project(tmp_path: Path, name: str) -> Path:
    root = new_project(tmp_path / "project", name)
    (root / "templates" / "broker").mkdir(parents=True)
    (root / "templates" / "broker" / "copier.yml").write_text("{}\n")
    return root


def smoke(root: Path, name: str, monkeypatch, *args: str, stdin: str | None = None):
    make, env = STANDINS[name]
    monkeypatch.chdir(root)
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    with make() as standin:
        result = CliRunner().invoke(main, ["smoke", name, "--via", standin.url, *args], input=stdin)
        orders = standin.orders()
        created = standin.orders_created
    return result, orders, created


@pytest.mark.parametrize("name", sorted(STANDINS))
def test_a_read_only_smoke_run_passes_every_step_and_places_nothing(name, tmp_path, monkeypatch):
    result, orders, created = smoke(project(tmp_path, name), name, monkeypatch, "--json")
    assert result.exit_code == 0, result.output
    steps = json.loads(result.output)["steps"]
    assert [s["step"] for s in steps] == READ_ONLY
    assert all(s["ok"] and s["ms"] >= 0 for s in steps)
    assert created == 0 and orders == []


@pytest.mark.parametrize("name", sorted(STANDINS))
def test_with_order_places_one_order_and_cancels_it(name, tmp_path, monkeypatch):
    result, orders, created = smoke(
        project(tmp_path, name), name, monkeypatch, "--with-order", "--yes"
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split()[1] for line in lines[1:-1]] == [
        "connect", "balance", "ticker", "ohlcv", "create_order", "cancel_order", "disconnect"
    ]  # fmt: skip
    assert all(line.startswith("ok") for line in lines[1:-1]) and lines[-1] == "all ok"
    assert created == 1 and len(orders) == 1
    assert CANCELLED[name](orders[0]), orders[0]


def test_the_order_waits_for_a_confirmation(tmp_path, monkeypatch):
    root = project(tmp_path, "binance")
    refused, _, created = smoke(root, "binance", monkeypatch, "--with-order", stdin="n\n")
    assert refused.exit_code == 1 and "no order placed" in refused.output
    assert created == 0
    agreed, _, created = smoke(root, "binance", monkeypatch, "--with-order", stdin="y\n")
    assert agreed.exit_code == 0, agreed.output
    assert created == 1


def test_a_failing_step_is_reported_and_exits_1(tmp_path, monkeypatch):
    root = project(tmp_path, "binance")
    monkeypatch.setenv("BINANCE_API_SECRET", "CANARY-WRONG-SECRET")  # signed calls refused
    monkeypatch.chdir(root)
    monkeypatch.setenv("BINANCE_API_KEY", API_KEY)
    with BINANCE_STANDIN() as standin:
        result = CliRunner().invoke(main, ["smoke", "binance", "--via", standin.url])
    assert result.exit_code == 1
    balance = next(line for line in result.output.splitlines() if " balance " in line)
    assert balance.startswith("FAIL") and "AuthenticationError" in balance
    ticker = next(line for line in result.output.splitlines() if " ticker " in line)
    assert ticker.startswith("ok"), "a public read still runs after a failed signed one"


def test_smoke_runs_a_freshly_generated_rest_broker(tmp_path):
    """Not only the committed brokers: a REST broker just rendered by the template."""
    from scaffolder.generate import generate
    from tests.harness.test_record_rest import KEY, NAME, SECRET, in_project
    from tests.scaffolder.test_generate import make_project

    root = make_project(tmp_path / "project")
    generate(NAME, root, data={"integration": "rest"})
    with BinanceStandIn(KEY, SECRET) as standin:
        run = in_project(
            root, "-m", "scaffolder.cli", "smoke", NAME, "--via", standin.url, "--with-order",
            "--yes", "--json",
        )  # fmt: skip
        created = standin.orders_created
        orders = standin.orders()
    assert run.returncode == 0, run.stdout + run.stderr
    steps = json.loads(run.stdout)["steps"]
    assert [s["step"] for s in steps][-3:] == ["create_order", "cancel_order", "disconnect"]
    assert all(s["ok"] for s in steps), steps
    assert created == 1 and CANCELLED["binance"](orders[0])
