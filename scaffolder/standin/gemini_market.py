"""Market data of the Gemini stand-in: symbols, the ticker, candles, the web page's pair list.

Shapes follow Gemini's REST API v1/v2 as recorded in ccxt's static test data
(``tests/data/ccxt_static/response/gemini.json``) and Gemini's public docs; values come from
the shared deterministic price series (:mod:`scaffolder.standin.price_series`), so identical
requests get identical answers. Errors are Gemini's ``{"result": "error", "reason": ..,
"message": ..}`` bodies with the documented HTTP statuses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from scaffolder.standin import price_series
from scaffolder.standin.ledger import plain, positive_decimal
from scaffolder.standin.server import JSON, ExchangeRefusal, Reply
from scaffolder.standin.spot import SpotMarket

#: ``time_frame`` path values of ``GET /v2/candles/{symbol}/{time_frame}``, in milliseconds.
TIME_FRAMES_MS: dict[str, int] = {
    "1m": 60_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1hr": 3_600_000,
    "6hr": 21_600_000,
    "1day": 86_400_000,
}
#: Candles in one ``/v2/candles`` answer.
CANDLES = 60


class GeminiError(ExchangeRefusal):
    """An error answered as Gemini does: ``status`` and ``{"result": "error", "reason": ..,
    "message": ..}`` (see Gemini's "Error Codes" page for reasons and statuses)."""

    def __init__(self, reason: str, message: str, status: int = 400) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message
        self.status = status

    def body(self) -> JSON:
        """The JSON body Gemini sends for this error."""
        return {"result": "error", "reason": self.reason, "message": self.message}

    def reply(self) -> Reply:
        return Reply.json(self.status, self.body())


def price_text(value: Decimal, tick: Decimal) -> str:
    """A price as Gemini renders it: the quote increment's decimal places (``"2800.00"``)."""
    return f"{value.quantize(tick):f}"


def amount_text(value: Decimal) -> str:
    """An amount as Gemini renders it: no trailing zeros (``"0.014434"``, ``"0"``)."""
    return plain(value)


def parse_decimal(raw: Any, reason: str, what: str) -> Decimal:
    """A positive decimal from a request field (a string or a number), else ``reason``."""
    value = positive_decimal(raw)
    if value is None:
        raise GeminiError(reason, f"Invalid {what}: {raw!r}")
    return value


@dataclass
class GeminiSymbol(SpotMarket):
    """One spot market: lower-case id, currencies, reference price and increments.

    ``tick`` is the price increment (Gemini's ``quote_increment``), ``step`` the amount
    increment (Gemini's ``tick_size``: the naming is Gemini's). Buys fill at ``price + tick``
    (the ask), sells at ``price`` (the bid).
    """

    id: str
    base: str
    quote: str
    price: Decimal
    tick: Decimal = Decimal("0.01")
    step: Decimal = Decimal("0.00000001")
    min_order_size: Decimal = Decimal("0.00001")
    base_volume: Decimal = Decimal("50")

    def pubticker(self, now: int) -> JSON:
        """``GET /v1/pubticker/{symbol}``."""
        volume = self.base_volume * 24
        return {
            "bid": price_text(self.bid, self.tick),
            "ask": price_text(self.ask, self.tick),
            "volume": {
                self.base: amount_text(volume),
                self.quote: amount_text(volume * self.price),
                "timestamp": str(now // 1000 * 1000),
            },
            "last": price_text(self.price, self.tick),
        }

    def candles(self, interval_ms: int, now: int) -> list[list[Any]]:
        """``GET /v2/candles/{symbol}/{time_frame}``: numbers, newest candle first."""
        rows = []
        for open_time in reversed(price_series.open_times(now, interval_ms, CANDLES)):
            c = price_series.candle(self.series(), open_time, interval_ms)
            prices = [float(c.open), float(c.high), float(c.low), float(c.close)]
            rows.append([open_time, *prices, float(c.volume)])
        return rows

    def trading_pair(self) -> list[Any]:
        """This market's row of ``tradingPairs`` on the exchange's web page: symbol, price
        decimals, amount decimals, minimum quantity, quantity rounding, inclusive minimums."""
        price_places = -self.tick.as_tuple().exponent  # type: ignore[operator]
        amount_places = -self.step.as_tuple().exponent  # type: ignore[operator]
        return [
            self.id.upper(),
            price_places,
            amount_places,
            amount_text(self.min_order_size),
            amount_places + 2,
            True,
        ]


def default_symbols() -> list[GeminiSymbol]:
    """BTC and ETH against USD and USDT."""
    eth = {"step": Decimal("0.000001"), "min_order_size": Decimal("0.001")}
    return [
        GeminiSymbol("btcusd", "BTC", "USD", Decimal("60000.00")),
        GeminiSymbol("ethusd", "ETH", "USD", Decimal("3000.00"), base_volume=Decimal("800"), **eth),
        GeminiSymbol("btcusdt", "BTC", "USDT", Decimal("60000.00")),
        GeminiSymbol(
            "ethusdt", "ETH", "USDT", Decimal("3000.00"), base_volume=Decimal("800"), **eth
        ),
    ]


def default_balances() -> dict[str, Decimal]:
    """10 BTC, 100 ETH, 10000 USD and 10000 USDT."""
    return {
        "BTC": Decimal("10"),
        "ETH": Decimal("100"),
        "USD": Decimal("10000"),
        "USDT": Decimal("10000"),
    }


def exchange_page(symbols: list[GeminiSymbol]) -> str:
    """The exchange's web page as ccxt's gemini reads it for market precision
    (``fetch_currencies_from_web``): a ``currencyData`` script whose ``tradingPairs`` rows
    ccxt documents there. The stand-in lists no currency or network details."""
    data = {"tradingPairs": [s.trading_pair() for s in symbols], "currencies": [], "networks": []}
    return (
        "<!DOCTYPE html><html><head><title>Gemini</title>"
        f'<script type="application/json" id="currencyData">{json.dumps(data)}</script>'
        "</head><body></body></html>"
    )
