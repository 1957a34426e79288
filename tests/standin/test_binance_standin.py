"""The Binance spot stand-in, driven by real ccxt (and by raw HTTP where ccxt cannot go).

Every test gets a fresh stand-in on a free loopback port. The ccxt client uses a short timeout
(``CLIENT_TIMEOUT_MS``) and the stand-in holds timed-out connections for ``FAULT_DELAY``
seconds, so the timeout faults cost a fraction of a second each.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import ccxt
import pytest
import requests

from scaffolder.standin import CCXT_OPTIONS, FAULTS, BinanceStandIn, SymbolSpec

API_KEY = "CANARY-API-KEY-0000"
SECRET = "CANARY-SECRET-0000"
CLIENT_TIMEOUT_MS = 300
FAULT_DELAY = 1.0
FIXED_NOW = 1_700_000_000_000
ROOT = Path(__file__).resolve().parents[2]


def make_exchange(
    standin: BinanceStandIn, *, api_key: str = API_KEY, secret: str = SECRET, **config: Any
) -> ccxt.binance:
    """A real ccxt binance client in sandbox mode, pointed at ``standin``."""
    exchange = ccxt.binance(
        {
            "apiKey": api_key,
            "secret": secret,
            "enableRateLimit": False,
            "timeout": CLIENT_TIMEOUT_MS,
            "options": dict(CCXT_OPTIONS),
            **config,
        }
    )
    standin.configure_ccxt(exchange)
    return exchange


def calls(standin: BinanceStandIn, since: int = 0) -> list[tuple[str, str]]:
    """``(method, path)`` of the requests the stand-in received from index ``since`` on."""
    return [(r.method, r.path) for r in standin.requests[since:]]


def signed_request(
    standin: BinanceStandIn,
    method: str,
    path: str,
    query: dict[str, Any],
    body: dict[str, Any] | None = None,
    *,
    secret: str = SECRET,
    headers: dict[str, str] | None = None,
    glue: str = "",
) -> requests.Response:
    """Sign like Binance's docs: HMAC of query string + ``glue`` + body; signature in the query."""
    query_string = urlencode({**query, "timestamp": int(time.time() * 1000)})
    body_string = urlencode(body or {})
    total_params = query_string + (glue + body_string if body_string else "")
    signature = hmac.new(secret.encode(), total_params.encode(), hashlib.sha256).hexdigest()
    return requests.request(
        method,
        f"{standin.url}{path}?{query_string}&signature={signature}",
        data=body_string or None,
        headers={"X-MBX-APIKEY": API_KEY} if headers is None else headers,
        timeout=5,
    )


@pytest.fixture
def standin() -> Iterator[BinanceStandIn]:
    with BinanceStandIn(API_KEY, SECRET, fault_delay=FAULT_DELAY) as server:
        yield server
    assert server.errors == []


@pytest.fixture
def exchange(standin: BinanceStandIn) -> ccxt.binance:
    exchange = make_exchange(standin)
    exchange.load_markets()
    return exchange


def place_limit_buy(exchange: ccxt.binance, client_id: str = "CANARY-order-1") -> dict[str, Any]:
    return exchange.create_order(
        "BTC/USDT", "limit", "buy", 0.01, 50000, {"clientOrderId": client_id}
    )


# -- endpoints ccxt uses ------------------------------------------------------------------------


def test_load_markets_needs_only_spot_exchange_info(standin: BinanceStandIn) -> None:
    markets = make_exchange(standin).load_markets()

    assert calls(standin) == [("GET", "/api/v3/exchangeInfo")]
    assert set(markets) == {"BTC/USDT", "ETH/USDT", "BNB/USDT"}
    btc = markets["BTC/USDT"]
    assert btc["spot"] and btc["active"]
    assert btc["precision"]["price"] == 0.01 and btc["precision"]["amount"] == 0.00001
    assert btc["limits"]["cost"]["min"] == 5.0
    assert btc["limits"]["amount"] == {"min": 0.00001, "max": 9000.0}


def test_other_ccxt_apis_stay_on_the_standin(standin: BinanceStandIn) -> None:
    exchange = make_exchange(standin)
    assert all(url.startswith(standin.url) for url in exchange.urls["api"].values())
    with pytest.raises(ccxt.OperationFailed, match="not served by the stand-in"):
        exchange.fapiPublicGetExchangeInfo()
    assert calls(standin) == [("GET", "/unsupported/fapiPublic/exchangeInfo")]
    bad = requests.get(
        f"{standin.url}/api/v3/account?timestamp=1&signature=%FF%FE",
        headers={"X-MBX-APIKEY": API_KEY},
        timeout=5,
    )
    assert bad.json()["code"] == -1022  # odd bytes in a signature: an error, not a crash


def test_public_market_data(standin: BinanceStandIn, exchange: ccxt.binance) -> None:
    mark = len(standin.requests)
    assert abs(exchange.fetch_time() - time.time() * 1000) < 5000
    ticker = exchange.fetch_ticker("BTC/USDT")
    book = exchange.fetch_order_book("ETH/USDT", limit=5)
    exchange.fetch_bids_asks(["BTC/USDT"])
    exchange.fetch_last_prices()

    assert (ticker["last"], ticker["bid"], ticker["ask"]) == (60000.0, 60000.0, 60000.01)
    assert book["bids"][0] == [3000.0, 0.01] and book["asks"][0] == [3000.01, 0.01]
    assert calls(standin, mark) == [
        ("GET", "/api/v3/time"),
        ("GET", "/api/v3/ticker/24hr"),
        ("GET", "/api/v3/depth"),
        ("GET", "/api/v3/ticker/bookTicker"),
        ("GET", "/api/v3/ticker/price"),
    ]


def test_ohlcv_is_deterministic_and_well_formed(
    standin: BinanceStandIn, exchange: ccxt.binance
) -> None:
    since = FIXED_NOW + 1  # not aligned: the first candle opens at the next full hour
    candles = exchange.fetch_ohlcv("BTC/USDT", "1h", since=since, limit=24)

    assert standin.requests[-1].path == "/api/v3/klines"
    assert len(candles) == 24
    assert candles[0][0] == (since // 3_600_000 + 1) * 3_600_000
    assert all(b[0] - a[0] == 3_600_000 for a, b in itertools.pairwise(candles))
    assert all(a[4] == b[1] for a, b in itertools.pairwise(candles))  # close -> open
    for _, open_, high, low, close, volume in candles:
        assert low <= min(open_, close) <= max(open_, close) <= high
        assert 0.98 * 60000 <= open_ <= 1.02 * 60000 and volume > 0
    assert exchange.fetch_ohlcv("BTC/USDT", "1h", since=since, limit=24) == candles
    with BinanceStandIn(API_KEY, SECRET) as other:
        assert make_exchange(other).fetch_ohlcv("BTC/USDT", "1h", since, 24) == candles


def test_balance_and_signed_request_shape(standin: BinanceStandIn, exchange: ccxt.binance) -> None:
    balance = exchange.fetch_balance()

    assert balance["total"] == {"BTC": 10.0, "ETH": 100.0, "USDT": 10000.0, "BNB": 0.0}
    method, path, params = standin.requests[-1]
    assert (method, path) == ("GET", "/api/v3/account")
    assert {"timestamp", "recvWindow", "signature"} <= set(params)
    assert exchange.last_request_headers["X-MBX-APIKEY"] == API_KEY


def test_limit_order_lifecycle(standin: BinanceStandIn, exchange: ccxt.binance) -> None:
    mark = len(standin.requests)
    order = place_limit_buy(exchange)

    # ccxt signs POSTs in the form body, not the query string.
    assert "?" not in exchange.last_request_url
    assert "signature=" in exchange.last_request_body
    assert order["status"] == "open" and order["clientOrderId"] == "CANARY-order-1"
    assert (order["price"], order["amount"], order["filled"]) == (50000.0, 0.01, 0.0)
    assert standin.balance("USDT") == (Decimal(9500), Decimal(500))

    assert exchange.fetch_order(order["id"], "BTC/USDT")["status"] == "open"
    by_client_id = exchange.fetch_order(None, "BTC/USDT", {"origClientOrderId": "CANARY-order-1"})
    assert by_client_id["id"] == order["id"]
    assert [o["id"] for o in exchange.fetch_open_orders("BTC/USDT")] == [order["id"]]

    cancelled = exchange.cancel_order(order["id"], "BTC/USDT")
    assert cancelled["status"] == "canceled"
    assert exchange.fetch_open_orders("BTC/USDT") == []
    assert standin.balance("USDT") == (Decimal(10000), Decimal(0))
    assert standin.orders_created == 1
    assert calls(standin, mark) == [
        ("POST", "/api/v3/order"),
        ("GET", "/api/v3/order"),
        ("GET", "/api/v3/order"),
        ("GET", "/api/v3/openOrders"),
        ("DELETE", "/api/v3/order"),
        ("GET", "/api/v3/openOrders"),
    ]


def test_market_orders_fill_at_once(standin: BinanceStandIn, exchange: ccxt.binance) -> None:
    buy = exchange.create_order("BTC/USDT", "market", "buy", 0.01)
    sell = exchange.create_order("ETH/USDT", "market", "sell", 0.5)
    quote_buy = exchange.create_order("BTC/USDT", "market", "buy", None, None, {"cost": 100})

    assert (buy["status"], buy["filled"], buy["average"]) == ("closed", 0.01, 60000.01)
    assert (sell["status"], sell["cost"], sell["average"]) == ("closed", 1500.0, 3000.0)
    assert quote_buy["filled"] == 0.00166  # 100 USDT / ask, floored to the LOT_SIZE step
    assert standin.balance("ETH") == (Decimal("99.5"), Decimal(0))
    assert standin.orders_created == 3
    trades = exchange.fetch_my_trades("BTC/USDT")
    assert [t["order"] for t in trades] == [buy["id"], quote_buy["id"]]
    assert [o["status"] for o in exchange.fetch_orders("BTC/USDT")] == ["closed", "closed"]


def test_price_move_fills_resting_order(standin: BinanceStandIn, exchange: ccxt.binance) -> None:
    order = place_limit_buy(exchange)
    standin.set_price("BTCUSDT", "49999.00")

    filled = exchange.fetch_order(order["id"], "BTC/USDT")
    assert (filled["status"], filled["filled"], filled["average"]) == ("closed", 0.01, 50000.0)
    assert standin.balance("BTC") == (Decimal("10.01"), Decimal(0))
    assert standin.balance("USDT") == (Decimal(9500), Decimal(0))


def test_custom_symbols_and_balances() -> None:
    doge = SymbolSpec("DOGEUSDT", "DOGE", "USDT", Decimal("0.1"), tick_size=Decimal("0.0001"))
    with BinanceStandIn(API_KEY, SECRET, symbols=[doge], balances={"USDT": 50}) as standin:
        exchange = make_exchange(standin)
        assert list(exchange.load_markets()) == ["DOGE/USDT"]
        assert exchange.fetch_balance()["total"] == {"USDT": 50.0, "DOGE": 0.0}


# -- errors ccxt maps ---------------------------------------------------------------------------


def test_wrong_credentials_are_authentication_errors(
    standin: BinanceStandIn, exchange: ccxt.binance
) -> None:
    with pytest.raises(ccxt.AuthenticationError, match="-1022"):
        make_exchange(standin, secret="CANARY-WRONG-SECRET").fetch_balance()
    with pytest.raises(ccxt.AuthenticationError, match="-2015"):
        make_exchange(standin, api_key="CANARY-WRONG-KEY").fetch_balance()

    missing_key = signed_request(standin, "GET", "/api/v3/account", {}, headers={})
    assert missing_key.status_code == 401 and missing_key.json()["code"] == -2014
    wrong_key = signed_request(standin, "GET", "/api/v3/account", {}, headers={"X-MBX-APIKEY": "x"})
    assert wrong_key.status_code == 401 and wrong_key.json()["code"] == -2015


def test_signature_covers_query_string_then_body(standin: BinanceStandIn) -> None:
    query = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
    body = {"quantity": "0.01", "price": "50000", "newClientOrderId": "CANARY-mixed"}
    # Binance: totalParams = query string concatenated with the body, no "&" in between.

    accepted = signed_request(standin, "POST", "/api/v3/order", query, body)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["clientOrderId"] == "CANARY-mixed"

    query["newClientOrderId"] = "CANARY-mixed-2"
    rejected = signed_request(standin, "POST", "/api/v3/order", query, body, glue="&")
    assert rejected.status_code == 400 and rejected.json()["code"] == -1022
    assert standin.orders_created == 1


def test_timestamp_rules(standin: BinanceStandIn, exchange: ccxt.binance) -> None:
    stale = make_exchange(standin)
    stale.nonce = lambda: int(time.time() * 1000) - 20_000  # ccxt sends recvWindow=10000
    with pytest.raises(ccxt.InvalidNonce, match="outside of the recvWindow"):
        stale.fetch_balance()

    ahead = make_exchange(standin)
    ahead.nonce = lambda: int(time.time() * 1000) + 5_000
    with pytest.raises(ccxt.InvalidNonce, match="ahead of the server"):
        ahead.fetch_balance()

    with pytest.raises(ccxt.BadRequest, match="-1131"):
        exchange.fetch_balance({"recvWindow": 70_000})
    missing = requests.get(f"{standin.url}/api/v3/account", headers={"X-MBX-APIKEY": API_KEY})
    assert missing.status_code == 400 and missing.json()["code"] == -1102


def test_order_errors(standin: BinanceStandIn, exchange: ccxt.binance) -> None:
    with pytest.raises(ccxt.InsufficientFunds):
        exchange.create_order("BTC/USDT", "limit", "buy", 1, 50000)  # 50000 USDT > 10000
    with pytest.raises(ccxt.InsufficientFunds):
        exchange.create_order("BNB/USDT", "market", "sell", 1)  # 0 BNB
    with pytest.raises(ccxt.OrderNotFound, match="-2013"):
        exchange.fetch_order("999", "BTC/USDT")
    with pytest.raises(ccxt.OrderNotFound, match="-2011"):
        exchange.cancel_order("999", "BTC/USDT")
    with pytest.raises(ccxt.BadRequest, match="NOTIONAL"):
        exchange.create_order("BTC/USDT", "limit", "buy", 0.00001, 50000)
    with pytest.raises(ccxt.OrderImmediatelyFillable):
        exchange.create_order("BTC/USDT", "limit", "buy", 0.001, 70000, {"postOnly": True})
    assert standin.orders_created == 0

    place_limit_buy(exchange, "CANARY-dup")
    with pytest.raises(ccxt.InvalidOrder, match="Duplicate order sent"):
        place_limit_buy(exchange, "CANARY-dup")
    assert standin.orders_created == 1


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        ({"quantity": "0.000015", "price": "50000"}, -1013, "Filter failure: LOT_SIZE"),
        ({"quantity": "0.01", "price": "50000.005"}, -1013, "Filter failure: PRICE_FILTER"),
        ({"quantity": "0.0001", "price": "100"}, -1013, "Filter failure: NOTIONAL"),
        ({"quantity": "abc", "price": "100"}, -1100, "Illegal characters"),
        ({"price": "100"}, -1102, "'quantity'"),
    ],
)
def test_filter_and_parameter_failures(
    standin: BinanceStandIn, extra: dict[str, str], code: int, message: str
) -> None:
    query = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", **extra}
    response = signed_request(standin, "POST", "/api/v3/order", query)
    assert response.status_code == 400
    assert response.json()["code"] == code and message in response.json()["msg"]
    assert standin.orders_created == 0


# -- injected faults ----------------------------------------------------------------------------

ORDER = {"method": "POST", "path": "/api/v3/order"}
FAULT_CASES: list[tuple[str, type[Exception], int]] = [
    ("timeout_before", ccxt.RequestTimeout, 0),
    ("reset", ccxt.NetworkError, 0),
    ("http_429", ccxt.DDoSProtection, 0),
    ("http_429_no_retry_after", ccxt.DDoSProtection, 0),
    ("http_500", ccxt.OperationFailed, 0),
    ("http_502", ccxt.OperationFailed, 0),
    ("http_503", ccxt.OperationFailed, 0),
    ("html_error", ccxt.ExchangeNotAvailable, 0),
    ("timeout_after_accept", ccxt.RequestTimeout, 1),
    ("reset_after_accept", ccxt.NetworkError, 1),
    ("http_503_after_accept", ccxt.RequestTimeout, 1),
]


@pytest.mark.parametrize(("fault", "error", "created"), FAULT_CASES)
def test_fault_on_create_order(
    standin: BinanceStandIn,
    exchange: ccxt.binance,
    fault: str,
    error: type[Exception],
    created: int,
) -> None:
    standin.inject(fault, **ORDER)
    with pytest.raises(error):
        place_limit_buy(exchange)

    assert standin.orders_created == created
    assert calls(standin).count(("POST", "/api/v3/order")) == 1  # nothing re-sent it
    assert standin.faults_fired == [(fault, "POST", "/api/v3/order")]
    # The connection recovers, and the order's fate can be learnt by its client id.
    open_ids = [o["clientOrderId"] for o in exchange.fetch_open_orders("BTC/USDT")]
    assert open_ids == ["CANARY-order-1"] * created


def test_timeout_after_accept_then_lookup_instead_of_retry(
    standin: BinanceStandIn, exchange: ccxt.binance
) -> None:
    standin.inject("timeout_after_accept", **ORDER)
    with pytest.raises(ccxt.RequestTimeout):
        place_limit_buy(exchange)
    found = exchange.fetch_order(None, "BTC/USDT", {"origClientOrderId": "CANARY-order-1"})
    assert found["status"] == "open"
    with pytest.raises(ccxt.InvalidOrder, match="Duplicate order sent"):
        place_limit_buy(exchange)  # a blind retry with the same client id is refused
    assert standin.orders_created == 1


@pytest.mark.parametrize(("fault", "created"), [("html_error_200", 0), ("truncated_json", 1)])
def test_unparseable_200_is_not_an_error_in_ccxt(
    standin: BinanceStandIn, exchange: ccxt.binance, fault: str, created: int
) -> None:
    """ccxt returns a bogus order (id None, ``info`` a string) instead of raising: brokers
    must treat an order without an id as "outcome unknown", never as "not placed"."""
    standin.inject(fault, **ORDER)
    order = place_limit_buy(exchange)

    assert order["id"] is None and isinstance(order["info"], str)
    assert standin.orders_created == created


def test_fault_wire_details(standin: BinanceStandIn) -> None:
    ping = f"{standin.url}/api/v3/ping"
    for fault in ("http_429", "http_429_no_retry_after", "truncated_json", "html_error"):
        standin.inject(fault, path="/api/v3/ping")
    limited = requests.get(ping, timeout=5)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"
    assert limited.json()["code"] == -1003
    assert "Retry-After" not in requests.get(ping, timeout=5).headers
    exchange_info = requests.get(f"{standin.url}/api/v3/exchangeInfo", timeout=5).text
    assert requests.get(ping, timeout=5).text == "{"  # '{}' cut in half
    html = requests.get(ping, timeout=5)
    assert html.status_code == 502 and html.headers["Content-Type"] == "text/html"
    assert requests.get(ping, timeout=5).json() == {}
    assert exchange_info.startswith('{"timezone":"UTC"')

    standin.inject("reset", path="/api/v3/ping")
    with pytest.raises(requests.ConnectionError):
        requests.get(ping, timeout=5)


def test_faults_are_consumed_in_order_per_matching_request(standin: BinanceStandIn) -> None:
    ping, time_ = f"{standin.url}/api/v3/ping", f"{standin.url}/api/v3/time"
    standin.inject("http_500", path="/api/v3/time", times=2)
    standin.inject("http_502")  # any method, any path
    standin.inject("http_503", method="get", path="/api/v3/ping")

    assert standin.pending_faults() == [
        ("http_500", None, "/api/v3/time", 2),
        ("http_502", None, None, 1),
        ("http_503", "GET", "/api/v3/ping", 1),
    ]
    statuses = [requests.get(url, timeout=5).status_code for url in (ping, time_, ping, time_)]
    assert statuses == [502, 500, 503, 500]
    assert requests.get(time_, timeout=5).status_code == 200
    assert standin.pending_faults() == []

    standin.inject("http_500", times=3)
    standin.clear_faults()
    assert requests.get(ping, timeout=5).status_code == 200
    with pytest.raises(ValueError, match="unknown fault"):
        standin.inject("gremlins")
    assert len(FAULTS) == len(set(FAULTS)) == 13


def test_stop_interrupts_a_held_connection() -> None:
    standin = BinanceStandIn(API_KEY, SECRET, fault_delay=60).start()
    standin.inject("timeout_before")
    with pytest.raises(requests.Timeout):
        requests.get(f"{standin.url}/api/v3/ping", timeout=0.2)
    started = time.monotonic()
    standin.stop()
    assert time.monotonic() - started < 2
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{standin.url}/api/v3/ping", timeout=1)


# -- determinism and the command line ----------------------------------------------------------


def record_session(clock: Callable[[], int]) -> list[tuple[str, str]]:
    """Run a fixed ccxt session against a fresh stand-in; return (Date, body) per response."""
    recorded = []
    with BinanceStandIn(API_KEY, SECRET, clock=clock) as standin:
        exchange = make_exchange(standin)
        exchange.nonce = clock
        steps: list[Callable[[], Any]] = [
            exchange.load_markets,
            exchange.fetch_balance,
            lambda: exchange.fetch_ticker("ETH/USDT"),
            lambda: exchange.fetch_ohlcv("ETH/USDT", "15m", limit=5),
            lambda: place_limit_buy(exchange, "CANARY-det"),
            # Without an explicit client id ccxt sends a random ``x-TKT5PX2F...`` one.
            lambda: exchange.create_order(
                "ETH/USDT", "market", "sell", 0.25, None, {"clientOrderId": "CANARY-det-2"}
            ),
            lambda: exchange.cancel_order("1", "BTC/USDT"),
        ]
        for step in steps:
            step()
            recorded.append(
                (exchange.last_response_headers["Date"], str(exchange.last_http_response))
            )
    return recorded


def test_fixed_clock_makes_sessions_byte_identical() -> None:
    first = record_session(lambda: FIXED_NOW)
    assert first == record_session(lambda: FIXED_NOW)
    assert first[0][0] == "Tue, 14 Nov 2023 22:13:20 GMT"
    assert f'"serverTime":{FIXED_NOW}' in first[0][1]
