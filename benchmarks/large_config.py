"""Benchmark of ``scaffolder validate`` and ``load_config`` on oversized configs (issue 16 item 9).

    python benchmarks/large_config.py [--json] [--sizes 1,8,48] [--limit-off]

For each size (MB) a config is written whose ``description`` is one long string, and each of
``validate`` (the position scanner, the nesting check and the schema) and ``load_config`` runs
in a fresh interpreter; the script prints the wall time and the peak resident memory of that
process. The size limit (``brokers.config.MAX_CONFIG_BYTES``, 1 MiB) refuses the larger files
before reading them; ``--limit-off`` lifts it in the child to show the scan itself is linear.

Measured on the 2-core development machine (``--limit-off``), before -> after the fix of the
string pattern in ``brokers/json_positions.py``:

    48 MB validate     48.4 s, peak 5645 MB  ->  0.63 s, peak 160 MB
    48 MB load_config  16.9 s, peak 5644 MB  ->  0.73 s, peak 160 MB
     8 MB validate     16.4 s, peak  952 MB  ->  0.20 s, peak  39 MB
With the limit on, the 48 MB file is refused in 3 ms without being read.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench import ROOT

CHILD = """
import resource, sys, time
import brokers.config as config
if sys.argv[3] == "off":
    config.MAX_CONFIG_BYTES = 1 << 40
started = time.perf_counter()
outcome = "ok"
try:
    if sys.argv[2] == "validate":
        from scaffolder.validate import check_file
        report = check_file(__import__("pathlib").Path(sys.argv[1]), semantic=False)
        outcome = "ok" if report.ok else report.problems[0].message[:70]
    else:
        config.load_config(sys.argv[1], resolve_env=False)
except Exception as exc:
    outcome = f"{type(exc).__name__}: {str(exc)[:70]}"
elapsed = time.perf_counter() - started
peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(f"{elapsed:.3f} {peak_kb} {outcome}")
"""


def big_config(path: Path, megabytes: float) -> None:
    """The binance config with a ``description`` of ``megabytes`` MB of one string, written in
    chunks so that this process stays small (a child inherits its peak memory figure)."""
    document = json.loads((ROOT / "config" / "brokers" / "binance.json").read_text("utf-8"))
    document.pop("$schema", None)
    document["description"] = "@"
    head, tail = json.dumps(document).split('"@"')
    left = int(megabytes * 1_000_000)
    with path.open("w", encoding="utf-8") as out:
        out.write(head + '"')
        while left > 0:
            out.write("x" * min(left, 1 << 20))
            left -= 1 << 20
        out.write('"' + tail)


def run(path: Path, what: str, limit: str) -> dict[str, object]:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), what, limit],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    wall = time.perf_counter() - started
    if result.returncode != 0:
        return {"what": what, "error": result.stderr.strip().splitlines()[-1:]}
    seconds, peak_kb, outcome = result.stdout.strip().split(" ", 2)
    return {
        "what": what,
        "seconds": float(seconds),
        "process_seconds": round(wall, 3),
        "peak_mb": round(int(peak_kb) / 1024, 1),
        "outcome": outcome,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,8,48", help="comma-separated sizes in MB")
    parser.add_argument("--limit-off", action="store_true", help="measure past the size limit")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for size in [float(s) for s in args.sizes.split(",")]:
            path = Path(scratch) / f"big-{size:g}mb.json"
            big_config(path, size)
            for what in ("validate", "load_config"):
                row = run(path, what, "off" if args.limit_off else "on")
                rows.append({"size_mb": size, **row})
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    for row in rows:
        if "error" in row:
            print(f"{row['size_mb']:>6g} MB  {row['what']:<12} crashed: {row['error']}")
            continue
        print(
            f"{row['size_mb']:>6g} MB  {row['what']:<12} {row['seconds']:>8.3f} s  "
            f"peak {row['peak_mb']:>8.1f} MB  {row['outcome']}"
        )


if __name__ == "__main__":
    main()
