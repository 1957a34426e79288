"""A local stand-in for Coinbase's REST APIs as ccxt's ``coinbase`` calls them: the Advanced
Trade API (``/api/v3/brokerage``) and the Coinbase App API (``/v2``) on ``api.coinbase.com``.

Run it in-process::

    with CoinbaseStandIn(API_KEY, SECRET) as standin:
        exchange = ccxt.coinbase({"apiKey": API_KEY, "secret": SECRET})
        standin.configure_ccxt(exchange)  # urls['api']['rest'] -> the stand-in
        exchange.create_order("BTC/USDT", "limit", "buy", 0.001, 30000)

Signed requests are checked as Coinbase checks API-key (HMAC) authentication, the scheme
ccxt uses for keys that are not CDP keys: ``CB-ACCESS-KEY`` must be the key,
``CB-ACCESS-TIMESTAMP`` (seconds) within 30 seconds of the server's clock, and
``CB-ACCESS-SIGN`` the hex HMAC-SHA256, keyed with the secret, of timestamp + method +
request path + body. The request path carries the query string on ``/v2`` and not on
``/api/v3``, as Coinbase's two APIs define it. A refused v3 request gets ``401
Unauthorized``; a refused v2 request ``401`` with an ``authentication_error``.

Served: ``GET /v2/currencies``, ``/v2/currencies/crypto``, ``/v2/exchange-rates``,
``/v2/time``, ``/v2/accounts`` (signed); ``GET /api/v3/brokerage/market/products`` (and one
product, its ``ticker`` and ``candles``); signed: ``GET transaction_summary``, ``POST
orders``, ``GET orders/historical/{order_id}``, ``GET orders/historical/batch``, ``POST
orders/batch_cancel``. Standard library only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

from scaffolder.standin.coinbase_market import (
    GRANULARITIES,
    CoinbaseError,
    Product,
    crypto_currencies,
    exchange_rates,
    fiat_currencies,
    iso_time,
    unauthorized,
    v2_error,
    v3_error,
)
from scaffolder.standin.coinbase_state import CoinbaseState
from scaffolder.standin.ledger import LedgerStandIn
from scaffolder.standin.server import (
    Incoming,
    Reply,
    fault_replies,
)

#: Canary credentials for tests and local recordings: obvious fakes. (A secret of 88
#: characters, or one ending in "=", would make ccxt sign as a CDP key instead.)
CANARY_API_KEY = "CANARY-COINBASE-KEY-0000"
CANARY_SECRET = "CANARY-COINBASE-SECRET-0000"
#: How far ``CB-ACCESS-TIMESTAMP`` may be from the server's clock, in seconds.
TIMESTAMP_TOLERANCE_S = 30

_FAULT_REPLIES = fault_replies(
    {
        "http_429": (429, {"errors": [{"id": "rate_limit_exceeded", "message": "Too many requests"}]}),
        "http_500": (500, {"errors": [{"id": "internal_server_error", "message": "Internal server error"}]}),
        "http_502": (502, {"errors": [{"id": "internal_server_error", "message": "Bad gateway"}]}),
        "http_503": (503, {"errors": [{"id": "internal_server_error", "message": "Service unavailable"}]}),
    }
)  # fmt: skip

_V3 = "/api/v3/brokerage"
_PRODUCT = re.compile(rf"^{_V3}/market/products/(?P<id>[^/]+)(?P<what>/ticker|/candles)?$")
_ORDER = re.compile(rf"^{_V3}/orders/historical/(?P<id>[^/]+)$")


def sign(secret: str, timestamp: str, method: str, request_path: str, body: str) -> str:
    """Coinbase's ``CB-ACCESS-SIGN``: hex HMAC-SHA256 of timestamp + method + path + body."""
    message = f"{timestamp}{method}{request_path}{body}"
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


class CoinbaseStandIn(LedgerStandIn):
    """An in-process HTTP server impersonating ``api.coinbase.com`` for ccxt's coinbase.

    Args:
        api_key: the only accepted ``CB-ACCESS-KEY``.
        secret: the HMAC-SHA256 signing secret.
        products: spot products to list (copied); defaults to BTC and ETH against USD and USDT.
        balances: starting balances; defaults to 10 BTC, 100 ETH, 10000 USD, 10000 USDT.
        host, port, clock, fault_delay, verbose: see :class:`StandInServer`.

    Attributes:
        requests: every request, as ``(method, path, params)``: the query string's parameters
            (lists, as they may repeat) merged with a JSON body's.
        state: the :class:`CoinbaseState` (balances, orders); hold :attr:`lock` to touch it.
        signatures: every ``CB-ACCESS-SIGN`` received, in order (for leak checks).
    """

    server_version = "CoinbaseStandIn/1.0"
    account = CoinbaseState

    def __init__(
        self,
        api_key: str = CANARY_API_KEY,
        secret: str = CANARY_SECRET,
        *,
        products: Iterable[Product] | None = None,
        balances: Mapping[str, Decimal | int | str] | None = None,
        **server: Any,
    ) -> None:
        super().__init__(api_key, secret, products, balances, **server)
        self.signatures: list[str] = []

    # -- pointing ccxt at the stand-in -------------------------------------------------------

    def ccxt_api_urls(self) -> dict[str, str]:
        """``exchange.urls['api']`` for ccxt's coinbase: its one REST host."""
        return {"rest": self.url}

    def configure_ccxt(self, exchange: Any) -> None:
        """Route a ``ccxt.coinbase`` instance here (ccxt knows no Coinbase sandbox)."""
        exchange.urls["api"] = self.ccxt_api_urls()

    # -- test controls -----------------------------------------------------------------------

    def orders(self) -> list[dict[str, Any]]:
        """Every order ever created, as ``orders/historical/{order_id}`` renders it."""
        with self.lock:
            orders = sorted(self.state.orders.values(), key=lambda o: o.created)
            return [o.render() for o in orders]

    # -- the exchange ------------------------------------------------------------------------

    def request_params(self, request: Incoming) -> dict[str, Any]:
        """Query parameters (lists) merged with a JSON object body's."""
        params: dict[str, Any] = parse_qs(request.query, keep_blank_values=True)
        try:
            body = json.loads(request.body) if request.body.strip() else {}
        except ValueError:
            body = {}
        if isinstance(body, dict):
            params.update(body)
        return params

    def handle(self, request: Incoming) -> Reply:
        method, path = request.method, request.path
        query = parse_qs(request.query, keep_blank_values=True)
        state = self.state
        if method == "GET" and path in _V2_PUBLIC:
            return Reply.json(200, _V2_PUBLIC[path](self))
        if method == "GET" and path == "/v2/accounts":
            self._authenticate(request)
            return Reply.json(200, state.accounts(query))
        if method == "GET" and path == f"{_V3}/market/products":
            kinds = query.get("product_type", ["SPOT"])
            products = [p.render() for p in state.markets.values()] if "SPOT" in kinds else []
            return Reply.json(200, {"products": products, "num_products": len(products)})
        match = _PRODUCT.match(path)
        if method == "GET" and match:
            return Reply.json(200, self._product(match["id"], match["what"], query))
        if path.startswith(f"{_V3}/") and path != f"{_V3}/market/products":
            return self._private_v3(request, query)
        raise v2_error("not_found", "Not found", 404)

    def _product(self, product_id: str, what: str | None, query: Mapping[str, list[str]]) -> Any:
        product = self.state.markets.get(product_id)
        if product is None:
            raise v3_error("NOT_FOUND", f"product {product_id} not found", 404)
        if what is None:
            return product.render()
        if what == "/ticker":
            return product.ticker(int((query.get("limit") or ["1"])[0]), self.clock())
        granularity = (query.get("granularity") or [""])[0]
        if granularity not in GRANULARITIES:
            raise v3_error("INVALID_ARGUMENT", f"invalid granularity {granularity!r}")
        try:
            start, end = int(query["start"][0]), int(query["end"][0])
        except (KeyError, ValueError) as exc:
            raise v3_error("INVALID_ARGUMENT", "start and end are required, in seconds") from exc
        return product.candles(GRANULARITIES[granularity], start, end, self.clock())

    def _private_v3(self, request: Incoming, query: Mapping[str, list[str]]) -> Reply:
        method, path, state = request.method, request.path, self.state
        routes: dict[tuple[str, str], Callable[[], Any]] = {
            ("GET", f"{_V3}/transaction_summary"): lambda: state.transaction_summary(query),
            ("POST", f"{_V3}/orders"): lambda: state.create_order(_json_body(request)),
            ("GET", f"{_V3}/orders/historical/batch"): lambda: state.list_orders(query),
            ("POST", f"{_V3}/orders/batch_cancel"): lambda: state.cancel_orders(
                _json_body(request)
            ),
        }
        endpoint = routes.get((method, path))
        match = _ORDER.match(path) if endpoint is None and method == "GET" else None
        if endpoint is None and match is None:
            raise v2_error("not_found", "Not found", 404)
        self._authenticate(request)
        if match is not None:
            return Reply.json(200, state.get_order(match["id"]))
        assert endpoint is not None
        return Reply.json(200, endpoint())

    def _authenticate(self, request: Incoming) -> None:
        """Coinbase's API-key checks: the key, a fresh timestamp, then the signature."""
        v3 = request.path.startswith("/api/v3/")

        def refuse(message: str) -> CoinbaseError:
            return unauthorized() if v3 else v2_error("authentication_error", message, 401)

        key = request.header("CB-ACCESS-KEY")
        timestamp = request.header("CB-ACCESS-TIMESTAMP") or ""
        signature = request.header("CB-ACCESS-SIGN")
        if signature:
            self.signatures.append(signature)
        if not key or not hmac.compare_digest(key.encode(), self.api_key.encode()):
            raise refuse("invalid api key")
        now = self.clock() // 1000
        if not timestamp.isdigit() or abs(now - int(timestamp)) > TIMESTAMP_TOLERANCE_S:
            raise refuse("request timestamp expired")
        request_path = request.path
        if not v3 and request.query:
            request_path += f"?{request.query}"
        expected = sign(self.secret, timestamp, request.method, request_path, request.body)
        if not signature or not hmac.compare_digest(expected.encode(), signature.encode()):
            raise refuse("invalid signature")

    def fault_response(self, fault: str) -> Reply:
        return _FAULT_REPLIES[fault]


def _json_body(request: Incoming) -> dict[str, Any]:
    try:
        body = json.loads(request.body or "{}")
    except ValueError as exc:
        raise v3_error("INVALID_ARGUMENT", "the body is not JSON") from exc
    if not isinstance(body, dict):
        raise v3_error("INVALID_ARGUMENT", "the body is not a JSON object")
    return body


def _time(standin: CoinbaseStandIn) -> dict[str, Any]:
    now = standin.clock()
    return {"data": {"iso": iso_time(now)[:19] + "Z", "epoch": now // 1000}}


#: Public Coinbase App API endpoints: path -> answer.
_V2_PUBLIC: dict[str, Callable[[CoinbaseStandIn], Any]] = {
    "/v2/currencies": lambda standin: fiat_currencies(),
    "/v2/currencies/crypto": lambda standin: crypto_currencies(),
    "/v2/exchange-rates": lambda standin: exchange_rates(list(standin.state.markets.values())),
    "/v2/time": _time,
}
