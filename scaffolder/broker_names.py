"""Broker names and the places a broker occupies in a project.

A name is refused before anything is rendered when it cannot be a broker package: not an
identifier, a Python keyword, a name of the ``brokers`` runtime (a package would shadow it),
a Windows device name, too long. A broker *exists* only when its package holds its answers
file; the project's own files in a broker's places are :func:`strangers`, never replaced.
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path

from scaffolder.errors import UsageError

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
