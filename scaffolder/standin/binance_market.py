"""Market data for the Binance spot stand-in: symbols, filters, tickers, klines, depth.

Everything here is a pure function of the symbol specification, the current price and the
requested time range, so identical requests always produce identical response bodies.
Decimals are rendered the way Binance renders them: strings with eight decimal places.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from operator import attrgetter
from typing import Any

from scaffolder.standin import price_series
from scaffolder.standin.price_series import floor_to_step, stable_int
from scaffolder.standin.server import JSON, ExchangeRefusal, Reply
from scaffolder.standin.spot import SpotMarket

Params = Mapping[str, str]

_DECIMAL_RE = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
_INTEGER_RE = re.compile(r"^-?[0-9]{1,20}$")

MINUTE_MS = 60_000
DAY_MS = 86_400_000
_WEEK_OFFSET_MS = 4 * DAY_MS  # 1970-01-01 was a Thursday; Binance weeks start on Monday.

#: Kline intervals the stand-in serves, in milliseconds (``1M`` is not supported).
INTERVALS_MS: dict[str, int] = {
    "1s": 1_000,
    "1m": MINUTE_MS,
    "3m": 3 * MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS,
    "1h": 60 * MINUTE_MS,
    "2h": 120 * MINUTE_MS,
    "4h": 240 * MINUTE_MS,
    "6h": 360 * MINUTE_MS,
    "8h": 480 * MINUTE_MS,
    "12h": 720 * MINUTE_MS,
    "1d": DAY_MS,
    "3d": 3 * DAY_MS,
    "1w": 7 * DAY_MS,
}

RATE_LIMITS: list[JSON] = [
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
    {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
    {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
]

ORDER_TYPES: list[str] = ["LIMIT", "LIMIT_MAKER", "MARKET"]


#: Content type of Binance's JSON answers.
CONTENT_TYPE = "application/json;charset=UTF-8"


class BinanceError(ExchangeRefusal):
    """An error answered as Binance does: HTTP ``status`` with body ``{"code": .., "msg": ..}``."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.status = status

    def body(self) -> JSON:
        """The JSON body Binance sends for this error."""
        return {"code": self.code, "msg": self.msg}

    def reply(self) -> Reply:
        return Reply.json(self.status, self.body(), CONTENT_TYPE)


def invalid_symbol() -> BinanceError:
    """Binance's ``-1121 Invalid symbol.`` error."""
    return BinanceError(-1121, "Invalid symbol.")


def missing_param(name: str) -> BinanceError:
    """Binance's ``-1102`` error for a mandatory parameter that was not sent."""
    return BinanceError(
        -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


def fmt(value: Decimal) -> str:
    """Render a decimal with eight places, as Binance renders prices and quantities."""
    return f"{value.quantize(Decimal('0.00000001'), rounding=ROUND_DOWN):f}"


def _checked_param(
    params: Mapping[str, str], name: str, pattern: re.Pattern[str], legal_range: str
) -> str | None:
    """An optional parameter's raw value (None when absent or empty), rejected with
    Binance's ``-1100`` when it does not match ``pattern``; ``legal_range`` is the pattern
    as Binance's message shows it."""
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if not pattern.match(raw):
        raise BinanceError(
            -1100,
            f"Illegal characters found in parameter '{name}'; legal range is '{legal_range}'.",
        )
    return raw


def parse_decimal(params: Mapping[str, str], name: str) -> Decimal | None:
    """Read an optional decimal parameter, rejecting malformed values with ``-1100``."""
    raw = _checked_param(params, name, _DECIMAL_RE, _DECIMAL_RE.pattern)
    return None if raw is None else Decimal(raw)


def parse_int(params: Mapping[str, str], name: str) -> int | None:
    """Read an optional integer parameter, rejecting malformed values with ``-1100``."""
    raw = _checked_param(params, name, _INTEGER_RE, "^[0-9]{1,20}$")
    return None if raw is None else int(raw)


@dataclass
class SymbolSpec(SpotMarket):
    """One spot market: its assets, reference price and exchange filters.

    ``price`` is the current last price; it can be changed at runtime with
    :meth:`BinanceStandIn.set_price`. Market buys fill at ``price + tick_size`` (the ask),
    market sells at ``price`` (the bid).
    """

    symbol: str
    base: str
    quote: str
    price: Decimal
    tick_size: Decimal = Decimal("0.01")
    min_price: Decimal = Decimal("0.01")
    max_price: Decimal = Decimal("1000000")
    step_size: Decimal = Decimal("0.00001")
    min_qty: Decimal = Decimal("0.00001")
    max_qty: Decimal = Decimal("9000")
    min_notional: Decimal = Decimal("5")
    max_notional: Decimal = Decimal("9000000")
    base_volume: Decimal = Decimal("1000")

    #: What :class:`SpotMarket` reads, in Binance's terms.
    id = property(attrgetter("symbol"))
    tick = property(attrgetter("tick_size"))
    step = property(attrgetter("step_size"))

    def filters(self) -> list[JSON]:
        """The ``filters`` array of this symbol in ``exchangeInfo``."""
        return [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": fmt(self.min_price),
                "maxPrice": fmt(self.max_price),
                "tickSize": fmt(self.tick_size),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": fmt(self.min_qty),
                "maxQty": fmt(self.max_qty),
                "stepSize": fmt(self.step_size),
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": fmt(self.min_notional),
                "applyMinToMarket": True,
                "maxNotional": fmt(self.max_notional),
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            },
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
        ]

    def exchange_info(self) -> JSON:
        """This symbol's entry in the ``symbols`` array of ``exchangeInfo``."""
        return {
            "symbol": self.symbol,
            "status": "TRADING",
            "baseAsset": self.base,
            "baseAssetPrecision": 8,
            "quoteAsset": self.quote,
            "quotePrecision": 8,
            "quoteAssetPrecision": 8,
            "baseCommissionPrecision": 8,
            "quoteCommissionPrecision": 8,
            "orderTypes": list(ORDER_TYPES),
            "icebergAllowed": False,
            "ocoAllowed": False,
            "otoAllowed": False,
            "quoteOrderQtyMarketAllowed": True,
            "allowTrailingStop": False,
            "cancelReplaceAllowed": False,
            "amendAllowed": False,
            "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": False,
            "filters": self.filters(),
            "permissions": [],
            "permissionSets": [["SPOT"]],
            "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
            "allowedSelfTradePreventionModes": ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER"],
        }

    def check_price(self, price: Decimal) -> None:
        """Apply ``PRICE_FILTER`` (``-1013``)."""
        on_tick = (price - self.min_price) % self.tick_size == 0
        if price < self.min_price or price > self.max_price or not on_tick:
            raise BinanceError(-1013, "Filter failure: PRICE_FILTER")

    def check_qty(self, qty: Decimal) -> None:
        """Apply ``LOT_SIZE`` (``-1013``)."""
        on_step = (qty - self.min_qty) % self.step_size == 0
        if qty < self.min_qty or qty > self.max_qty or not on_step:
            raise BinanceError(-1013, "Filter failure: LOT_SIZE")

    def check_notional(self, notional: Decimal, *, market: bool) -> None:
        """Apply ``NOTIONAL`` (minimum always, maximum only for non-market orders)."""
        too_big = not market and notional > self.max_notional
        if notional < self.min_notional or too_big:
            raise BinanceError(-1013, "Filter failure: NOTIONAL")

    # -- deterministic price series -------------------------------------------------------

    def anchor_price(self, at_ms: int) -> Decimal:
        """Deterministic price at ``at_ms``: within +-2% of the reference price, on tick."""
        return price_series.anchor_price(self.series(), at_ms)

    def kline(self, open_time: int, interval_ms: int) -> list[Any]:
        """One Binance kline row for the candle opening at ``open_time``."""
        c = price_series.candle(self.series(), open_time, interval_ms)
        quote_volume = c.volume * (c.open + c.close) / 2
        taker_share = Decimal(400 + stable_int(self.symbol, "taker", open_time) % 200) / 1000
        taker_base = floor_to_step(c.volume * taker_share, self.step_size)
        return [
            open_time,
            fmt(c.open),
            fmt(c.high),
            fmt(c.low),
            fmt(c.close),
            fmt(c.volume),
            open_time + interval_ms - 1,
            fmt(quote_volume),
            100 + stable_int(self.symbol, "trades", open_time) % 900,
            fmt(taker_base),
            fmt(taker_base * (c.open + c.close) / 2),
            "0",
        ]

    def ticker_24hr(self, now: int) -> JSON:
        """``GET /api/v3/ticker/24hr`` entry (FULL type)."""
        open_price = self.price * Decimal("0.98")
        change = self.price - open_price
        return {
            "symbol": self.symbol,
            "priceChange": fmt(change),
            "priceChangePercent": f"{(change / open_price * 100):.3f}",
            "weightedAvgPrice": fmt(self.price * Decimal("0.99")),
            "prevClosePrice": fmt(open_price - self.tick_size),
            "lastPrice": fmt(self.price),
            "lastQty": fmt(self.min_qty * 10),
            "bidPrice": fmt(self.bid),
            "bidQty": fmt(self.min_qty * 1000),
            "askPrice": fmt(self.ask),
            "askQty": fmt(self.min_qty * 1000),
            "openPrice": fmt(open_price),
            "highPrice": fmt(self.price * Decimal("1.02")),
            "lowPrice": fmt(self.price * Decimal("0.97")),
            "volume": fmt(self.base_volume * 24),
            "quoteVolume": fmt(self.base_volume * 24 * self.price * Decimal("0.99")),
            "openTime": now - DAY_MS,
            "closeTime": now,
            "firstId": 1,
            "lastId": 24_000,
            "count": 24_000,
        }

    def book_ticker(self) -> JSON:
        """``GET /api/v3/ticker/bookTicker`` entry."""
        return {
            "symbol": self.symbol,
            "bidPrice": fmt(self.bid),
            "bidQty": fmt(self.min_qty * 1000),
            "askPrice": fmt(self.ask),
            "askQty": fmt(self.min_qty * 1000),
        }

    def depth(self, limit: int, update_id: int) -> JSON:
        """``GET /api/v3/depth``: ``limit`` levels each side, one tick apart."""
        level_qty = self.min_qty * 100
        bids = [
            [fmt(self.bid - i * self.tick_size), fmt(level_qty * (i + 1))] for i in range(limit)
        ]
        asks = [
            [fmt(self.ask + i * self.tick_size), fmt(level_qty * (i + 1))] for i in range(limit)
        ]
        return {"lastUpdateId": update_id, "bids": bids, "asks": asks}


def default_symbols() -> list[SymbolSpec]:
    """BTCUSDT, ETHUSDT and BNBUSDT with filters like the spot testnet's."""
    return [
        SymbolSpec("BTCUSDT", "BTC", "USDT", Decimal("60000.00"), base_volume=Decimal("50")),
        SymbolSpec(
            "ETHUSDT",
            "ETH",
            "USDT",
            Decimal("3000.00"),
            step_size=Decimal("0.0001"),
            min_qty=Decimal("0.0001"),
            max_qty=Decimal("100000"),
            base_volume=Decimal("800"),
        ),
        SymbolSpec(
            "BNBUSDT",
            "BNB",
            "USDT",
            Decimal("600.0"),
            tick_size=Decimal("0.1"),
            min_price=Decimal("0.1"),
            step_size=Decimal("0.001"),
            min_qty=Decimal("0.001"),
            max_qty=Decimal("900000"),
            base_volume=Decimal("3000"),
        ),
    ]


def default_balances() -> dict[str, Decimal]:
    """10 BTC, 100 ETH, 10000 USDT and 0 BNB."""
    return {
        "BTC": Decimal("10"),
        "ETH": Decimal("100"),
        "USDT": Decimal("10000"),
        "BNB": Decimal("0"),
    }


def interval_ms(interval: str | None) -> int:
    """Length of a kline interval, ``-1102``/``-1120`` for missing/unknown intervals."""
    if not interval:
        raise missing_param("interval")
    if interval not in INTERVALS_MS:
        raise BinanceError(-1120, "Invalid interval.")
    return INTERVALS_MS[interval]


def align(at_ms: int, step_ms: int) -> int:
    """Open time of the candle containing ``at_ms`` (weeks open on Monday 00:00 UTC)."""
    offset = _WEEK_OFFSET_MS if step_ms == INTERVALS_MS["1w"] else 0
    return (at_ms - offset) // step_ms * step_ms + offset


def klines(
    spec: SymbolSpec,
    step_ms: int,
    *,
    now: int,
    start: int | None,
    end: int | None,
    limit: int,
) -> list[list[Any]]:
    """Candles as ``GET /api/v3/klines`` returns them (oldest first, none after ``now``)."""
    last_open = align(now if end is None else min(end, now), step_ms)
    if start is not None:
        first_open = align(start, step_ms)
        if first_open < start:
            first_open += step_ms
        opens = range(first_open, last_open + 1, step_ms)[:limit]
    else:
        opens = range(max(last_open - (limit - 1) * step_ms, 0), last_open + 1, step_ms)
    return [spec.kline(open_time, step_ms) for open_time in opens]
