"""Replay errors name the file and what to run (issue 16 item 15): a missing or corrupt
``markets.json`` or ``contract.json`` is one line naming it, not a JSON traceback or a
confusing network error from a broker that went to fetch its markets."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scaffolder.harness.contract import load_scenario
from scaffolder.harness.plugin import write_opt_in
from scaffolder.harness.session import ReplayDataError, broker_for_replay

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The binance broker's config, test file and cassettes in a throwaway project."""
    (tmp_path / "config" / "brokers").mkdir(parents=True)
    (tmp_path / "tests" / "brokers").mkdir(parents=True)
    shutil.copy(ROOT / "config" / "brokers" / "binance.json", tmp_path / "config" / "brokers")
    shutil.copy(ROOT / "tests" / "brokers" / "test_binance.py", tmp_path / "tests" / "brokers")
    shutil.copytree(ROOT / "cassettes" / "binance", tmp_path / "cassettes" / "binance")
    write_opt_in(tmp_path)
    return tmp_path


def replay_file(project: Path, name: str) -> Path:
    return project / "cassettes" / "binance" / name


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        (lambda p: p.unlink(), "missing"),
        (lambda p: p.write_text('{"BTC/USDT": {"id": "BTCUSDT",', encoding="utf-8"), "not valid"),
        (lambda p: p.write_text("[1, 2]", encoding="utf-8"), "holds list, not a JSON object"),
        (lambda p: p.write_bytes(b"\xff\xfe"), "cannot be read"),
    ],
    ids=["missing", "truncated", "a-list", "not-utf8"],
)
def test_a_bad_markets_snapshot_names_itself_and_the_command(project, damage, said):
    path = replay_file(project, "markets.json")
    damage(path)
    with pytest.raises(ReplayDataError) as info:
        broker_for_replay(project, "binance")
    message = str(info.value)
    assert message.startswith(f"{path}: {said}")
    assert "scaffolder record binance" in message


def test_a_corrupt_scenario_names_itself_and_the_command(project):
    path = replay_file(project, "contract.json")
    path.write_text('{"calls": ', encoding="utf-8")
    with pytest.raises(ReplayDataError) as info:
        load_scenario(project, "binance")
    assert str(info.value).startswith(f"{path}: not valid JSON")
    assert "scaffolder record binance" in str(info.value)


def test_without_a_recorded_scenario_no_snapshot_is_needed(project):
    replay_file(project, "markets.json").unlink()
    replay_file(project, "contract.json").unlink()
    assert load_scenario(project, "binance") is None
    broker_for_replay(project, "binance")  # builds: it is the tests' job to skip or fail


def test_pytest_reports_a_corrupt_snapshot_as_one_line_naming_it(project):
    path = replay_file(project, "markets.json")
    path.write_text("{not json", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/brokers"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{path}: not valid JSON" in result.stdout
    assert "scaffolder record binance" in result.stdout
    assert "json/decoder.py" not in result.stdout, "a traceback through json was printed"
