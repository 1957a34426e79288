"""Broker names that would break the runtime, and files that only look like a broker's.

A broker package ``brokers/<name>/`` becomes the attribute ``brokers.<name>``: a name the
runtime package already uses (``create_broker``, ``available``, a module) would shadow it for
every broker. And a broker exists only when its package and its answers file do: a project
file in a broker's place (``tests/brokers/test_ccxt_stream.py``) is never deleted or replaced.
"""

from __future__ import annotations

import pkgutil
import re
from pathlib import Path

import pytest
import yaml

import brokers
from scaffolder.errors import UsageError
from scaffolder.generate import check_name, exists, generate, remove
from tests.scaffolder.test_generate import listing, make_project

ROOT = Path(__file__).resolve().parents[2]
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
#: Every name of the runtime a broker could take (lowercase identifiers only can).
#: The broker packages on disk (the committed ones, and any the quickstart generated).
BROKER_PACKAGES = {m.name for m in pkgutil.iter_modules(brokers.__path__) if m.ispkg}
RUNTIME_NAMES = sorted(
    {n for n in brokers.__all__ if NAME.match(n)}
    | {n for n in vars(brokers) if NAME.match(n) and n not in BROKER_PACKAGES}
    | {m.name for m in pkgutil.iter_modules(brokers.__path__) if not m.ispkg}
)


def test_the_runtime_names_include_the_public_api():
    assert {"create_broker", "available", "broker_class", "load_config"} <= set(RUNTIME_NAMES)
    assert {"importlib", "registry", "base"} <= set(RUNTIME_NAMES)


@pytest.mark.parametrize("name", RUNTIME_NAMES)
def test_every_runtime_name_is_refused(name):
    with pytest.raises(UsageError, match=rf"brokers\.{name}\b"):
        check_name(name)


def test_the_template_refuses_the_runtime_modules_too():
    """Raw ``copier copy`` has only the template's own list: it must name every module."""
    validator = yaml.safe_load((ROOT / "templates" / "broker" / "copier.yml").read_text())["name"][
        "validator"
    ]
    listed = set(re.findall(r"'([a-z_]+)'", validator))
    assert set(RUNTIME_NAMES) <= listed, sorted(set(RUNTIME_NAMES) - listed)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    project = make_project(tmp_path / "project")
    own_test = project / "tests" / "brokers" / "test_ccxt_stream.py"
    own_test.parent.mkdir(parents=True)
    own_test.write_text((ROOT / "tests" / "brokers" / "test_ccxt_stream.py").read_text())
    return project


def test_a_project_test_file_is_not_a_broker(project):
    assert not exists(project, "ccxt_stream")


def test_remove_does_not_delete_a_project_test_file(project):
    before = listing(project)
    with pytest.raises(UsageError, match="no broker 'ccxt_stream'"):
        remove("ccxt_stream", project)
    assert listing(project) == before


@pytest.mark.parametrize("force", [False, True])
def test_new_does_not_overwrite_a_project_test_file_even_with_force(project, force):
    before = listing(project)
    with pytest.raises(UsageError, match=r"tests/brokers/test_ccxt_stream\.py") as refused:
        generate("ccxt_stream", project, data={"integration": "rest"}, force=force)
    assert "--force" in str(refused.value)
    assert listing(project) == before


def test_cassettes_imported_before_new_are_kept(project):
    cassettes = project / "cassettes" / "kraken"
    cassettes.mkdir(parents=True)
    (cassettes / "markets.json").write_text("{}\n")
    generate("kraken", project)
    assert (cassettes / "markets.json").read_text() == "{}\n"
    assert exists(project, "kraken")


# -- remove is all or nothing ----------------------------------------------------------------


def registered_names(project: Path) -> list[str]:
    namespace: dict = {}
    exec((project / "brokers" / "registered.py").read_text(encoding="utf-8"), namespace)
    return sorted(namespace["BROKERS"])


def fail_on(monkeypatch, target: Path) -> None:
    """Removing or moving ``target`` raises PermissionError (as a read-only directory would)."""
    import os

    real_replace, real_unlink = os.replace, Path.unlink

    def replace(src, dst, *args, **kwargs):
        if Path(src) == target:
            raise PermissionError(13, "Permission denied", str(src))
        return real_replace(src, dst, *args, **kwargs)

    def unlink(self, *args, **kwargs):
        if self == target:
            raise PermissionError(13, "Permission denied", str(self))
        return real_unlink(self, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(Path, "unlink", unlink)


@pytest.mark.parametrize("fault", ["config", "test file", "wiring"])
def test_a_failure_half_way_through_remove_leaves_the_broker_whole(tmp_path, monkeypatch, fault):
    project = make_project(tmp_path / "project")
    generate("kraken", project)
    before = listing(project)
    if fault == "wiring":
        import scaffolder.generate

        def broken(root):
            raise PermissionError(13, "Permission denied", str(root / ".env.example"))

        monkeypatch.setattr(scaffolder.generate, "rewire", broken)
    else:
        relpath = (
            "config/brokers/kraken.json" if fault == "config" else "tests/brokers/test_kraken.py"
        )
        fail_on(monkeypatch, project / relpath)
    with pytest.raises(PermissionError):
        remove("kraken", project)
    monkeypatch.undo()
    assert listing(project) == before
    assert "kraken" in registered_names(project) and exists(project, "kraken")


def test_remove_on_a_permission_error_is_one_line_and_exit_1(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from scaffolder.cli import main

    project = make_project(tmp_path / "project")
    generate("kraken", project)
    before = listing(project)
    fail_on(monkeypatch, project / "config" / "brokers" / "kraken.json")
    monkeypatch.chdir(project)
    result = CliRunner().invoke(main, ["remove", "kraken", "--yes"])
    monkeypatch.undo()
    assert result.exit_code == 1, result.output
    assert "kraken.json" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert listing(project) == before
