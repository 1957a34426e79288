"""Every ccxt, aiohttp and requests exception maps onto our tree, with the original as the cause."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys

import aiohttp
import ccxt
import pytest
import requests
from ccxt.base.errors import error_hierarchy
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from brokers import errors as e

CCXT_EXPECTED = {
    "BaseError": e.BrokerError,
    "ExchangeError": e.ExchangeError,
    "AuthenticationError": e.AuthenticationError,
    "PermissionDenied": e.AuthenticationError,
    "AccountNotEnabled": e.AuthenticationError,
    "AccountSuspended": e.AuthenticationError,
    "ArgumentsRequired": e.InvalidRequestError,
    "BadRequest": e.InvalidRequestError,
    "BadSymbol": e.InvalidSymbolError,
    "OperationRejected": e.ExchangeError,
    "NoChange": e.ExchangeError,
    "MarginModeAlreadySet": e.ExchangeError,
    "MarketClosed": e.ExchangeError,
    "ManualInteractionNeeded": e.ExchangeError,
    "RestrictedLocation": e.ExchangeError,
    "InsufficientFunds": e.InsufficientFundsError,
    "InvalidAddress": e.ExchangeError,
    "AddressPending": e.ExchangeError,
    "InvalidOrder": e.InvalidOrderError,
    "OrderNotFound": e.OrderNotFoundError,
    "OrderNotCached": e.InvalidOrderError,
    "OrderImmediatelyFillable": e.InvalidOrderError,
    "OrderNotFillable": e.InvalidOrderError,
    "DuplicateOrderId": e.DuplicateOrderError,
    "ContractUnavailable": e.InvalidOrderError,
    "NotSupported": e.NotSupportedError,
    "InvalidProxySettings": e.ExchangeError,
    "ExchangeClosedByUser": e.ExchangeError,
    "OperationFailed": e.BrokerConnectionError,
    "NetworkError": e.BrokerConnectionError,
    "DDoSProtection": e.RateLimitError,
    "RateLimitExceeded": e.RateLimitError,
    "ExchangeNotAvailable": e.ExchangeUnavailableError,
    "OnMaintenance": e.ExchangeUnavailableError,
    "InvalidNonce": e.InvalidNonceError,
    "ChecksumError": e.InvalidNonceError,
    "RequestTimeout": e.RequestTimeoutError,
    "BadResponse": e.BadResponseError,
    "NullResponse": e.BadResponseError,
    "CancelPending": e.BrokerConnectionError,
    "UnsubscribeError": e.BrokerError,
}


def _all_ccxt_errors() -> list[type[BaseException]]:
    seen, stack = [], [ccxt.BaseError]
    while stack:
        klass = stack.pop()
        if klass.__module__.startswith("ccxt") and klass not in seen:
            seen.append(klass)
            stack.extend(klass.__subclasses__())
    return seen


@pytest.mark.parametrize("klass", _all_ccxt_errors(), ids=lambda k: k.__name__)
def test_every_ccxt_exception_maps_to_its_broker_error(klass):
    mapped = e.map_exception(klass("boom"), broker="x")
    assert klass.__name__ in CCXT_EXPECTED, (
        f"new ccxt exception {klass.__name__}: decide its mapping"
    )
    assert type(mapped) is CCXT_EXPECTED[klass.__name__]
    assert mapped.broker == "x"
    assert "boom" in str(mapped)


def test_mapping_covers_all_of_ccxts_current_tree():
    assert {k.__name__ for k in _all_ccxt_errors()} == set(CCXT_EXPECTED)


def _hierarchy_paths(tree: dict, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every class of ccxt's ``error_hierarchy`` with the names above it, root first."""
    found = []
    for name, children in tree.items():
        found.append((*path, name))
        found.extend(_hierarchy_paths(children, (*path, name)))
    return found


@pytest.mark.parametrize("path", _hierarchy_paths(error_hierarchy), ids=lambda p: p[-1])
def test_retryable_follows_the_position_in_ccxts_tree(path):
    """Under OperationFailed (network, rate limit, nonce, bad answer) a call may be repeated;
    under ExchangeError (auth, invalid order, funds) it is final."""
    mapped = e.map_exception(getattr(ccxt, path[-1])("boom"))
    assert mapped.retryable is ("OperationFailed" in path), " > ".join(path)
    if "ExchangeError" in path:
        assert not isinstance(mapped, e.BrokerConnectionError)


def test_an_invalid_nonce_is_retried_not_a_final_authentication_error():
    for klass in (ccxt.InvalidNonce, ccxt.ChecksumError):
        mapped = e.map_exception(klass("nonce too small"))
        assert isinstance(mapped, e.InvalidNonceError) and mapped.retryable
        assert not isinstance(mapped, e.AuthenticationError)


def test_rate_limit_keeps_retry_after():
    mapped = e.map_exception(ccxt.RateLimitExceeded("slow down"), retry_after=3.0)
    assert isinstance(mapped, e.RateLimitError)
    assert mapped.retry_after == 3.0


def _http_error(status: int) -> requests.HTTPError:
    response = requests.Response()
    response.status_code = status
    return requests.HTTPError(f"{status} error", response=response)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (requests.Timeout("t"), e.RequestTimeoutError),
        (requests.ReadTimeout("t"), e.RequestTimeoutError),
        (requests.ConnectTimeout("t"), e.RequestTimeoutError),
        (requests.ConnectionError("reset"), e.BrokerConnectionError),
        (requests.exceptions.ChunkedEncodingError("cut"), e.BrokerConnectionError),
        (requests.exceptions.JSONDecodeError("x", "doc", 0), e.BadResponseError),
        (_http_error(429), e.RateLimitError),
        (_http_error(401), e.AuthenticationError),
        (_http_error(403), e.AuthenticationError),
        (_http_error(400), e.InvalidRequestError),
        (_http_error(502), e.ExchangeUnavailableError),
        (_http_error(503), e.ExchangeUnavailableError),
        (_http_error(418), e.RateLimitError),
        (json.JSONDecodeError("Expecting value", "<html>", 0), e.BadResponseError),
        (TimeoutError("t"), e.RequestTimeoutError),
        (ConnectionResetError("reset"), e.BrokerConnectionError),
        (ValueError("odd"), e.BrokerError),
    ],
)
def test_requests_and_stdlib_exceptions_map(exc, expected):
    mapped = e.map_exception(exc)
    assert type(mapped) is expected
    assert mapped.__cause__ is exc


WS_URL = "ws://127.0.0.1:9/ws/0"


def _handshake_refused(status: int, **headers: str) -> aiohttp.WSServerHandshakeError:
    """What aiohttp's ``ws_connect`` raises when the server answers ``status`` (not 101)."""
    info = aiohttp.RequestInfo(URL(WS_URL), "GET", CIMultiDictProxy(CIMultiDict()), URL(WS_URL))
    return aiohttp.WSServerHandshakeError(
        info,
        (),
        status=status,
        message="Invalid response status",
        headers=CIMultiDict({k.replace("_", "-"): v for k, v in headers.items()}),
    )


def _http_refused(status: int) -> aiohttp.ClientResponseError:
    url = URL("http://127.0.0.1:9/api/v3/ticker")
    info = aiohttp.RequestInfo(url, "GET", CIMultiDictProxy(CIMultiDict()), url)
    return aiohttp.ClientResponseError(info, (), status=status, message="Bad Gateway")


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (_handshake_refused(401), e.AuthenticationError),
        (_handshake_refused(403), e.AuthenticationError),
        (_handshake_refused(429), e.RateLimitError),
        (_handshake_refused(418), e.RateLimitError),
        (_handshake_refused(500), e.ExchangeUnavailableError),
        (_handshake_refused(503), e.ExchangeUnavailableError),
        (_handshake_refused(404), e.ExchangeError),
        (_handshake_refused(200), e.BadResponseError),  # answered, but no WebSocket there
        (_http_refused(502), e.ExchangeUnavailableError),
        (aiohttp.ServerDisconnectedError(), e.BrokerConnectionError),
        (aiohttp.ClientConnectionResetError("reset"), e.BrokerConnectionError),
        (aiohttp.ServerTimeoutError("Timeout on reading data from socket"), e.RequestTimeoutError),
        (aiohttp.ConnectionTimeoutError("Connection timeout"), e.RequestTimeoutError),
        (asyncio.TimeoutError(), e.RequestTimeoutError),
        (aiohttp.ClientPayloadError("Response payload is not completed"), e.BadResponseError),
        (
            aiohttp.WebSocketError(1002, "Received frame with non-zero reserved bits"),
            e.BadResponseError,
        ),
        (aiohttp.InvalidURL("ws//nowhere"), e.InvalidRequestError),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else "",
)
def test_aiohttp_exceptions_map_with_the_cause_chained(exc, expected):
    mapped = e.map_exception(exc, broker="x")
    assert type(mapped) is expected
    assert mapped.__cause__ is exc
    assert mapped.broker == "x"


def test_a_refused_handshake_names_the_url_and_status():
    mapped = e.map_exception(_handshake_refused(401))
    assert str(mapped) == (
        f"WebSocket handshake with {WS_URL} refused: HTTP 401 (Invalid response status)"
    )
    assert not mapped.retryable
    assert e.map_exception(_handshake_refused(503)).retryable


def test_a_rate_limited_handshake_keeps_the_servers_retry_after():
    mapped = e.map_exception(_handshake_refused(429, Retry_After="7"))
    assert isinstance(mapped, e.RateLimitError) and mapped.retry_after == 7.0
    assert e.map_exception(_handshake_refused(429)).retry_after is None
    given = e.map_exception(_handshake_refused(429, Retry_After="7"), retry_after=2.0)
    assert given.retry_after == 2.0


def test_a_refused_connection_is_a_connection_error():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def connect() -> None:
        async with aiohttp.ClientSession() as session:
            await session.ws_connect(f"ws://127.0.0.1:{port}/ws")

    with pytest.raises(aiohttp.ClientConnectorError) as info:
        asyncio.run(connect())
    mapped = e.map_exception(info.value)
    assert type(mapped) is e.BrokerConnectionError and mapped.retryable
    assert f"127.0.0.1:{port}" in str(mapped) and mapped.__cause__ is info.value


def test_ccxt_pros_wrapped_aiohttp_errors_map_as_what_they_wrap():
    wrapper = ccxt.NetworkError(_handshake_refused(401))  # how ccxt.pro reports a failed dial
    mapped = e.map_exception(wrapper)
    assert type(mapped) is e.AuthenticationError and "HTTP 401" in str(mapped)
    assert mapped.__cause__ is wrapper
    # A wrapped exception we know nothing about, or a ccxt class that says more, wins over it.
    assert type(e.map_exception(ccxt.NetworkError(ValueError("odd")))) is e.BrokerConnectionError
    unavailable = ccxt.ExchangeNotAvailable(aiohttp.ServerDisconnectedError())
    assert type(e.map_exception(unavailable)) is e.ExchangeUnavailableError


def test_importing_errors_loads_neither_aiohttp_nor_ccxt():
    code = "import sys, brokers.errors; print(sorted({'aiohttp', 'ccxt'} & set(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True
    )
    assert result.stdout.strip() == "[]", result.stderr[-2000:]


def test_broker_errors_pass_through_unchanged():
    original = e.OrderNotFoundError("gone")
    assert e.map_exception(original) is original


def test_retryable_flags_separate_transient_from_final_errors():
    assert e.RateLimitError("x").retryable and e.RequestTimeoutError("x").retryable
    assert e.ExchangeUnavailableError("x").retryable and e.BadResponseError("x").retryable
    for final in (
        e.AuthenticationError,
        e.InvalidOrderError,
        e.InsufficientFundsError,
        e.OrderNotFoundError,
    ):
        assert not final("x").retryable


@pytest.mark.parametrize(
    ("value", "seconds"), [("3", 3.0), (" 1.5 ", 1.5), ("soon", None), (None, None), ("-1", None)]
)
def test_parse_retry_after(value, seconds):
    assert e.parse_retry_after(value) == seconds


def test_config_error_reads_as_file_line_pointer_message():
    error = e.ConfigError("must be a boolean", path="c.json", pointer="/enabled", line=3, column=5)
    assert str(error) == "c.json:3:5 /enabled: must be a boolean"
