"""Fuzzed broker names for ``scaffolder new``: accepted and sound, or refused with exit 2.

``check_name`` sees thousands of names: arbitrary unicode, near-identifiers, keywords, runtime
module names, paths, names with whitespace around them, look-alike letters, very long names.
An accepted name must be usable as a package, a file name and an environment variable prefix;
a refused one gets a ``UsageError`` (exit code 2) with a one-line message. A smaller sample goes
through the whole CLI in a scratch project: refused names write nothing, accepted names
generate a broker whose every file is where it should be.
"""

from __future__ import annotations

import hashlib
import json
import keyword
import re
import shutil
import string
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from scaffolder.cli import main
from scaffolder.errors import UsageError
from scaffolder.generate import RESERVED_NAMES, check_name, exists
from scaffolder.validate import check_file
from tests.fuzz import ROOT, fuzz_settings, record_stats

IDENTIFIER = re.compile(r"[a-z][a-z0-9_]*")
#: The config schema's ``maxLength`` for ``name``.
MAX_LENGTH = 64
TRICKY = [
    "../x",
    "a/b",
    "a\\b",
    ".hidden",
    "/abs",
    "~",
    "",
    " ",
    "kraken\n",
    "kraken ",
    " kraken",
    "kraken\t",
    "kraken\x00",
    "bin\u0430nce",  # Cyrillic a
    "Binance",
    "bin-ance",
    "1inch",
    "_private",
    "a" * MAX_LENGTH,
    "a" * (MAX_LENGTH + 1),
    "a" * 300,
    "class",
    "match",
    "type",
    "base",
    "registry",
    "test",
    "con",
    "kraken\u2028",
    "\ud800",
]
TAIL = string.ascii_lowercase + string.digits + "_"


def identifiers(min_size: int = 0, max_size: int = 20) -> st.SearchStrategy[str]:
    """``[a-z][a-z0-9_]*`` names (cheaper than ``from_regex``)."""
    return st.builds(
        str.__add__,
        st.sampled_from(string.ascii_lowercase),
        st.text(TAIL, min_size=min_size, max_size=max_size),
    )


names = st.one_of(
    st.text(max_size=40),
    st.text(st.characters(max_codepoint=127), max_size=20),
    identifiers(max_size=80),
    identifiers(min_size=MAX_LENGTH - 4, max_size=300),
    identifiers(max_size=12).flatmap(
        lambda n: st.sampled_from([n + "\n", n + " ", "\t" + n, n.upper(), n + "-x", n + "/x"])
    ),
    st.sampled_from(sorted({*keyword.kwlist, *keyword.softkwlist, *RESERVED_NAMES, *TRICKY})),
)


def assert_sound(name: str, root: Path) -> None:
    """What an accepted name must be."""
    assert IDENTIFIER.fullmatch(name), name
    assert name.isidentifier() and name.isascii() and name == name.strip()
    assert not keyword.iskeyword(name) and not keyword.issoftkeyword(name)
    assert name not in RESERVED_NAMES
    assert len(name) <= MAX_LENGTH, f"{len(name)} characters: the generated config would be invalid"
    assert exists(root, name) is False  # usable as a file name (no OSError)
    package = (root / "brokers" / name).resolve()
    assert package.parent == (root / "brokers").resolve()


def test_check_name_accepts_sound_names_and_refuses_the_rest(tmp_path: Path) -> None:
    outcomes: Counter[str] = Counter()

    @fuzz_settings(max_examples=4000)
    @given(names)
    def run(name: str) -> None:
        try:
            check_name(name)
        except UsageError as exc:
            message = str(exc)
            assert exc.exit_code == 2 and message
            assert "\n" not in message and "\r" not in message, message
            outcomes["refused"] += 1
            return
        assert_sound(name, tmp_path)
        outcomes["accepted"] += 1

    run()
    record_stats("names.check_name", outcomes)
    assert outcomes["accepted"] and outcomes["refused"]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scratch project: the template, the schema, the registry; no brokers yet."""
    root = tmp_path / "project"
    shutil.copytree(ROOT / "templates", root / "templates")
    shutil.copytree(ROOT / "schemas", root / "schemas")
    (root / "brokers").mkdir(parents=True)
    shutil.copy(ROOT / "brokers" / "registered.py", root / "brokers" / "registered.py")
    (root / "config" / "brokers").mkdir(parents=True)
    monkeypatch.chdir(root)
    return root


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` with a hash of its content."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def new(name: str):
    result = CliRunner().invoke(main, ["new", "--defaults", "--json", "--", name])
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"traceback for {name!r}: {result.exception!r}"
    )
    return result


def refused(name: str) -> bool:
    try:
        check_name(name)
    except UsageError:
        return True
    return False


def test_refused_names_exit_2_and_write_nothing(project: Path) -> None:
    outcomes: Counter[str] = Counter()
    before = snapshot(project)

    @fuzz_settings(max_examples=400)
    @given(names.filter(refused))
    def run(name: str) -> None:
        result = new(name)
        assert result.exit_code == 2, (name, result.output)
        assert result.output.startswith("error: ") and len(result.output.strip()) > 10
        assert snapshot(project) == before, f"{name!r} was refused but something was written"
        outcomes["refused"] += 1

    run()
    record_stats("names.cli_refused", outcomes)


def test_accepted_names_generate_a_complete_broker(project: Path) -> None:
    outcomes: Counter[str] = Counter()
    generated: set[str] = set()

    @fuzz_settings(max_examples=10)
    @given(
        st.sampled_from(["a" * MAX_LENGTH, "x1", "ccxt", "json", "conftest"])
        | identifiers(max_size=20).filter(lambda n: not refused(n))
    )
    def run(name: str) -> None:
        before = snapshot(project)
        result = new(name)
        if name in generated:  # the same name again: refused, nothing changed
            assert result.exit_code == 2 and "exists already" in result.output
            assert snapshot(project) == before
            outcomes["exists"] += 1
            return
        assert result.exit_code == 0, (name, result.output)
        (report,) = json.loads(result.output)["brokers"]
        assert report["name"] == name
        assert sorted(report["files"]) == sorted(
            [
                f"brokers/{name}/.copier-answers.yml",
                f"brokers/{name}/__init__.py",
                f"brokers/{name}/broker.py",
                f"cassettes/{name}/.gitkeep",
                f"config/brokers/{name}.json",
                f"tests/brokers/test_{name}.py",
            ]
        )
        for file in report["files"]:
            assert (project / file).resolve().is_relative_to(project.resolve())
        assert f'"{name}": "brokers.{name}.broker:' in (
            project / "brokers" / "registered.py"
        ).read_text(encoding="utf-8")
        assert check_file(project / "config" / "brokers" / f"{name}.json", semantic=False).ok
        generated.add(name)
        outcomes["generated"] += 1

    run()
    record_stats("names.cli_generated", outcomes)
    assert outcomes["generated"]
