"""The Binance-style REST dialect that :class:`~brokers.rest_broker.RestBroker` speaks by default.

Many exchanges copy Binance's spot API: ``/api/v3/...`` paths, negative error codes, the
``exchangeInfo`` listing with ``LOT_SIZE``/``PRICE_FILTER``/``NOTIONAL`` filters, and
``<symbol>@ticker`` streams. The broker's ``parse_*`` methods read that JSON with the functions
here; a broker for an exchange that differs overrides those methods, and this module stays as it
is.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from brokers.errors import (
    AuthenticationError,
    BadResponseError,
    BrokerError,
    InsufficientFundsError,
    InvalidNonceError,
    InvalidOrderError,
    InvalidRequestError,
    InvalidSymbolError,
    OrderNotFoundError,
    RateLimitError,
)
from brokers.order_checks import OrderRequest, plain
from brokers.shapes import (
    Balance,
    Order,
    Ticker,
    balance_entry,
    normalize_status,
    ticker_from,
    ticker_keys,
    to_float,
    to_int,
)
from brokers.websocket_stream import StreamReply

#: Binance-style error codes -> our errors (exchanges that copy Binance's API copy these too).
BINANCE_STYLE_ERRORS: dict[str, type[BrokerError]] = {
    "-1003": RateLimitError,
    "-1013": InvalidOrderError,
    "-1021": InvalidNonceError,  # timestamp outside recvWindow: ccxt's InvalidNonce
    "-1022": AuthenticationError,
    "-2010": InsufficientFundsError,
    "-2011": OrderNotFoundError,
    "-2013": OrderNotFoundError,
    "-2014": AuthenticationError,
    "-2015": AuthenticationError,
    "-1102": InvalidRequestError,
    "-1121": InvalidSymbolError,
}

#: Endpoint paths by purpose.
BINANCE_STYLE_ENDPOINTS: dict[str, str] = {
    "time": "/api/v3/time",
    "markets": "/api/v3/exchangeInfo",
    "balance": "/api/v3/account",
    "ticker": "/api/v3/ticker/24hr",
    "ohlcv": "/api/v3/klines",
    "order": "/api/v3/order",
    "open_orders": "/api/v3/openOrders",
}


def markets_of(data: Any) -> dict[str, dict[str, Any]]:
    """Unified symbol -> market from an ``exchangeInfo`` listing (rules as decimal strings)."""
    markets: dict[str, dict[str, Any]] = {}
    for item in data.get("symbols", []) if isinstance(data, dict) else []:
        symbol = f"{item.get('baseAsset')}/{item.get('quoteAsset')}"
        filters = {f.get("filterType"): f for f in item.get("filters") or []}
        lot = filters.get("LOT_SIZE", {})
        notional = filters.get("NOTIONAL") or filters.get("MIN_NOTIONAL") or {}
        markets[symbol] = {
            "id": item.get("symbol"),
            "base": item.get("baseAsset"),
            "quote": item.get("quoteAsset"),
            "amount_step": lot.get("stepSize"),
            "min_amount": lot.get("minQty"),
            "price_tick": filters.get("PRICE_FILTER", {}).get("tickSize"),
            "min_cost": notional.get("minNotional"),
        }
    return markets


def balance_of(data: Any) -> Balance:
    """Balances from ``{"balances": [{"asset", "free", "locked"}]}`` (empty ones left out)."""
    result: Balance = {}
    for item in data.get("balances", []):
        entry = balance_entry(item.get("free"), item.get("locked"), None)
        if entry["total"]:
            result[str(item["asset"])] = entry
    return result


#: Where a 24h statistics object, and a ``24hrTicker`` stream event, keep the ticker's numbers
#: (:data:`brokers.shapes.TICKER_NUMBERS`).
_TICKER_KEYS = ticker_keys(
    "lastPrice", "bidPrice", "askPrice", "highPrice", "lowPrice", "volume", "quoteVolume"
)
_EVENT_KEYS = ticker_keys("c", "b", "a", "h", "l", "v", "q")


def ticker_of(data: Any, symbol: str) -> Ticker:
    """Ticker from a 24h statistics object."""
    return ticker_from(data, _TICKER_KEYS, symbol, data.get("closeTime"))


def order_of(data: Any, symbol_of: Callable[[str], str]) -> Order:
    """Order from an order object; ``symbol_of`` turns its market id into our symbol."""
    amount = to_float(data.get("origQty"))
    filled = to_float(data.get("executedQty"))
    return {
        "id": str(data.get("orderId")),
        "client_order_id": data.get("clientOrderId") or data.get("origClientOrderId"),
        "symbol": symbol_of(str(data.get("symbol"))),
        "type": str(data.get("type", "")).lower(),
        "side": str(data.get("side", "")).lower(),
        "price": to_float(data.get("price")) or None,
        "amount": amount,
        "filled": filled,
        "remaining": None if amount is None or filled is None else amount - filled,
        "status": normalize_status(data.get("status")),
        "timestamp": to_int(data.get("transactTime") or data.get("time")),
    }


def order_params(order: OrderRequest, market_id: str, client_id: str) -> dict[str, Any]:
    """A new order's parameters: exact decimal strings, already on the market's step and tick."""
    params: dict[str, Any] = {
        "symbol": market_id,
        "side": order.side.upper(),
        "type": order.order_type.upper(),
        "quantity": plain(order.amount),
        "newClientOrderId": client_id,
    }
    if order.price is not None and order.order_type != "market":
        params["price"] = plain(order.price)
        params["timeInForce"] = order.time_in_force or "GTC"
    return params


def stream_message_of(
    message: Any,
    symbol_of: Callable[[str], str],
    *,
    error_codes: Mapping[str, type[BrokerError]],
    broker: str,
) -> Ticker | StreamReply:
    """The ticker in one decoded stream message, or the reply to a request.

    ``24hrTicker`` events, bare or wrapped as ``{"stream", "data"}``; replies ``{"result",
    "id"}``, or ``{"error": {"code", "msg"}, "id"}`` for a refused request (its error class from
    ``error_codes``, else InvalidRequestError). A message of another shape raises
    BadResponseError.
    """
    if isinstance(message, dict) and "stream" in message and "data" in message:
        message = message["data"]
    if not isinstance(message, dict):
        raise BadResponseError(
            f"expected a JSON object from the stream, got {message!r:.200}", broker=broker
        )
    if "error" in message:
        return StreamReply(message.get("id"), stream_error(message, error_codes, broker=broker))
    if "result" in message and "id" in message:
        return StreamReply(message["id"])
    if message.get("e") != "24hrTicker":
        raise BadResponseError(
            f"not a 24hrTicker event: {json.dumps(message)[:200]}", broker=broker
        )
    symbol = symbol_of(str(message["s"]))
    return ticker_from(message, _EVENT_KEYS, symbol, message.get("C") or message.get("E"))


def stream_error(
    message: dict[str, Any], error_codes: Mapping[str, type[BrokerError]], *, broker: str
) -> BrokerError:
    """Our error for a stream reply ``{"error": {"code", "msg"}, "id"}``."""
    error = message["error"]
    code = error.get("code") if isinstance(error, dict) else None
    detail = error.get("msg", error) if isinstance(error, dict) else error
    klass = error_codes.get(str(code), InvalidRequestError)
    text = f"the stream refused request {message.get('id')}: {detail}"
    return klass(text + ("" if code is None else f" (code {code})"), broker=broker)
