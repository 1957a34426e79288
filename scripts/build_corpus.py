"""Build the bundled corpus (``scaffolder/corpus/``) from raw ccxt fixture files.

    python scripts/build_corpus.py [RAW_DIR] [--only ID ...]

RAW_DIR (default ``tests/data/ccxt_static``) has ccxt's ``ts/src/test/static/`` layout plus
``sources.json`` naming each file's repository path and commit.  Every case is re-run with the
installed ccxt; those whose result differs from the fixture's ``parsedResponse`` are dropped,
with the reason, in ``scaffolder/corpus/manifest.json``.  Prints one line per exchange.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scaffolder.harness.corpus import CORPUS_DIR, build  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw_dir", nargs="?", type=Path, default=ROOT / "tests/data/ccxt_static")
    parser.add_argument("--only", nargs="*", default=[], metavar="ID")
    parser.add_argument("--out", type=Path, default=CORPUS_DIR)
    args = parser.parse_args()
    document = build(args.raw_dir, args.out, args.only)
    for exchange_id, entry in document["exchanges"].items():
        if args.only and exchange_id not in args.only:
            continue
        print(f"{exchange_id}: {len(entry['kept'])} kept, {len(entry['dropped'])} dropped")
        for dropped in entry["dropped"]:
            print(f"  - {dropped['method']}[{dropped['index']}]: {dropped['reason'][:150]}")
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"corpus: {len(document['exchanges'])} exchanges, {size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
