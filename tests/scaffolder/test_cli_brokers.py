"""``scaffolder list`` and ``scaffolder exchanges``: what a person and a machine read; completion."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import ccxt
import pytest
from click.testing import CliRunner

from scaffolder import ccxt_metadata
from scaffolder.cli import main
from scaffolder.generate import generate
from scaffolder.harness import provenance
from tests.scaffolder.test_generate import git, make_project

SCAFFOLDER = Path(sys.executable).with_name("scaffolder")

#: (name, integration, sandbox) as ``list --json`` reports them; cassettes are counted on disk.
BROKERS = [
    {"name": "binance", "integration": "ccxt", "sandbox": True},
    {"name": "kraken", "integration": "ccxt", "sandbox": False},
    {"name": "myexchange", "integration": "rest", "sandbox": True, "cassettes": 0},
]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """kraken, binance (two recorded cassettes) and a REST broker, outside git."""
    project = make_project(tmp_path_factory.mktemp("cli") / "project")
    for name in ("kraken", "myexchange", "binance"):
        generate(name, project)
    for call in ("get_ticker", "get_balance"):
        (project / "cassettes" / "binance" / f"{call}.yaml").write_text("interactions: []\n")
    (project / "cassettes" / "binance" / "markets.json").write_text("{}\n")  # not a cassette
    return project


def run(cwd: Path, monkeypatch: pytest.MonkeyPatch, *args: str):
    monkeypatch.chdir(cwd)
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def complete(cwd: Path, words: str) -> list[str]:
    """What bash completion offers for the last of ``words``."""
    result = subprocess.run(
        [str(SCAFFOLDER)],
        cwd=cwd,
        env={
            **os.environ,
            "_SCAFFOLDER_COMPLETE": "bash_complete",
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split()) - 1),
        },
        capture_output=True,
        text=True,
        check=True,
    )
    return [line.partition(",")[2] for line in result.stdout.splitlines()]


# -- list -------------------------------------------------------------------------------------


def on_disk(project: Path, name: str) -> int:
    """Cassettes of a broker: its own, or those ``scaffolder new`` took from the corpus."""
    return len(list((project / "cassettes" / name).rglob("*.yaml")))


def test_list_json_describes_every_broker(project, monkeypatch):
    rows = json.loads(run(project, monkeypatch, "list", "--json"))
    expected = [{**row, "cassettes": on_disk(project, row["name"])} for row in BROKERS]
    assert rows == [
        {**row, "template": "untracked", **origin_of(project, row["name"])} for row in expected
    ]


def origin_of(project: Path, name: str) -> dict[str, object]:
    """What ``list`` says of a broker's cassettes' provenance (seeded ones have one)."""
    origin = provenance.read(project / "cassettes" / name)
    source = str(origin.get("source", "unknown")) if origin else None
    return {"source": source, "age_days": provenance.age_days(origin)}


def cells_of(project: Path, name: str) -> list[str]:
    origin = origin_of(project, name)
    age = origin["age_days"]
    source = origin["source"] or ("unknown" if on_disk(project, name) else "-")
    return [str(source), "-" if age is None else f"{age}d"]


def test_list_shows_where_the_cassettes_came_from_and_how_old_they_are(tmp_path, monkeypatch):
    project = make_project(tmp_path / "project")
    generate("kraken", project)
    cassettes = project / "cassettes" / "kraken"
    (cassettes / "get_ticker.yaml").write_text("interactions: []\n")
    origin = {"source": "testnet", "recorded_at": "2026-01-01T00:00:00Z", "ccxt_version": "4.5.90"}
    (cassettes / "provenance.json").write_text(json.dumps(origin))
    [row] = json.loads(run(project, monkeypatch, "list", "--json"))
    assert row["source"] == "testnet"
    assert (
        row["age_days"]
        == (datetime.now(timezone.utc) - datetime(2026, 1, 1, tzinfo=timezone.utc)).days
    )
    assert run(project, monkeypatch, "list").splitlines()[1].split()[-2:] == [
        "testnet",
        f"{row['age_days']}d",
    ]


def test_list_prints_an_aligned_table(project, monkeypatch):
    lines = run(project, monkeypatch, "list").splitlines()
    assert [line.split() for line in lines] == [
        ["name", "integration", "sandbox", "cassettes", "template", "source", "age"],
        [
            "binance",
            "ccxt",
            "yes",
            str(on_disk(project, "binance")),
            "untracked",
            *cells_of(project, "binance"),
        ],
        [
            "kraken",
            "ccxt",
            "no",
            str(on_disk(project, "kraken")),
            "untracked",
            *cells_of(project, "kraken"),
        ],
        ["myexchange", "rest", "yes", "none", "untracked", "-", "-"],
    ]
    header = lines[0]
    starts = [header.index(column) for column in header.split()]
    for line in lines[1:]:
        assert [
            line.index(cell, start) for cell, start in zip(line.split(), starts, strict=True)
        ] == starts


def test_list_shows_the_template_version_a_broker_came_from(tmp_path, monkeypatch):
    project = make_project(tmp_path / "project")
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "init")
    generate("kraken", project)
    [row] = json.loads(run(project, monkeypatch, "list", "--json"))
    assert row["template"] == git(project, "rev-parse", "HEAD:templates/broker")[:12]


def test_list_of_a_project_without_brokers(tmp_path, monkeypatch):
    project = make_project(tmp_path / "project")
    assert json.loads(run(project, monkeypatch, "list", "--json")) == []
    assert run(project, monkeypatch, "list").split() == [
        "name",
        "integration",
        "sandbox",
        "cassettes",
        "template",
        "source",
        "age",
    ]


# -- exchanges ---------------------------------------------------------------------------------


def test_exchanges_json_has_every_ccxt_exchange_with_sandbox_and_credentials(tmp_path, monkeypatch):
    infos = {i["id"]: i for i in json.loads(run(tmp_path, monkeypatch, "exchanges", "--json"))}
    assert sorted(infos) == sorted(ccxt.exchanges)
    assert infos["binance"]["sandbox"] is True
    assert infos["binance"]["credentials"] == ["api_key", "api_secret"]
    assert infos["kraken"]["sandbox"] is False
    assert infos["okx"]["credentials"] == ["api_key", "api_secret", "passphrase"]
    assert infos["binance"]["has"]["fetchPositions"] is True
    assert infos["bit2c"]["has"]["fetchOHLCV"] is False


def test_exchanges_sandbox_only_keeps_exchanges_with_a_testnet(tmp_path, monkeypatch):
    infos = json.loads(run(tmp_path, monkeypatch, "exchanges", "--json", "--sandbox-only"))
    ids = {i["id"] for i in infos}
    assert "binance" in ids and "kraken" not in ids
    assert all(i["sandbox"] for i in infos)


def test_exchanges_prints_one_line_per_exchange(tmp_path, monkeypatch):
    lines = run(tmp_path, monkeypatch, "exchanges").splitlines()
    assert lines[0].split() == ["id", "sandbox", "credentials", "methods"]
    rows = {line.split()[0]: line.split() for line in lines[1:-1]}
    assert sorted(rows) == sorted(ccxt.exchanges)
    binance, kraken = rows["binance"], rows["kraken"]
    assert binance[1:3] == ["yes", "api_key,api_secret"]
    assert {"bal", "tick", "ohlcv", "create", "cancel", "pos", "ws"} <= set(binance[3].split(","))
    assert kraken[1] == "no"
    assert lines[-1] == f"{len(ccxt.exchanges)} exchanges (ccxt {ccxt_metadata.ccxt_version()})"


# -- completion ---------------------------------------------------------------------------------


def test_new_completes_ccxt_exchange_ids(tmp_path):
    offered = complete(tmp_path, "scaffolder new bina")
    assert {"binance", "binanceus"} <= set(offered)
    assert all(name.startswith("bina") for name in offered)


def test_remove_completes_the_project_brokers(project):
    assert complete(project, "scaffolder remove kr") == ["kraken"]
    assert complete(project, "scaffolder remove my") == ["myexchange"]
