"""``scaffolder new``: render the copier template for one broker, all or nothing.

The template is rendered by copier into a scratch directory inside the project, checked (the
config passes ``scaffolder validate``: the schema and ccxt's metadata; every Python file
compiles), and only then moved into place; the wiring is regenerated from disk in the same
step, so a failure anywhere leaves the project as it was. A bad name is refused before anything
is rendered, and an existing broker is replaced only with ``force``. Several brokers can be
generated as one batch (:func:`generate_many`): each is rendered and checked, then all are moved
in together and the wiring is regenerated once; if any fails, nothing is written.
"""

from __future__ import annotations

import json
import keyword
import logging
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from brokers.config import read_document
from scaffolder import ccxt_metadata
from scaffolder.errors import ScaffolderError, UsageError
from scaffolder.fs import install_tree, scratch_dir, write_bytes_atomic, write_text_atomic
from scaffolder.validate import check_file
from scaffolder.wiring import rewire, wiring_paths

TEMPLATE_RELPATH = Path("templates") / "broker"
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
#: The config schema's ``maxLength`` for ``name`` (longer names also overflow file names).
MAX_NAME_LENGTH = 64


def _reserved_names() -> frozenset[str]:
    """Names a broker package ``brokers/<name>/`` would shadow, derived from the runtime:
    every module and non-broker subpackage of ``brokers`` and every name the package itself defines or exports
    (``create_broker``, ``available``, ``importlib``...): ``import brokers.<name>`` sets that
    attribute of the package to the broker's subpackage."""
    import pkgutil
    import types

    import brokers

    # A subpackage is the runtime's (brokers.config) unless it is a broker (answers file).
    modules = {
        m.name
        for m in pkgutil.iter_modules(brokers.__path__)
        if not m.ispkg
        or not any(Path(p, m.name, ".copier-answers.yml").is_file() for p in brokers.__path__)
    }
    namespace = vars(brokers)
    defined = {
        attr
        for attr in dir(brokers)
        if not (
            isinstance(namespace.get(attr), types.ModuleType)
            and namespace[attr].__name__.startswith("brokers.")
        )
    }
    return frozenset(modules | defined | {"test", "type"})


#: Names of the runtime a broker package would shadow (see :func:`_reserved_names`).
RESERVED_NAMES = _reserved_names()


@dataclass
class Generated:
    """What ``generate`` wrote."""

    name: str
    files: list[Path] = field(default_factory=list)
    rewired: list[Path] = field(default_factory=list)


#: Names Windows reserves for devices in every directory: a checkout there could not hold
#: ``brokers/<name>/``.
WINDOWS_DEVICE_NAMES = frozenset(
    {"con", "prn", "aux", "nul"} | {f"{port}{n}" for port in ("com", "lpt") for n in range(1, 10)}
)


def check_name(name: str) -> None:
    """Refuse names that cannot be a broker package, saying what is allowed (exit code 2)."""
    allowed = (
        "use lowercase letters, digits and _, starting with a letter (e.g. kraken, my_exchange)"
    )
    if not name:
        raise UsageError(f"the broker name is empty: {allowed}")
    if "/" in name or "\\" in name or name.startswith("."):
        raise UsageError(f"{name!r} is a path, not a name: {allowed}")
    if not NAME_PATTERN.fullmatch(name):
        raise UsageError(f"{name!r} is not a valid broker name: {allowed}")
    if len(name) > MAX_NAME_LENGTH:
        raise UsageError(
            f"the broker name has {len(name)} characters, more than {MAX_NAME_LENGTH}: {allowed}"
        )
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        raise UsageError(f"{name!r} is a Python keyword and cannot name a package; {allowed}")
    if name in RESERVED_NAMES:
        raise UsageError(
            f"{name!r} is a name of the brokers runtime (brokers.{name}), which a broker "
            f"package would shadow; {allowed}"
        )
    if name in WINDOWS_DEVICE_NAMES:
        raise UsageError(
            f"{name!r} is a device name on Windows, where brokers/{name}/ cannot exist; {allowed}"
        )


def broker_paths(root: Path, name: str) -> list[Path]:
    """The places one broker occupies in the project."""
    return [
        root / "brokers" / name,
        root / "config" / "brokers" / f"{name}.json",
        root / "tests" / "brokers" / f"test_{name}.py",
        root / "cassettes" / name,
    ]


def exists(root: Path, name: str) -> bool:
    """Whether a broker of that name is in the project: its package with its answers file.

    Its config, test file or cassettes alone are not a broker: ``tests/brokers/test_x.py``
    may be a test of the project's own (``test_ccxt_stream.py`` tests the runtime).
    """
    return (root / "brokers" / name / ".copier-answers.yml").is_file()


def strangers(root: Path, name: str) -> list[Path]:
    """Files in the places broker ``name`` would occupy while no such broker exists: the
    project's own, never to be overwritten or deleted on that broker's account. (Its
    cassettes may come first: ``scaffolder cassettes import-ccxt`` before ``new``.)"""
    if exists(root, name):
        return []
    return [p for p in broker_paths(root, name)[:3] if p.exists() or p.is_symlink()]


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
    try:
        top = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--show-toplevel"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        prefix = template.resolve().relative_to(Path(top).resolve()).as_posix()
        with tempfile.TemporaryDirectory(prefix="scaffolder-index-") as scratch:
            env = {**os.environ, "GIT_INDEX_FILE": str(Path(scratch) / "index")}
            subprocess.run(
                ["git", "-C", top, "read-tree", "--empty"], env=env, check=True, capture_output=True
            )
            subprocess.run(
                ["git", "-C", top, "add", "--", prefix], env=env, check=True, capture_output=True
            )
            tree = subprocess.run(
                ["git", "-C", top, "write-tree", f"--prefix={prefix}/"],
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
    rendered: dict[str, list[Path]] = {}
    with scratch_dir(root, ".scaffolder-") as scratch, compiled_templates_cached():
        staged = scratch / "out"
        for index, (name, data) in enumerate(brokers.items()):
            if progress is not None:
                progress(index, len(brokers), name)
            with _naming(name, len(brokers)):
                out = scratch / f"render-{index}"
                seeded = seed_new_broker(name, root, data or {}, scratch / f"corpus-{index}")
                meta = template_meta(name, root, pairs=seeded[1] if seeded else None)
                answers = {**(data or {}), "name": name, "ccxt_meta": meta}
                try:
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
                if seeded:  # replay data from the bundled corpus (scaffolder/corpus/)
                    shutil.copytree(seeded[0], out / "cassettes" / name, dirs_exist_ok=True)
                _finish_answers(
                    out / "brokers" / name / ".copier-answers.yml",
                    version,
                    recorded(out if seeded else root, name),
                )
                rendered[name] = _stage(out, staged)
        _format_python(staged, root)
        try:
            _, rewired = install_and_rewire(staged, root, scratch / "backup", replace=force)
        except FileExistsError as exc:
            raise UsageError(f"{exc.args[0]} exists already; pass --force to replace it") from exc
    return [
        Generated(name, [root / relpath for relpath in relpaths], rewired)
        for name, relpaths in rendered.items()
    ]


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


def _ruff() -> str | None:
    """The ruff executable of this environment (or on PATH), or None when there is none."""
    import importlib.util

    if importlib.util.find_spec("ruff") is not None:
        try:
            from ruff.__main__ import find_ruff_bin

            return str(find_ruff_bin())
        except (ImportError, FileNotFoundError):
            pass
    return shutil.which("ruff")


def _format_python(staged: Path, root: Path) -> None:
    """``ruff format`` the rendered Python with the project's settings, where ruff is installed.

    The template's output is already formatted for names and URLs of ordinary length; a very
    long name or URL makes lines ruff would wrap, and only files with such lines are given to
    ruff (one run for a whole batch). Without ruff (a project that does not use it) the files
    stay as rendered: valid, just unwrapped.
    """
    sources = sorted(str(p) for p in staged.rglob("*.py") if _may_need_formatting(p))
    ruff = _ruff() if sources else None
    if ruff is None:
        return
    done = subprocess.run(
        [ruff, "format", "--quiet", *sources], cwd=root, capture_output=True, text=True
    )
    if done.returncode != 0:  # e.g. the project's ruff settings are broken: say so, go on
        logging.getLogger(__name__).warning(
            "ruff format failed, the broker is written as rendered: %s", done.stderr.strip()
        )


#: ruff's default line length: code within it is left alone by any ruff setting in use.
_SAFE_LINE_LENGTH = 88


def _may_need_formatting(path: Path) -> bool:
    """Whether a code line (docstrings aside: formatters leave them) is longer than any ruff
    setting needs; only then is ruff run, so an ordinary render costs no subprocess."""
    import io
    import tokenize

    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    if all(len(line) <= _SAFE_LINE_LENGTH for line in lines):
        return False
    skip = {tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT}
    statement: list[tokenize.TokenInfo] = []
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type not in skip and token.type != tokenize.ENDMARKER:
            statement.append(token)
        if token.type in (tokenize.NEWLINE, tokenize.ENDMARKER) and statement:
            docstring = len(statement) == 1 and statement[0].type == tokenize.STRING
            rows = range(statement[0].start[0], statement[-1].end[0] + 1)
            if not docstring and any(len(lines[row - 1]) > _SAFE_LINE_LENGTH for row in rows):
                return True
            statement = []
    return False


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
    # libyaml's loader where PyYAML has it: the same data as safe_load, eight times faster.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    answers = yaml.load(path.read_text(encoding="utf-8"), Loader=loader) or {}
    answers["_src_path"] = TEMPLATE_RELPATH.as_posix()
    if version:
        answers["_commit"] = version
    else:
        answers.pop("_commit", None)
    if cassettes:
        answers[CASSETTES_KEY] = cassettes
    path.write_text(_answers_text(answers), encoding="utf-8")  # in scratch: no fsync needed


ANSWERS_HEADER = "# Changes here will be overwritten by Copier; NEVER EDIT MANUALLY\n"
#: In a broker's answers file: where its cassettes came from (``recorded``, ``ccxt-static``).
#: A broker that has had cassettes fails its contract when they go missing, instead of
#: skipping it as a broker that never had any does.
CASSETTES_KEY = "_cassettes"


def _answers_text(answers: Mapping[str, Any]) -> str:
    """An answers file's text: copier's header, its ``_`` keys first, then the answers, sorted."""
    ordered = {k: answers[k] for k in sorted(answers, key=lambda k: (not k.startswith("_"), k))}
    return ANSWERS_HEADER + yaml.safe_dump(ordered, sort_keys=False)


def write_answers(path: Path, answers: Mapping[str, Any]) -> None:
    """Write an answers file in the project, atomically (see :func:`_answers_text`)."""
    write_text_atomic(path, _answers_text(answers))


def recorded(root: Path, name: str) -> str | None:
    """Where broker ``name``'s cassettes came from (its ``contract.json``), None without any."""
    try:
        scenario = json.loads(
            (root / "cassettes" / name / "contract.json").read_text(encoding="utf-8")
        )
    except (OSError, ValueError):
        return None
    source = scenario.get("source") if isinstance(scenario, dict) else None
    return str(source) if source else "recorded"


def note_cassettes(root: Path, name: str) -> None:
    """Record in the broker's answers file that it has cassettes (after record or import)."""
    path = root / "brokers" / name / ".copier-answers.yml"
    source = recorded(root, name)
    if source is None or not path.is_file():
        return
    answers = yaml.safe_load(path.read_text(encoding="utf-8"))
    if isinstance(answers, dict) and answers.get(CASSETTES_KEY) != source:
        write_answers(path, {**answers, CASSETTES_KEY: source})


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
