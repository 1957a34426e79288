"""The return shapes every broker produces, written down once.

They follow ccxt's unified structures (a subset with stable meaning), so a ccxt broker can
pass ccxt's dicts through :func:`order_from_ccxt` and friends, and a REST broker builds the same
dicts from its exchange's JSON. Numbers are floats; missing values are None, never 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypedDict, cast

OrderSide = Literal["buy", "sell"]
OrderType = Literal["market", "limit", "stop_loss", "stop_loss_limit", "take_profit"]
OrderStatus = Literal["open", "closed", "canceled", "expired", "rejected"]
PositionSide = Literal["long", "short"]

#: ``[timestamp_ms, open, high, low, close, volume]``
OHLCV = list[float]


class BalanceEntry(TypedDict):
    """One currency's balance: ``free + used == total`` where the exchange reports all three."""

    free: float
    used: float
    total: float


#: Currency code -> its balance. Currencies with a zero total are omitted.
Balance = dict[str, BalanceEntry]


class Ticker(TypedDict):
    """Last price and top of book for one symbol."""

    symbol: str
    timestamp: int | None
    last: float | None
    bid: float | None
    ask: float | None
    high: float | None
    low: float | None
    base_volume: float | None
    quote_volume: float | None


class Order(TypedDict):
    """One order as the exchange sees it."""

    id: str
    client_order_id: str | None
    symbol: str
    type: str
    side: str
    price: float | None
    amount: float | None
    filled: float | None
    remaining: float | None
    status: str | None
    timestamp: int | None


class Position(TypedDict):
    """An open position. Spot brokers derive one per non-quote asset held (side ``long``)."""

    symbol: str
    side: str
    contracts: float
    entry_price: float | None
    mark_price: float | None
    unrealized_pnl: float | None
    leverage: float | None


_STATUS_MAP: dict[str, str] = {
    "open": "open",
    "closed": "closed",
    "canceled": "canceled",
    "cancelled": "canceled",
    "expired": "expired",
    "rejected": "rejected",
}


def to_float(value: Any) -> float | None:
    """A float from an exchange's number or numeric string; None for missing or garbage."""
    if value.__class__ is float:  # what ccxt's unified structures hold: nothing to convert
        return value  # type: ignore[no-any-return]
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def to_int(value: Any) -> int | None:
    """An int (e.g. a millisecond timestamp) from a number or numeric string; None otherwise."""
    if value.__class__ is int:  # ccxt's timestamps: nothing to convert
        return value  # type: ignore[no-any-return]
    number = to_float(value)
    return None if number is None else int(number)


def balance_from_ccxt(raw: dict[str, Any]) -> Balance:
    """Our balance from ccxt's unified balance (``free``/``used``/``total`` per currency)."""
    free = raw.get("free") or {}
    used = raw.get("used") or {}
    total = raw.get("total") or {}
    result: Balance = {}
    for currency in sorted(set(free) | set(used) | set(total)):
        entry = balance_entry(free.get(currency), used.get(currency), total.get(currency))
        if entry["total"]:
            result[currency] = entry
    return result


def balance_entry(free: Any, used: Any, total: Any) -> BalanceEntry:
    """A balance entry, deriving the missing one of free/used/total from the other two."""
    # ccxt's unified balance holds floats already: no call for those
    f = free if free.__class__ is float else to_float(free)
    u = used if used.__class__ is float else to_float(used)
    t = total if total.__class__ is float else to_float(total)
    if t is None:
        t = (f or 0.0) + (u or 0.0)
    if f is None:
        f = t - (u or 0.0)
    if u is None:
        u = max(t - f, 0.0)
    return {"free": f, "used": u, "total": t}


#: A ticker's numbers, in order.
TICKER_NUMBERS = ("last", "bid", "ask", "high", "low", "base_volume", "quote_volume")
#: Our name of each ticker number beside the key an exchange's JSON keeps it under.
TickerKeys = tuple[tuple[str, str], ...]


def ticker_keys(*keys: str) -> TickerKeys:
    """Where a JSON object keeps the :data:`TICKER_NUMBERS`, given in that order."""
    return tuple(zip(TICKER_NUMBERS, keys, strict=True))


def ticker_from(data: Mapping[str, Any], keys: TickerKeys, symbol: str, time: Any) -> Ticker:
    """The ticker of ``symbol`` at ``time`` (ms), its numbers ``data``'s values under ``keys``
    (see :func:`ticker_keys`), as floats."""
    ticker: dict[str, Any] = {"symbol": symbol, "timestamp": to_int(time)}
    get = data.get
    for ours, theirs in keys:
        value = get(theirs)  # ccxt's numbers are floats already: no call for those
        ticker[ours] = value if value.__class__ is float else to_float(value)
    return cast(Ticker, ticker)


#: Where ccxt's unified ticker keeps them (``close`` stands in for a missing ``last``).
_CCXT_TICKER_KEYS = ticker_keys("last", "bid", "ask", "high", "low", "baseVolume", "quoteVolume")
_CCXT_CLOSE_KEYS = (("last", "close"), *_CCXT_TICKER_KEYS[1:])


def ticker_from_ccxt(raw: dict[str, Any]) -> Ticker:
    """Our ticker from ccxt's unified ticker."""
    keys = _CCXT_TICKER_KEYS if "last" in raw else _CCXT_CLOSE_KEYS
    return ticker_from(raw, keys, str(raw.get("symbol") or ""), raw.get("timestamp"))


def ohlcv_from_rows(rows: list[list[Any]]) -> list[OHLCV]:
    """OHLCV rows as floats, oldest first; rows that are not six numbers are dropped."""
    result: list[OHLCV] = []
    for row in rows:
        values = [to_float(v) for v in row[:6]]
        if len(values) == 6 and all(v is not None for v in values):
            result.append([float(v) for v in values if v is not None])
    result.sort(key=lambda r: r[0])
    return result


def order_from_ccxt(raw: dict[str, Any]) -> Order:
    """Our order from ccxt's unified order."""
    status = raw.get("status")
    return {
        "id": str(raw.get("id")),
        "client_order_id": raw.get("clientOrderId"),
        "symbol": str(raw.get("symbol") or ""),
        "type": str(raw.get("type") or ""),
        "side": str(raw.get("side") or ""),
        "price": to_float(raw.get("price")),
        "amount": to_float(raw.get("amount")),
        "filled": to_float(raw.get("filled")),
        "remaining": to_float(raw.get("remaining")),
        "status": _STATUS_MAP.get(str(status).lower()) if status else None,
        "timestamp": to_int(raw.get("timestamp")),
    }


def position_from_ccxt(raw: dict[str, Any]) -> Position:
    """Our position from ccxt's unified position."""
    return {
        "symbol": str(raw.get("symbol") or ""),
        "side": str(raw.get("side") or "long"),
        "contracts": to_float(raw.get("contracts")) or 0.0,
        "entry_price": to_float(raw.get("entryPrice")),
        "mark_price": to_float(raw.get("markPrice")),
        "unrealized_pnl": to_float(raw.get("unrealizedPnl")),
        "leverage": to_float(raw.get("leverage")),
    }


def normalize_status(value: Any) -> str | None:
    """Map an exchange's status word onto ours (``open``, ``closed``, ``canceled``...)."""
    if value is None:
        return None
    word = str(value).lower()
    aliases = {
        "new": "open",
        "partially_filled": "open",
        "partiallyfilled": "open",
        "live": "open",
        "active": "open",
        "filled": "closed",
        "done": "closed",
        "pending_cancel": "canceled",
    }
    return _STATUS_MAP.get(word) or aliases.get(word, word)


def is_cancelled(order: Order) -> bool:
    """Whether ``order`` is cancelled (or expired: no longer working, nothing more to cancel)."""
    return normalize_status(order.get("status")) in ("canceled", "expired")
