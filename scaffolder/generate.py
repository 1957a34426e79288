"""``scaffolder new``: render the copier template for one broker, all or nothing.

The template is rendered by copier into a scratch directory inside the project, checked (the
config passes ``scaffolder validate``: the schema and ccxt's metadata; every Python file
compiles), and only then moved into place; the wiring is regenerated from disk in the same
step, so a failure anywhere leaves the project as it was. A bad name is refused before anything
is rendered, and an existing broker is replaced only with ``force``. Several brokers can be
generated as one batch (:func:`generate_many`): each is rendered and checked, then all are moved
in together and the wiring is regenerated once; if any fails, nothing is written.

Names and a broker's places are :mod:`scaffolder.broker_names`, the answers file's format
:mod:`scaffolder.answers`, formatting the render :mod:`scaffolder.formatting`.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from brokers.config import read_document
from scaffolder import ccxt_metadata
from scaffolder.answers import CASSETTES_KEY, answers_text, recorded
from scaffolder.answers import note_cassettes as note_cassettes  # imported from here by cli
from scaffolder.broker_names import MAX_NAME_LENGTH as MAX_NAME_LENGTH
from scaffolder.broker_names import RESERVED_NAMES as RESERVED_NAMES
from scaffolder.broker_names import broker_paths, check_name, exists, strangers
from scaffolder.errors import ScaffolderError, UsageError
from scaffolder.formatting import format_python
from scaffolder.fs import install_tree, load_yaml, scratch_dir, write_bytes_atomic
from scaffolder.validate import check_file
from scaffolder.wiring import rewire, wiring_paths

TEMPLATE_RELPATH = Path("templates") / "broker"


@dataclass
class Generated:
    """What ``generate`` wrote."""

    name: str
    files: list[Path] = field(default_factory=list)
    rewired: list[Path] = field(default_factory=list)


def template_meta(name: str, root: Path, *, pairs: list[str] | None = None) -> dict[str, Any]:
    """The ``ccxt_meta`` answer: ccxt's metadata of the exchange, empty if ccxt lacks it.

    ``pairs`` (those of the replay data the broker gets) are the default pairs, if given."""
    info = ccxt_metadata.lookup(name)
    if info is None:
        return {}
    meta: dict[str, Any] = {
        "id": info.id,
        "name": info.name,
        "sandbox": info.sandbox,
        "credentials": info.credentials,
        "timeframes": info.timeframes,
        "rate_limit_ms": info.rate_limit_ms,
        "has": info.has,
        "profile": ccxt_metadata.profile(name),
    }
    pairs = pairs or default_pairs(name, root)
    if pairs:
        meta["default_pairs"] = pairs
    return meta


def default_pairs(name: str, root: Path) -> list[str]:
    """Pairs for which recorded data exists (a markets snapshot already in cassettes/)."""
    snapshot = root / "cassettes" / name / "markets.json"
    if snapshot.exists():
        try:
            return sorted(read_document(snapshot)[1])[:4]
        except Exception:
            return []
    return []


def template_version(root: Path) -> str | None:
    """The git tree id of ``templates/broker`` as it is on disk, or None outside git.

    Recorded as ``_commit`` in each broker's answers file, so ``scaffolder update`` can rebuild
    exactly the template version a broker came from.
    """
    template = root / TEMPLATE_RELPATH
    top = _git_toplevel(root)
    if top is None:
        return None
    try:
        prefix = template.resolve().relative_to(top.resolve()).as_posix()
        with tempfile.TemporaryDirectory(prefix="scaffolder-index-") as scratch:
            env = {**os.environ, "GIT_INDEX_FILE": str(Path(scratch) / "index")}
            subprocess.run(
                ["git", "-C", str(top), "read-tree", "--empty"],
                env=env,
                check=True,
                capture_output=True,
            )
            subprocess.run(
                ["git", "-C", str(top), "add", "--", prefix],
                env=env,
                check=True,
                capture_output=True,
            )
            tree = subprocess.run(
                ["git", "-C", str(top), "write-tree", f"--prefix={prefix}/"],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        return tree or None
    except (OSError, ValueError, subprocess.CalledProcessError):
        return None


def generate(
    name: str,
    root: Path,
    *,
    data: dict[str, Any] | None = None,
    defaults: bool = True,
    force: bool = False,
    quiet: bool = True,
) -> Generated:
    """Render the broker ``name`` into ``root``; see the module docstring for the guarantees."""
    [generated] = generate_many({name: data}, root, defaults=defaults, force=force, quiet=quiet)
    return generated


def generate_many(
    brokers: Mapping[str, dict[str, Any] | None],
    root: Path,
    *,
    defaults: bool = True,
    force: bool = False,
    quiet: bool = True,
    progress: Callable[[int, int, str], None] | None = None,
) -> list[Generated]:
    """Render several brokers (name -> answers) into ``root`` as one all-or-nothing step.

    Each broker is rendered and checked as :func:`generate` does, then all of them are moved
    in and the wiring is regenerated once. If any broker fails, nothing is written; the error
    names the broker when there are several. ``progress(done, total, name)`` is called before
    each broker is rendered.
    """
    import copier

    from scaffolder.harness.corpus import seed_new_broker
    from scaffolder.jinja_cache import compiled_templates_cached

    root = root.resolve()
    for name in brokers:
        with _naming(name, len(brokers)):
            check_name(name)
            if exists(root, name) and not force:
                raise UsageError(f"broker {name!r} exists already; pass --force to replace it")
            taken = strangers(root, name)
            if taken:
                raise UsageError(
                    f"{taken[0].relative_to(root)} exists already but belongs to no broker "
                    f"{name!r} (there is no brokers/{name}/.copier-answers.yml): --force does "
                    "not replace it either; move it away or choose another name"
                )
    template = root / TEMPLATE_RELPATH
    if not (template / "copier.yml").exists():
        raise ScaffolderError(
            f"no broker template at {template}: run scaffolder from the project root"
        )
    version = template_version(root) if brokers else None
    plain = bool(brokers) and not _is_git_repo_root(template)
    rendered: dict[str, list[Path]] = {}
    with scratch_dir(root, ".scaffolder-") as scratch, compiled_templates_cached():
        staged = scratch / "out"
        no_git = scratch / "no-git"
        no_git.mkdir()
        for index, (name, data) in enumerate(brokers.items()):
            if progress is not None:
                progress(index, len(brokers), name)
            with _naming(name, len(brokers)):
                out = scratch / f"render-{index}"
                seeded = seed_new_broker(name, root, data or {}, scratch / f"corpus-{index}")
                meta = template_meta(name, root, pairs=seeded[1] if seeded else None)
                answers = {**(data or {}), "name": name, "ccxt_meta": meta}
                try:
                    with _git_hidden_from_copier(no_git) if plain else nullcontext():
                        copier.run_copy(
                            str(template),
                            out,
                            data=answers,
                            defaults=defaults,
                            quiet=quiet,
                            unsafe=False,
                            overwrite=True,
                            cleanup_on_error=True,
                        )
                except (ValueError, copier.errors.CopierError) as exc:
                    raise UsageError(f"the template refused the answers: {exc}") from exc
                _check_rendered(out, name)
                if seeded:  # replay data from the bundled corpus (scaffolder/corpus/), moved
                    install_tree(  # in: it is a copy already, in this scratch directory
                        seeded[0], out / "cassettes" / name, scratch / f"kept-{index}", replace=True
                    )
                _finish_answers(
                    out / "brokers" / name / ".copier-answers.yml",
                    version,
                    recorded(out if seeded else root, name),
                )
                rendered[name] = _stage(out, staged)
        format_python(staged, root)
        try:
            _, rewired = install_and_rewire(staged, root, scratch / "backup", replace=force)
        except FileExistsError as exc:
            raise UsageError(f"{exc.args[0]} exists already; pass --force to replace it") from exc
    return [
        Generated(name, [root / relpath for relpath in relpaths], rewired)
        for name, relpaths in rendered.items()
    ]


def _git_toplevel(directory: Path) -> Path | None:
    """The top of the git work tree ``directory`` is in; None outside git (or without git)."""
    try:
        top = subprocess.run(
            ["git", "-C", str(directory), "rev-parse", "--show-toplevel"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return Path(top) if top else None


def _is_git_repo_root(directory: Path) -> bool:
    """Whether ``directory`` is the top of a git work tree (copier then renders its last commit,
    cloned, instead of the files on disk)."""
    top = _git_toplevel(directory)
    return top is not None and top.resolve() == directory.resolve()


def _git_hidden_from_copier(empty_dir: Path) -> AbstractContextManager[Any]:
    """While copier renders a template that is a plain directory, it finds no ``git``.

    copier asks git about every render, and none of the answers matter here: whether the
    template is a repository's root or a bundle (three git processes, one a ``git init`` in a
    temporary directory: no, it is a directory inside the project, checked once per batch by
    :func:`_is_git_repo_root`), and for each file written whether the destination's index
    should get its executable bit (six processes: never, the files are new in a fresh scratch
    directory, so git tracks none of them). With no git to be found copier skips all of them
    and renders the same files: it looks git up on plumbum's ``PATH`` (``local.env``, a copy
    of the process environment: ``os.environ`` and our own ``git`` calls are untouched), which
    points at ``empty_dir`` for the duration. Should copier find git some other way one day,
    it simply runs those processes again.
    """
    try:
        from plumbum import local
    except ImportError:  # pragma: no cover - a copier without plumbum: nothing to hide
        return nullcontext()
    return local.env(PATH=str(empty_dir))


@contextmanager
def _naming(name: str, count: int) -> Iterator[None]:
    """In a batch of several brokers, errors say which broker they are about."""
    try:
        yield
    except ScaffolderError as exc:
        if count > 1:
            exc.args = (f"broker {name!r}: {exc}", *exc.args[1:])
        raise


def _stage(out: Path, staged: Path) -> list[Path]:
    """Move one rendered broker into the tree of everything to install; its relative paths."""
    relpaths = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    for relpath in relpaths:
        target = staged / relpath
        if target.exists():
            raise ScaffolderError(f"two brokers of the batch render {relpath}")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(out / relpath, target)
    return relpaths


def install_and_rewire(
    source: Path, root: Path, backup: Path, *, replace: bool
) -> tuple[list[Path], list[Path]]:
    """Install ``source`` into ``root`` and regenerate the wiring as one all-or-nothing step.

    Returns (installed files, rewired files). On any failure the files and the wiring files
    are exactly as before.
    """
    wiring = {p: p.read_bytes() if p.exists() else None for p in wiring_paths(root)}
    rewired: list[Path] = []
    try:
        files = install_tree(
            source, root, backup, replace=replace, then=lambda: rewired.extend(rewire(root))
        )
    except BaseException:
        _restore(wiring)
        raise
    return files, rewired


def _restore(contents: dict[Path, bytes | None]) -> None:
    """Put files back as they were (``None``: the file did not exist)."""
    for path, data in contents.items():
        if data is None:
            path.unlink(missing_ok=True)
        elif not path.exists() or path.read_bytes() != data:
            write_bytes_atomic(path, data)


def _check_rendered(out: Path, name: str) -> None:
    """Refuse a render whose config ``scaffolder validate`` rejects or whose Python is invalid."""
    problems = check_file(out / "config" / "brokers" / f"{name}.json").problems
    if problems:
        first = problems[0]
        raise UsageError(f"the generated config is invalid at {first.pointer}: {first.message}")
    for source in out.rglob("*.py"):
        try:
            compile(source.read_bytes(), str(source), "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as exc:
            where = f" (line {exc.lineno})" if isinstance(exc, SyntaxError) else ""
            reason = exc.msg if isinstance(exc, SyntaxError) else str(exc)
            raise ScaffolderError(
                f"the template rendered invalid Python in {source.name}{where}: {reason}"
            ) from exc


def _finish_answers(path: Path, version: str | None, cassettes: str | None = None) -> None:
    """Make the answers file portable: the template path relative to the project, the version,
    and whether the broker has cassettes already (imported before it was generated).

    Written in place: the file is still in the scratch directory, moved in with the rest.
    """
    answers = load_yaml(path.read_text(encoding="utf-8")) or {}
    answers["_src_path"] = TEMPLATE_RELPATH.as_posix()
    if version:
        answers["_commit"] = version
    else:
        answers.pop("_commit", None)
    if cassettes:
        answers[CASSETTES_KEY] = cassettes
    path.write_text(answers_text(answers), encoding="utf-8")  # in scratch: no fsync needed


def remove(name: str, root: Path) -> list[Path]:
    """Delete the broker's files and rewire, all or nothing; returns what was removed.

    Every place is first moved into a scratch directory in the project (a rename: same
    filesystem), then the wiring is regenerated; if a move or the wiring fails, everything is
    moved back and the wiring restored, so the registry never names a deleted broker.
    """
    check_name(name)
    if not exists(root, name):
        raise UsageError(f"no broker {name!r} in {root}")
    present = [p for p in broker_paths(root, name) if p.exists() or p.is_symlink()]
    wiring = {p: p.read_bytes() if p.exists() else None for p in wiring_paths(root)}
    with scratch_dir(root, ".scaffolder-") as scratch:
        moved: list[tuple[Path, Path]] = []
        try:
            for index, path in enumerate(present):
                keep = scratch / str(index)
                os.replace(path, keep)
                moved.append((keep, path))
            rewire(root)
        except BaseException:
            for keep, path in reversed(moved):
                os.replace(keep, path)
            _restore(wiring)
            raise
    return present
