"""File writes that never leave half a file: write beside the target, then rename over it."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (a reader sees the old or the new file, never half)."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


@contextmanager
def scratch_dir(near: Path, prefix: str) -> Iterator[Path]:
    """A temporary directory on the same filesystem as ``near`` (so renames are atomic)."""
    near.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(dir=near, prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def install_tree(
    source: Path,
    root: Path,
    backup: Path,
    *,
    replace: bool,
    then: Callable[[], object] | None = None,
) -> list[Path]:
    """Move every file under ``source`` to the same relative place under ``root``, all or nothing.

    Existing files are moved to ``backup`` first (only allowed with ``replace``); ``then`` runs
    once every file is in place (e.g. the wiring). If a move or ``then`` fails, what was moved
    is taken back, the directories made for it are removed and the backups restored. Returns
    the installed paths.
    """
    files = sorted(p for p in source.rglob("*") if p.is_file())
    targets = [root / f.relative_to(source) for f in files]
    existing = [t for t in targets if t.exists()]
    if existing and not replace:
        raise FileExistsError(existing[0])
    moved: list[tuple[Path, Path]] = []
    saved: list[tuple[Path, Path]] = []
    made: list[Path] = []
    try:
        for target in existing:
            keep = backup / target.relative_to(root)
            keep.parent.mkdir(parents=True, exist_ok=True)
            os.replace(target, keep)
            saved.append((keep, target))
        for file, target in zip(files, targets, strict=True):
            made.extend(_make_dirs(target.parent))
            os.replace(file, target)
            moved.append((file, target))
        if then is not None:
            then()
    except BaseException:
        for file, target in reversed(moved):
            os.replace(target, file)
        for keep, target in reversed(saved):
            os.replace(keep, target)
        for directory in reversed(made):
            with suppress(OSError):
                directory.rmdir()
        raise
    return targets


def _make_dirs(directory: Path) -> list[Path]:
    """Create ``directory`` and its missing parents; return those created, outermost first."""
    missing: list[Path] = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for path in reversed(missing):
        path.mkdir(exist_ok=True)
    return missing[::-1]


def load_yaml(text: str) -> Any:
    """``yaml.safe_load(text)`` with libyaml's loader where PyYAML has it: the same data and
    the same ``yaml.YAMLError`` for bad input, about eight times faster on a cassette."""
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
