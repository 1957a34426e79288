"""The wire check, offline: ``python scripts/wire_check.py [--json] [EXCHANGE...]``.

For every exchange of the installed ccxt (or those named), the exchange profile derived from
ccxt (``scaffolder.exchange_profile``, cached per ccxt version) and one ``create_order`` built
and signed by ccxt with its HTTP layer intercepted: the client order id the broker would
generate must be in the outgoing request (URL, body or a header) and fit the profile's limits,
or the profile must say ccxt cannot carry one (the broker then never re-sends an order whose
answer was lost). Prints one line per exchange: param, max length, look-up, outcome.

Exit status 1 when any exchange FAILED.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scaffolder import ccxt_metadata
from scaffolder.wire_check import check


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("exchanges", nargs="*", help="ccxt exchange ids (default: all)")
    parser.add_argument("--json", action="store_true", help="print the table as JSON")
    args = parser.parse_args(argv)
    import ccxt

    started = time.perf_counter()
    names = args.exchanges or list(ccxt.exchanges)
    results = [check(name, ccxt_metadata.profile(name)) for name in names]
    outcomes = Counter(r.outcome for r in results)
    lookups = Counter(r.lookup for r in results if r.outcome == "carried")
    summary = {
        "ccxt": ccxt.__version__,
        "exchanges": len(results),
        "outcomes": dict(sorted(outcomes.items())),
        "lookups_of_carried": dict(sorted(lookups.items())),
        "seconds": round(time.perf_counter() - started, 2),
    }
    if args.json:
        rows = [dataclasses.asdict(r) for r in results]
        print(json.dumps({"summary": summary, "exchanges": rows}, indent=2))
    else:
        print(f"{'exchange':<22} {'param':<17} {'max':>4}  {'look-up':<18} outcome")
        for r in results:
            limit = "-" if r.max_length is None else str(r.max_length)
            detail = r.where if r.outcome == "carried" else r.note
            print(
                f"{r.exchange:<22} {r.param or '-':<17} {limit:>4}  {r.lookup:<18} "
                f"{r.outcome}: {detail}"
            )
        print(json.dumps(summary))
    return 1 if outcomes.get("FAILED") else 0


if __name__ == "__main__":
    sys.exit(main())
