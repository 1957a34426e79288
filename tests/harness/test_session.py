"""What the harness builds for each replayed test (scaffolder/harness/session.py) costs no more
than it must, and no test's changes reach the next one."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path

from scaffolder.harness.session import canary, canary_env, harness_vcr_config, load_markets

ROOT = Path(__file__).resolve().parents[2]


def test_a_deep_copy_of_the_vcr_config_shares_its_scrubbing_hooks():
    # pytest-recording deep-copies vcr_config twice a test: the hooks must be plain functions
    # (copied as themselves), not bound methods that drag a copy of the scrubber along
    config = harness_vcr_config("binance")
    copied = copy.deepcopy(config)
    for hook in ("before_record_request", "before_record_response"):
        assert copied[hook] is config[hook]


def test_each_markets_snapshot_is_the_files_own_copy_and_follows_the_file(tmp_path: Path):
    markets = tmp_path / "cassettes" / "binance" / "markets.json"
    markets.parent.mkdir(parents=True)
    shutil.copy(ROOT / "cassettes" / "binance" / "markets.json", markets)
    first = load_markets(tmp_path, "binance")
    assert first == json.loads(markets.read_text(encoding="utf-8"))
    symbol = next(iter(first))
    first[symbol]["precision"]["amount"] = "changed"  # what set_markets does, and more
    first["NEW/PAIR"] = {}
    second = load_markets(tmp_path, "binance")
    assert second == json.loads(markets.read_text(encoding="utf-8"))
    assert second is not first and second[symbol] is not first[symbol]
    markets.write_text(json.dumps({"ONLY/PAIR": {"id": "ONLYPAIR"}}), encoding="utf-8")
    assert load_markets(tmp_path, "binance") == {"ONLY/PAIR": {"id": "ONLYPAIR"}}


#: Replays one recorded (not imported) scenario call the way the contract does, with a stand-in
#: broker, and prints which of ccxt's importer modules that took.
RECORDED_CALL = """
import json, sys
from types import SimpleNamespace
from scaffolder.harness.contract import BrokerContract

class Contract(BrokerContract):
    broker_name = "binance"

broker = SimpleNamespace(
    get_supported_symbols=lambda: ["BTC/USDT"], exchange=None, config=None, has=lambda m: True,
    get_ticker=lambda symbol: {"symbol": symbol},
)
spec = {"kwargs": {"symbol": "BTC/USDT"}}
assert Contract().call(broker, {"calls": {"get_ticker": spec}}, "get_ticker") == {
    "symbol": "BTC/USDT"
}
print(json.dumps(sorted(m for m in sys.modules if m.startswith("scaffolder.harness.ccxt"))))
"""


def test_a_recorded_scenario_call_imports_nothing_of_ccxts_importer():
    done = subprocess.run(
        [sys.executable, "-c", RECORDED_CALL],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert json.loads(done.stdout) == []


def test_the_canary_environment_follows_the_config_file(tmp_path: Path):
    config = tmp_path / "binance.json"
    config.write_text(json.dumps({"api_credentials": {"api_key": "${BINANCE_API_KEY}"}}))
    first = canary_env(config)
    assert first == {"BINANCE_API_KEY": canary("BINANCE_API_KEY")}
    first["OTHER"] = "x"  # a caller's change stays its own
    assert canary_env(config) == {"BINANCE_API_KEY": canary("BINANCE_API_KEY")}
    config.write_text(json.dumps({"api_credentials": {"secret": "${BINANCE_API_SECRET}"}}))
    assert canary_env(config) == {"BINANCE_API_SECRET": canary("BINANCE_API_SECRET")}
