"""Benchmark of the cassette harness (issue 4).

    python benchmarks/replay.py [--json] [--runs N] [--profile] [--cpu]

For every committed broker (``cassettes/<name>/contract.json`` and ``tests/brokers/test_<name>.py``
present): the median wall time of ``pytest tests/brokers/test_<name>.py -q -p no:cacheprovider``
in a subprocess next to the median of an empty pytest run whose one test module imports ccxt
(same interpreter, same project config and plugins). Target: at most 1.2 times the empty run.
And the bytes of ``cassettes/<name>/`` (all files, recursively). Target: at most 200 KB
(200,000 bytes).

With ``--cpu`` each run is timed by its CPU time (user + system, its children included) instead
of its wall time: steadier when other work shares the machine.

With ``--profile`` the script also prints pytest's ``--durations`` of each broker's suite and
where the process spends its import time, to explain a missed target.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench
from _bench import ROOT, Target, Timing

RATIO_LIMIT = 1.2
BYTES_LIMIT = 200_000
EMPTY_TEST = "import ccxt\n\n\ndef test_x():\n    pass\n"
OUTCOME = re.compile(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed|deselected)")


def committed_brokers() -> list[str]:
    """Brokers with a recorded contract and a test module, sorted."""
    return sorted(
        d.name
        for d in (ROOT / "cassettes").iterdir()
        if (d / "contract.json").is_file()
        and (ROOT / "tests" / "brokers" / f"test_{d.name}.py").is_file()
    )


def cassette_bytes(name: str) -> tuple[int, int]:
    """Total size and number of the files under ``cassettes/<name>/``."""
    files = [p for p in (ROOT / "cassettes" / name).rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), len(files)


def outcome(stdout: str) -> str:
    """``17 passed, 1 skipped`` from pytest's summary line."""
    last = [line for line in stdout.splitlines() if OUTCOME.search(line)]
    return ", ".join(f"{n} {w}" for n, w in OUTCOME.findall(last[-1])) if last else "?"


def pytest_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", *args, "-q", "-p", "no:cacheprovider"]


IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)$")


def import_self_times(command: list[str], env: dict[str, str]) -> dict[str, int]:
    """Module -> self import time (us) of one run; ``-s`` so pytest does not swallow stderr."""
    _, done = _bench.run_once(
        [sys.executable, "-X", "importtime", *command[1:], "-s"], cwd=ROOT, env=env
    )
    found: dict[str, int] = {}
    for line in done.stderr.splitlines():
        match = IMPORT_LINE.match(line)
        if match:
            found[match.group(4)] = int(match.group(1))
    return found


def profile(names: list[str], env: dict[str, str], baseline: list[str]) -> dict[str, Any]:
    """Per broker: the slowest test phases, and the imports the empty run does not pay."""
    empty = import_self_times(baseline, env)
    found: dict[str, Any] = {"empty_import_ms": round(sum(empty.values()) / 1000, 1)}
    for name in names:
        test = f"tests/brokers/test_{name}.py"
        _, done = _bench.run_once(
            pytest_command(test, "--durations=6", "--durations-min=0.005"), cwd=ROOT, env=env
        )
        durations = []
        for line in done.stdout.splitlines():
            match = re.match(r"^([\d.]+)s (setup|call|teardown)\s+(\S+)$", line.strip())
            if match:
                durations.append(
                    {"s": float(match.group(1)), "phase": match.group(2), "test": match.group(3)}
                )
        suite = import_self_times(pytest_command(test), env)
        extra: dict[str, int] = {}
        for module, us in suite.items():
            if module not in empty:
                top = module.split(".")[0]
                extra[top] = extra.get(top, 0) + us
        heavy = sorted(extra.items(), key=lambda kv: kv[1], reverse=True)[:10]
        found[name] = {
            "durations": durations,
            "import_ms": round(sum(suite.values()) / 1000, 1),
            "extra_import_ms": round(sum(extra.values()) / 1000, 1),
            "extra_imports_by_package_ms": {k: round(v / 1000, 1) for k, v in heavy},
        }
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    _bench.add_common_args(parser, runs=5)
    parser.add_argument("--profile", action="store_true", help="durations and import profile")
    parser.add_argument(
        "--cpu", action="store_true", help="time CPU (user + system) instead of wall time"
    )
    args = parser.parse_args(argv)
    quiet = args.json
    start_note = _bench.machine_note()

    names = committed_brokers()
    if not names:
        raise SystemExit("benchmark: no broker has cassettes/<name>/contract.json")
    env = _bench.child_env(pyc_cache=not args.no_pyc_cache)
    outcomes: dict[str, str] = {}

    with tempfile.TemporaryDirectory(prefix="bench-replay-") as tmp:
        empty = Path(tmp) / "test_empty_ccxt.py"
        empty.write_text(EMPTY_TEST, encoding="utf-8")
        # The empty run uses the project's config and plugins too (rootdir and ini of ROOT),
        # so the difference is the contract suite itself.
        baseline = Timing(
            "empty pytest importing ccxt",
            pytest_command(str(empty), "--rootdir", str(ROOT), "-c", str(ROOT / "pyproject.toml")),
        )
        suites = [
            Timing(
                f"pytest tests/brokers/test_{n}.py", pytest_command(f"tests/brokers/test_{n}.py")
            )
            for n in names
        ]
        everything = [baseline, *suites]
        _bench.log("warm-up (one untimed run of each)...", quiet=quiet)
        for timing in everything:
            _, done = _bench.run_once(timing.command, cwd=ROOT, env=env)
            outcomes[timing.label] = outcome(done.stdout)
        _bench.log(
            f"{args.runs} interleaved runs of {len(everything)} pytest commands...", quiet=quiet
        )
        if args.cpu:
            cpu = _bench.cpu_times_interleaved(
                [t.command for t in everything], args.runs, cwd=ROOT, env=env
            )
            for timing, times in zip(everything, cpu, strict=True):
                timing.times.extend(times)
        else:
            _bench.time_interleaved(everything, args.runs, cwd=ROOT, env=env)
        missed = any(t.median / baseline.median > RATIO_LIMIT for t in suites)
        profiled = profile(names, env, baseline.command) if args.profile or missed else None
        _bench.forget_pyc(tmp)

    sizes = {n: cassette_bytes(n) for n in names}
    targets: list[Target] = []
    rows = []
    per_broker: dict[str, Any] = {}
    for name, timing in zip(names, suites, strict=True):
        ratio = timing.median / baseline.median
        size, count = sizes[name]
        per_broker[name] = {
            **timing.as_dict(),
            "outcome": outcomes[timing.label],
            "ratio": round(ratio, 4),
            "cassette_bytes": size,
            "cassette_files": count,
        }
        rows.append(
            (
                name,
                timing.median,
                baseline.median,
                round(ratio, 3),
                size,
                count,
                outcomes[timing.label],
            )
        )
        targets.append(
            Target(f"{name} contract suite / empty pytest+ccxt", ratio, RATIO_LIMIT, "x")
        )
    for name in names:
        targets.append(
            Target(f"{name} cassette bytes", sizes[name][0] / 1000, BYTES_LIMIT / 1000, "KB")
        )

    context = _bench.run_context(env, start_note)
    results = {
        "brokers": per_broker,
        "baseline": {**baseline.as_dict(), "outcome": outcomes[baseline.label]},
        "profile": profiled,
        "clock": "cpu" if args.cpu else "wall",
        **context,
    }
    clock = "CPU " if args.cpu else ""
    if not args.json:
        _bench.print_context(context)
        print(
            _bench.table(
                [
                    f"broker ({args.runs} runs)",
                    f"suite {clock}s",
                    f"empty {clock}s",
                    "ratio",
                    "cassette B",
                    "files",
                    "tests",
                ],
                rows,
            )
        )
        print(
            f"empty run: {baseline.label}, median {baseline.median:.3f} {clock}s "
            f"(min {baseline.best:.3f}, max {baseline.worst:.3f}); suites: "
            + "; ".join(
                f"{n} min {s.best:.3f} max {s.worst:.3f}"
                for n, s in zip(names, suites, strict=True)
            )
        )
        if profiled:
            print()
            print(
                "profile: imports the contract suite pays beyond the empty run "
                f"(self times under -X importtime; the empty run imports "
                f"{profiled['empty_import_ms']:.0f} ms in all)"
            )
            for name in names:
                found = profiled[name]
                print(
                    f"  {name}: +{found['extra_import_ms']:.0f} ms: "
                    + ", ".join(
                        f"{k} {v:.0f}" for k, v in found["extra_imports_by_package_ms"].items()
                    )
                )
            print()
            print(
                _bench.table(
                    ["slowest test phases", "phase", "s"],
                    [
                        (d["test"], d["phase"], d["s"])
                        for name in names
                        for d in profiled[name]["durations"]
                    ],
                )
            )
        print()
    return _bench.emit(results, targets, args.json)


if __name__ == "__main__":
    sys.exit(main())
