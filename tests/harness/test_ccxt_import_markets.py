"""Every import leaves out the markets ccxt cannot round an order for, the user's as the corpus's.

ccxt's older market snapshots give precisions in decimal places (``0``) where ccxt now reads
tick sizes; ccxt then refuses to round an order for such a market. The corpus build always left
them out; ``scaffolder cassettes import-ccxt`` on a user's folder does the same, through the one
function (:func:`scaffolder.harness.ccxt_fixtures.unusable_markets`).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import ccxt
from click.testing import CliRunner

from scaffolder.cli import main
from scaffolder.harness import corpus
from scaffolder.harness.ccxt_fixtures import unusable_markets, usable_markets
from scaffolder.harness.ccxt_import import import_ccxt

STATIC = Path(__file__).resolve().parents[1] / "data" / "ccxt_static"


def test_a_zero_precision_is_unusable_only_where_ccxt_reads_tick_sizes() -> None:
    markets = {
        "A/B": {"precision": {"amount": 0, "price": 0.01}},
        "C/D": {"precision": {"amount": 0.001, "price": 0}},
        "E/F": {"precision": {"amount": 0.001, "price": -1}},
        "G/H": {"precision": {"amount": 0.001, "price": 0.01}},
        "I/J": {"precision": {"amount": None, "price": None}},
        "K/L": {},
    }
    assert ccxt.binance().precisionMode == ccxt.TICK_SIZE
    found = unusable_markets("binance", markets)
    assert sorted(found) == ["A/B", "C/D", "E/F"]
    assert found["A/B"].startswith("precision.amount 0:")
    assert found["C/D"].startswith("precision.price 0:")
    kept, dropped = usable_markets("binance", markets)
    assert sorted(kept) == ["G/H", "I/J", "K/L"] and dropped == found
    # decimal places or significant digits: 0 is a precision like any other
    assert ccxt.bithumb().precisionMode != ccxt.TICK_SIZE
    assert unusable_markets("bithumb", markets) == {}


def _zeroed_binance(tmp_path: Path) -> tuple[Path, str]:
    """binance's fixtures with one market every case of the file can mention made unusable."""
    static = tmp_path / "static"
    for kind in ("markets", "response"):
        (static / kind).mkdir(parents=True)
        shutil.copyfile(STATIC / kind / "binance.json", static / kind / "binance.json")
    clean = tmp_path / "clean"
    report = import_ccxt("binance", static, clean)
    assert report.imported and not report.markets_dropped
    snapshot = json.loads((clean / "markets.json").read_text())
    symbol = sorted(snapshot)[0]
    markets = json.loads((static / "markets" / "binance.json").read_text())
    markets[symbol]["precision"]["amount"] = 0
    (static / "markets" / "binance.json").write_text(json.dumps(markets))
    return static, symbol


def test_import_ccxt_leaves_an_unusable_market_out(tmp_path: Path) -> None:
    static, symbol = _zeroed_binance(tmp_path)
    report = import_ccxt("binance", static, tmp_path / "out")
    assert list(report.markets_dropped) == [symbol]
    assert symbol not in json.loads((tmp_path / "out" / "markets.json").read_text())
    cases = json.loads((tmp_path / "out" / "ccxt" / "cases.json").read_text())["cases"]
    assert all(symbol not in c["input"] for c in cases)


def test_the_user_command_leaves_out_what_the_corpus_build_leaves_out(
    tmp_path: Path, monkeypatch
) -> None:
    """bitvavo's recorded BTC/EUR has ``precision.price`` 0: the bundled corpus dropped it."""
    expected = corpus.manifest()["exchanges"]["bitvavo"]["marketsDropped"]
    assert expected
    assert (
        unusable_markets(
            "bitvavo", json.loads((STATIC / "markets" / "bitvavo.json").read_text())
        ).keys()
        == expected.keys()
    )
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main,
        ["cassettes", "import-ccxt", "bitvavo", "--static-dir", str(STATIC), "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    snapshot = json.loads((out / "markets.json").read_text())
    cases = json.loads((out / "ccxt" / "cases.json").read_text())["cases"]
    for symbol in expected:
        assert symbol not in snapshot
        assert f"market {symbol} left out: precision.price 0" in result.output
        assert all(symbol not in c["input"] for c in cases)


def test_the_corpus_build_drops_them_through_the_same_function(tmp_path: Path, monkeypatch) -> None:
    """One rule: widening it (here: every market) changes what both the build and the import
    leave out."""
    from scaffolder.harness import ccxt_fixtures

    def everything(exchange_id: str, markets: dict) -> dict[str, str]:
        return {s: "test: every market" for s in markets}

    monkeypatch.setattr(ccxt_fixtures, "unusable_markets", everything)
    report = import_ccxt("kraken", STATIC, tmp_path / "out")
    assert report.markets_dropped
    assert json.loads((tmp_path / "out" / "markets.json").read_text()) == {}
    raw = tmp_path / "raw"
    for kind in ("markets", "response"):
        (raw / kind).mkdir(parents=True)
        shutil.copyfile(STATIC / kind / "kraken.json", raw / kind / "kraken.json")
    entry = corpus.build_one("kraken", raw, tmp_path / "corpus", {})
    assert entry["marketsDropped"] == report.markets_dropped
