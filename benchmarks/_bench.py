"""Shared helpers of the benchmark scripts: timing subprocesses, tables, targets, ``--json``.

Not a benchmark itself. The scripts put ``benchmarks/`` (their own directory) first on
``sys.path`` when run as ``python benchmarks/X.py``, so ``import _bench`` finds this module.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def venv_bin(name: str) -> str:
    """A console script beside the running interpreter, else in the project's .venv."""
    for directory in (Path(sys.executable).parent, ROOT / ".venv" / "bin"):
        candidate = directory / name
        if candidate.exists():
            return str(candidate)
    raise SystemExit(f"benchmark: {name} not found beside {sys.executable} nor in .venv/bin")


@dataclass
class Timing:
    """Wall times (seconds) of repeated runs of one command, and their CPU times (user +
    system, the command's children included: steadier than wall time on a loaded machine)."""

    label: str
    command: list[str]
    times: list[float] = field(default_factory=list)
    cpu_times: list[float] = field(default_factory=list)
    #: Exit codes that count as a proper run (``scaffolder validate`` exits 1 on invalid files).
    ok_codes: tuple[int, ...] = (0,)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def best(self) -> float:
        return min(self.times)

    @property
    def worst(self) -> float:
        return max(self.times)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu_times)

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "command": self.command,
            "runs": len(self.times),
            "median_s": round(self.median, 4),
            "min_s": round(self.best, 4),
            "max_s": round(self.worst, 4),
            "times_s": [round(t, 4) for t in self.times],
            **(
                {
                    "cpu_median_s": round(self.cpu_median, 4),
                    "cpu_times_s": [round(t, 4) for t in self.cpu_times],
                }
                if self.cpu_times
                else {}
            ),
        }


def run_once(
    command: Sequence[str],
    *,
    cwd: Path | str | None = None,
    env: dict[str, str] | None = None,
    ok_codes: tuple[int, ...] = (0,),
) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Run ``command`` once; its wall time (perf_counter around subprocess.run) and result.

    A run that exits with a code outside ``ok_codes`` aborts the benchmark with its output: a
    figure of a failing command would be meaningless.
    """
    start = time.perf_counter()
    done = subprocess.run(
        list(command), cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - start
    if done.returncode not in ok_codes:
        raise SystemExit(
            f"benchmark: {' '.join(map(str, command))} exited {done.returncode}\n"
            f"--- stdout ---\n{done.stdout[-3000:]}\n--- stderr ---\n{done.stderr[-3000:]}"
        )
    return elapsed, done


def time_interleaved(
    timings: Sequence[Timing],
    runs: int,
    *,
    cwd: Path | str | None = None,
    env: dict[str, str] | None = None,
    before_each: Callable[[Timing], None] | None = None,
) -> None:
    """Run each command ``runs`` times, alternating between them so drift hits all alike;
    each run's wall time goes to ``times``, its CPU time to ``cpu_times``."""
    for _ in range(runs):
        for timing in timings:
            if before_each is not None:
                before_each(timing)
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            elapsed, _done = run_once(timing.command, cwd=cwd, env=env, ok_codes=timing.ok_codes)
            timing.times.append(elapsed)
            timing.cpu_times.append(cpu_since(before))


def cpu_times_interleaved(
    commands: Sequence[Sequence[str]],
    runs: int,
    *,
    cwd: Path | str | None = None,
    env: dict[str, str] | None = None,
    before_each: Callable[[int], None] | None = None,
) -> list[list[float]]:
    """CPU seconds (user + system, its children included) of each command, ``runs`` times each,
    alternating; steadier than wall time on a loaded machine. ``before_each(i)`` runs, untimed,
    before each run of ``commands[i]``."""
    times: list[list[float]] = [[] for _ in commands]
    for _ in range(runs):
        for index, command in enumerate(commands):
            if before_each is not None:
                before_each(index)
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            run_once(command, cwd=cwd, env=env)
            times[index].append(cpu_since(before))
    return times


def cpu_since(before: resource.struct_rusage) -> float:
    """CPU seconds (user + system) the children waited for since ``before`` used."""
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A small aligned text table (numbers right-aligned)."""
    cells = [[str(h) for h in headers]] + [[_cell(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    numeric = [
        all(_is_number(row[i]) for row in rows) if rows else False for i in range(len(headers))
    ]
    lines = []
    for n, row in enumerate(cells):
        parts = [
            c.rjust(w) if numeric[i] and n else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


@dataclass
class Target:
    """One speed target: ``measured <= limit``."""

    name: str
    measured: float
    limit: float
    unit: str = ""

    @property
    def ok(self) -> bool:
        return self.measured <= self.limit

    def line(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        return (
            f"target: {self.name}: {self.measured:.3f}{unit} <= {self.limit:g}{unit} "
            f"{'OK' if self.ok else 'MISSED'}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "measured": round(self.measured, 4) if math.isfinite(self.measured) else None,
            "limit": self.limit,
            "unit": self.unit,
            "ok": self.ok,
        }


def wants_json(argv: Sequence[str] | None = None) -> bool:
    return "--json" in (sys.argv[1:] if argv is None else argv)


def emit(results: dict[str, Any], targets: Sequence[Target], as_json: bool) -> int:
    """Print the targets (or everything as JSON); exit status 0 whatever the outcome.

    The figures are the product; a missed target is reported, not turned into a failure.
    """
    if as_json:
        results = {**results, "targets": [t.as_dict() for t in targets]}
        print(json.dumps(results, indent=2))
    else:
        for target in targets:
            print(target.line())
    return 0


def log(message: str, *, quiet: bool = False) -> None:
    """Progress on stderr (so ``--json`` stdout stays machine-readable)."""
    if not quiet:
        print(message, file=sys.stderr, flush=True)


#: Where timed subprocesses keep their bytecode (PYTHONPYCACHEPREFIX); kept between runs.
PYC_PREFIX = Path(tempfile.gettempdir()) / "broker-scaffolder-bench-pyc"


def add_common_args(parser: argparse.ArgumentParser, runs: int) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable results")
    parser.add_argument("--runs", type=int, default=runs, help=f"runs per command (default {runs})")
    parser.add_argument(
        "--no-pyc-cache",
        action="store_true",
        help="run the subprocesses in the environment as it is (by default bytecode caching is "
        "turned on, into a prefix outside the repository, as on a normal machine)",
    )


def child_env(*, pyc_cache: bool = True, **extra: str) -> dict[str, str]:
    """The environment for timed subprocesses.

    Python caches compiled modules unless PYTHONDONTWRITEBYTECODE is set; some sandboxes and
    coding tools set it, which makes every process recompile the project's own modules (they
    have no .pyc, unlike pip-installed packages) and turns off pytest's assertion-rewrite cache.
    That would charge our code a cost a normal machine never pays, so by default the variable
    is dropped and bytecode goes to PYTHONPYCACHEPREFIX (nothing is written into the repo). The
    untimed warm-up run of each command fills the cache.
    """
    env = dict(os.environ)
    env.pop("PYTHONSTARTUP", None)
    if pyc_cache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(PYC_PREFIX)
    env.update(extra)
    return env


def describe_env(env: dict[str, str]) -> str:
    """One line saying how the subprocesses treat bytecode."""
    if env.get("PYTHONPYCACHEPREFIX") and not env.get("PYTHONDONTWRITEBYTECODE"):
        return f"bytecode cache on (PYTHONPYCACHEPREFIX={env['PYTHONPYCACHEPREFIX']})"
    if env.get("PYTHONDONTWRITEBYTECODE"):
        return "bytecode cache off (PYTHONDONTWRITEBYTECODE set: the project's modules recompile each run)"
    return "bytecode cache: Python's default (__pycache__ beside the sources)"


def machine_note() -> str:
    """CPUs and load average: other work on the machine skews wall times."""
    try:
        one, five, _ = os.getloadavg()
        load = f"load average {one:.2f} (1 min), {five:.2f} (5 min)"
    except OSError:  # pragma: no cover - not on every platform
        load = "load average unknown"
    return load


def run_context(env: dict[str, str], start_note: str) -> dict[str, str]:
    """How the figures were taken: bytecode handling and the machine's load at start and end."""
    return {
        "environment": describe_env(env),
        "machine_at_start": start_note,
        "machine_at_end": machine_note(),
    }


def print_context(context: dict[str, str]) -> None:
    """The :func:`run_context` as the two lines every benchmark prints first."""
    print(f"subprocesses: {context['environment']}")
    print(
        f"machine: {os.cpu_count()} CPUs; at start {context['machine_at_start']}; "
        f"at end {context['machine_at_end']}"
    )


def forget_pyc(directory: Path | str) -> None:
    """Drop the cached bytecode of a temporary directory's modules (it will never be reused)."""
    resolved = Path(directory).resolve()
    shutil.rmtree(PYC_PREFIX / resolved.relative_to(resolved.anchor), ignore_errors=True)
