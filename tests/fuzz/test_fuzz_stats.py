"""The fuzz case counts survive pytest-xdist: workers merging at once lose no test's entry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

MERGE = """
import sys
from collections import Counter
from pathlib import Path
import tests.fuzz as fuzz

fuzz.STATS_FILE = Path(sys.argv[1])
for n in range(int(sys.argv[3])):
    fuzz.record_stats(f"{sys.argv[2]}-{n}", Counter(ok=1))
"""


def test_workers_merging_at_the_same_time_keep_every_entry(tmp_path: Path):
    stats, count = tmp_path / "stats.json", 150
    env = {**os.environ, "FUZZ_STATS": "1", "PYTHONPATH": str(ROOT)}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", MERGE, str(stats), name, str(count)], cwd=ROOT, env=env
        )
        for name in ("gw0", "gw1", "gw2")
    ]
    assert [worker.wait(timeout=120) for worker in workers] == [0, 0, 0]
    merged = json.loads(stats.read_text())
    assert len(merged["tests"]) == 3 * count
    assert merged["cases"] == 3 * count
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stats.json", "stats.json.lock"]


def test_a_merge_that_fails_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that fails half-way raises, keeps the stats as they were and leaves nothing
    beside them (a temporary in the repository root would be committed by ``git add -A``)."""
    import tests.fuzz as fuzz

    stats = tmp_path / "stats.json"
    stats.write_text('{"tests": {}}\n', encoding="utf-8")
    monkeypatch.setattr(fuzz, "STATS_FILE", stats)
    monkeypatch.setenv("FUZZ_STATS", "1")

    def full_disk(*_args: object, **_kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fuzz.json, "dump", full_disk)
    with pytest.raises(OSError, match="No space left"):
        fuzz.record_stats("t", Counter(ok=1))
    assert stats.read_text(encoding="utf-8") == '{"tests": {}}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stats.json", "stats.json.lock"]


def test_hypothesis_unicode_tables_are_kept_between_runs_outside_the_tree() -> None:
    from hypothesis.internal.charmap import charmap, charmap_file, intervals_from_codec

    from tests.fuzz import UNICODE_TABLES

    if os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        pytest.skip("HYPOTHESIS_STORAGE_DIRECTORY says where hypothesis keeps everything")
    charmap(), intervals_from_codec("utf-8")  # read from the tables, or computed and written
    # every hypothesis writes its charmap; only newer ones also keep each codec's table
    assert charmap_file().is_file()
    for table in (charmap_file(), charmap_file("codec-v2-utf-8")):
        assert table.resolve().is_relative_to(UNICODE_TABLES.resolve())
        assert not table.resolve().is_relative_to(ROOT)
