"""``scaffolder cassettes export-ccxt``: a broker's recordings as ccxt static fixtures.

The round trip must hold for each committed broker: export its recorded cassettes, import the
export with ``import-ccxt`` into a fresh project, and every exported case replays green there
(the importer checks ccxt's output equals the exported ``parsedResponse``, so a case that does
not round-trip is dropped and the counts catch it). For binance the whole contract replays on
the import; gemini's and coinbase's contract calls need more than ccxt's data holds (the
importer drops gemini's payload header, which its matcher compares; coinbase's cancel reads
the order back), so there only the ccxt cases are run.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from scaffolder.cli import main
from scaffolder.errors import UsageError
from scaffolder.harness.ccxt_export import export_ccxt
from tests.harness.test_record_standins import new_project

ROOT = Path(__file__).resolve().parents[2]
EXPORTED = [
    "fetchBalance", "fetchTicker", "fetchOHLCV", "createOrder", "fetchOrder",
    "fetchOpenOrders", "cancelOrder",
]  # fmt: skip


@pytest.mark.parametrize("name", ["binance", "coinbase", "gemini"])
def test_export_then_import_replays_green(name, tmp_path, monkeypatch):
    out = tmp_path / "static"
    report = export_ccxt(ROOT, name, out)
    assert [case.split(":")[0] for case in report.cases] == EXPORTED
    document = json.loads((out / "response" / f"{name}.json").read_text())
    assert document["exchange"] == name and sorted(document["methods"]) == sorted(EXPORTED)
    for (case,) in document["methods"].values():
        assert {"method", "input", "parsedResponse"} <= case.keys()
        assert ("httpResponse" in case) != ("httpResponseByUrl" in case)
    markets = json.loads((out / "markets" / f"{name}.json").read_text())
    assert markets == json.loads((ROOT / "cassettes" / name / "markets.json").read_text())

    project = new_project(tmp_path / "project", name)
    (project / "templates" / "broker").mkdir(parents=True)
    (project / "templates" / "broker" / "copier.yml").write_text("{}\n")
    monkeypatch.chdir(project)
    imported = CliRunner().invoke(
        main, ["cassettes", "import-ccxt", name, "--static-dir", str(out)]
    )
    assert imported.exit_code == 0, imported.output
    assert f"imported {len(EXPORTED)} case(s)" in imported.output, imported.output
    only = [] if name == "binance" else ["-k", "test_ccxt_recorded_case"]
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--block-network",
         f"tests/brokers/test_{name}.py", *only],
        cwd=project, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout
    summary = run.stdout.strip().splitlines()[-1]
    passed = int(re.search(r"(\d+) passed", summary).group(1))
    assert passed >= len(EXPORTED) + (8 if name == "binance" else 0), summary


def test_export_does_not_overwrite_without_force(tmp_path, monkeypatch):
    export_ccxt(ROOT, "gemini", tmp_path)
    with pytest.raises(UsageError, match="--force"):
        export_ccxt(ROOT, "gemini", tmp_path)
    export_ccxt(ROOT, "gemini", tmp_path, force=True)
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(
        main, ["cassettes", "export-ccxt", "gemini", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2 and "--force" in result.output


def test_a_broker_without_recordings_is_a_usage_error(tmp_path):
    project = new_project(tmp_path / "project", "gemini")
    with pytest.raises(UsageError, match=r"contract\.json"):
        export_ccxt(project, "gemini", tmp_path / "out")
