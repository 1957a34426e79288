"""``scaffolder coverage``: per broker and contract call, what proves it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from scaffolder.cli import main
from scaffolder.generate import generate_many
from tests.scaffolder.test_generate import make_project


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_project(tmp_path_factory.mktemp("coverage") / "project")
    generate_many({"kraken": {}, "lbank": {}, "gemini": {}}, root)
    own = root / "cassettes" / "lbank" / "contract.json"
    own.write_text(json.dumps({"source": "recorded", "calls": {"get_balance": {"kwargs": {}}}}))
    return root


def run(project: Path, *args: str) -> tuple[int, str]:
    cwd = os.getcwd()
    os.chdir(project)
    try:
        result = CliRunner().invoke(main, ["coverage", *args])
    finally:
        os.chdir(cwd)
    return result.exit_code, result.output


def test_each_call_names_its_proof(project: Path) -> None:
    code, output = run(project, "--json")
    assert code == 0
    table = {row["name"]: row["calls"] for row in json.loads(output)}
    assert table["kraken"]["get_ohlcv"]["proof"] == "ccxt-data"  # from the bundled corpus
    assert table["lbank"]["get_balance"]["proof"] == "recorded"
    assert table["gemini"]["get_balance"]["proof"] == "stand-in"  # gemini has a stand-in
    unproven = table["lbank"]["get_ticker"]
    assert unproven["proof"] == "none" and "scaffolder record lbank" in unproven["fill"]


def test_one_broker_in_text_lists_what_would_fill_its_gaps(project: Path) -> None:
    code, output = run(project, "kraken")
    assert code == 0
    assert output.splitlines()[1].split()[0] == "kraken"
    assert "fill: scaffolder record kraken" in output


def test_an_unknown_broker_is_a_usage_error(project: Path) -> None:
    code, output = run(project, "nope")
    assert code == 2 and "nope" in output
