"""Our shapes against ccxt's parsedResponse, field by field: a wrong normalisation fails."""

from __future__ import annotations

import json
from pathlib import Path

from scaffolder.generate import generate
from scaffolder.harness.parsed_check import differences
from tests.scaffolder.test_generate import make_project
from tests.scaffolder.test_new_from_corpus import counts, run_generated_tests

PARSED_TICKER = {
    "symbol": "BTC/USDT", "timestamp": 1710328245000, "last": "73268.24", "bid": 73367.96,
    "ask": 73385.27, "high": None, "low": None, "baseVolume": 3.5, "quoteVolume": 259620.27,
    "datetime": "2024-03-13T11:10:45.000Z",
}  # fmt: skip
OURS_TICKER = {
    "symbol": "BTC/USDT", "timestamp": 1710328245000, "last": 73268.24, "bid": 73367.96,
    "ask": 73385.27, "high": None, "low": None, "base_volume": 3.5, "quote_volume": 259620.27,
}  # fmt: skip


def test_a_faithful_ticker_has_no_differences_numeric_strings_included() -> None:
    assert differences("get_ticker", OURS_TICKER, PARSED_TICKER) == []


def test_swapped_volumes_are_reported_field_by_field() -> None:
    wrong = {**OURS_TICKER, "base_volume": 259620.27, "quote_volume": 3.5}
    found = differences("get_ticker", wrong, PARSED_TICKER)
    assert len(found) == 2 and "base_volume" in found[0] and "quote_volume" in found[1]


def test_skip_keys_are_not_compared() -> None:
    wrong = {**OURS_TICKER, "timestamp": 1}
    assert differences("get_ticker", wrong, PARSED_TICKER)
    assert differences("get_ticker", wrong, PARSED_TICKER, ["timestamp"]) == []


def test_balances_orders_and_candles_are_compared() -> None:
    parsed = {"free": {"BTC": 1.0, "ETH": 0}, "used": {"BTC": 0.5}, "total": {"BTC": 1.5, "ETH": 0}}
    assert (
        differences("get_balance", {"BTC": {"free": 1.0, "used": 0.5, "total": 1.5}}, parsed) == []
    )
    assert differences("get_balance", {}, parsed) == ["balance lacks BTC (ccxt's parsed total 1.5)"]
    order = {"id": "7", "symbol": "LTC/USDT", "side": "buy", "amount": 0.1, "status": "open"}
    ours = {**order, "client_order_id": None, "type": "market", "price": None, "filled": None,
            "remaining": None, "timestamp": None}  # fmt: skip
    assert differences("get_order", ours, order) == []
    assert differences("get_order", {**ours, "side": "sell"}, order)
    assert differences("get_open_orders", [{**ours, "id": "8"}], [order])
    rows = [[2, 1, 1, 1, 1, 1], [1, 5, 6, 4, 5, 10]]
    assert differences("get_ohlcv", sorted(rows), rows) == []
    assert differences("get_ohlcv", [[1, 5, 6, 4, 5, 10]], rows)


def test_the_generated_contract_fails_when_the_answer_differs_from_parsed(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    generate("kraken", project)
    path = project / "cassettes" / "kraken" / "contract.json"
    scenario = json.loads(path.read_text())
    assert run_generated_tests(project, "kraken", "-k", "get_ohlcv").returncode == 0
    scenario["calls"]["get_ohlcv"]["parsed"][0][4] = 1.0  # what a wrong normalisation would give
    path.write_text(json.dumps(scenario))

    result = run_generated_tests(project, "kraken", "-k", "get_ohlcv")

    assert result.returncode == 1 and counts(result).get("failed") == 1
    assert "parsedResponse" in result.stdout
