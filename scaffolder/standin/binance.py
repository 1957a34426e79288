"""A local stand-in for Binance's spot testnet REST API (``/api/v3``), for ccxt's ``binance``.

Run it in-process::

    with BinanceStandIn("CANARY-API-KEY-0000", "CANARY-SECRET-0000") as standin:
        exchange = ccxt.binance({"apiKey": ..., "secret": ..., "options": CCXT_OPTIONS})
        standin.configure_ccxt(exchange)  # sandbox mode + urls['api'] -> the stand-in
        exchange.create_order("BTC/USDT", "limit", "buy", 0.01, 50000)
        assert standin.orders_created == 1

Signed endpoints are checked like Binance checks them (``X-MBX-APIKEY``, HMAC-SHA256
``signature`` over query string + body, ``timestamp``/``recvWindow``), errors use Binance's
``{"code": .., "msg": ..}`` bodies and HTTP statuses, and :meth:`BinanceStandIn.inject` makes
the next matching requests fail in the ways real exchanges fail (see
:data:`scaffolder.standin.server.FAULTS`).
Standard library only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from scaffolder.standin.binance_market import (
    CONTENT_TYPE,
    BinanceError,
    SymbolSpec,
)
from scaffolder.standin.binance_protocol import (
    CCXT_OPTIONS,
    FAULT_RESPONSES,
    ROUTES,
    authenticate,
)
from scaffolder.standin.binance_state import ExchangeState
from scaffolder.standin.ledger import LedgerStandIn
from scaffolder.standin.server import (
    Incoming,
    Reply,
    fault_replies,
)

__all__ = ["CANARY_API_KEY", "CANARY_SECRET", "CCXT_OPTIONS", "BinanceStandIn", "SymbolSpec"]

#: Canary credentials for tests and local recordings: obvious fakes.
CANARY_API_KEY = "CANARY-API-KEY-0000"
CANARY_SECRET = "CANARY-SECRET-0000"

_FAULT_REPLIES = fault_replies(FAULT_RESPONSES, CONTENT_TYPE)


class BinanceStandIn(LedgerStandIn):
    """An in-process HTTP server impersonating Binance's spot testnet ``/api/v3``.

    Args:
        api_key: the only accepted ``X-MBX-APIKEY``.
        secret: HMAC-SHA256 secret the ``signature`` parameter is checked against.
        host: interface to bind (keep 127.0.0.1).
        port: TCP port, 0 for a free one (see :attr:`url` after :meth:`start`).
        symbols: markets to list (copied; use :meth:`set_price` to move prices); defaults
            to BTCUSDT, ETHUSDT and BNBUSDT.
        balances: starting free balances; defaults to 10 BTC, 100 ETH, 10000 USDT, 0 BNB.
        recv_window_max: largest accepted ``recvWindow`` (Binance: 60000).
        clock: milliseconds since the epoch, for response timestamps *and* the
            ``timestamp``/``recvWindow`` check. Pass a fixed clock for byte-identical
            recordings, and give the client the same clock (``exchange.nonce = clock``).
        fault_delay: seconds the ``timeout_*`` faults hold the connection; must exceed the
            client's timeout. Also settable later as :attr:`fault_delay`.
        verbose: log every request to stderr.

    Attributes:
        requests: every request received, as :class:`RecordedRequest` ``(method, path,
            params)``, including rejected and faulted ones (``params`` merges query string
            and form body; the query string wins, as on Binance).
        faults_fired: ``(fault, method, path)`` for each injected fault that was applied.
        errors: unexpected exceptions raised by endpoint code (answered as 500 ``-1000``);
            should stay empty.
        state: the :class:`ExchangeState` (balances, orders); hold :attr:`lock` to touch it.
        fault_delay: see the argument of the same name.
    """

    server_version = "BinanceStandIn/1.0"
    account = ExchangeState
    content_type = CONTENT_TYPE

    def __init__(
        self,
        api_key: str,
        secret: str,
        *,
        symbols: Iterable[SymbolSpec] | None = None,
        balances: Mapping[str, Decimal | int | str] | None = None,
        recv_window_max: int = 60000,
        **server: Any,
    ) -> None:
        super().__init__(api_key, secret, symbols, balances, **server)
        self.recv_window_max = recv_window_max
        self._weight_minute = -1
        self._weight = 0

    # -- pointing ccxt at the stand-in -------------------------------------------------------

    def ccxt_api_urls(self) -> dict[str, str]:
        """The ``exchange.urls['api']`` entries ccxt's binance spot methods use."""
        return {
            "public": f"{self.url}/api/v3",
            "private": f"{self.url}/api/v3",
            "v1": f"{self.url}/api/v1",
        }

    def ccxt_options(self) -> dict[str, Any]:
        """:data:`CCXT_OPTIONS`: the ``options`` ccxt's binance needs against the stand-in."""
        return dict(CCXT_OPTIONS)

    def configure_ccxt(self, exchange: Any, *, spot_error_mapping: bool = True) -> None:
        """Put a ``ccxt.binance`` instance in sandbox mode and route all its APIs here.

        Besides ``public``/``private``/``v1``, every other API section (fapi, dapi, ...) is
        pointed at ``/unsupported/<section>`` on the stand-in, which answers 404, so a stray
        call can never reach a real exchange. Call this *after* any ``set_sandbox_mode``.

        ccxt picks its spot-only error mapping (``exceptions['spot']``) by URL prefix
        (``https://testnet.binance.vision`` ...), which the stand-in's URL never matches.
        With ``spot_error_mapping`` (default) that mapping is merged into the instance's
        generic ``exceptions['exact']``, so errors raise the same ccxt classes as against
        the real spot testnet (e.g. ``-1008`` -> OperationFailed, ``-1131`` -> BadRequest).
        """
        exchange.set_sandbox_mode(True)
        api = exchange.urls["api"]
        for section in list(api):
            api[section] = f"{self.url}/unsupported/{section}"
        api.update(self.ccxt_api_urls())
        if spot_error_mapping:
            spot_exact = exchange.exceptions.get("spot", {}).get("exact", {})
            exchange.exceptions["exact"] = {**exchange.exceptions["exact"], **spot_exact}

    # -- test controls -----------------------------------------------------------------------

    def balance(self, asset: str) -> tuple[Decimal, Decimal]:
        """``(free, locked)`` of ``asset``, as Binance splits a balance."""
        with self.lock:
            ledger = self.state.ledger
            return ledger.available(asset), ledger.held.get(asset, Decimal(0))

    def orders(self) -> list[dict[str, Any]]:
        """Every order ever created, as ``GET /api/v3/order`` would render it."""
        with self.lock:
            return [o.query_response() for o in self.state.orders_by_id(None)]

    # -- the exchange ------------------------------------------------------------------------

    def request_params(self, request: Incoming) -> dict[str, Any]:
        """Query string and form body merged; the query string wins, as on Binance."""
        params = dict(parse_qsl(request.body, keep_blank_values=True))
        params.update(parse_qsl(request.query, keep_blank_values=True))
        return params

    def handle(self, request: Incoming) -> Reply:
        """Authenticate SIGNED endpoints as Binance does, then run the endpoint."""
        route = ROUTES.get((request.method, request.path))
        if route is None:
            raise BinanceError(
                -1000,
                f"Unknown endpoint {request.method} {request.path} (not served by the stand-in).",
                404,
            )
        signed, endpoint = route
        if signed:
            authenticate(
                request.header("X-MBX-APIKEY"),
                request.query,
                request.body,
                request.params,
                api_key=self.api_key,
                secret=self.secret,
                recv_window_max=self.recv_window_max,
                now=self.clock(),
            )
        return self.json_reply(200, endpoint(self.state, request.params))

    def fault_response(self, fault: str) -> Reply:
        return _FAULT_REPLIES[fault]

    def response_headers(self) -> dict[str, str]:
        """Binance's request-weight header, counted per minute of the server clock."""
        with self.lock:
            minute = self.clock() // 60000
            if minute != self._weight_minute:
                self._weight_minute, self._weight = minute, 0
            self._weight += 1
            return {"X-MBX-USED-WEIGHT-1M": str(self._weight)}
