"""What the harness builds for each replayed test (scaffolder/harness/session.py) costs no more
than it must, and no test's changes reach the next one."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

from scaffolder.harness.session import harness_vcr_config, load_markets

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
