"""Fuzz tests (hypothesis): configs, broker names, corrupted cassettes.

Each test counts the cases it ran. With ``FUZZ_STATS`` set in the environment the counts are
merged into ``.fuzz-stats.json`` at the repository root, in the shape ``scripts/reliability.py
--fuzz-stats`` reads: ``{"cases": N, "targets": {test: N}, "failures": N, "tests": {...}}``,
where ``failures`` counts cases that ended in a traceback tolerated as a known bug;
without it nothing is written to the repository: no example database, and hypothesis's caches
go to a temporary directory (unless ``HYPOTHESIS_STORAGE_DIRECTORY`` says where), its Unicode
tables to one kept between runs (:data:`UNICODE_TABLES`).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir

ROOT = Path(__file__).resolve().parents[2]
STATS_FILE = ROOT / ".fuzz-stats.json"
STATS_VARIABLE = "FUZZ_STATS"

#: Hypothesis's Unicode tables (its charmap, each codec's characters: computing them loops over
#: every code point, seconds of CPU per process), kept between runs outside the tree and shared
#: by the xdist workers; hypothesis writes each one atomically. Nothing else of its is kept.
UNICODE_TABLES = Path(tempfile.gettempdir()) / f"broker-scaffolder-hypothesis-unicode-{os.getuid()}"

if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
    _HOME = tempfile.mkdtemp(prefix="fuzz-hypothesis-")
    atexit.register(shutil.rmtree, _HOME, ignore_errors=True)  # the link, not the tables
    UNICODE_TABLES.mkdir(exist_ok=True)
    (Path(_HOME) / "unicode_data").symlink_to(UNICODE_TABLES, target_is_directory=True)
    set_hypothesis_home_dir(_HOME)


def fuzz_settings(max_examples: int, **overrides: Any) -> settings:
    """Settings for a fuzz test: no deadline, no example database written to disk."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        **overrides,
    )


def write_case(path: Path, data: bytes) -> None:
    """Write a case's bytes to ``path``, which may hold the previous case's.

    The old file is removed first instead of truncated: on ext4 (``auto_da_alloc``, the default)
    truncating a file whose data is not yet on disk forces it out first, about 1 ms a case (3 ms
    on a busy machine) against 0.15 ms for a new file; a fuzz test writes a thousand cases.
    """
    path.unlink(missing_ok=True)
    path.write_bytes(data)


def record_stats(test: str, outcomes: Counter[str], **extra: Any) -> None:
    """Merge ``test``'s case count (the sum of ``outcomes``) into the stats file, if asked for.

    An outcome called ``known_bug`` counts as a failure.
    """
    if not os.environ.get(STATS_VARIABLE):
        return
    with _stats_lock():  # pytest-xdist workers merge into the same file
        _merge_stats(test, outcomes, extra)


@contextlib.contextmanager
def _stats_lock() -> Iterator[None]:
    """Hold an exclusive lock on ``.fuzz-stats.json.lock`` (where fcntl exists)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on POSIX: one process at a time, as before
        yield
        return
    with open(STATS_FILE.with_name(STATS_FILE.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _merge_stats(test: str, outcomes: Counter[str], extra: dict[str, Any]) -> None:
    try:
        stats = json.loads(STATS_FILE.read_text(encoding="utf-8"))
        if not isinstance(stats, dict) or not isinstance(stats.get("tests"), dict):
            raise ValueError
    except (OSError, ValueError):
        stats = {"tests": {}}
    stats["tests"][test] = {
        "cases": sum(outcomes.values()),
        "outcomes": dict(sorted(outcomes.items())),
        **extra,
    }
    tests = stats["tests"]
    stats["cases"] = sum(t.get("cases", 0) for t in tests.values())
    stats["targets"] = {name: t.get("cases", 0) for name, t in sorted(tests.items())}
    stats["failures"] = sum(t.get("outcomes", {}).get("known_bug", 0) for t in tests.values())
    fd, tmp = tempfile.mkstemp(dir=STATS_FILE.parent, prefix=".fuzz-stats.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(stats, handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.replace(tmp, STATS_FILE)
    except BaseException:  # nothing half-written left beside the stats (or in the tree)
        os.unlink(tmp)
        raise
