"""The suite's own set-up: bytecode cached once per run, outside the tree, for every process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import PYC_PREFIX, prune_stale_bytecode


def cached_pyc(source: Path) -> list[Path]:
    return sorted((PYC_PREFIX / Path(*source.parent.parts[1:])).glob(f"{source.stem}.*.pyc"))


def test_this_process_and_the_ones_it_starts_cache_bytecode_under_the_prefix() -> None:
    assert sys.dont_write_bytecode is False
    assert sys.pycache_prefix == str(PYC_PREFIX)
    assert "PYTHONDONTWRITEBYTECODE" not in os.environ
    assert os.environ["PYTHONPYCACHEPREFIX"] == str(PYC_PREFIX)


def test_a_subprocess_compiles_a_module_once_and_writes_nothing_beside_it(tmp_path: Path) -> None:
    source = tmp_path / "module_to_cache.py"
    source.write_text("VALUE = 1\n", encoding="utf-8")
    run = [sys.executable, "-c", "import module_to_cache"]
    subprocess.run(run, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)}, check=True)
    [pyc] = cached_pyc(source)
    written = pyc.stat().st_mtime_ns
    subprocess.run(run, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)}, check=True)
    assert cached_pyc(source) == [pyc] and pyc.stat().st_mtime_ns == written  # read, not rewritten
    assert sorted(p.name for p in tmp_path.iterdir()) == ["module_to_cache.py"]


def test_bytecode_of_removed_runs_is_pruned_and_of_kept_runs_kept(tmp_path: Path) -> None:
    runs = tmp_path / "pytest-of-someone"
    (runs / "pytest-7").mkdir(parents=True)
    mirror = PYC_PREFIX / Path(*runs.parts[1:])
    for run in ("pytest-6", "pytest-7"):
        (mirror / run / "project").mkdir(parents=True)
        (mirror / run / "project" / "m.cpython-311.pyc").write_bytes(b"")
    prune_stale_bytecode(runs)
    assert sorted(p.name for p in mirror.iterdir()) == ["pytest-7"]
    assert (mirror / "pytest-7" / "project" / "m.cpython-311.pyc").is_file()
