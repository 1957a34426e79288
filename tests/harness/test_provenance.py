"""Every cassette folder says where its traffic came from (``provenance.json``).

A recording against a stand-in says so (the stand-in's ``Server`` header), with the host its
cassettes name, the date and the ccxt version; an import names ccxt's source commits; the
committed folders all have one; and a contract failure on the cassettes names it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import ccxt
import pytest

from scaffolder.harness import provenance
from scaffolder.harness.ccxt_import import import_ccxt
from tests.conftest import own_copy
from tests.harness.test_record import new_project, record_against_standin

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "tests" / "data" / "ccxt_static"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> Path:
    root = new_project(tmp_path_factory.mktemp("provenance"))
    record_against_standin(root, replay=False)
    return root


def test_a_recording_against_a_standin_says_so_with_host_date_and_ccxt_version(recorded):
    origin = provenance.read(recorded / "cassettes" / "binance")
    assert origin is not None
    assert origin["source"] == "stand-in"
    assert origin["host"] == "testnet.binance.vision"
    assert "127.0.0.1" not in json.dumps(origin), "the stand-in's address is not kept"
    assert origin["ccxt_version"] == ccxt.__version__
    assert provenance.age_days(origin) == 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", origin["recorded_at"])


def test_a_recording_from_an_exchange_is_named_testnet_not_standin(tmp_path):
    (tmp_path / "get_ticker.yaml").write_text(
        "interactions:\n- request: {uri: 'https://testnet.binance.vision/api/v3/time'}\n"
        "  response: {headers: {Server: [nginx]}}\n"
    )
    origin = provenance.for_recording(tmp_path, testnet=True, via=None)
    assert (origin["source"], origin["host"]) == ("testnet", "testnet.binance.vision")
    assert origin["via_proxy"] is False


def test_an_import_names_ccxts_source_commits(tmp_path):
    import_ccxt("gemini", STATIC, tmp_path)
    origin = provenance.read(tmp_path / "ccxt")
    assert origin is not None and origin["source"] == "ccxt-static"
    assert origin["source_commits"]["response/gemini.json"] == (
        "058471012169086ef73c651c4f259cfe0cd6dd97"
    )
    assert origin["ccxt_version"] == ccxt.__version__


@pytest.mark.parametrize(
    "folder",
    sorted(
        str(p.relative_to(ROOT)) for p in (ROOT / "cassettes").glob("**/") if any(p.glob("*.yaml"))
    ),
)
def test_every_committed_cassette_folder_has_a_provenance(folder):
    origin = provenance.read(ROOT / folder)
    assert origin is not None, f"{folder} has no provenance.json"
    assert origin["source"] in {"stand-in", "testnet", "mainnet", "ccxt-static"}
    assert origin["ccxt_version"]
    if origin.get("static_dir") == "scaffolder/corpus (bundled)":
        # ccxt's recorded responses, bundled: when ccxt recorded them is its commits' to say
        assert origin["source_commits"] and "recorded_at" not in origin
    else:
        assert provenance.age_days(origin) is not None


def test_a_broker_seeded_from_the_bundled_corpus_names_it_not_this_machine(tmp_path):
    from scaffolder.generate import generate
    from tests.scaffolder.test_generate import make_project

    project = make_project(tmp_path / "project")
    generate("kraken", project)
    text = (project / "cassettes" / "kraken" / "provenance.json").read_text()
    origin = json.loads(text)
    assert origin["source"] == "ccxt-static" and origin["source_commits"]
    assert str(tmp_path) not in text and str(ROOT) not in text


def test_a_contract_failure_on_the_cassettes_names_their_provenance(recorded, tmp_path):
    root = own_copy(recorded, tmp_path / "project")
    scenario_path = root / "cassettes" / "binance" / "contract.json"
    scenario = json.loads(scenario_path.read_text())
    scenario["calls"]["get_ticker"]["kwargs"]["symbol"] = "ETH/USDT"  # a request not recorded
    scenario_path.write_text(json.dumps(scenario))
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--block-network",
         "tests/brokers/test_binance.py", "-k", "test_get_ticker"],
        cwd=root, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 1, run.stdout
    assert "recorded against an exchange stand-in, as testnet.binance.vision" in run.stdout
    assert f"with ccxt {ccxt.__version__}" in run.stdout


def test_the_contract_reads_the_provenance_only_for_a_message(tmp_path):
    from scaffolder.harness.contract import Origin

    folder = tmp_path / "cassettes" / "binance"
    origin = Origin(folder)  # what every contract test's scenario carries: nothing read yet
    folder.mkdir(parents=True)
    shutil.copy(ROOT / "cassettes" / "binance" / "provenance.json", folder)
    assert f"{origin}" == provenance.describe(folder)
    assert "recorded against an exchange stand-in" in f"cassettes {origin}"
