"""``scaffolder new`` gives a broker without cassettes the bundled corpus's real responses.

Every test generates into a throwaway project and runs the generated test file there, as a new
user would: imported cases run with their own symbols or skip with the reason, never fail.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from scaffolder.generate import generate, generate_many
from tests.scaffolder.test_generate import make_project


def run_generated_tests(project: Path, name: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", *extra,
         f"tests/brokers/test_{name}.py"],
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(project)},
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip


def counts(result: subprocess.CompletedProcess) -> dict[str, int]:
    return {k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|skipped|error)", result.stdout)}


def test_a_new_broker_gets_replay_cassettes_and_pairs_from_the_corpus(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    generate("kraken", project)

    scenario = json.loads((project / "cassettes/kraken/contract.json").read_text())
    config = json.loads((project / "config/brokers/kraken.json").read_text())
    assert scenario["source"] == "ccxt-static" and scenario["calls"]
    used = {c["kwargs"]["symbol"] for c in scenario["calls"].values() if "symbol" in c["kwargs"]}
    assert used and used <= set(config["supported_pairs"])
    assert (project / "cassettes/kraken/markets.json").exists()
    result = run_generated_tests(project, "kraken", "-k", "Contract")
    assert result.returncode == 0, result.stdout[-3000:]
    assert counts(result)["passed"] >= 6  # create_order, get_order, get_ohlcv on real data...


def test_a_case_for_a_pair_the_user_did_not_choose_is_skipped_with_the_reason(
    tmp_path: Path,
) -> None:
    project = make_project(tmp_path / "project")
    generate("kraken", project, data={"supported_pairs": ["BTC/USDT"]})  # the orders are LTC

    result = run_generated_tests(project, "kraken")

    assert result.returncode == 0, result.stdout[-3000:]
    assert "failed" not in counts(result)
    assert re.search(r"create_order case trades LTC/USDT.*supported_pairs", result.stdout)
    assert counts(result)["passed"] >= 1  # the BTC/USDT candles still run


def test_pairs_beyond_the_recorded_markets_skip_instead_of_failing(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    generate("kraken", project, data={"supported_pairs": ["BTC/EUR"]})

    result = run_generated_tests(project, "kraken")

    assert result.returncode == 0, result.stdout[-3000:]
    assert "has no market BTC/EUR" in result.stdout


def test_a_broker_with_cassettes_of_its_own_keeps_them(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    own = project / "cassettes" / "kraken"
    own.mkdir(parents=True)
    (own / "contract.json").write_text('{"broker": "kraken", "source": "recorded", "calls": {}}')
    generate("kraken", project)
    assert json.loads((own / "contract.json").read_text())["source"] == "recorded"
    assert not (own / "ccxt").exists()


def test_rest_brokers_and_exchanges_without_data_get_no_cassettes(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    generate_many({"kraken": {"integration": "rest"}, "lbank": {}}, project)
    for name in ("kraken", "lbank"):
        assert not (project / "cassettes" / name / "contract.json").exists()


#: Runs ``scaffolder new`` as its console script does (the script's directory first on the
#: path, not the project's), then prints the heavy modules it imported.
NEW_AND_SHOW_IMPORTS = """\
import json, os, sys
sys.path[0] = os.path.dirname(sys.executable)
from scaffolder.cli import main
try:
    main(sys.argv[1:], prog_name="scaffolder")
except SystemExit as exc:
    assert not exc.code, exc.code
print(json.dumps(sorted(m for m in ("ccxt", "jsonschema") if m in sys.modules)))
"""


def test_a_broker_seeded_from_the_prebuilt_corpus_is_made_without_importing_ccxt(
    tmp_path: Path,
) -> None:
    """With ccxt's metadata cached and the corpus prebuilt by the installed ccxt, ``scaffolder
    new`` has no use for ccxt itself (its import is most of a second): the provenance it writes
    reads ccxt's version without it, and still names the installed one."""
    import ccxt

    from scaffolder import ccxt_metadata
    from scaffolder.harness import corpus
    from scaffolder.harness.provenance import for_import

    assert corpus.manifest()["exchanges"]["kraken"]["ccxtVersion"] == ccxt.__version__
    ccxt_metadata.exchanges(), ccxt_metadata.profile("kraken")  # the caches, as after a first run
    project = make_project(tmp_path / "project")

    done = subprocess.run(
        [sys.executable, "-c", NEW_AND_SHOW_IMPORTS, "new", "kraken", "--defaults"],
        cwd=project, capture_output=True, text=True, timeout=300,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.splitlines()[-1]) == []
    expected = for_import(corpus.CORPUS_DIR, "kraken")  # the manifest read on its own
    assert expected["ccxt_version"] == ccxt.__version__ and expected["source_commits"]
    for folder in ("cassettes/kraken", "cassettes/kraken/ccxt"):
        assert json.loads((project / folder / "provenance.json").read_text()) == expected
