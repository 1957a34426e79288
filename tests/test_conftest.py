"""The suite's own set-up: bytecode cached once per run, outside the tree, for every process."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import xdist.plugin as xdist_plugin

from tests.conftest import (
    PYC_PREFIX,
    built_once_per_run,
    computed_once_per_run,
    in_worker_order,
    prune_stale_bytecode,
    run_directory,
    seed_prefix,
)


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


def test_installed_bytecode_seeds_the_prefix_and_what_is_there_stays(tmp_path: Path) -> None:
    sources = [tmp_path / "pkg" / "new.py", tmp_path / "pkg" / "there.py"]
    sources[0].parent.mkdir()
    for source in sources:
        source.write_text("X = 1\n", encoding="utf-8")
        (tmp_path / f"{source.stem}.pyc").write_bytes(f"installed {source.stem}".encode())
    there = Path(importlib.util.cache_from_source(str(sources[1])))
    there.parent.mkdir(parents=True)
    there.write_bytes(b"compiled here")
    seed_prefix([(str(s), str(tmp_path / f"{s.stem}.pyc")) for s in sources])
    seeded = Path(importlib.util.cache_from_source(str(sources[0])))
    assert seeded.is_relative_to(PYC_PREFIX) and seeded.read_bytes() == b"installed new"
    assert there.read_bytes() == b"compiled here"
    assert sorted(p.name for p in seeded.parent.iterdir()) == sorted([seeded.name, there.name])


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


class Factory:
    """A stand-in for ``tmp_path_factory`` whose run directory is private to one test."""

    def __init__(self, tmp_path: Path) -> None:
        self.basetemp = tmp_path / "popen-gw0"
        self.basetemp.mkdir()

    def getbasetemp(self) -> Path:
        return self.basetemp


def test_the_run_directory_is_the_one_all_workers_share(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    basetemp = tmp_path_factory.getbasetemp()
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    assert run_directory(tmp_path_factory) == (basetemp.parent if worker else basetemp)
    if worker:
        assert basetemp.name == f"popen-{worker}"


def test_a_shared_build_runs_once_and_every_caller_waits_for_it(tmp_path: Path) -> None:
    factory: pytest.TempPathFactory = Factory(tmp_path)  # type: ignore[assignment]
    builds: list[Path] = []

    def build(path: Path) -> None:
        builds.append(path)
        time.sleep(0.2)  # long enough for the other caller to be waiting on the lock
        path.mkdir()
        (path / "built.txt").write_text("yes")

    got: list[Path] = []
    callers = [
        threading.Thread(target=lambda: got.append(built_once_per_run(factory, "x", build)))
        for _ in range(2)
    ]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    assert len(builds) == 1 and got == [builds[0], builds[0]]
    assert (got[0] / "built.txt").read_text() == "yes"


def test_a_shared_build_that_failed_is_started_again_from_scratch(tmp_path: Path) -> None:
    factory: pytest.TempPathFactory = Factory(tmp_path)  # type: ignore[assignment]

    def broken(path: Path) -> None:
        path.mkdir()
        (path / "half.txt").write_text("")
        raise RuntimeError("killed half-way")

    with pytest.raises(RuntimeError):
        built_once_per_run(factory, "x", broken)
    built = built_once_per_run(factory, "x", lambda path: path.mkdir())
    assert built.is_dir() and list(built.iterdir()) == []


def test_a_value_computed_once_is_read_back_from_json_by_every_caller(tmp_path: Path) -> None:
    factory: pytest.TempPathFactory = Factory(tmp_path)  # type: ignore[assignment]
    calls: list[int] = []

    def compute() -> dict[str, object]:
        calls.append(1)
        return {"results": {"a": {"outcome": "ok", "times": None}}, "runs": [1, 2]}

    first = computed_once_per_run(factory, "v", compute)
    assert computed_once_per_run(factory, "v", compute) == first == compute()
    assert len(calls) == 2  # once shared, once above to compare


def test_a_value_json_would_change_is_refused(tmp_path: Path) -> None:
    factory: pytest.TempPathFactory = Factory(tmp_path)  # type: ignore[assignment]
    with pytest.raises(TypeError, match="does not survive JSON"):
        computed_once_per_run(factory, "v", lambda: {"pair": ("BTC", "USDT")})


def test_xdist_workers_steal_work_from_each_other(pytestconfig: pytest.Config) -> None:
    addopts = pytestconfig.getini("addopts")  # pyproject.toml's, as the controller reads them
    assert addopts[addopts.index("--dist") + 1] == "worksteal"


def test_n_auto_starts_one_worker_more_than_the_cores(
    pytestconfig: pytest.Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Asked the way xdist asks (the hook, first answer wins): ours, then xdist's own."""
    ask = pytestconfig.hook.pytest_xdist_auto_num_workers
    monkeypatch.delenv("PYTEST_XDIST_AUTO_NUM_WORKERS", raising=False)
    monkeypatch.setattr(pytestconfig.option, "numprocesses", "auto", raising=False)
    cores = xdist_plugin.pytest_xdist_auto_num_workers(pytestconfig)  # what xdist alone starts
    assert cores >= 1 and ask(config=pytestconfig) == cores + 1
    monkeypatch.setenv("PYTEST_XDIST_AUTO_NUM_WORKERS", "7")
    assert ask(config=pytestconfig) == 7  # the user's own count, as xdist documents it
    monkeypatch.delenv("PYTEST_XDIST_AUTO_NUM_WORKERS")
    monkeypatch.setattr(pytestconfig.option, "numprocesses", "logical")
    assert ask(config=pytestconfig) == xdist_plugin.pytest_xdist_auto_num_workers(pytestconfig)


@pytest.mark.parametrize(
    ("worker", "order"),
    [(None, "abc"), ("gw0", "abc"), ("gw1", "cba"), ("gw2", "abc"), ("gw11", "cba")],
)
def test_every_other_worker_asks_for_shared_parts_in_the_opposite_order(
    monkeypatch: pytest.MonkeyPatch, worker: str | None, order: str
) -> None:
    if worker is None:
        monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    else:
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
    assert "".join(in_worker_order(list("abc"))) == order


def test_a_pytest_started_by_a_test_runs_without_hypothesis_and_this_one_with_it(
    tmp_path: Path, pytestconfig: pytest.Config
) -> None:
    assert pytestconfig.pluginmanager.has_plugin("hypothesispytest"), "the fuzz tests need it"
    # hypothesis's plugin imports hypothesis in its terminal summary, at the end of every run
    (tmp_path / "conftest.py").write_text(
        "import pathlib, sys\n\n"
        "def pytest_unconfigure(config):\n"
        "    pathlib.Path('seen').write_text(str('hypothesis' in sys.modules))\n"
    )
    (tmp_path / "test_child.py").write_text("def test_child():\n    pass\n")
    child = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_child.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert child.returncode == 0, child.stdout + child.stderr
    assert (tmp_path / "seen").read_text() == "False", "the child imported hypothesis"
