"""The README's reliability figures, measured: ``python scripts/reliability.py [--json]``.

1. The fault matrix, replayed offline from the committed cassettes: every broker with
   ``cassettes/<name>/contract.json`` x every call of its scenario x every fault of
   ``scaffolder.harness.faults.FAULTS``, injected on the first attempt and on every attempt.
   Each outcome is a success after retries or the right ``BrokerError`` with its cause.
2. No duplicate orders: ``create_order`` against the local exchange stand-ins (127.0.0.1), which
   count the orders they hold: Binance's ccxt broker and a Binance-style REST broker on the
   Binance stand-in, the committed Gemini and Coinbase brokers on theirs. A resting limit order
   under the stand-in's faults and the client-side injector's, once, twice in a row and always;
   and once, under each after-accept fault, an order that fills at once. Reported per broker
   (with how it looks a lost order up, and any fault its stand-in cannot express) and in total.
3. Fuzz cases: written by the fuzzing suite (tests/fuzz, hypothesis). Pass its figures with
   ``--fuzz-stats FILE``: a JSON object ``{"cases": <int>, "targets": {<name>: <int>, ...},
   "failures": <int>}`` (only ``cases`` is required). Without the file the line points there.
4. Secrets found in cassettes: ``scaffolder.harness.audit.audit`` over ``cassettes/``.

Exit status 1 when any figure that must be 0 is not (violations, duplicated orders, secrets).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scaffolder.fresh_project import fresh_projects  # noqa: E402
from scaffolder.harness.audit import audit  # noqa: E402
from scaffolder.harness.faults.campaign import run_no_duplicates  # noqa: E402
from scaffolder.harness.faults.matrix import run_matrix  # noqa: E402
from scaffolder.harness.faults.targets import fresh_exchanges, order_cases  # noqa: E402

FUZZ_POINTER = "see tests/fuzz (hypothesis)"


def fuzz_figures(path: Path | None) -> dict[str, Any] | None:
    """The fuzzing suite's figures from ``path`` (see the module docstring), or None."""
    if path is None or not path.is_file():
        return None
    document = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict) or not isinstance(document.get("cases"), int):
        raise SystemExit(f'{path}: expected a JSON object with an integer "cases"')
    return document


def measure(fuzz_stats: Path | None, *, details: bool = False) -> dict[str, Any]:
    matrix = run_matrix(ROOT)
    cases = order_cases()
    with fresh_projects(fresh_exchanges(cases), ROOT) as fresh_root:
        orders = run_no_duplicates(cases, fresh_root=fresh_root)
    scanned, findings = audit([ROOT / "cassettes"], ROOT)
    if not details:
        matrix.pop("results")
        orders.pop("results")
    return {
        "fault_matrix": matrix,
        "no_duplicate_orders": orders,
        "fuzz": fuzz_figures(fuzz_stats),
        "cassettes": {
            "files_scanned": scanned,
            "secrets_found": len(findings),
            "findings": [str(f) for f in findings],
        },
    }


def failed(figures: dict[str, Any]) -> list[str]:
    """What must be 0 and is not."""
    problems = []
    matrix, orders = figures["fault_matrix"], figures["no_duplicate_orders"]
    if matrix["outcomes"]["violation"]:
        problems.append(f"{matrix['outcomes']['violation']} fault-matrix violations")
    if orders["orders_duplicated"]:
        problems.append(f"{orders['orders_duplicated']} orders duplicated")
    if orders["outcomes"]["violation"]:
        problems.append(f"{orders['outcomes']['violation']} create_order violations")
    if figures["cassettes"]["secrets_found"]:
        problems.append(f"{figures['cassettes']['secrets_found']} secrets in cassettes")
    if figures["fuzz"] and figures["fuzz"].get("failures"):
        problems.append(f"{figures['fuzz']['failures']} fuzz failures")
    return problems


def outcome_text(outcomes: dict[str, int]) -> str:
    return (
        f"{outcomes['order']} the one order returned, {outcomes['unknown']} "
        f"OrderStateUnknownError naming the client id, {outcomes['refused']} refused with "
        f"nothing placed, {outcomes['violation']} violations"
    )


def order_lines(orders: dict[str, Any]) -> list[str]:
    """One block per broker: its runs, outcomes, duplicates, look-up and what is missing."""
    lines = []
    for name, figures in orders["per_broker"].items():
        styles = figures["styles"]
        missing = figures["faults_not_expressible"]
        lines += [
            f"  {name + ':':<14} {figures['runs']} runs on the {figures['standin']} stand-in: "
            f"{outcome_text(figures['outcomes'])}",
            f"  {'':<14} orders duplicated: {figures['orders_duplicated']} "
            f"({styles['resting']['orders_duplicated']} of {styles['resting']['runs']} resting, "
            f"{styles['filled']['orders_duplicated']} of {styles['filled']['runs']} filled at once)",
            f"  {'':<14} look-up by client id: {figures['lookup']}",
            f"  {'':<14} stand-in faults it cannot express: "
            + (", ".join(missing) if missing else "none"),
        ]
        lines += [f"  {'':<14} DUPLICATED in {case_id}" for case_id in figures["duplicated_in"]]
    return lines


def report(figures: dict[str, Any]) -> str:
    matrix, orders = figures["fault_matrix"], figures["no_duplicate_orders"]
    m_out, o_out = matrix["outcomes"], orders["outcomes"]
    without = matrix["brokers_without_calls"]
    lines = [
        "Fault matrix (replay of the committed cassettes, offline)",
        f"  brokers:       {len(matrix['brokers'])} committed ({', '.join(matrix['brokers'])}), "
        f"{len(matrix['brokers_with_calls'])} with recorded calls"
        + (f" ({', '.join(without)}: no call in its scenario)" if without else ""),
        f"  methods:       {len(matrix['methods'])} BaseBroker methods "
        f"({', '.join(matrix['methods'])}) in {len(matrix['calls'])} recorded calls",
        f"  faults:        {len(matrix['faults'])} kinds x {len(matrix['modes'])} modes "
        "(first attempt only / every attempt)",
        f"  faults tried:  {matrix['faults_tried']}",
        f"  outcomes:      {m_out['success_after_retry']} success after retry, "
        f"{m_out['right_error']} right error (cause chained), {m_out['violation']} violations",
        "  errors:        "
        + ", ".join(f"{name} {count}" for name, count in matrix["errors"].items()),
        f"  time:          {matrix['seconds']} s",
        "No duplicate orders (create_order against the exchange stand-ins)",
        f"  runs:          {orders['runs']} ({len(orders['brokers'])} brokers; "
        f"{len(orders['faults']['server'])} stand-in faults and "
        f"{len(orders['faults']['client'])} client-side faults on a resting order, "
        f"repeated {', '.join(map(str, orders['repeats']))} times in a row; "
        "the after-accept ones once on an order that fills at once)",
        *order_lines(orders),
        f"  total:         {orders['runs']} runs: {outcome_text(o_out)}; "
        f"orders duplicated: {orders['orders_duplicated']}",
        f"  time:          {orders['seconds']} s",
        "Fuzz cases: "
        + (
            f"{figures['fuzz']['cases']}"
            + (
                " ("
                + ", ".join(f"{k} {v}" for k, v in figures["fuzz"].get("targets", {}).items())
                + ")"
                if figures["fuzz"].get("targets")
                else ""
            )
            if figures["fuzz"]
            else FUZZ_POINTER
        ),
        f"Secrets found in cassettes: {figures['cassettes']['secrets_found']} "
        f"({figures['cassettes']['files_scanned']} cassette files scanned)",
    ]
    lines += [f"  {finding}" for finding in figures["cassettes"]["findings"]]
    for violation in matrix["violations"] + orders["violations"]:
        lines.append(f"VIOLATION {violation}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--fuzz-stats", type=Path, default=None, help="the fuzzing suite's figures (JSON)"
    )
    parser.add_argument("--details", action="store_true", help="with --json: every case")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)  # the retries' warnings are expected here
    figures = measure(args.fuzz_stats, details=args.details)
    problems = failed(figures)
    if args.json:
        print(json.dumps({**figures, "problems": problems}, indent=2))
    else:
        print(report(figures))
        for problem in problems:
            print(f"FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
