"""The Gemini stand-in, driven by real ccxt and by raw HTTP signed as Gemini's docs say.

Every test gets a fresh stand-in on a free loopback port. Gemini's private API takes every
parameter in a base64 JSON payload header signed with HMAC-SHA384; :func:`private_post` builds
such requests by hand, so the checks are tested independently of ccxt's signing code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import ccxt
import pytest
import requests

from scaffolder.standin.gemini import GeminiStandIn

API_KEY = "account-CANARY-GEMINI-KEY-0000"
SECRET = "CANARY-GEMINI-SECRET-0000"


def make_exchange(standin: GeminiStandIn, *, secret: str = SECRET, **config: Any) -> ccxt.gemini:
    """A real ccxt gemini client in sandbox mode, pointed at ``standin``."""
    exchange = ccxt.gemini(
        {"apiKey": API_KEY, "secret": secret, "enableRateLimit": False, "timeout": 2000, **config}
    )
    standin.configure_ccxt(exchange)
    return exchange


#: Nonces of hand-made requests: above anything ccxt's millisecond nonces reach in a test.
_nonces = itertools.count(int(time.time() * 1000) * 1000)


def private_post(
    standin: GeminiStandIn,
    path: str,
    fields: dict[str, Any] | None = None,
    *,
    request: str | None = None,
    nonce: int | None = None,
    secret: str = SECRET,
    headers: dict[str, str] | None = None,
) -> requests.Response:
    """A private call as Gemini's docs describe it: empty body, everything in the payload."""
    document = {"request": request or path, "nonce": next(_nonces) if nonce is None else nonce}
    payload = base64.b64encode(json.dumps({**document, **(fields or {})}).encode()).decode()
    signature = hmac.new(secret.encode(), payload.encode(), hashlib.sha384).hexdigest()
    signed = {
        "Content-Type": "text/plain",
        "X-GEMINI-APIKEY": API_KEY,
        "X-GEMINI-PAYLOAD": payload,
        "X-GEMINI-SIGNATURE": signature,
    }
    return requests.post(
        f"{standin.url}{path}", headers=signed if headers is None else headers, timeout=5
    )


def error_of(response: requests.Response) -> tuple[int, str]:
    """Status and ``reason`` of a Gemini error answer (checking its shape)."""
    body = response.json()
    assert set(body) == {"result", "reason", "message"} and body["result"] == "error", body
    return response.status_code, body["reason"]


@pytest.fixture
def standin() -> Iterator[GeminiStandIn]:
    with GeminiStandIn(API_KEY, SECRET, fault_delay=1.0) as server:
        yield server
    assert server.errors == []


@pytest.fixture
def exchange(standin: GeminiStandIn) -> ccxt.gemini:
    exchange = make_exchange(standin)
    exchange.load_markets()
    return exchange


# -- what ccxt uses -----------------------------------------------------------------------------


def test_markets_come_from_the_symbol_list_and_the_web_pages_trading_pairs(
    standin: GeminiStandIn,
) -> None:
    markets = make_exchange(standin).load_markets()

    assert [(r.method, r.path) for r in standin.requests] == [("GET", "/"), ("GET", "/v1/symbols")]
    assert set(markets) == {"BTC/USD", "ETH/USD", "BTC/USDT", "ETH/USDT"}
    btc = markets["BTC/USDT"]
    assert btc["id"] == "btcusdt" and btc["spot"]
    # the two precisions the stand-in serves (some ccxt versions list more keys, as None)
    assert (btc["precision"]["price"], btc["precision"]["amount"]) == (0.01, 1e-08)
    assert btc["limits"]["amount"]["min"] == 0.00001
    assert markets["ETH/USD"]["precision"]["amount"] == 1e-06


def test_ticker_and_candles(standin: GeminiStandIn, exchange: ccxt.gemini) -> None:
    ticker = exchange.fetch_ticker("BTC/USDT")
    raw = requests.get(f"{standin.url}/v1/pubticker/btcusdt", timeout=5).json()
    candles = exchange.fetch_ohlcv("BTC/USDT", "1h", limit=24)
    raw_candles = requests.get(f"{standin.url}/v2/candles/btcusdt/1hr", timeout=5).json()

    assert (ticker["last"], ticker["bid"], ticker["ask"]) == (60000.0, 60000.0, 60000.01)
    assert set(raw) == {"bid", "ask", "volume", "last"} and set(raw["volume"]) == {
        "BTC",
        "USDT",
        "timestamp",
    }
    assert ticker["baseVolume"] == 1200.0
    assert raw_candles[0][0] > raw_candles[1][0], "Gemini answers newest first"
    assert all(len(row) == 6 for row in raw_candles)
    assert len(candles) == 24
    assert all(b[0] - a[0] == 3_600_000 for a, b in itertools.pairwise(candles))
    for _, open_, high, low, close, volume in candles:
        assert low <= min(open_, close) <= max(open_, close) <= high and volume > 0
    with GeminiStandIn(API_KEY, SECRET) as other:
        assert make_exchange(other).fetch_ohlcv("BTC/USDT", "1h", limit=24) == candles


def test_balances_and_the_signed_request(standin: GeminiStandIn, exchange: ccxt.gemini) -> None:
    balance = exchange.fetch_balance()

    assert balance["total"] == {"BTC": 10.0, "ETH": 100.0, "USD": 10000.0, "USDT": 10000.0}
    assert balance["info"][0] == {
        "type": "exchange",
        "currency": "BTC",
        "amount": "10",
        "available": "10",
        "availableForWithdrawal": "10",
    }
    method, path, params = standin.requests[-1]
    assert (method, path) == ("POST", "/v1/balances")
    assert params["request"] == "/v1/balances" and int(params["nonce"]) == standin.last_nonce
    assert exchange.last_request_headers["X-GEMINI-APIKEY"] == API_KEY


def test_limit_order_lifecycle(standin: GeminiStandIn, exchange: ccxt.gemini) -> None:
    order = exchange.create_order(
        "BTC/USDT", "limit", "buy", 0.01, 30000, {"clientOrderId": "CANARY-order-1"}
    )
    assert (order["status"], order["clientOrderId"], order["price"]) == (
        "open",
        "CANARY-order-1",
        30000.0,
    )
    assert standin.balance("USDT") == (Decimal(9700), Decimal(10000))
    assert exchange.fetch_order(order["id"], "BTC/USDT")["status"] == "open"
    assert [o["id"] for o in exchange.fetch_open_orders("BTC/USDT")] == [order["id"]]
    by_client_id = exchange.privatePostV1OrderStatus({"client_order_id": "CANARY-order-1"})
    assert by_client_id["order_id"] == order["id"]

    cancelled = exchange.cancel_order(order["id"], "BTC/USDT")
    assert cancelled["status"] == "canceled" and cancelled["info"]["reason"] == "Requested"
    assert exchange.fetch_open_orders("BTC/USDT") == []
    assert standin.balance("USDT") == (Decimal(10000), Decimal(10000))
    assert exchange.cancel_order(order["id"], "BTC/USDT")["status"] == "canceled"
    assert standin.orders_created == 1


def test_crossing_orders_fill_and_maker_or_cancel_is_cancelled(
    standin: GeminiStandIn, exchange: ccxt.gemini
) -> None:
    filled = exchange.create_order("BTC/USDT", "limit", "buy", 0.01, 61000)
    refused = exchange.create_order("BTC/USDT", "limit", "buy", 0.01, 61000, {"postOnly": True})
    standin.set_price("btcusdt", "59000")
    resting = exchange.create_order("BTC/USDT", "limit", "sell", 0.01, 59500)
    standin.set_price("btcusdt", "59600")

    assert (filled["status"], filled["average"], filled["filled"]) == ("closed", 60000.01, 0.01)
    assert refused["status"] == "canceled" and refused["filled"] == 0
    assert exchange.fetch_order(resting["id"])["status"] == "closed"
    assert standin.balance("BTC")[1] == Decimal(10)  # bought 0.01, sold 0.01
    assert standin.orders_created == 3


def test_order_errors_have_geminis_reasons_and_statuses(
    standin: GeminiStandIn, exchange: ccxt.gemini
) -> None:
    with pytest.raises(ccxt.InsufficientFunds):
        exchange.create_order("BTC/USDT", "limit", "buy", 1, 30000)  # 30000 USDT > 10000
    with pytest.raises(ccxt.OrderNotFound, match="999999999"):
        exchange.fetch_order("999999999", "BTC/USDT")
    with pytest.raises(ccxt.OrderNotFound):
        exchange.cancel_order("999999999", "BTC/USDT")
    order = {"symbol": "btcusdt", "side": "buy", "type": "exchange limit", "price": "30000.00"}
    assert error_of(private_post(standin, "/v1/order/new", {**order, "amount": "1"})) == (
        406,
        "InsufficientFunds",
    )
    assert error_of(private_post(standin, "/v1/order/new", {**order, "amount": "0.000001"})) == (
        400,
        "InvalidQuantity",
    )
    assert error_of(
        private_post(standin, "/v1/order/new", {**order, "amount": "0.01", "price": "1.001"})
    ) == (400, "InvalidPrice")
    assert error_of(private_post(standin, "/v1/order/new", {**order, "symbol": "nope"})) == (
        400,
        "InvalidSymbol",
    )
    assert error_of(private_post(standin, "/v1/order/status", {"order_id": 5})) == (
        404,
        "OrderNotFound",
    )
    assert error_of(requests.get(f"{standin.url}/v1/nothing", timeout=5)) == (
        404,
        "EndpointNotFound",
    )
    assert standin.orders_created == 0


# -- authentication, as Gemini checks it --------------------------------------------------------


def test_a_bad_signature_or_key_is_refused_like_gemini(
    standin: GeminiStandIn, exchange: ccxt.gemini
) -> None:
    with pytest.raises(ccxt.AuthenticationError, match="InvalidSignature"):
        make_exchange(standin, secret="CANARY-WRONG-SECRET").fetch_balance()
    assert error_of(private_post(standin, "/v1/balances", secret="CANARY-WRONG")) == (
        400,
        "InvalidSignature",
    )
    good = private_post(standin, "/v1/balances")
    assert good.status_code == 200
    wrong_key = {**dict(good.request.headers), "X-GEMINI-APIKEY": "account-CANARY-OTHER"}
    assert error_of(requests.post(f"{standin.url}/v1/balances", headers=wrong_key, timeout=5)) == (
        400,
        "InvalidApiKey",
    )
    for header, reason in [
        ("X-GEMINI-APIKEY", "MissingApikeyHeader"),
        ("X-GEMINI-PAYLOAD", "MissingPayloadHeader"),
        ("X-GEMINI-SIGNATURE", "MissingSignatureHeader"),
    ]:
        headers = {k: v for k, v in good.request.headers.items() if k != header}
        answer = requests.post(f"{standin.url}/v1/balances", headers=headers, timeout=5)
        assert error_of(answer) == (400, reason)


def test_the_payload_must_name_the_endpoint_it_is_sent_to(standin: GeminiStandIn) -> None:
    misdirected = private_post(standin, "/v1/orders", request="/v1/balances")
    assert error_of(misdirected) == (400, "EndpointMismatch")


def test_a_nonce_that_does_not_increase_is_refused(
    standin: GeminiStandIn, exchange: ccxt.gemini
) -> None:
    assert private_post(standin, "/v1/balances", nonce=5_000).status_code == 200
    for stale in (5_000, 4_999):
        answer = private_post(standin, "/v1/balances", nonce=stale)
        assert error_of(answer) == (400, "InvalidNonce")
        assert f"Nonce '{stale}' has not increased" in answer.json()["message"]
    assert private_post(standin, "/v1/balances", nonce=5_001).status_code == 200

    replayer = make_exchange(standin)
    replayer.nonce = lambda: 1
    with pytest.raises(ccxt.InvalidNonce, match="has not increased"):
        replayer.fetch_balance()
    assert standin.last_nonce == 5_001, "refused requests do not move the nonce"


def test_a_post_body_is_ignored_parameters_come_from_the_payload(
    standin: GeminiStandIn,
) -> None:
    good = private_post(standin, "/v1/order/status", {"order_id": 1})
    assert error_of(good) == (404, "OrderNotFound")
    replay = requests.post(
        f"{standin.url}/v1/balances",
        data=json.dumps({"request": "/v1/balances", "nonce": 1}),
        headers={"X-GEMINI-APIKEY": API_KEY},
        timeout=5,
    )
    assert error_of(replay) == (400, "MissingPayloadHeader")


# -- injected faults answer with Gemini's bodies ------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "status", "reason", "error"),
    [
        ("http_429", 429, "RateLimit", ccxt.RateLimitExceeded),
        ("http_500", 500, "System", ccxt.ExchangeError),
        ("http_502", 502, "System", ccxt.ExchangeError),
        ("http_503", 503, "Maintenance", ccxt.OnMaintenance),
    ],
)
def test_http_faults_answer_like_gemini(
    standin: GeminiStandIn,
    exchange: ccxt.gemini,
    fault: str,
    status: int,
    reason: str,
    error: type[Exception],
) -> None:
    standin.inject(fault, path="/v1/balances", times=2)
    assert error_of(private_post(standin, "/v1/balances")) == (status, reason)
    with pytest.raises(error):
        exchange.fetch_balance()
    assert standin.pending_faults() == []


def test_a_lost_order_answer_leaves_the_order_to_be_found(
    standin: GeminiStandIn, exchange: ccxt.gemini
) -> None:
    standin.fault_delay = 2.5
    standin.inject("timeout_after_accept", path="/v1/order/new")
    hurried = make_exchange(standin, timeout=300)
    with pytest.raises(ccxt.RequestTimeout):
        hurried.create_order("BTC/USDT", "limit", "buy", 0.01, 30000, {"clientOrderId": "lost"})
    assert [o["clientOrderId"] for o in exchange.fetch_open_orders("BTC/USDT")] == ["lost"]
    assert standin.orders_created == 1
