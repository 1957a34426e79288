"""The HTTP server every exchange stand-in runs on: lifecycle, request log, injected faults.

An exchange stand-in subclasses :class:`StandInServer` and says only how its exchange differs:
how a request is answered (:meth:`StandInServer.handle`), the exchange's own bodies for the
injected HTTP errors (:meth:`StandInServer.fault_response`) and the parameters it logs for a
request (:meth:`StandInServer.request_params`). Everything else is here once: a threaded
keep-alive server on 127.0.0.1, the log of requests, fault injection (timeouts that hold the
connection, TCP resets, 4xx/5xx bodies, truncated JSON, HTML error pages), a server clock for
the ``Date`` header, and shutdown that wakes held connections. Standard library only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import email.message
import email.utils
import json
import socket
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, NamedTuple, TypeVar

from scaffolder.standin.reshape import ShapeChange, reshaped

#: Faults answered without processing the request (nothing changes on the "exchange").
FAULTS_BEFORE: tuple[str, ...] = (
    "timeout_before",  # wait ``fault_delay`` seconds, then close without answering
    "reset",  # abort the TCP connection (RST) without answering
    "http_429",  # 429, ``Retry-After: 1``, the exchange's rate-limit body
    "http_429_no_retry_after",  # same without ``Retry-After``
    "http_500",  # 500, the exchange's internal-error body
    "http_502",  # 502, the exchange's body for it
    "http_503",  # 503, the exchange's overload/maintenance body
    "html_error",  # 502 with an HTML gateway page
    "html_error_200",  # 200 with an HTML page
)
#: Faults applied after the request was processed (an order *is* created/cancelled).
FAULTS_AFTER: tuple[str, ...] = (
    "timeout_after_accept",  # process, wait ``fault_delay`` seconds, close without answering
    "reset_after_accept",  # process, then abort the connection (RST) at once
    "truncated_json",  # process, answer 200 with the first half of the real body
    "http_503_after_accept",  # process, answer 503 "execution status unknown"
)
#: Every fault name :meth:`StandInServer.inject` accepts.
FAULTS: tuple[str, ...] = FAULTS_BEFORE + FAULTS_AFTER

#: Body of the ``html_error`` faults (what a CDN in front of the API serves).
HTML_ERROR_PAGE = (
    "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>"
    "<center><h1>502 Bad Gateway</h1></center><hr><center>CloudFront</center></body></html>"
)

JSON_CONTENT_TYPE = "application/json"
#: A JSON object, as the stand-ins build their answers.
JSON = dict[str, Any]


class RecordedRequest(NamedTuple):
    """One request a stand-in received: method, path and its parameters (see
    :meth:`StandInServer.request_params`)."""

    method: str
    path: str
    params: dict[str, Any]


@dataclass
class Incoming:
    """A request as the stand-in read it: raw query string and body, headers, parameters."""

    method: str
    path: str
    query: str
    body: str
    headers: email.message.Message
    params: dict[str, Any] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        """The header's value (names are case-insensitive), or None."""
        value = self.headers.get(name)
        return None if value is None else str(value)


@dataclass
class Reply:
    """What the stand-in answers: status, body, content type and extra headers."""

    status: int
    body: bytes
    content_type: str = JSON_CONTENT_TYPE
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, value: Any, content_type: str = JSON_CONTENT_TYPE) -> Reply:
        """A compact JSON body."""
        return cls(status, json.dumps(value, separators=(",", ":")).encode(), content_type)


class ExchangeRefusal(Exception):
    """An error the exchange answers with its own status and body. Each stand-in subclasses it
    for its exchange's error shape."""

    status: int = 400

    def reply(self) -> Reply:
        """The exchange's answer for this error."""
        raise NotImplementedError


@dataclass
class _PendingFault:
    """An injected fault waiting for ``remaining`` more matching requests."""

    fault: str
    method: str | None
    path: str | None
    remaining: int

    def matches(self, method: str, path: str) -> bool:
        return self.method in (None, method) and self.path in (None, path)


def real_clock() -> int:
    """Milliseconds since the epoch, from the system clock."""
    return int(time.time() * 1000)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    standin: StandInServer


class _RequestHandler(BaseHTTPRequestHandler):
    """Hands every request to :meth:`StandInServer._serve`; keep-alive like the exchanges."""

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
        return self.server.standin.server_version

    def date_time_string(self, timestamp: float | None = None) -> str:
        return email.utils.formatdate(self.server.standin.clock() / 1000, usegmt=True)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.standin.verbose:
            super().log_message(format, *args)


Self = TypeVar("Self", bound="StandInServer")


class StandInServer:
    """An in-process HTTP server on ``host:port`` impersonating one exchange's REST API.

    Args:
        host: interface to bind (keep 127.0.0.1).
        port: TCP port, 0 for a free one (see :attr:`url` after :meth:`start`).
        clock: milliseconds since the epoch, for response timestamps and the exchange's
            request-freshness checks. Pass a fixed clock for byte-identical recordings.
        fault_delay: seconds the ``timeout_*`` faults hold the connection; must exceed the
            client's timeout. Also settable later as :attr:`fault_delay`.
        verbose: log every request to stderr.

    Attributes:
        requests: every request received, as :class:`RecordedRequest`, including rejected and
            faulted ones.
        faults_fired: ``(fault, method, path)`` for each injected fault that was applied.
        errors: unexpected exceptions raised by endpoint code (answered as the exchange's
            internal error); should stay empty.
        lock: hold it to touch the exchange state from outside.
    """

    #: The ``Server`` response header.
    server_version: str = "StandIn/1.0"
    #: Content type of the exchange's JSON answers.
    content_type: str = JSON_CONTENT_TYPE

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], int] | None = None,
        fault_delay: float = 2.0,
        verbose: bool = False,
    ) -> None:
        self.host = host
        self.port = port
        self.clock: Callable[[], int] = clock or real_clock
        self.fault_delay = fault_delay
        self.verbose = verbose
        self.lock = threading.RLock()
        self.requests: list[RecordedRequest] = []
        self.faults_fired: list[tuple[str, str, str]] = []
        self.errors: list[BaseException] = []
        self._faults: list[_PendingFault] = []
        self.shape_change: ShapeChange | None = None
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- what an exchange stand-in says -----------------------------------------------------

    def request_params(self, request: Incoming) -> dict[str, Any]:
        """The parameters logged for ``request`` (default: none)."""
        return {}

    def handle(self, request: Incoming) -> Reply:
        """Answer ``request`` (called with :attr:`lock` held); raise :class:`ExchangeRefusal`
        for the exchange's errors."""
        raise NotImplementedError

    def fault_response(self, fault: str) -> Reply:
        """The exchange's answer for an injected ``http_*`` fault."""
        raise NotImplementedError

    def internal_error(self) -> Reply:
        """The exchange's answer when endpoint code fails unexpectedly (a stand-in bug): its
        internal-error answer, the one the ``http_500`` fault gives."""
        return self.fault_response("http_500")

    def response_headers(self) -> dict[str, str]:
        """Headers sent with every answer (default: none)."""
        return {}

    def ccxt_options(self) -> dict[str, Any]:
        """The ``options`` a ccxt client needs against this stand-in (default: none)."""
        return {}

    def json_reply(self, status: int, value: Any) -> Reply:
        """A JSON answer with the exchange's content type."""
        return Reply.json(status, value, self.content_type)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self: Self) -> Self:
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
        self._thread.name = f"{type(self).__name__}-{self.port}"
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

    def __enter__(self: Self) -> Self:
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

    # -- test controls -----------------------------------------------------------------------

    def inject(
        self, fault: str, *, method: str | None = None, path: str | None = None, times: int = 1
    ) -> None:
        """Make the next ``times`` requests matching ``method``/``path`` fail with ``fault``.

        ``path`` is the exact request path; ``None`` matches anything. Faults are consumed in
        injection order: a request takes the first pending fault it matches. See
        :data:`FAULTS_BEFORE` and :data:`FAULTS_AFTER` for the names.
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

    def change_shape(
        self,
        rename: Mapping[str, str] | None = None,
        stringify: Iterable[str] = (),
        *,
        path: str | None = None,
    ) -> None:
        """Answer from now on in a changed shape (API drift): keys in ``rename`` renamed, the
        numbers of the keys in ``stringify`` (``"*"``: all) sent as strings, on the endpoints
        under ``path`` (default: all). No arguments: answer as the exchange does again."""
        change = ShapeChange.of(rename, stringify, path)
        self.shape_change = change if change.rename or change.stringify else None

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

    def _read(self, handler: _RequestHandler) -> Incoming:
        path, _, query = handler.path.partition("?")
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length).decode("utf-8", "replace") if length else ""
        request = Incoming(handler.command, path, query, body, handler.headers)
        request.params = self.request_params(request)
        return request

    def _serve(self, handler: _RequestHandler) -> None:
        request = self._read(handler)
        method, path = request.method, request.path
        with self.lock:
            self.requests.append(RecordedRequest(method, path, request.params))
            fault = self._take_fault(method, path)
        if fault in FAULTS_BEFORE:
            self._fail_before(handler, fault)
            return
        reply = self._process(request)
        if fault == "timeout_after_accept":
            self._stopping.wait(self.fault_delay)
            handler.close_connection = True
        elif fault == "reset_after_accept":
            self._reset(handler)
        elif fault == "truncated_json":
            self._send(handler, Reply(200, reply.body[: len(reply.body) // 2], reply.content_type))
        elif fault == "http_503_after_accept":
            self._send(handler, self.fault_response(fault))
        else:
            self._send(handler, reply)

    def _process(self, request: Incoming) -> Reply:
        """Run the exchange's handler under the lock; refusals and bugs become answers."""
        try:
            with self.lock:
                return reshaped(self.handle(request), request.path, self.shape_change)
        except ExchangeRefusal as exc:
            return exc.reply()
        except Exception as exc:  # a stand-in bug: answer like the exchange, keep the error
            self.errors.append(exc)
            traceback.print_exc(file=sys.stderr)
            return self.internal_error()

    def _send(self, handler: _RequestHandler, reply: Reply) -> None:
        handler.send_response(reply.status)
        handler.send_header("Content-Type", reply.content_type)
        handler.send_header("Content-Length", str(len(reply.body)))
        for name, value in {**self.response_headers(), **reply.headers}.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(reply.body)
        handler.wfile.flush()

    def _fail_before(self, handler: _RequestHandler, fault: str) -> None:
        if fault == "timeout_before":
            self._stopping.wait(self.fault_delay)
            handler.close_connection = True
        elif fault == "reset":
            self._reset(handler)
        elif fault in ("html_error", "html_error_200"):
            status = 502 if fault == "html_error" else 200
            self._send(handler, Reply(status, HTML_ERROR_PAGE.encode(), "text/html"))
        else:
            reply = self.fault_response(fault)
            if fault == "http_429":
                reply = dataclasses.replace(reply, headers={**reply.headers, "Retry-After": "1"})
            self._send(handler, reply)

    @staticmethod
    def _reset(handler: _RequestHandler) -> None:
        """Abort the connection: SO_LINGER 0 makes close() send a TCP RST."""
        handler.close_connection = True
        conn = handler.connection
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()


def fault_replies(
    bodies: Mapping[str, tuple[int, Any]], content_type: str = JSON_CONTENT_TYPE
) -> dict[str, Reply]:
    """JSON replies for the ``http_*`` faults from ``{fault: (status, body)}``. Unless given
    their own, the 429 without Retry-After answers like the 429, and the 503 after the request
    was processed like the 503."""
    replies = {
        fault: Reply.json(status, body, content_type) for fault, (status, body) in bodies.items()
    }
    replies.setdefault("http_429_no_retry_after", replies["http_429"])
    replies.setdefault("http_503_after_accept", replies["http_503"])
    return replies
