"""The compiled fast path of config validation, and its cache.

``schema_problems`` asks fastjsonschema's compiled validator first and jsonschema only when that
refuses a document. These tests pin the edges where the two libraries could disagree, and show
that the on-disk cache of the compiled code can be missing, stale, damaged or unwritable without
changing any answer.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from brokers import config
from brokers.config import _validator, fast_accepts, schema_problems

ROOT = Path(__file__).resolve().parents[2]
BASE: dict[str, Any] = json.loads((ROOT / "config" / "brokers" / "binance.json").read_text())


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh cache directory, and no compiled validator in memory, for one test."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    config._fast_validator.cache_clear()
    yield tmp_path / "cache" / "broker-scaffolder"
    config._fast_validator.cache_clear()


def edited(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    document = copy.deepcopy(BASE)
    change(document)
    return document


EDGES = {
    "unchanged": lambda d: None,
    "integration left to its default": lambda d: d.pop("integration"),
    "integral float timeout": lambda d: d["settings"].update(timeout=10000.0),
    "boolean timeout": lambda d: d["settings"].update(timeout=True),
    "integer testnet": lambda d: d["settings"].update(testnet=1),
    "name with final newline": lambda d: d.update(name="binance\n"),
    "pair with final newline": lambda d: d.update(supported_pairs=["BTC/USDT\n"]),
    "credential with final newline": lambda d: d["api_credentials"].update(
        api_key="${BINANCE_API_KEY}\n"
    ),
    "pair listed twice": lambda d: d.update(supported_pairs=["BTC/USDT", "BTC/USDT"]),
    "fractional rate limit": lambda d: d["settings"].update(rate_limit=1.5),
    "enabled as 0": lambda d: d.update(enabled=0),
    "huge slippage": lambda d: d["trading_settings"].update(max_slippage=1e308),
    "unknown key": lambda d: d["settings"].update(testnett=True),
    "empty credential": lambda d: d["api_credentials"].update(api_key=""),
    "order type not in enum": lambda d: d["trading_settings"].update(default_order_type="LIMIT"),
}


@pytest.mark.parametrize("label", list(EDGES))
def test_fast_path_agrees_with_jsonschema_and_leaves_the_document_alone(
    label: str, cache_home: Path
) -> None:
    document = edited(EDGES[label])
    before = copy.deepcopy(document)
    reference = list(_validator().iter_errors(document))
    assert fast_accepts(document) == (not reference)
    assert document == before
    assert bool(schema_problems(document)) == bool(reference)


def test_compiled_code_is_cached_and_reused(cache_home: Path) -> None:
    assert fast_accepts(BASE)
    (cached,) = cache_home.glob("schema_validator_*.py")
    # Its imports are replaced by stand-ins: loading it imports neither library.
    imports = [
        line.split()[1]
        for line in cached.read_text().splitlines()
        if line.lstrip().startswith(("import ", "from "))
    ]
    assert imports == ["re"]
    stamp = cached.stat().st_mtime_ns
    config._fast_validator.cache_clear()
    assert fast_accepts(BASE) and not fast_accepts({})
    assert cached.stat().st_mtime_ns == stamp  # read, not rewritten


def test_code_whose_imports_are_not_the_expected_lines_is_cached_as_generated(
    cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plain path: a fastjsonschema that writes its import lines otherwise still gives a
    working validator, with the same answers, that imports fastjsonschema itself."""
    monkeypatch.setattr(config.validators, "_IMPORTS_REPLACED", {})
    assert fast_accepts(BASE)
    (cached,) = cache_home.glob("schema_validator_*.py")
    assert "from fastjsonschema import JsonSchemaValueException" in cached.read_text()
    for change in EDGES.values():
        document = edited(change)
        assert fast_accepts(document) == (next(_validator().iter_errors(document), None) is None)
    assert not fast_accepts({})


def test_the_stand_ins_are_part_of_what_a_cached_validator_is_built_from(
    cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Code cached with other stand-ins (or none) is not picked up as this one's."""
    assert fast_accepts(BASE)
    monkeypatch.setattr(config.validators, "_IMPORTS_REPLACED", {})
    config._fast_validator.cache_clear()
    assert fast_accepts(BASE)
    assert len(list(cache_home.glob("schema_validator_*.py"))) == 2


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda text: text[: len(text) // 2], id="truncated"),
        pytest.param(lambda text: "", id="empty"),
        pytest.param(lambda text: "def validate(data):\n    return data\n", id="accepts-all"),
        pytest.param(
            lambda text: text.replace("BUILT_FROM = b'", "BUILT_FROM = b' "),
            id="other-schema",
        ),
    ],
)
def test_a_damaged_or_foreign_cache_file_is_rebuilt(
    cache_home: Path, damage: Callable[[str], str]
) -> None:
    assert fast_accepts(BASE)
    (cached,) = cache_home.glob("schema_validator_*.py")
    good = cached.read_text()
    cached.write_text(damage(good))
    config._fast_validator.cache_clear()
    assert fast_accepts(BASE)
    assert not fast_accepts(edited(EDGES["name with final newline"]))
    assert not fast_accepts({})
    assert cached.read_text() == good


@pytest.mark.skipif(os.geteuid() == 0 if hasattr(os, "geteuid") else True, reason="root writes")
def test_an_unwritable_cache_still_validates(cache_home: Path) -> None:
    cache_home.parent.mkdir(parents=True)
    cache_home.parent.chmod(0o500)
    try:
        assert fast_accepts(BASE)
        assert schema_problems(edited(EDGES["unknown key"]))
        assert not cache_home.exists()
    finally:
        cache_home.parent.chmod(0o700)


def test_a_cache_path_that_is_a_file_still_validates(cache_home: Path) -> None:
    cache_home.parent.mkdir(parents=True)
    cache_home.write_text("not a directory")  # mkdir fails even for root
    assert fast_accepts(BASE)
    assert [p.pointer for p in schema_problems(edited(EDGES["unknown key"]))] == [
        "/settings/testnett"
    ]
