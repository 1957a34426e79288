"""A local stand-in for Gemini's REST API (v1/v2, the sandbox ``api.sandbox.gemini.com``), for
ccxt's ``gemini``.

Run it in-process::

    with GeminiStandIn(API_KEY, SECRET) as standin:     # API_KEY: an "account-..." key
        exchange = ccxt.gemini({"apiKey": API_KEY, "secret": SECRET})
        standin.configure_ccxt(exchange)  # sandbox mode + urls['api'] -> the stand-in
        exchange.create_order("BTC/USDT", "limit", "buy", 0.001, 30000)

Private endpoints are checked as Gemini checks them (its "Private API invocation" docs): the
``X-GEMINI-APIKEY``, ``X-GEMINI-PAYLOAD`` (base64 of a JSON object with ``request``, the
path, and ``nonce``, plus the endpoint's parameters) and ``X-GEMINI-SIGNATURE`` (hex
HMAC-SHA384 of the base64 payload, keyed with the API secret) headers must be there, the key
known, the signature right, ``request`` the requested path and the nonce greater than the
last one this key used. Parameters are read from the payload only, as on Gemini; a POST body
is ignored. Errors are Gemini's ``{"result": "error", "reason": .., "message": ..}`` with its
statuses (400 for authentication, 404 order not found, 406 insufficient funds).

Served: ``GET /v1/symbols``, ``GET /v1/pubticker/{symbol}``, ``GET /v2/candles/{symbol}/
{time_frame}``, ``POST /v1/balances``, ``/v1/order/new``, ``/v1/order/status``,
``/v1/order/cancel``, ``/v1/orders``, and ``GET /``: the exchange's web page, where ccxt
reads market precision (``tradingPairs``). Standard library only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from scaffolder.standin.gemini_market import (
    TIME_FRAMES_MS,
    GeminiError,
    GeminiSymbol,
    exchange_page,
)
from scaffolder.standin.gemini_state import GeminiState
from scaffolder.standin.ledger import LedgerStandIn
from scaffolder.standin.server import (
    Incoming,
    Reply,
    fault_replies,
)

#: Canary credentials for tests and local recordings: obvious fakes. ccxt's gemini signs only
#: with "account-" keys (master keys need an account parameter).
CANARY_API_KEY = "account-CANARY-GEMINI-KEY-0000"
CANARY_SECRET = "CANARY-GEMINI-SECRET-0000"

_FAULT_REPLIES = fault_replies(
    {
        "http_429": (
            429,
            {"result": "error", "reason": "RateLimit", "message": "Requests were made too "
             "frequently. See Rate Limits below."},
        ),
        "http_500": (
            500,
            {"result": "error", "reason": "System", "message": "We are experiencing "
             "technical issues"},
        ),
        "http_502": (
            502,
            {"result": "error", "reason": "System", "message": "We are investigating technical "
             "issues with the Gemini Exchange. Please check https://status.gemini.com/ for "
             "more information."},
        ),
        "http_503": (
            503,
            {"result": "error", "reason": "Maintenance", "message": "The Gemini Exchange is "
             "currently undergoing maintenance. Please check https://status.gemini.com/ for "
             "more information."},
        ),
    }
)  # fmt: skip

_PUBTICKER = re.compile(r"^/v1/pubticker/(?P<symbol>[^/]+)$")
_CANDLES = re.compile(r"^/v2/candles/(?P<symbol>[^/]+)/(?P<time_frame>[^/]+)$")
#: Private endpoints (all POST): path -> handler of the decoded payload.
PRIVATE: dict[str, Callable[[GeminiState, Mapping[str, Any]], Any]] = {
    "/v1/balances": GeminiState.balances,
    "/v1/order/new": GeminiState.new_order,
    "/v1/order/status": GeminiState.order_status,
    "/v1/order/cancel": GeminiState.cancel_order,
    "/v1/orders": GeminiState.active_orders,
}


def decode_payload(raw: str) -> dict[str, Any] | None:
    """The JSON object in a base64 ``X-GEMINI-PAYLOAD``, or None when it is not one."""
    try:
        document = json.loads(base64.b64decode(raw, validate=True))
    except (binascii.Error, ValueError):
        return None
    return document if isinstance(document, dict) else None


def sign_payload(payload: str, secret: str) -> str:
    """Gemini's ``X-GEMINI-SIGNATURE``: hex HMAC-SHA384 of the base64 payload."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha384).hexdigest()


class GeminiStandIn(LedgerStandIn):
    """An in-process HTTP server impersonating Gemini's sandbox REST API.

    Args:
        api_key: the only accepted ``X-GEMINI-APIKEY`` (a session key, ``account-...``).
        secret: the HMAC-SHA384 signing secret.
        symbols: markets to list (copied); defaults to BTC and ETH against USD and USDT.
        balances: starting balances; defaults to 10 BTC, 100 ETH, 10000 USD, 10000 USDT.
        host, port, clock, fault_delay, verbose: see :class:`StandInServer`.

    Attributes:
        requests: every request, as ``(method, path, params)``; ``params`` are the query
            string's for public endpoints and the decoded payload for private ones.
        state: the :class:`GeminiState` (balances, orders); hold :attr:`lock` to touch it.
        last_nonce: the greatest nonce the key has used (None before its first request).
        signatures: every ``X-GEMINI-SIGNATURE`` received, in order (for leak checks).
    """

    server_version = "GeminiStandIn/1.0"
    account = GeminiState

    def __init__(
        self,
        api_key: str = CANARY_API_KEY,
        secret: str = CANARY_SECRET,
        *,
        symbols: Iterable[GeminiSymbol] | None = None,
        balances: Mapping[str, Decimal | int | str] | None = None,
        **server: Any,
    ) -> None:
        super().__init__(api_key, secret, symbols, balances, **server)
        self.last_nonce: int | None = None
        self.signatures: list[str] = []

    # -- pointing ccxt at the stand-in -------------------------------------------------------

    def ccxt_api_urls(self) -> dict[str, str]:
        """``exchange.urls['api']`` with every section (API and web pages) on the stand-in."""
        return {section: self.url for section in ("public", "private", "web", "webExchange")}

    def configure_ccxt(self, exchange: Any) -> None:
        """Put a ``ccxt.gemini`` instance in sandbox mode and route all its URLs here."""
        exchange.set_sandbox_mode(True)
        exchange.urls["api"] = self.ccxt_api_urls()

    # -- test controls -----------------------------------------------------------------------

    def orders(self) -> list[dict[str, Any]]:
        """Every order ever created, as ``/v1/order/status`` renders it."""
        with self.lock:
            return [self.state.orders[i].render() for i in sorted(self.state.orders)]

    # -- the exchange ------------------------------------------------------------------------

    def request_params(self, request: Incoming) -> dict[str, Any]:
        """The decoded payload of a private request, else the query string."""
        payload = request.header("X-GEMINI-PAYLOAD")
        decoded = decode_payload(payload) if payload else None
        return decoded if decoded is not None else dict(parse_qsl(request.query))

    def handle(self, request: Incoming) -> Reply:
        method, path = request.method, request.path
        if method == "POST" and path in PRIVATE:
            payload = self._authenticate(request)
            return Reply.json(200, PRIVATE[path](self.state, payload))
        if method == "GET":
            if path == "/v1/symbols":
                return Reply.json(200, list(self.state.markets))
            if path == "/":
                page = exchange_page(list(self.state.markets.values()))
                return Reply(200, page.encode(), "text/html; charset=utf-8")
            match = _PUBTICKER.match(path)
            if match:
                spec = self.state.symbol(match["symbol"])
                return Reply.json(200, spec.pubticker(self.clock()))
            match = _CANDLES.match(path)
            if match and match["time_frame"] in TIME_FRAMES_MS:
                spec = self.state.symbol(match["symbol"])
                return Reply.json(
                    200, spec.candles(TIME_FRAMES_MS[match["time_frame"]], self.clock())
                )
        raise GeminiError("EndpointNotFound", f"API entry point `{path}` not found", 404)

    def _authenticate(self, request: Incoming) -> dict[str, Any]:
        """Gemini's checks of a private request, in order; returns the decoded payload.

        Headers present (``MissingApikeyHeader``, ``MissingPayloadHeader``,
        ``MissingSignatureHeader``), the key known (``InvalidApiKey``), the signature the hex
        HMAC-SHA384 of the payload (``InvalidSignature``), the payload base64 JSON
        (``InvalidJson``) naming this path (``EndpointNotFound``, ``EndpointMismatch``), and
        a nonce greater than the key's last one (``InvalidNonce``). All 400.
        """
        api_key = request.header("X-GEMINI-APIKEY")
        payload = request.header("X-GEMINI-PAYLOAD")
        signature = request.header("X-GEMINI-SIGNATURE")
        if not api_key:
            raise GeminiError("MissingApikeyHeader", "The X-GEMINI-APIKEY header was missing")
        if not payload:
            raise GeminiError("MissingPayloadHeader", "The X-GEMINI-PAYLOAD header was missing")
        if not signature:
            raise GeminiError("MissingSignatureHeader", "The X-GEMINI-SIGNATURE header was missing")
        self.signatures.append(signature)
        if not hmac.compare_digest(api_key.encode(), self.api_key.encode()):
            raise GeminiError("InvalidApiKey", "Invalid API key")
        expected = sign_payload(payload, self.secret)
        if not hmac.compare_digest(expected.encode(), signature.lower().encode()):
            raise GeminiError("InvalidSignature", "InvalidSignature")
        document = decode_payload(payload)
        if document is None:
            raise GeminiError("InvalidJson", "The JSON provided is invalid")
        if not document.get("request"):
            raise GeminiError("EndpointNotFound", "No endpoint was specified")
        if document["request"] != request.path:
            raise GeminiError(
                "EndpointMismatch",
                f"EndpointMismatch: the request was submitted to {request.path} but the "
                f"payload names {document['request']}",
            )
        nonce = str(document.get("nonce", ""))
        if not nonce.isdigit():
            raise GeminiError("InvalidNonce", f"Nonce '{nonce}' is not a number.")
        if self.last_nonce is not None and int(nonce) <= self.last_nonce:
            raise GeminiError(
                "InvalidNonce",
                f"Nonce '{nonce}' has not increased since your last call to the Gemini API.",
            )
        self.last_nonce = int(nonce)
        return document

    def fault_response(self, fault: str) -> Reply:
        return _FAULT_REPLIES[fault]
