"""``scaffolder update NAME``: bring one broker to the current template with ``copier update``.

Copier updates need the template's old version from git. Our template is a folder inside
this project, so the version a broker was generated from is recorded as the git tree id of
``templates/broker`` (``_commit`` in its answers file). The update rebuilds a throwaway
template repository holding that old tree and the current one, copies the broker's files into
a throwaway project, runs ``copier update`` there (copier's own three-way merge: hand edits
survive, conflicts are marked inline the way copier marks them), and copies the result back.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from scaffolder.answers import CASSETTES_KEY, write_answers
from scaffolder.broker_names import broker_paths, check_name
from scaffolder.errors import ScaffolderError, UsageError
from scaffolder.fs import load_yaml, scratch_dir, write_text_atomic
from scaffolder.generate import (
    TEMPLATE_RELPATH,
    install_and_rewire,
    template_meta,
    template_version,
)

CONFLICT_MARKER = "<<<<<<< before updating"
#: A git object id: SHA-1 (40 hex digits) or SHA-256 (64).
#: In the answers file after an update with conflicts: the version the broker reaches once
#: they are resolved (``_commit`` stays the version it came from until then).
PENDING = "_update_pending"
OBJECT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


@dataclass
class UpdateReport:
    """What ``update`` did."""

    name: str
    from_version: str
    to_version: str
    changed: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)

    @property
    def up_to_date(self) -> bool:
        return self.from_version == self.to_version


def _git(
    cwd: Path, *args: str, capture: bool = True, data: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["git", "-c", "user.name=scaffolder", "-c", "user.email=scaffolder@localhost", *args],
        cwd=cwd,
        capture_output=capture,
        input=data,
        check=True,
    )


def _export_tree(root: Path, tree: str, into: Path) -> None:
    """Write the files of git tree ``tree`` (from ``root``'s repository) into ``into``."""
    try:
        archive = _git(root, "archive", "--format=tar", "--end-of-options", tree).stdout
    except subprocess.CalledProcessError as exc:
        raise ScaffolderError(
            f"template version {tree[:12]} is not in this repository's history; regenerate the "
            "broker with `scaffolder new NAME --force` (hand edits are not kept)"
        ) from exc
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")


def _template_repo(root: Path, old: str, scratch: Path) -> Path:
    """A git repo whose tag ``old`` is the broker's template version and ``new`` the current one."""
    repo = scratch / "template"
    repo.mkdir()
    _git(repo, "init", "-q")
    _export_tree(root, old, repo)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "template as the broker was generated")
    _git(repo, "tag", "old")
    for item in repo.iterdir():
        if item.name != ".git":
            shutil.rmtree(item) if item.is_dir() else item.unlink()
    shutil.copytree(root / TEMPLATE_RELPATH, repo, dirs_exist_ok=True)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "--allow-empty", "-m", "template now")
    _git(repo, "tag", "new")
    return repo


def _broker_files(root: Path, name: str) -> list[Path]:
    files: list[Path] = []
    for place in broker_paths(root, name):
        if place.is_dir():
            files.extend(p for p in place.rglob("*") if p.is_file() and _from_template(p))
        elif place.exists():
            files.append(place)
    return files


def _from_template(path: Path) -> bool:
    """Whether a file in a broker's folders is the template's (recordings are not)."""
    return path.name == ".copier-answers.yml" or path.suffix not in (".yaml", ".json")


def _read_answers(path: Path, root: Path) -> dict[str, Any]:
    """The broker's answers file as a mapping; a broken one is a usage error naming it."""
    shown = path.relative_to(root)
    try:
        answers = load_yaml(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UsageError(f"{shown} cannot be read as YAML ({type(exc).__name__})") from exc
    if not isinstance(answers, dict):
        raise UsageError(f"{shown} holds no answers (a mapping of question: answer)")
    return answers


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _finish_pending(
    name: str, root: Path, answers_path: Path, answers: dict[str, Any], pending: Any
) -> str:
    """Complete an update that left conflicts, once none is left: the broker is now at the
    version it was updated to (returned). Refused while a conflict marker remains."""
    shown = _relative(answers_path, root)
    if not isinstance(pending, str) or not OBJECT_ID.fullmatch(pending):
        raise UsageError(f"{shown}: {PENDING} {str(pending)[:80]!r} is not a template version")
    unresolved = [
        _relative(f, root)
        for f in _broker_files(root, name)
        if CONFLICT_MARKER in f.read_text(encoding="utf-8", errors="replace")
    ]
    if unresolved:
        raise ScaffolderError(
            f"the update of {name} to template {pending[:12]} left conflicts in "
            f"{', '.join(unresolved)}: resolve the <<<<<<< markers, then run "
            f"`scaffolder update {name}` again"
        )
    write_answers(answers_path, {**answers, "_commit": pending})
    return pending


def update(name: str, root: Path, *, quiet: bool = True) -> UpdateReport:
    """Update broker ``name`` in ``root`` to the current template (see the module docstring)."""
    import copier

    root = root.resolve()
    check_name(name)
    answers_path = root / "brokers" / name / ".copier-answers.yml"
    if not answers_path.exists():
        raise UsageError(f"no broker {name!r} with an answers file at {answers_path}")
    answers = _read_answers(answers_path, root)
    old = answers.get("_commit")
    new = template_version(root)
    if not old or not new:
        raise ScaffolderError(
            "updating needs the project in git and the broker's template version in its answers file"
        )
    if not isinstance(old, str) or not OBJECT_ID.fullmatch(old):
        raise UsageError(
            f"{answers_path.relative_to(root)}: _commit {str(old)[:80]!r} is not a template "
            "version (a git tree id, 40 or 64 hex digits); restore the file from git, or "
            f"regenerate the broker with `scaffolder new {name} --force`"
        )
    pending = answers.pop(PENDING, None)
    if pending is not None:
        old = _finish_pending(name, root, answers_path, answers, pending)
        if old == new:
            return UpdateReport(
                name, str(answers["_commit"]), new, changed=[_relative(answers_path, root)]
            )
    report = UpdateReport(name, str(old), new)
    if old == new:
        return report
    with scratch_dir(root, ".scaffolder-update-") as scratch:
        template = _template_repo(root, str(old), scratch)
        project = scratch / "project"
        project.mkdir()
        for file in _broker_files(root, name):
            target = project / file.relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file, target)
        answers_copy = project / answers_path.relative_to(root)
        write_text_atomic(
            answers_copy,
            yaml.safe_dump(
                {**answers, "_src_path": str(template), "_commit": "old"}, sort_keys=False
            ),
        )
        _git(project, "init", "-q")
        _git(project, "add", "-A")
        _git(project, "commit", "-q", "-m", "broker before the update")
        copier.run_update(
            project,
            data={"ccxt_meta": template_meta(name, root)},
            answers_file=str(answers_copy.relative_to(project)),
            vcs_ref="new",
            defaults=True,
            overwrite=True,
            conflict="inline",
            quiet=quiet,
            unsafe=False,
        )
        shutil.rmtree(project / ".git")
        for file in sorted(p for p in project.rglob("*") if p.is_file()):
            relative = file.relative_to(project)
            if CONFLICT_MARKER in file.read_text(encoding="utf-8", errors="replace"):
                report.conflicts.append(relative.as_posix())
        final = load_yaml(answers_copy.read_text(encoding="utf-8")) or {}
        final = {**final, "_src_path": TEMPLATE_RELPATH.as_posix(), "_commit": new}
        if CASSETTES_KEY in answers:  # not a question: copier does not keep it
            final[CASSETTES_KEY] = answers[CASSETTES_KEY]
        if report.conflicts:  # not at the new template until they are resolved
            final = {**final, "_commit": str(old), PENDING: new}
        write_answers(answers_copy, final)
        for file in sorted(p for p in project.rglob("*") if p.is_file()):
            relative = file.relative_to(project)
            current = root / relative
            if not current.exists() or current.read_bytes() != file.read_bytes():
                report.changed.append(relative.as_posix())
        install_and_rewire(project, root, scratch / "backup", replace=True)
    return report
