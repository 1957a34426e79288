"""The one error tree every broker raises, and the one place foreign exceptions are mapped to it.

A caller of any broker catches ``BrokerError`` (or a child) and never sees ccxt's, aiohttp's,
requests' or json's exceptions: :func:`map_exception` turns them into ours, keeping the
original as ``__cause__``. ``retryable`` says whether repeating the same call is safe *for
reads*; whether an order may be re-sent is decided in :mod:`brokers.retry`, never here.
"""

from __future__ import annotations

import json
from typing import Any

from brokers.redaction import redact


class BrokerError(Exception):
    """Root of every error a broker raises."""

    retryable: bool = False

    def __init__(self, message: str, *, broker: str | None = None) -> None:
        message = redact(message)  # a signed URL or a proxy password in a foreign message
        super().__init__(message)
        self.message = message
        self.broker = broker

    def __str__(self) -> str:
        return f"[{self.broker}] {self.message}" if self.broker else self.message


class ConfigError(BrokerError):
    """A broker config is unreadable, invalid or refers to a missing environment variable.

    ``path`` is the file, ``pointer`` the JSON pointer of the offending value (``""`` for the
    whole document), ``line``/``column`` where in the file it is, when known.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        pointer: str | None = None,
        line: int | None = None,
        column: int | None = None,
        broker: str | None = None,
    ) -> None:
        super().__init__(message, broker=broker)
        self.path = path
        self.pointer = pointer
        self.line = line
        self.column = column

    def __str__(self) -> str:
        where = self.path or "<config>"
        if self.line is not None:
            where += f":{self.line}:{self.column or 1}"
        if self.pointer is not None:
            where += f" {self.pointer or '/'}"
        return f"{where}: {self.message}"


class UnknownBrokerError(BrokerError, LookupError):
    """No broker of that name is registered."""


class NotConnectedError(BrokerError):
    """A method was called before ``connect()`` (or after ``disconnect()``)."""


class NotSupportedError(BrokerError):
    """The exchange has no way to do what was asked; nothing was sent."""


class InvalidSymbolError(BrokerError):
    """The symbol is not in the broker's supported pairs or not listed by the exchange."""


class InvalidRequestError(BrokerError):
    """The request was malformed or missing arguments; fix the call, do not retry it."""


class InvalidOrderError(BrokerError):
    """The exchange (or our pre-check) refused the order as specified."""


class DuplicateOrderError(InvalidOrderError):
    """An order with the same client order id already exists."""


class OrderNotFoundError(InvalidOrderError):
    """No order with that id exists (or it is no longer open, for cancels)."""


class InsufficientFundsError(BrokerError):
    """The account lacks the balance for the order."""


class AuthenticationError(BrokerError):
    """Credentials were refused: wrong key, bad signature, missing permission or clock skew."""


class ExchangeError(BrokerError):
    """The exchange answered with an error that has no more specific class."""


class BadResponseError(BrokerError):
    """The exchange's answer could not be understood (truncated JSON, an HTML page...)."""

    retryable = True


class BrokerConnectionError(BrokerError):
    """The request did not complete: connection refused or reset, DNS, TLS."""

    retryable = True


class RequestTimeoutError(BrokerConnectionError):
    """No answer in time. For orders the request may or may not have been executed."""


class ExchangeUnavailableError(BrokerConnectionError):
    """The exchange is down, in maintenance or answered 5xx."""


class InvalidNonceError(BrokerConnectionError):
    """The exchange refused the request's nonce or timestamp: reused, out of order, or outside
    its time window (a drifting clock). Nothing was executed, and a new attempt is signed with a
    fresh nonce, so it is retryable, as ccxt's ``InvalidNonce`` (a ``NetworkError``) is; if it
    persists, synchronise the clock (``scaffolder doctor`` measures the skew)."""


class RateLimitError(BrokerConnectionError):
    """Too many requests. ``retry_after`` is the server's hint in seconds, when it gave one."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, broker: str | None = None
    ) -> None:
        super().__init__(message, broker=broker)
        self.retry_after = retry_after


# ccxt class name -> our class, most specific first. Matching walks the exception's MRO, so a
# subclass ccxt adds later still maps through its parent, and a class maps by its position in
# ccxt's tree (``ccxt.base.errors.error_hierarchy``): whatever sits under ``OperationFailed``
# is retryable, whatever sits under ``ExchangeError`` is final.
_CCXT_MAP: dict[str, type[BrokerError]] = {
    "RateLimitExceeded": RateLimitError,
    "DDoSProtection": RateLimitError,
    "RequestTimeout": RequestTimeoutError,
    "OnMaintenance": ExchangeUnavailableError,
    "ExchangeNotAvailable": ExchangeUnavailableError,
    "InvalidNonce": InvalidNonceError,
    "NetworkError": BrokerConnectionError,
    "NullResponse": BadResponseError,
    "BadResponse": BadResponseError,
    "OperationFailed": BrokerConnectionError,
    "AuthenticationError": AuthenticationError,
    "InsufficientFunds": InsufficientFundsError,
    "OrderNotFound": OrderNotFoundError,
    "DuplicateOrderId": DuplicateOrderError,
    "InvalidOrder": InvalidOrderError,
    "BadSymbol": InvalidSymbolError,
    "NotSupported": NotSupportedError,
    "ArgumentsRequired": InvalidRequestError,
    "BadRequest": InvalidRequestError,
    "ExchangeError": ExchangeError,
    "BaseError": BrokerError,
}

_HTTP_STATUS_MAP: dict[int, type[BrokerError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    403: AuthenticationError,
    404: ExchangeError,
    408: RequestTimeoutError,
    418: RateLimitError,
    429: RateLimitError,
}


def error_for_status(status: int) -> type[BrokerError]:
    """The error class for an HTTP status the exchange answered with."""
    if status in _HTTP_STATUS_MAP:
        return _HTTP_STATUS_MAP[status]
    if status >= 500:
        return ExchangeUnavailableError
    return ExchangeError


def parse_retry_after(value: Any) -> float | None:
    """Seconds from a ``Retry-After`` header value (delta-seconds form), or None."""
    if value is None:
        return None
    try:
        seconds = float(str(value).strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def map_exception(
    exc: BaseException,
    *,
    broker: str | None = None,
    retry_after: float | None = None,
) -> BrokerError:
    """Return our error for a foreign exception, with ``exc`` chained as its ``__cause__``.

    Handles ccxt's tree (by class name along the MRO, so ccxt is not imported here; a generic
    ccxt network error that wraps another exception, as ccxt.pro's ``NetworkError(aiohttp
    error)`` does, maps as the wrapped one), aiohttp's client and WebSocket errors (by name
    too, so aiohttp is not imported either; a refused handshake maps by its HTTP status, with
    its ``Retry-After``), requests' exceptions, JSON decoding errors and timeouts. A
    ``BrokerError`` is returned unchanged.
    """
    if isinstance(exc, BrokerError):
        return exc
    error = _mapped(exc, broker, retry_after)
    error.__cause__ = exc
    return error


def _mapped(exc: BaseException, broker: str | None, retry_after: float | None) -> BrokerError:
    message = str(exc) or type(exc).__name__
    module = type(exc).__module__.split(".")[0]
    names = [klass.__name__ for klass in type(exc).__mro__]
    if module == "ccxt":
        target = next((_CCXT_MAP[name] for name in names if name in _CCXT_MAP), None)
        wrapped = exc.args[0] if exc.args else None
        if target in (None, BrokerError, BrokerConnectionError) and isinstance(
            wrapped, BaseException
        ):
            inner = _mapped(wrapped, broker, retry_after)
            if type(inner) is not BrokerError:  # else ccxt's own class says as much
                return inner
        if target is not None:
            return build_error(target, message, broker, retry_after)
    if module == "aiohttp":
        return _aiohttp_error(exc, names, message, broker, retry_after)
    if module in ("requests", "urllib3"):
        return build_error(_requests_target(exc), message, broker, retry_after)
    if isinstance(exc, json.JSONDecodeError):
        return BadResponseError(f"malformed JSON from the exchange: {message}", broker=broker)
    if "TimeoutError" in names:  # builtin, and asyncio's and concurrent.futures' before 3.11
        return RequestTimeoutError(message, broker=broker)
    if isinstance(exc, (ConnectionError, OSError)):
        return BrokerConnectionError(message, broker=broker)
    return BrokerError(f"{type(exc).__name__}: {message}", broker=broker)


# aiohttp class name -> our class, for the errors that carry no HTTP status; matched along the
# MRO like ccxt's, so aiohttp is never imported here.
_AIOHTTP_MAP: dict[str, type[BrokerError]] = {
    "ContentTypeError": BadResponseError,
    "ClientPayloadError": BadResponseError,
    "WebSocketError": BadResponseError,
    "WSMessageTypeError": BadResponseError,
    "InvalidURL": InvalidRequestError,
    "NonHttpUrlClientError": InvalidRequestError,
    "ServerTimeoutError": RequestTimeoutError,
    "ClientConnectionError": BrokerConnectionError,
    "ClientError": BrokerConnectionError,
}


def _aiohttp_error(
    exc: BaseException,
    names: list[str],
    message: str,
    broker: str | None,
    retry_after: float | None,
) -> BrokerError:
    """Our error for one of aiohttp's: a refused handshake or HTTP error by its status."""
    for name in names:
        if name == "ClientResponseError":
            return _aiohttp_response_error(exc, names, broker, retry_after)
        target = _AIOHTTP_MAP.get(name)
        if target is not None:
            return build_error(target, f"{type(exc).__name__}: {message}", broker, retry_after)
    return BrokerError(f"{type(exc).__name__}: {message}", broker=broker)


def _aiohttp_response_error(
    exc: BaseException, names: list[str], broker: str | None, retry_after: float | None
) -> BrokerError:
    status = getattr(exc, "status", None)
    request_info = getattr(exc, "request_info", None)
    url = getattr(request_info, "real_url", None) or getattr(request_info, "url", None)
    detail = getattr(exc, "message", "") or type(exc).__name__
    handshake = "WSServerHandshakeError" in names
    if isinstance(status, int) and status >= 400:
        if retry_after is None:
            headers = getattr(exc, "headers", None) or {}
            retry_after = parse_retry_after(headers.get("Retry-After"))
        if handshake:
            text = f"WebSocket handshake with {url} refused: HTTP {status} ({detail})"
        else:
            text = f"{url} answered HTTP {status} ({detail})"
        return build_error(error_for_status(status), text, broker, retry_after)
    # An answer that is not an error and still not what was expected: a server that does not
    # speak WebSocket there, a 3xx loop, an unexpected content type.
    what = "WebSocket handshake with" if handshake else "unexpected answer from"
    return BadResponseError(f"{what} {url} failed: {detail} (HTTP {status})", broker=broker)


def _requests_target(exc: BaseException) -> type[BrokerError]:
    names = {klass.__name__ for klass in type(exc).__mro__}
    response = getattr(exc, "response", None)
    if "HTTPError" in names and response is not None:
        return error_for_status(int(response.status_code))
    if names & {"Timeout", "ReadTimeout", "ConnectTimeout", "TimeoutError"}:
        return RequestTimeoutError
    if "JSONDecodeError" in names or "InvalidJSONError" in names:
        return BadResponseError
    if names & {"ConnectionError", "ProtocolError", "ChunkedEncodingError", "SSLError"}:
        return BrokerConnectionError
    return BrokerError


def build_error(
    target: type[BrokerError], message: str, broker: str | None, retry_after: float | None
) -> BrokerError:
    """An error of class ``target``; ``retry_after`` is kept when it is a RateLimitError."""
    if target is RateLimitError:
        return RateLimitError(message, retry_after=retry_after, broker=broker)
    return target(message, broker=broker)
