"""Wire protocol of the Binance spot stand-in: routes, request signing, and the fault catalogue.

Nothing here touches sockets; :mod:`scaffolder.standin.binance` wires it into the shared HTTP
server (:mod:`scaffolder.standin.server`, which also holds the fault names).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any

from scaffolder.standin.binance_market import BinanceError, Params, missing_param, parse_int
from scaffolder.standin.binance_state import ExchangeState

__all__ = ["CCXT_OPTIONS", "FAULT_RESPONSES", "ROUTES", "authenticate"]

#: Options to pass to ``ccxt.binance`` so that ``load_markets`` only needs spot exchangeInfo.
CCXT_OPTIONS: dict[str, Any] = {
    "fetchMarkets": {"types": ["spot"]},
    "fetchCurrencies": False,
    "fetchMargins": False,
}

#: Status and Binance body of the faults that answer with an error status.
FAULT_RESPONSES: dict[str, tuple[int, dict[str, Any]]] = {
    "http_429": (
        429,
        {
            "code": -1003,
            "msg": "Too much request weight used; current limit is 6000 request weight per "
            "1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.",
        },
    ),
    "http_500": (
        500,
        {"code": -1000, "msg": "An unknown error occurred while processing the request."},
    ),
    "http_502": (
        502,
        {"code": -1001, "msg": "Internal error; unable to process your request. Please try again."},
    ),
    "http_503": (
        503,
        {
            "code": -1008,
            "msg": "Server is currently overloaded with other requests. "
            "Please try again in a few minutes.",
        },
    ),
    "http_503_after_accept": (
        503,
        {
            "code": -1007,
            "msg": "Timeout waiting for response from backend server. "
            "Send status unknown; execution status unknown.",
        },
    ),
}

#: An endpoint implementation: state and merged parameters in, JSON value out.
Handler = Callable[[ExchangeState, Params], Any]

#: (method, path) -> (signed, handler). Unsigned endpoints ignore the API key header.
ROUTES: dict[tuple[str, str], tuple[bool, Handler]] = {
    ("GET", "/api/v3/ping"): (False, lambda state, params: {}),
    ("GET", "/api/v3/time"): (False, lambda state, params: {"serverTime": state.clock()}),
    ("GET", "/api/v3/exchangeInfo"): (False, ExchangeState.exchange_info),
    ("GET", "/api/v3/ticker/24hr"): (False, ExchangeState.ticker_24hr),
    ("GET", "/api/v3/ticker/price"): (False, ExchangeState.ticker_price),
    ("GET", "/api/v3/ticker/bookTicker"): (False, ExchangeState.book_ticker),
    ("GET", "/api/v3/depth"): (False, ExchangeState.depth),
    ("GET", "/api/v3/klines"): (False, ExchangeState.klines),
    ("GET", "/api/v3/account"): (True, ExchangeState.account),
    ("GET", "/api/v3/myTrades"): (True, ExchangeState.my_trades),
    ("POST", "/api/v3/order"): (True, ExchangeState.new_order),
    ("POST", "/api/v3/order/test"): (True, lambda state, p: state.new_order(p, test=True)),
    ("GET", "/api/v3/order"): (True, ExchangeState.query_order),
    ("DELETE", "/api/v3/order"): (True, ExchangeState.cancel_order),
    ("GET", "/api/v3/openOrders"): (True, ExchangeState.open_orders),
    ("DELETE", "/api/v3/openOrders"): (True, ExchangeState.cancel_open_orders),
    ("GET", "/api/v3/allOrders"): (True, ExchangeState.all_orders),
}


def without_signature(raw: str) -> str:
    """``raw`` (a query string or form body) with its ``signature=...`` pair removed."""
    return "&".join(p for p in raw.split("&") if p and not p.startswith("signature="))


def authenticate(
    header_api_key: str | None,
    query: str,
    body: str,
    params: Params,
    *,
    api_key: str,
    secret: str,
    recv_window_max: int,
    now: int,
) -> None:
    """Binance's checks for SIGNED (TRADE / USER_DATA) endpoints, in this order.

    1. ``X-MBX-APIKEY`` missing -> 401 ``-2014``; not ``api_key`` -> 401 ``-2015``.
    2. ``timestamp`` / ``signature`` missing -> ``-1102``.
    3. ``signature`` must be the hex HMAC-SHA256, keyed with ``secret``, of *totalParams*:
       the raw query string concatenated with the raw body, each without its
       ``signature=`` pair -> ``-1022``.
    4. ``recvWindow`` (default 5000) above ``recv_window_max`` -> ``-1131``.
    5. Accept only ``timestamp < now + 1000 and now - timestamp <= recvWindow`` -> ``-1021``.
    """
    if not header_api_key:
        raise BinanceError(-2014, "API-key format invalid.", 401)
    if not hmac.compare_digest(header_api_key.encode(), api_key.encode()):
        raise BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
    timestamp = parse_int(params, "timestamp")
    if timestamp is None:
        raise missing_param("timestamp")
    signature = params.get("signature")
    if not signature:
        raise missing_param("signature")
    total_params = without_signature(query) + without_signature(body)
    expected = hmac.new(secret.encode(), total_params.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.lower().encode()):
        raise BinanceError(-1022, "Signature for this request is not valid.")
    recv_window = parse_int(params, "recvWindow")
    recv_window = 5000 if recv_window is None else recv_window
    if recv_window > recv_window_max or recv_window <= 0:
        raise BinanceError(-1131, f"recvWindow must be less than {recv_window_max}.")
    if timestamp >= now + 1000:
        raise BinanceError(
            -1021, "Timestamp for this request was 1000ms ahead of the server's time."
        )
    if now - timestamp > recv_window:
        raise BinanceError(-1021, "Timestamp for this request is outside of the recvWindow.")
