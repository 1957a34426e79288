"""Every ccxt and requests exception maps onto our tree, with the original kept as the cause."""

from __future__ import annotations

import json

import ccxt
import pytest
import requests

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
    "InvalidNonce": e.AuthenticationError,
    "ChecksumError": e.AuthenticationError,
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
    assert type(e.map_exception(exc)) is expected


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
