"""Market data of the Coinbase stand-in: products, currencies, rates, ticker, candles, errors.

Shapes follow what ccxt's ``coinbase`` reads, as recorded in ccxt's static test data
(``tests/data/ccxt_static/response/coinbase.json`` and ccxt's public copy of it) and in the
response samples ccxt keeps beside each parser, and Coinbase's public API reference: the
Advanced Trade API (``/api/v3/brokerage``) for products, tickers, candles and orders, the
Coinbase App API (``/v2``) for currencies, exchange rates and accounts. Values come from the
shared deterministic price series, so identical requests get identical answers.

Errors come in the two shapes the two APIs use: ``{"errors": [{"id": .., "message": ..}]}``
on ``/v2`` and ``{"error": .., "error_details": .., "message": ..}`` on ``/api/v3``; a v3
request that fails authentication gets a bare ``401 Unauthorized`` text.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from operator import attrgetter

from scaffolder.standin import price_series
from scaffolder.standin.ledger import plain
from scaffolder.standin.server import JSON, ExchangeRefusal, Reply
from scaffolder.standin.spot import SpotMarket

#: ``granularity`` values of the candles endpoint, in seconds.
GRANULARITIES: dict[str, int] = {
    "ONE_MINUTE": 60,
    "FIVE_MINUTE": 300,
    "FIFTEEN_MINUTE": 900,
    "THIRTY_MINUTE": 1800,
    "ONE_HOUR": 3600,
    "TWO_HOUR": 7200,
    "SIX_HOUR": 21600,
    "ONE_DAY": 86400,
}
#: Most candles one answer holds (Coinbase's documented maximum).
MAX_CANDLES = 350
#: A namespace for the stand-in's stable UUIDs (accounts, orders, assets).
_NAMESPACE = uuid.UUID("6f0c2a44-0f6e-4d43-9d5b-2b8f7d0c5e11")


class CoinbaseError(ExchangeRefusal):
    """An error answered as Coinbase does (see the module docstring for the shapes)."""

    def __init__(self, status: int, body: JSON | str) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body

    def reply(self) -> Reply:
        if isinstance(self.body, str):
            return Reply(self.status, self.body.encode(), "text/plain; charset=utf-8")
        return Reply.json(self.status, self.body)


def v2_error(error_id: str, message: str, status: int) -> CoinbaseError:
    """A Coinbase App API (``/v2``) error."""
    return CoinbaseError(status, {"errors": [{"id": error_id, "message": message}]})


def v3_error(error: str, message: str, status: int = 400) -> CoinbaseError:
    """An Advanced Trade API (``/api/v3``) error."""
    return CoinbaseError(status, {"error": error, "error_details": message, "message": message})


def unauthorized() -> CoinbaseError:
    """What the Advanced Trade API answers a request it cannot authenticate."""
    return CoinbaseError(401, "Unauthorized")


def stable_uuid(*parts: object) -> str:
    """A UUID that is the same for the same ``parts`` (ids of accounts, orders, assets)."""
    return str(uuid.uuid5(_NAMESPACE, "|".join(map(str, parts))))


def iso_time(ms: int) -> str:
    """A timestamp as Coinbase writes it: ``2023-11-26T10:19:47.423220Z``."""
    moment = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def text(value: Decimal) -> str:
    """A decimal as Coinbase writes it: plain, no exponent, no trailing zeros."""
    return plain(value)


@dataclass
class Product(SpotMarket):
    """One spot product (``BTC-USDT``): currencies, reference price, increments and sizes."""

    base: str
    quote: str
    price: Decimal
    quote_increment: Decimal = Decimal("0.01")
    base_increment: Decimal = Decimal("0.00000001")
    base_min_size: Decimal = Decimal("0.00000001")
    base_max_size: Decimal = Decimal("3400")
    quote_min_size: Decimal = Decimal("1")
    quote_max_size: Decimal = Decimal("150000000")
    base_volume: Decimal = Decimal("50")
    base_name: str = ""
    quote_name: str = ""

    @property
    def id(self) -> str:  # type: ignore[override]
        return f"{self.base}-{self.quote}"

    #: What :class:`SpotMarket` reads, in Coinbase's terms.
    tick = property(attrgetter("quote_increment"))
    step = property(attrgetter("base_increment"))

    def render(self) -> JSON:
        """One entry of ``GET /api/v3/brokerage/market/products``."""
        return {
            "product_id": self.id,
            "price": text(self.price),
            "price_percentage_change_24h": "2.04081632653061",
            "volume_24h": text(self.base_volume * 24),
            "volume_percentage_change_24h": "0",
            "base_increment": text(self.base_increment),
            "quote_increment": text(self.quote_increment),
            "quote_min_size": text(self.quote_min_size),
            "quote_max_size": text(self.quote_max_size),
            "base_min_size": text(self.base_min_size),
            "base_max_size": text(self.base_max_size),
            "base_name": self.base_name or self.base,
            "quote_name": self.quote_name or self.quote,
            "watched": False,
            "is_disabled": False,
            "new": False,
            "status": "online",
            "cancel_only": False,
            "limit_only": False,
            "post_only": False,
            "trading_disabled": False,
            "auction_mode": False,
            "product_type": "SPOT",
            "quote_currency_id": self.quote,
            "base_currency_id": self.base,
            "fcm_trading_session_details": None,
            "mid_market_price": "",
            "alias": "",
            "alias_to": [],
            "base_display_symbol": self.base,
            "quote_display_symbol": self.quote,
            "view_only": False,
            "price_increment": text(self.quote_increment),
            "display_name": self.id,
            "product_venue": "CBE",
        }

    def ticker(self, limit: int, now: int) -> JSON:
        """``GET /api/v3/brokerage/market/products/{id}/ticker``: the last ``limit`` trades."""
        trades = [
            {
                "trade_id": str(100_000_000 + now // 1000 - i),
                "product_id": self.id,
                "price": text(self.price),
                "size": text(
                    price_series.floor_to_step(self.base_volume / 1000, self.base_increment)
                ),
                "time": iso_time(now - i * 1000),
                "side": "BUY" if i % 2 == 0 else "SELL",
                "bid": "",
                "ask": "",
            }
            for i in range(max(1, limit))
        ]
        return {"trades": trades, "best_bid": text(self.bid), "best_ask": text(self.ask)}

    def candles(self, granularity_s: int, start_s: int, end_s: int, now: int) -> JSON:
        """``GET .../candles``: candles opening from ``start`` to ``end``, newest first."""
        step = granularity_s * 1000
        last = min(end_s * 1000, now)
        opens = [t for t in price_series.open_times(last, step, MAX_CANDLES) if t >= start_s * 1000]
        rows = []
        for open_time in reversed(opens):
            c = price_series.candle(self.series(), open_time, step)
            rows.append(
                {
                    "start": str(open_time // 1000),
                    "low": text(c.low),
                    "high": text(c.high),
                    "open": text(c.open),
                    "close": text(c.close),
                    "volume": text(c.volume),
                }
            )
        return {"candles": rows}


#: Currencies the stand-in knows: code -> (name, exponent, fiat).
CURRENCIES: dict[str, tuple[str, int, bool]] = {
    "USD": ("US Dollar", 2, True),
    "BTC": ("Bitcoin", 8, False),
    "ETH": ("Ethereum", 8, False),
    "USDT": ("Tether", 6, False),
    "USDC": ("USDC", 6, False),
}


def default_products() -> list[Product]:
    """BTC and ETH against USD and USDT."""
    eth = {"base_volume": Decimal("800")}
    return [
        Product("BTC", "USD", Decimal("60000.00"), base_name="Bitcoin", quote_name="US Dollar"),
        Product(
            "ETH", "USD", Decimal("3000.00"), base_name="Ethereum", quote_name="US Dollar", **eth
        ),
        Product("BTC", "USDT", Decimal("60000.00"), base_name="Bitcoin", quote_name="Tether"),
        Product(
            "ETH", "USDT", Decimal("3000.00"), base_name="Ethereum", quote_name="Tether", **eth
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


def currency_record(code: str) -> JSON:
    """A currency as ``/v2/accounts`` embeds it (as in Coinbase's recorded accounts)."""
    name, exponent, fiat = CURRENCIES.get(code, (code, 8, False))
    return {
        "asset_id": stable_uuid("asset", code),
        "code": code,
        "color": "#0052FF",
        "exponent": str(exponent),
        "name": name,
        "slug": name.lower().replace(" ", "-"),
        "type": "fiat" if fiat else "crypto",
        "rewards": None,
    }


def fiat_currencies() -> JSON:
    """``GET /v2/currencies``."""
    return {
        "data": [
            {"id": code, "name": name, "min_size": text(Decimal(1).scaleb(-exponent))}
            for code, (name, exponent, fiat) in CURRENCIES.items()
            if fiat
        ]
    }


def crypto_currencies() -> JSON:
    """``GET /v2/currencies/crypto``."""
    return {
        "data": [
            {
                "asset_id": stable_uuid("asset", code),
                "code": code,
                "name": name,
                "color": "#0052FF",
                "sort_index": str(index),
                "exponent": str(exponent),
                "type": "crypto",
                "address_regex": "^(?:0x)?[0-9a-fA-F]{40}$",
            }
            for index, (code, (name, exponent, fiat)) in enumerate(CURRENCIES.items())
            if not fiat
        ]
    }


def exchange_rates(products: list[Product]) -> JSON:
    """``GET /v2/exchange-rates`` (base USD): units of each currency one dollar buys."""
    usd = {p.base: p.price for p in products if p.quote == "USD"}
    rates = {"USD": "1"}
    for code in CURRENCIES:
        if code in usd:
            rates[code] = text((Decimal(1) / usd[code]).quantize(Decimal("1e-12")))
        elif code != "USD":
            rates[code] = "1"
    return {"data": {"currency": "USD", "rates": rates}}
