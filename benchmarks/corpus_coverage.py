"""Every ccxt exchange generated with --defaults, its tests run: what runs on real data (issue 11).

    python benchmarks/corpus_coverage.py [--json] [--workers N] [--coverage]

In one scratch project (as ``tests/scaffolder/test_template_all_exchanges.py`` does), brokers
for all of ``ccxt.exchanges`` are generated as one batch with every default (each broker
without cassettes is seeded from the bundled corpus, ``scaffolder/corpus/``), then
``pytest tests/brokers`` runs once (``-n N`` with pytest-xdist, default 2). Printed:

- failed tests (target 0);
- exchanges with at least one contract test passing on real data: a contract call or a ccxt
  recorded case replayed from cassettes (target 85 of 104);
- the share of contract tests (``Test*Contract``) that run instead of skip (target 50 %), and
  the ceiling: the share that could run if every call with a kept corpus case were exercised;
  what the rest would need (exchanges without data, calls without a case);
- wall time of the test run (target 60 s) and of the generation; corpus size (target 15 MB).

With ``--coverage``, first the ``scaffolder coverage`` table of all of them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench import ROOT
from generate import make_project

#: Contract tests that replay traffic (the others check refusals and need no cassette).
TRAFFIC_TESTS = (
    "test_get_balance", "test_get_ticker", "test_get_ohlcv", "test_create_order",
    "test_get_order", "test_get_open_orders", "test_cancel_order", "test_get_positions",
    "test_ccxt_recorded_case",
)  # fmt: skip
TEST_CALL = {
    "test_get_balance": "fetchBalance", "test_get_ticker": "fetchTicker",
    "test_get_ohlcv": "fetchOHLCV", "test_create_order": "createOrder",
    "test_get_order": "fetchOrder", "test_get_open_orders": "fetchOpenOrders",
    "test_cancel_order": "cancelOrder", "test_get_positions": "fetchBalance",
}  # fmt: skip


def outcomes(junit: Path) -> list[tuple[str, str, str]]:
    """(exchange, test name, outcome) of every test case in a junit file."""
    rows = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        classname, name = case.get("classname", ""), case.get("name", "")
        exchange = classname.split(".")[2].removeprefix("test_") if "." in classname else ""
        kinds = {child.tag for child in case}
        outcome = "failed" if kinds & {"failure", "error"} else (
            "skipped" if "skipped" in kinds else "passed"
        )  # fmt: skip
        contract = classname.endswith("Contract")
        rows.append((exchange, name if contract else f"(own) {name}", outcome))
    return rows


def ceiling(rows: list[tuple[str, str, str]]) -> tuple[int, dict[str, int]]:
    """Contract tests the bundled data could run at most, and what the rest would need."""
    from scaffolder.harness.corpus import manifest

    kept: dict[str, set[str]] = {
        ex: {k.split("[")[0] for k in entry["kept"]}
        for ex, entry in manifest()["exchanges"].items()
    }
    could, needs = 0, Counter()
    for exchange, name, _ in rows:
        if name.startswith("(own)"):
            continue
        base = name.split("[")[0]
        if exchange not in kept:
            needs["exchange has no data in the corpus"] += 1
        elif base in TEST_CALL and TEST_CALL[base] not in kept[exchange]:
            needs[f"a kept {TEST_CALL[base]} case"] += 1
        elif base.startswith("test_") and "unknown" in base:
            needs["a recorded error response (scaffolder record)"] += 1
        else:
            could += 1
    return could, dict(needs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--coverage", action="store_true", help="Also print `scaffolder coverage` for all of them."
    )
    args = parser.parse_args()
    import ccxt

    from scaffolder.generate import generate_many
    from scaffolder.harness.corpus import CORPUS_DIR

    with tempfile.TemporaryDirectory(prefix="corpus-coverage-") as scratch:
        project = make_project(Path(scratch) / "project", runtime=True)
        start = time.perf_counter()
        generate_many({exchange: {} for exchange in ccxt.exchanges}, project)
        generation = time.perf_counter() - start
        junit = Path(scratch) / "junit.xml"
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                   f"--junitxml={junit}", "tests/brokers"]  # fmt: skip
        if args.workers > 1:
            command[4:4] = ["-n", str(args.workers)]
        env = {**os.environ, "PYTHONPATH": str(project), "PYTHONDONTWRITEBYTECODE": "1"}
        start = time.perf_counter()
        subprocess.run(command, cwd=project, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        rows = outcomes(junit)
        if args.coverage:
            from scaffolder.coverage import as_text, coverage

            print("\n".join(as_text(coverage(project))) + "\n")
    contract = [r for r in rows if not r[1].startswith("(own)")]
    ran = sum(outcome != "skipped" for _, _, outcome in contract)
    real = defaultdict(int)
    for exchange, name, outcome in contract:
        if outcome == "passed" and name.split("[")[0] in TRAFFIC_TESTS:
            real[exchange] += 1
    could, needs = ceiling(rows)
    size = sum(p.stat().st_size for p in CORPUS_DIR.rglob("*") if p.is_file())
    figures = {
        "exchanges": len(ccxt.exchanges),
        "tests": len(rows),
        "failed": sum(outcome == "failed" for _, _, outcome in rows),
        "failed_tests": [f"{e}::{n}" for e, n, o in rows if o == "failed"],
        "exchanges_with_real_data_passing": len(real),
        "contract_tests": len(contract),
        "contract_tests_run": ran,
        "contract_run_share": ran / len(contract) if contract else 0.0,
        "ceiling_share": could / len(contract) if contract else 0.0,
        "the_rest_needs": needs,
        "test_wall_s": round(wall, 1),
        "generation_s": round(generation, 1),
        "corpus_mb": round(size / 1e6, 3),
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    n = figures["exchanges"]
    print(f"failed tests: {figures['failed']} of {figures['tests']} (target 0)")
    for failed in figures["failed_tests"][:20]:
        print(f"  {failed}")
    print(f"exchanges with >=1 contract test passing on real data: {len(real)} of {n} (target 85)")
    print(
        f"contract tests run instead of skipped: {ran} of {len(contract)} "
        f"= {figures['contract_run_share']:.1%} (target 50%)"
    )
    print(f"ceiling with the bundled data: {figures['ceiling_share']:.1%}; the rest would need:")
    for need, count in sorted(needs.items(), key=lambda item: -item[1]):
        print(f"  {count:5d}  {need}")
    print(
        f"test run: {wall:.1f} s with -n {args.workers} (target 60 s); generation {generation:.1f} s"
    )
    print(f"corpus: {figures['corpus_mb']} MB in {CORPUS_DIR.relative_to(ROOT)} (target 15 MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
