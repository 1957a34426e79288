"""A broker's answer (our shapes, ``brokers/shapes.py``) against ccxt's ``parsedResponse``.

Where a contract call replays a ccxt case, the case carries the unified result ccxt's own tests
expect.  Our shapes are a subset of ccxt's structures under other names, so each of our fields
is compared with the ccxt field it comes from, independently of ``brokers.shapes`` (the code
under test): a wrong normalisation shows as a difference.  Fields named in the case's
``skipKeys`` (values ccxt itself does not pin down) and fields ccxt left empty are not compared;
numbers compare by value, so ``"0.1"`` equals ``0.1``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

__all__ = ["compare_parsed", "differences"]

TICKER_FIELDS = {
    "symbol": "symbol", "timestamp": "timestamp", "last": "last", "bid": "bid", "ask": "ask",
    "high": "high", "low": "low", "base_volume": "baseVolume", "quote_volume": "quoteVolume",
}  # fmt: skip
ORDER_FIELDS = {
    "id": "id", "client_order_id": "clientOrderId", "symbol": "symbol", "type": "type",
    "side": "side", "price": "price", "amount": "amount", "filled": "filled",
    "remaining": "remaining", "status": "status", "timestamp": "timestamp",
}  # fmt: skip


def _empty(value: Any) -> bool:
    return value is None or value == ""


def _same(ours: Any, theirs: Any) -> bool:
    if isinstance(ours, str) or isinstance(theirs, str):
        try:
            return float(ours) == float(theirs)
        except (TypeError, ValueError):
            return str(ours) == str(theirs)
    try:
        return float(ours) == float(theirs)
    except (TypeError, ValueError):
        return bool(ours == theirs)


def _fields(
    ours: Mapping[str, Any],
    theirs: Mapping[str, Any],
    fields: Mapping[str, str],
    skip: set[str],
    where: str,
) -> list[str]:
    out = []
    for mine, key in fields.items():
        expected = theirs.get(key)
        if key in skip or _empty(expected):
            continue
        if mine not in ours or not _same(ours[mine], expected):
            out.append(f"{where}.{mine} = {ours.get(mine)!r}, ccxt's parsed {key} = {expected!r}")
    return out


def _balance(ours: Mapping[str, Any], theirs: Mapping[str, Any], skip: set[str]) -> list[str]:
    out = []
    totals = theirs.get("total") or {}
    for currency, total in totals.items():
        if _empty(total) or not float(total):
            continue
        if currency not in ours:
            out.append(f"balance lacks {currency} (ccxt's parsed total {total!r})")
            continue
        for part in ("free", "used", "total"):
            expected = (theirs.get(part) or {}).get(currency)
            if part in skip or _empty(expected) or _same(ours[currency][part], expected):
                continue
            got = ours[currency][part]
            out.append(f"balance {currency}.{part} = {got!r}, ccxt's parsed = {expected!r}")
    out += [f"balance has {c}, which ccxt's parsed total lacks" for c in ours if c not in totals]
    return out


def _ohlcv(ours: list[Any], theirs: list[Any]) -> list[str]:
    rows = sorted((r for r in theirs if all(not _empty(v) for v in r[:6])), key=lambda r: r[0])
    if len(ours) != len(rows):
        return [f"{len(ours)} candles, ccxt parsed {len(rows)}"]
    return [
        f"candle {i} = {mine!r}, ccxt's parsed = {row[:6]!r}"
        for i, (mine, row) in enumerate(zip(ours, rows, strict=True))
        if not all(_same(a, b) for a, b in zip(mine, row[:6], strict=True))
    ]


def _orders(ours: list[Any], theirs: list[Any], skip: set[str]) -> list[str]:
    by_id = {str(o.get("id")): o for o in theirs}
    out = []
    for order in ours:
        expected = by_id.get(str(order["id"]))
        if expected is None:
            out.append(f"order {order['id']!r} is not among ccxt's parsed orders")
        else:
            out += _fields(order, expected, ORDER_FIELDS, skip, f"order {order['id']}")
    return out


def differences(call: str, ours: Any, parsed: Any, skip_keys: Iterable[str] = ()) -> list[str]:
    """What differs between our answer to contract ``call`` and ccxt's parsed result."""
    skip = set(skip_keys)
    if parsed is None:
        return []
    if call == "get_ticker":
        return _fields(ours, parsed, TICKER_FIELDS, skip, "ticker")
    if call == "get_ohlcv":
        return _ohlcv(ours, parsed)
    if call == "get_balance":
        return _balance(ours, parsed, skip)
    if call in ("create_order", "get_order", "cancel_order"):
        return _fields(ours, parsed, ORDER_FIELDS, skip, "order")
    if call == "get_open_orders":
        return _orders(ours, parsed, skip)
    return []  # get_positions: derived from a balance, or positions of other pairs


# -- ccxt's own judgement of its output against the stored one ----------------------------------
@cache
def _ccxt_base() -> Any:
    import ccxt

    return ccxt.Exchange()


def _numeric(value: Any) -> Any:
    """ccxt's own ``parse_to_numeric``."""
    return _ccxt_base().parse_to_numeric(value)


def _falsy(value: Any) -> bool:  # JS `!value`, as ccxt's is_empty_output_value
    if value is None or value is False or value == "":
        return True
    if isinstance(value, (dict, list, str, bool)):
        return False
    return value <= 0 <= value


def compare_parsed(
    actual: Any, expected: Any, skip_keys: Iterable[str] = (), _path: str = "$"
) -> list[str]:
    """Differences between a computed and a stored unified result, as ccxt's response tests
    judge them (``assert_new_and_stored_output`` without strict types, language PY).

    Keys in *skip_keys* must exist but their values are not compared, at any depth.  Dicts
    must have as many keys and lists as many items.  ``None``, ``False``, ``""`` and ``0`` all
    equal each other.  A numeric string equals the number it spells (``"0.0185" == 0.0185``),
    and numbers compare by value (``50 == 50.0``).  Returns ``[]`` when equal.
    """
    skip = set(skip_keys)
    if _falsy(actual) and _falsy(expected):
        return []
    if isinstance(actual, str) and isinstance(expected, str) and actual[:1] == expected[:1] == "{":
        actual, expected = json.loads(actual), json.loads(expected)
    if isinstance(actual, dict) and isinstance(expected, dict):
        if len(actual) != len(expected):
            differs = sorted(set(actual) ^ set(expected))
            return [f"{_path}: {len(actual)} keys != stored {len(expected)} ({differs})"]
        out: list[str] = []
        for key, stored in expected.items():
            if key not in actual:
                out.append(f"{_path}.{key}: missing")
            elif key not in skip:
                out += compare_parsed(actual[key], stored, skip, f"{_path}.{key}")
        return out
    if isinstance(actual, list) and isinstance(expected, list):
        if len(actual) != len(expected):
            return [f"{_path}: {len(actual)} items != stored {len(expected)}"]
        pairs = enumerate(zip(actual, expected, strict=True))
        return [m for i, (a, e) in pairs for m in compare_parsed(a, e, skip, f"{_path}[{i}]")]
    return _compare_scalar(actual, expected, _path)


def _compare_scalar(new: Any, stored: Any, path: str) -> list[str]:
    differ = [f"{path}: {new!r} != stored {stored!r}"]
    kinds = [(isinstance(v, bool), isinstance(v, str), v is None) for v in (new, stored)]
    if kinds[0] != kinds[1]:
        if not any(k[0] or k[2] for k in kinds):  # a numeric string against a number
            try:
                new_n = _numeric(new) if isinstance(new, str) else new
                stored_n = _numeric(stored) if isinstance(stored, str) else stored
                return [] if new_n == stored_n else differ
            except (ValueError, TypeError, ArithmeticError):
                pass
        return [f"{path}: {type(new).__name__} != stored {type(stored).__name__}"]
    if any(kinds[0]):  # both bool, both str or both None
        return [] if str(new) == str(stored) else differ
    try:
        return [] if _numeric(str(new)) == _numeric(str(stored)) else differ
    except (ValueError, TypeError, ArithmeticError):
        return differ
