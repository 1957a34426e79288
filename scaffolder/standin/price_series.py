"""A deterministic price series for the stand-ins: candles that look like a market, never random.

Every value is a pure function of the market's name, its reference price and tick, and the
candle's open time, so the same request always gets the same answer (cassettes recorded twice
agree) and every stand-in shows the same kind of market: prices within +-2% of the reference,
on the tick, wicks within 0.5%, a volume between half and one and a half of a base volume.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal


def stable_int(*parts: object) -> int:
    """A stable 64-bit integer derived from ``parts`` (the stand-ins' only randomness)."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def floor_to_step(value: Decimal, step: Decimal) -> Decimal:
    """Round ``value`` down to a multiple of ``step``."""
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step


@dataclass(frozen=True)
class Market:
    """What the series needs of a market: a name to hash, a reference price and its steps."""

    name: str
    price: Decimal
    tick: Decimal
    step: Decimal
    min_price: Decimal
    base_volume: Decimal


@dataclass(frozen=True)
class Candle:
    """One candle of the series."""

    open_time: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


def anchor_price(market: Market, at_ms: int) -> Decimal:
    """Deterministic price at ``at_ms``: within +-2% of the reference price, on tick."""
    span = int(market.price * Decimal("0.02") / market.tick)
    offset = stable_int(market.name, "anchor", at_ms) % (2 * span + 1) - span
    return market.price + offset * market.tick


def candle(market: Market, open_time: int, interval_ms: int) -> Candle:
    """The candle opening at ``open_time``: it closes where the next one opens."""
    open_ = anchor_price(market, open_time)
    close = anchor_price(market, open_time + interval_ms)
    wick = market.price * Decimal("0.005") / market.tick
    up = int(wick) * (stable_int(market.name, "high", open_time) % 1000) // 1000
    down = int(wick) * (stable_int(market.name, "low", open_time) % 1000) // 1000
    high = max(open_, close) + up * market.tick
    low = max(min(open_, close) - down * market.tick, market.min_price)
    per_mille = 500 + stable_int(market.name, "volume", open_time) % 1000
    volume = floor_to_step(market.base_volume * per_mille / 1000, market.step)
    return Candle(open_time, open_, high, low, close, volume)


def open_times(now: int, interval_ms: int, count: int, *, offset_ms: int = 0) -> list[int]:
    """Open times of the last ``count`` candles up to the one containing ``now``, oldest
    first. ``offset_ms`` shifts the grid (weeks that open on a Monday)."""
    last = (now - offset_ms) // interval_ms * interval_ms + offset_ms
    return [t for t in range(last - (count - 1) * interval_ms, last + 1, interval_ms) if t >= 0]
