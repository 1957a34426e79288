"""Assertions that a broker's return values have the shapes of :mod:`brokers.shapes`."""

from __future__ import annotations

from functools import cache
from typing import Any, get_type_hints

from brokers import shapes

NUMBER = (int, float)


@cache
def _fields(shape: type) -> tuple[tuple[str, Any, tuple[type, ...]], ...]:
    """Each key of ``shape`` with its hint and the types a value may have (``float`` takes
    ``int`` too): worked out once per shape, not for every value checked."""
    fields = []
    for key, hint in get_type_hints(shape).items():
        allowed = getattr(hint, "__args__", (hint,))
        allowed = tuple(NUMBER if a is float else a for a in allowed)
        flat = tuple(t for a in allowed for t in (a if isinstance(a, tuple) else (a,)))
        fields.append((key, hint, tuple(type(None) if t is None else t for t in flat)))
    return tuple(fields)


def _check_typed(value: Any, shape: type, what: str) -> None:
    assert isinstance(value, dict), f"{what} must be a dict, got {type(value).__name__}"
    fields = _fields(shape)
    keys = [key for key, _, _ in fields]
    assert set(value) == set(keys), f"{what} keys {sorted(value)} != {sorted(keys)}"
    for key, hint, types in fields:
        item = value[key]
        assert isinstance(item, types) and not isinstance(item, bool), (
            f"{what}[{key!r}] = {item!r} is not {hint}"
        )


def balance(value: Any) -> None:
    """A balance: currency -> free/used/total numbers with free + used == total."""
    assert isinstance(value, dict), "a balance is a dict of currency -> entry"
    for currency, entry in value.items():
        assert isinstance(currency, str) and currency
        _check_typed(entry, shapes.BalanceEntry, f"balance[{currency!r}]")
        assert abs(entry["free"] + entry["used"] - entry["total"]) <= 1e-9 * max(
            1.0, abs(entry["total"])
        )


def ticker(value: Any) -> None:
    """A ticker with a positive last price."""
    _check_typed(value, shapes.Ticker, "ticker")
    assert value["last"] is not None and value["last"] > 0, "a ticker needs a last price"


def ohlcv(rows: Any) -> None:
    """Candles: six numbers each, oldest first, high >= low."""
    assert isinstance(rows, list)
    for row in rows:
        assert len(row) == 6 and all(isinstance(v, float) for v in row), row
        assert row[2] >= row[3], f"high < low in {row}"
    times = [r[0] for r in rows]
    assert times == sorted(times), "candles must be oldest first"


def order(value: Any) -> None:
    """An order with an id, a known side and a status from our vocabulary."""
    _check_typed(value, shapes.Order, "order")
    assert value["id"] and value["id"] != "None", "an order needs the exchange's id"
    assert value["side"] in ("buy", "sell"), value["side"]
    assert value["status"] in (None, "open", "closed", "canceled", "expired", "rejected"), value[
        "status"
    ]


def position(value: Any) -> None:
    """A position with a side and a contract count."""
    _check_typed(value, shapes.Position, "position")
    assert value["side"] in ("long", "short")
