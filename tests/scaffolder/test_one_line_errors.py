"""Where one line is promised: a permission error in ``new``, a broker file with conflict
markers in ``doctor``, a bad or taken ``standin --port``; and an interrupted ``new`` leaves no
scratch directory behind (and git would ignore one anyway)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import brokers.registered
import scaffolder.fs
from scaffolder.cli import main
from tests.scaffolder.test_generate import listing, make_project

ROOT = Path(__file__).resolve().parents[2]
HOOKS = ROOT / "tests" / "data" / "hooks"


def one_line_error(result, code: int) -> str:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    project = make_project(tmp_path / "project")
    monkeypatch.chdir(project)
    return project


def test_new_when_the_project_is_not_writable(project, monkeypatch):
    before = listing(project)

    def refuse(*args, dir=None, **kwargs):
        raise PermissionError(13, "Permission denied", str(dir))

    monkeypatch.setattr(scaffolder.fs.tempfile, "mkdtemp", refuse)
    line = one_line_error(CliRunner().invoke(main, ["new", "kraken", "--defaults"]), 1)
    monkeypatch.undo()
    assert "Permission denied" in line and str(project) in line
    assert listing(project) == before


def test_new_when_a_target_directory_is_not_writable(project, monkeypatch):
    before = listing(project)
    real = os.replace
    config = project / "config" / "brokers" / "kraken.json"

    def replace(src, dst, *args, **kwargs):
        if Path(dst) == config:
            raise PermissionError(13, "Permission denied", str(dst))
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    line = one_line_error(CliRunner().invoke(main, ["new", "kraken", "--defaults"]), 1)
    monkeypatch.undo()
    assert "kraken.json" in line
    assert listing(project) == before


def test_doctor_on_a_broker_file_with_conflict_markers(tmp_path, monkeypatch):
    (tmp_path / "templates" / "broker").mkdir(parents=True)
    (tmp_path / "templates" / "broker" / "copier.yml").write_text("")
    (tmp_path / "config" / "brokers").mkdir(parents=True)
    shutil.copy(ROOT / "config" / "brokers" / "binance.json", tmp_path / "config" / "brokers")
    package = tmp_path / "conflicted_broker"
    package.mkdir()
    source = (ROOT / "brokers" / "binance" / "broker.py").read_text().splitlines(keepends=True)
    source[10:10] = [
        "<<<<<<< before updating\n",
        "    x = 1\n",
        "=======\n",
        "    x = 2\n",
        ">>>>>>> after updating\n",
    ]
    (package / "broker.py").write_text("".join(source))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(brokers.registered.BROKERS, "binance", "conflicted_broker.broker:Broker")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["doctor", "binance", "--json"])
    assert result.exit_code == 1, result.output
    checks = {c["check"]: c for c in json.loads(result.output)["checks"]}
    assert checks["broker"]["status"] == "fail"
    assert "broker.py:11" in checks["broker"]["detail"]
    assert "merge conflict marker" in checks["broker"]["detail"]


def test_standin_port_out_of_range_is_a_usage_error():
    result = CliRunner().invoke(main, ["standin", "--port", "-1"])
    assert result.exit_code == 2 and "--port" in result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)


def test_standin_on_a_port_in_use():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = one_line_error(CliRunner().invoke(main, ["standin", "--port", str(port)]), 1)
    assert f"127.0.0.1:{port}" in line and "--port" in line


def test_git_ignores_scratch_directories():
    for path in (".scaffolder-abc123/out/x.py", "cassettes/.record-binance-abc/x.yaml"):
        done = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT)
        assert done.returncode == 0, f"{path} is not ignored"


def test_sigterm_during_new_leaves_no_scratch_directory(project, tmp_path):
    before = listing(project)
    held = tmp_path / "rendered"
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "scaffolder"), "new", "kraken", "--defaults"],
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(HOOKS), "HOLD_RENDER": str(held)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(1200):  # until the broker is rendered in the scratch directory
            if held.exists() or process.poll() is not None:
                break
            time.sleep(0.1)
        assert held.exists(), process.communicate()
        assert list(project.glob(".scaffolder-*")), "no scratch directory while rendering"
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 128 + signal.SIGTERM, stderr
    assert "Traceback" not in stderr
    assert list(project.glob(".scaffolder-*")) == []
    assert listing(project) == before
