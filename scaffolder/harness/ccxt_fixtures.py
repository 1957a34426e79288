"""Reading ccxt's offline static data: ``ts/src/test/static/{markets,response}/<id>.json``.

:func:`load_static_fixtures` reads and validates an exchange's two files;
:func:`unusable_markets` names the markets of such a file the installed ccxt cannot round an
order for, which every import leaves out (:func:`usable_markets`), whether it is
``scaffolder cassettes import-ccxt`` on a user's folder or the corpus build.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ccxt

__all__ = [
    "CcxtImportError", "ccxt_ancestors", "load_static_fixtures", "unusable_markets",
    "usable_markets",
]  # fmt: skip


class CcxtImportError(ValueError):
    """A static fixture directory, file or exchange id cannot be imported."""


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise CcxtImportError(f"missing ccxt static file: {path}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CcxtImportError(f"malformed JSON in {path}: {exc}") from exc


def load_static_fixtures(
    exchange_id: str, static_dir: Path
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return ``(markets, response_doc)`` for *exchange_id* from *static_dir*, validated."""
    if exchange_id not in ccxt.exchanges:
        raise CcxtImportError(f"unknown ccxt exchange id: {exchange_id!r}")
    static_dir = Path(static_dir)
    if not static_dir.is_dir():
        raise CcxtImportError(f"ccxt static dir not found: {static_dir}")
    markets_path = static_dir / "markets" / f"{exchange_id}.json"
    response_path = static_dir / "response" / f"{exchange_id}.json"
    markets, doc = _read_json(markets_path), _read_json(response_path)
    if not isinstance(markets, dict) or not all(isinstance(m, dict) for m in markets.values()):
        raise CcxtImportError(f"{markets_path}: expected an object of symbol -> market")
    if not isinstance(doc, dict) or not isinstance(doc.get("methods"), dict):
        raise CcxtImportError(f"{response_path}: expected an object with a 'methods' object")
    named = doc.get("exchange", exchange_id)
    # another exchange ccxt has (not one this one derives from) is a mix-up; a name ccxt no
    # longer has is this file's exchange before a rename (coinbasepro, now coinbaseexchange)
    if named in ccxt.exchanges and named not in (exchange_id, *ccxt_ancestors(exchange_id)):
        raise CcxtImportError(f"{response_path}: is for exchange {named!r}")
    for method, cases in doc["methods"].items():
        if not isinstance(cases, list) or not all(isinstance(c, dict) for c in cases):
            raise CcxtImportError(f"{response_path}: methods.{method} must be a list of objects")
    return markets, doc


def ccxt_ancestors(exchange_id: str) -> list[str]:
    """The ccxt exchanges ``exchange_id``'s class derives from, nearest first: an exchange
    whose ccxt class subclasses another's runs that one's API, so its recorded responses are
    this one's data too."""
    cls = getattr(ccxt, exchange_id)
    return [b.__name__ for b in cls.__mro__[1:] if b.__name__ in ccxt.exchanges]


def unusable_markets(exchange_id: str, markets: Mapping[str, Any]) -> dict[str, str]:
    """Markets of the fixture the installed ccxt cannot round an order for, with why: an older
    snapshot's precisions in decimal places (``0``) where ccxt now reads tick sizes."""
    found: dict[str, str] = {}
    if not _reads_tick_sizes(exchange_id):
        return found
    for symbol, market in markets.items():
        precision = market.get("precision") or {}
        for key in ("amount", "price"):
            value = precision.get(key)
            if isinstance(value, (int, float)) and value <= 0:
                found[symbol] = (
                    f"precision.{key} {value!r}: ccxt {ccxt.__version__} reads tick sizes"
                )
                break
    return found


@functools.cache
def _reads_tick_sizes(exchange_id: str) -> bool:
    """Whether ``exchange_id``'s ccxt class reads precisions as tick sizes (fixed per class)."""
    return bool(getattr(ccxt, exchange_id)().precisionMode == ccxt.TICK_SIZE)


def usable_markets(
    exchange_id: str, markets: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """``markets`` without its :func:`unusable_markets`, and those left out with why."""
    unusable = unusable_markets(exchange_id, markets)
    return {s: m for s, m in markets.items() if s not in unusable}, unusable
