"""copier renders a plain-directory template without starting git, and renders the same files.

See ``scaffolder.generate._git_hidden_from_copier``: git is hidden from copier only while it
renders, and only when the template is not a git repository's root of its own.
"""

from __future__ import annotations

import subprocess
import traceback
from pathlib import Path

import pytest

import scaffolder.generate
from scaffolder.generate import _is_git_repo_root, generate_many
from tests.scaffolder.test_generate import listing, make_project


def git_processes_started_by_copier(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The argv of every git process started from inside copier from now on."""
    started: list[list[str]] = []
    real_init = subprocess.Popen.__init__

    def init(self, args, *rest, **kwargs):  # type: ignore[no-untyped-def]
        argv = [str(a) for a in args] if not isinstance(args, str) else [args]
        inside_copier = any(
            "/copier/" in frame.filename.replace("\\", "/") for frame in traceback.extract_stack()
        )
        if inside_copier and Path(argv[0]).name.startswith("git"):
            started.append(argv)
        real_init(self, args, *rest, **kwargs)

    monkeypatch.setattr(subprocess.Popen, "__init__", init)
    return started


def git_project(path: Path) -> Path:
    """A throwaway project committed to a git repository of its own, as a user's is."""
    project = make_project(path)
    for command in (
        ["init", "-q"],
        ["add", "-A"],
        ["-c", "user.email=t@example.invalid", "-c", "user.name=t", "commit", "-qm", "init"],
    ):
        subprocess.run(["git", "-C", str(project), *command], check=True, capture_output=True)
    return project


def test_copier_starts_no_git_process_while_rendering_a_batch(tmp_path, monkeypatch):
    project = git_project(tmp_path / "project")
    started = git_processes_started_by_copier(monkeypatch)
    generate_many({"kraken": None, "binance": None}, project)
    assert started == []
    assert (project / "brokers" / "kraken" / "broker.py").is_file()


def test_with_git_left_visible_copier_renders_byte_identical_files(tmp_path, monkeypatch):
    brokers = {"kraken": None, "myrest": {"integration": "rest"}}
    hidden = git_project(tmp_path / "hidden")
    generate_many(brokers, hidden)
    plain = git_project(tmp_path / "plain")
    started = git_processes_started_by_copier(monkeypatch)
    monkeypatch.setattr(scaffolder.generate, "_is_git_repo_root", lambda _directory: True)
    generate_many(brokers, plain)
    assert started, "the plain path should let copier run git"
    assert listing(plain / "brokers") == listing(hidden / "brokers")
    for folder in ("config", "tests", "cassettes"):
        assert listing(plain / folder) == listing(hidden / folder)
    assert (plain / ".env.example").read_bytes() == (hidden / ".env.example").read_bytes()


def test_only_the_top_of_a_work_tree_counts_as_a_repository_root(tmp_path):
    project = git_project(tmp_path / "project")
    assert _is_git_repo_root(project)
    assert not _is_git_repo_root(project / "templates" / "broker")
    assert not _is_git_repo_root(tmp_path)  # in no repository at all
