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
the next matching requests fail in the ways real exchanges fail (see :data:`FAULTS`).
Standard library only.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import socket
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl

from scaffolder.standin.binance_market import (
    BinanceError,
    SymbolSpec,
    default_balances,
    default_symbols,
)
from scaffolder.standin.binance_protocol import (
    CCXT_OPTIONS,
    FAULT_RESPONSES,
    FAULTS,
    FAULTS_AFTER,
    FAULTS_BEFORE,
    HTML_ERROR_PAGE,
    ROUTES,
    RecordedRequest,
    authenticate,
)
from scaffolder.standin.binance_state import ExchangeState

__all__ = [
    "CCXT_OPTIONS",
    "FAULTS",
    "FAULTS_AFTER",
    "FAULTS_BEFORE",
    "BinanceStandIn",
    "RecordedRequest",
    "SymbolSpec",
]


@dataclass
class _PendingFault:
    """An injected fault waiting for ``remaining`` more matching requests."""

    fault: str
    method: str | None
    path: str | None
    remaining: int

    def matches(self, method: str, path: str) -> bool:
        return self.method in (None, method) and self.path in (None, path)


def _real_clock() -> int:
    return int(time.time() * 1000)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    standin: BinanceStandIn


class _RequestHandler(BaseHTTPRequestHandler):
    """Hands every request to :meth:`BinanceStandIn._serve`; keep-alive like Binance."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid 40 ms stalls
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.standin._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.standin._track(self.connection, add=False)

    def do_GET(self) -> None:
        self.server.standin._serve(self)

    do_POST = do_DELETE = do_PUT = do_GET

    def version_string(self) -> str:
        return "BinanceStandIn/1.0"

    def date_time_string(self, timestamp: float | None = None) -> str:
        return email.utils.formatdate(self.server.standin.clock() / 1000, usegmt=True)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.standin.verbose:
            super().log_message(format, *args)


class BinanceStandIn:
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

    def __init__(
        self,
        api_key: str,
        secret: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        symbols: Iterable[SymbolSpec] | None = None,
        balances: Mapping[str, Decimal | int | str] | None = None,
        recv_window_max: int = 60000,
        clock: Callable[[], int] | None = None,
        fault_delay: float = 2.0,
        verbose: bool = False,
    ) -> None:
        self.api_key = api_key
        self.secret = secret
        self.host = host
        self.port = port
        self.recv_window_max = recv_window_max
        self.clock: Callable[[], int] = clock or _real_clock
        self.fault_delay = fault_delay
        self.verbose = verbose
        start_balances = (
            {asset: Decimal(str(amount)) for asset, amount in balances.items()}
            if balances is not None
            else default_balances()
        )
        specs = [replace(s) for s in symbols] if symbols is not None else default_symbols()
        self.state = ExchangeState(specs, start_balances, self.clock)
        self.lock = threading.RLock()
        self.requests: list[RecordedRequest] = []
        self.faults_fired: list[tuple[str, str, str]] = []
        self.errors: list[BaseException] = []
        self._faults: list[_PendingFault] = []
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._weight_minute = -1
        self._weight = 0

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> BinanceStandIn:
        """Bind and serve in a daemon thread. Returns ``self``."""
        if self._server is not None:
            raise RuntimeError("stand-in already started")
        self._stopping.clear()
        server = _Server((self.host, self.port), _RequestHandler)
        server.standin = self
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.name = f"binance-standin-{self.port}"
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake delayed faults and drop open keep-alive connections."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        with self.lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> BinanceStandIn:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321`` (the port is known after :meth:`start`)."""
        return f"http://{self.host}:{self.port}"

    # -- pointing ccxt at the stand-in -------------------------------------------------------

    def ccxt_api_urls(self) -> dict[str, str]:
        """The ``exchange.urls['api']`` entries ccxt's binance spot methods use."""
        return {
            "public": f"{self.url}/api/v3",
            "private": f"{self.url}/api/v3",
            "v1": f"{self.url}/api/v1",
        }

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

    def inject(
        self, fault: str, *, method: str | None = None, path: str | None = None, times: int = 1
    ) -> None:
        """Make the next ``times`` requests matching ``method``/``path`` fail with ``fault``.

        ``path`` is the exact request path (``/api/v3/order``); ``None`` matches anything.
        Faults are consumed in injection order: a request takes the first pending fault it
        matches. See :data:`FAULTS_BEFORE` and :data:`FAULTS_AFTER` for the names.
        """
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; expected one of {', '.join(FAULTS)}")
        if times < 1:
            raise ValueError("times must be >= 1")
        with self.lock:
            self._faults.append(
                _PendingFault(fault, method.upper() if method else None, path, times)
            )

    def pending_faults(self) -> list[tuple[str, str | None, str | None, int]]:
        """Faults not consumed yet, as ``(fault, method, path, remaining)``."""
        with self.lock:
            return [(f.fault, f.method, f.path, f.remaining) for f in self._faults]

    def clear_faults(self) -> None:
        """Drop all pending faults."""
        with self.lock:
            self._faults.clear()

    @property
    def orders_created(self) -> int:
        """Number of orders actually created (rejected orders do not count)."""
        with self.lock:
            return self.state.orders_created

    def balance(self, asset: str) -> tuple[Decimal, Decimal]:
        """``(free, locked)`` of ``asset``."""
        with self.lock:
            return self.state.free.get(asset, Decimal(0)), self.state.locked.get(asset, Decimal(0))

    def orders(self) -> list[dict[str, Any]]:
        """Every order ever created, as ``GET /api/v3/order`` would render it."""
        with self.lock:
            return [o.query_response() for o in self.state.orders_by_id(None)]

    def set_price(self, symbol: str, price: Decimal | str) -> None:
        """Set ``symbol``'s last price; resting limit orders crossed by it fill."""
        with self.lock:
            self.state.set_price(symbol, Decimal(str(price)))

    # -- request handling --------------------------------------------------------------------

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self.lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _take_fault(self, method: str, path: str) -> str | None:
        for pending in self._faults:
            if pending.matches(method, path):
                pending.remaining -= 1
                if pending.remaining == 0:
                    self._faults.remove(pending)
                self.faults_fired.append((pending.fault, method, path))
                return pending.fault
        return None

    def _serve(self, handler: _RequestHandler) -> None:
        method = handler.command
        path, _, query = handler.path.partition("?")
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length).decode("utf-8", "replace") if length else ""
        params = dict(parse_qsl(body, keep_blank_values=True))
        params.update(parse_qsl(query, keep_blank_values=True))  # the query string wins
        with self.lock:
            self.requests.append(RecordedRequest(method, path, params))
            fault = self._take_fault(method, path)
        if fault in FAULTS_BEFORE:
            self._fail_before(handler, fault)
            return
        status, payload = self._process(method, path, query, body, params, handler)
        if fault == "timeout_after_accept":
            self._stopping.wait(self.fault_delay)
            handler.close_connection = True
        elif fault == "reset_after_accept":
            self._reset(handler)
        elif fault == "truncated_json":
            self._send(handler, 200, payload[: len(payload) // 2])
        elif fault == "http_503_after_accept":
            self._send_fault_body(handler, fault)
        else:
            self._send(handler, status, payload)

    def _process(
        self,
        method: str,
        path: str,
        query: str,
        body: str,
        params: dict[str, str],
        handler: _RequestHandler,
    ) -> tuple[int, bytes]:
        """Authenticate and run the endpoint; returns status and JSON bytes."""
        try:
            with self.lock:
                route = ROUTES.get((method, path))
                if route is None:
                    raise BinanceError(
                        -1000,
                        f"Unknown endpoint {method} {path} (not served by the stand-in).",
                        404,
                    )
                signed, endpoint = route
                if signed:
                    authenticate(
                        handler.headers.get("X-MBX-APIKEY"),
                        query,
                        body,
                        params,
                        api_key=self.api_key,
                        secret=self.secret,
                        recv_window_max=self.recv_window_max,
                        now=self.clock(),
                    )
                status, result = 200, endpoint(self.state, params)
        except BinanceError as exc:
            status, result = exc.status, exc.body()
        except Exception as exc:  # a stand-in bug: answer like Binance's -1000, keep the error
            self.errors.append(exc)
            traceback.print_exc(file=sys.stderr)
            status = 500
            result = {
                "code": -1000,
                "msg": "An unknown error occurred while processing the request.",
            }
        return status, json.dumps(result, separators=(",", ":")).encode()

    def _used_weight(self) -> int:
        with self.lock:
            minute = self.clock() // 60000
            if minute != self._weight_minute:
                self._weight_minute, self._weight = minute, 0
            self._weight += 1
            return self._weight

    def _send(
        self,
        handler: _RequestHandler,
        status: int,
        payload: bytes,
        *,
        content_type: str = "application/json;charset=UTF-8",
        extra_headers: Mapping[str, str] | None = None,
    ) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(payload)))
        handler.send_header("X-MBX-USED-WEIGHT-1M", str(self._used_weight()))
        for name, value in (extra_headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(payload)
        handler.wfile.flush()

    def _send_fault_body(self, handler: _RequestHandler, fault: str) -> None:
        status, body = FAULT_RESPONSES[fault]
        headers = {"Retry-After": "1"} if fault == "http_429" else None
        payload = json.dumps(body, separators=(",", ":")).encode()
        self._send(handler, status, payload, extra_headers=headers)

    def _fail_before(self, handler: _RequestHandler, fault: str) -> None:
        if fault == "timeout_before":
            self._stopping.wait(self.fault_delay)
            handler.close_connection = True
        elif fault == "reset":
            self._reset(handler)
        elif fault in ("html_error", "html_error_200"):
            status = 502 if fault == "html_error" else 200
            self._send(handler, status, HTML_ERROR_PAGE.encode(), content_type="text/html")
        else:
            self._send_fault_body(handler, fault)

    @staticmethod
    def _reset(handler: _RequestHandler) -> None:
        """Abort the connection: SO_LINGER 0 makes close() send a TCP RST."""
        handler.close_connection = True
        conn = handler.connection
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()
