"""The Coinbase stand-in, driven by real ccxt and by raw HTTP signed as Coinbase's docs say.

Every test gets a fresh stand-in on a free loopback port. :func:`signed` builds API-key (HMAC)
requests by hand, so the checks are tested independently of ccxt's signing code: the message
is timestamp + method + request path + body, the request path carrying the query string on
the Coinbase App API (``/v2``) and not on the Advanced Trade API (``/api/v3``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import ccxt
import pytest
import requests

from scaffolder.standin.coinbase import CoinbaseStandIn

API_KEY = "CANARY-COINBASE-KEY-0000"
SECRET = "CANARY-COINBASE-SECRET-0000"
ORDERS = "/api/v3/brokerage/orders"


def make_exchange(
    standin: CoinbaseStandIn, *, secret: str = SECRET, **config: Any
) -> ccxt.coinbase:
    """A real ccxt coinbase client (HMAC keys), pointed at ``standin``."""
    exchange = ccxt.coinbase(
        {"apiKey": API_KEY, "secret": secret, "enableRateLimit": False, "timeout": 2000, **config}
    )
    standin.configure_ccxt(exchange)
    return exchange


def signed(
    standin: CoinbaseStandIn,
    method: str,
    path: str,
    query: str = "",
    body: dict[str, Any] | None = None,
    *,
    sign_query: bool | None = None,
    secret: str = SECRET,
    skew_s: int = 0,
) -> requests.Response:
    """A request signed with HMAC-SHA256 over timestamp + method + request path + body."""
    text = json.dumps(body) if body is not None else ""
    timestamp = str(int(time.time()) + skew_s)
    include_query = path.startswith("/v2/") if sign_query is None else sign_query
    request_path = path + (f"?{query}" if query and include_query else "")
    message = f"{timestamp}{method}{request_path}{text}"
    headers = {
        "CB-ACCESS-KEY": API_KEY,
        "CB-ACCESS-SIGN": hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest(),
        "CB-ACCESS-TIMESTAMP": timestamp,
        "Content-Type": "application/json",
    }
    url = f"{standin.url}{path}" + (f"?{query}" if query else "")
    return requests.request(method, url, data=text or None, headers=headers, timeout=5)


def limit_buy(price: str = "30000", size: str = "0.01", client_id: str = "CANARY-1") -> dict:
    return {
        "client_order_id": client_id,
        "product_id": "BTC-USDT",
        "side": "BUY",
        "order_configuration": {
            "limit_limit_gtc": {"base_size": size, "limit_price": price, "post_only": False}
        },
    }


@pytest.fixture
def standin() -> Iterator[CoinbaseStandIn]:
    with CoinbaseStandIn(API_KEY, SECRET, fault_delay=1.0) as server:
        yield server
    assert server.errors == []


@pytest.fixture
def exchange(standin: CoinbaseStandIn) -> ccxt.coinbase:
    exchange = make_exchange(standin)
    exchange.load_markets()
    return exchange


# -- what ccxt uses -----------------------------------------------------------------------------


def test_markets_come_from_products_currencies_and_the_fee_tier(standin: CoinbaseStandIn) -> None:
    markets = make_exchange(standin).load_markets()

    # what ccxt asks (the order and repeats vary between ccxt versions), each answered
    assert {(r.method, r.path) for r in standin.requests} == {
        ("GET", "/v2/currencies"),
        ("GET", "/v2/currencies/crypto"),
        ("GET", "/v2/exchange-rates"),
        ("GET", "/api/v3/brokerage/market/products"),
        ("GET", "/api/v3/brokerage/transaction_summary"),  # signed: the account's fee tier
    }
    assert {"product_type": ["FUTURE"]} in [r.params for r in standin.requests]  # none here
    assert set(markets) == {"BTC/USD", "ETH/USD", "BTC/USDT", "ETH/USDT"}
    btc = markets["BTC/USDT"]
    assert btc["id"] == "BTC-USDT" and btc["spot"] and btc["active"]
    assert (btc["precision"]["amount"], btc["precision"]["price"]) == (1e-08, 0.01)
    assert btc["limits"]["cost"]["min"] == 1.0
    assert (btc["maker"], btc["taker"]) == (0.004, 0.006)


def test_ticker_and_candles(standin: CoinbaseStandIn, exchange: ccxt.coinbase) -> None:
    ticker = exchange.fetch_ticker("BTC/USDT")
    candles = exchange.fetch_ohlcv("BTC/USDT", "1h", limit=24)
    now = int(time.time())
    raw = requests.get(
        f"{standin.url}/api/v3/brokerage/market/products/BTC-USDT/candles",
        params={"granularity": "ONE_HOUR", "start": now - 6 * 3600, "end": now},
        timeout=5,
    ).json()["candles"]

    assert (ticker["last"], ticker["bid"], ticker["ask"]) == (60000.0, 60000.0, 60000.01)
    assert int(raw[0]["start"]) > int(raw[1]["start"]), "Coinbase answers newest first"
    assert set(raw[0]) == {"start", "low", "high", "open", "close", "volume"}
    assert 6 <= len(raw) <= 7
    assert len(candles) == 24 and candles == sorted(candles)
    for _, open_, high, low, close, volume in candles:
        assert low <= min(open_, close) <= max(open_, close) <= high and volume > 0
    bad = requests.get(
        f"{standin.url}/api/v3/brokerage/market/products/BTC-USDT/candles",
        params={"granularity": "ONE_WEEK", "start": 0, "end": 1},
        timeout=5,
    )
    assert bad.status_code == 400 and bad.json()["error"] == "INVALID_ARGUMENT"


def test_balance_is_the_v2_accounts_signed_with_the_query(
    standin: CoinbaseStandIn, exchange: ccxt.coinbase
) -> None:
    balance = exchange.fetch_balance()

    assert balance["total"] == {"USDT": 10000.0, "USD": 10000.0, "ETH": 100.0, "BTC": 10.0}
    method, path, params = standin.requests[-1]
    assert (method, path, params) == ("GET", "/v2/accounts", {"limit": ["250"]})
    assert exchange.last_request_headers["CB-ACCESS-KEY"] == API_KEY
    accounts = signed(standin, "GET", "/v2/accounts", "limit=2").json()
    assert [a["balance"] for a in accounts["data"]] == [
        {"amount": "10000.000000", "currency": "USDT"},
        {"amount": "10000.00", "currency": "USD"},
    ]
    assert accounts["pagination"]["limit"] == "2"


def test_limit_order_lifecycle(standin: CoinbaseStandIn, exchange: ccxt.coinbase) -> None:
    order = exchange.create_order("BTC/USDT", "limit", "buy", 0.01, 30000)
    assert (order["symbol"], order["side"]) == ("BTC/USDT", "buy")
    assert standin.balance("USDT") == (Decimal(9700), Decimal(10000))
    fetched = exchange.fetch_order(order["id"], "BTC/USDT")
    assert (fetched["status"], fetched["price"], fetched["amount"]) == ("open", 30000.0, 0.01)
    assert fetched["clientOrderId"] == order["clientOrderId"]
    assert [o["id"] for o in exchange.fetch_open_orders("BTC/USDT")] == [order["id"]]

    cancelled = exchange.cancel_order(order["id"], "BTC/USDT")
    assert cancelled["info"] == {
        "success": True,
        "failure_reason": "UNKNOWN_CANCEL_FAILURE_REASON",
        "order_id": order["id"],
    }
    assert exchange.fetch_order(order["id"])["status"] == "canceled"
    assert exchange.fetch_open_orders("BTC/USDT") == []
    assert standin.balance("USDT") == (Decimal(10000), Decimal(10000))
    assert standin.orders_created == 1


def test_a_client_order_id_already_used_returns_its_order(standin: CoinbaseStandIn) -> None:
    first = signed(standin, "POST", ORDERS, body=limit_buy()).json()
    again = signed(standin, "POST", ORDERS, body=limit_buy(price="31000")).json()

    assert first["success"] and again == first
    assert standin.orders_created == 1


def test_crossing_and_market_orders_fill_at_once(
    standin: CoinbaseStandIn, exchange: ccxt.coinbase
) -> None:
    taker = exchange.create_order("BTC/USDT", "limit", "buy", 0.01, 61000)
    sold = exchange.create_order("ETH/USDT", "market", "sell", 1)
    standin.set_price("BTC-USDT", "59000")
    resting = exchange.create_order("BTC/USDT", "limit", "sell", 0.01, 59500)
    standin.set_price("BTC-USDT", "59600")

    assert exchange.fetch_order(taker["id"])["average"] == 60000.01
    assert exchange.fetch_order(sold["id"])["status"] == "closed"
    assert exchange.fetch_order(resting["id"])["status"] == "closed"
    assert standin.balance("ETH") == (Decimal(99), Decimal(99))
    assert standin.orders_created == 3


def test_refusals_have_coinbases_shapes(standin: CoinbaseStandIn, exchange: ccxt.coinbase) -> None:
    # Coinbase answers 200, success false; ccxt reads only a preview's failure reason there
    with pytest.raises(ccxt.ExchangeError, match="INSUFFICIENT_FUND"):
        exchange.create_order("BTC/USDT", "limit", "buy", 1, 30000)  # 30000 USDT > 10000
    refused = signed(standin, "POST", ORDERS, body=limit_buy(size="0.000000001")).json()
    assert refused["success"] is False and refused["order_id"] == ""
    assert refused["error_response"]["error"] == "INVALID_SIZE_PRECISION"
    post_only = limit_buy(price="70000")
    post_only["order_configuration"]["limit_limit_gtc"]["post_only"] = True
    answer = signed(standin, "POST", ORDERS, body=post_only).json()
    assert answer["error_response"]["error"] == "INVALID_LIMIT_PRICE_POST_ONLY"

    unknown = signed(standin, "GET", f"{ORDERS}/historical/999999999")
    assert unknown.status_code == 404
    assert unknown.json()["message"] == "order with this orderID was not found"
    cancel = signed(standin, "POST", f"{ORDERS}/batch_cancel", body={"order_ids": ["nope"]})
    assert cancel.json() == {
        "results": [
            {"success": False, "failure_reason": "UNKNOWN_CANCEL_ORDER", "order_id": "nope"}
        ]
    }
    with pytest.raises(ccxt.BadRequest):
        exchange.cancel_order("999999999", "BTC/USDT")
    assert standin.orders_created == 0


# -- authentication, as Coinbase checks it ------------------------------------------------------


def test_a_bad_signature_is_refused_like_coinbase(
    standin: CoinbaseStandIn, exchange: ccxt.coinbase
) -> None:
    wrong = make_exchange(standin, secret="CANARY-WRONG-SECRET")
    with pytest.raises(ccxt.AuthenticationError, match="Unauthorized"):
        wrong.v3PrivateGetBrokerageOrdersHistoricalOrderId({"order_id": "1"})
    with pytest.raises(ccxt.AuthenticationError, match="invalid signature"):
        wrong.v2PrivateGetAccounts()

    v3 = signed(standin, "GET", f"{ORDERS}/historical/batch", secret="CANARY-WRONG")
    assert (v3.status_code, v3.text) == (401, "Unauthorized")
    v2 = signed(standin, "GET", "/v2/accounts", "limit=5", secret="CANARY-WRONG")
    assert v2.status_code == 401
    assert v2.json() == {"errors": [{"id": "authentication_error", "message": "invalid signature"}]}
    nobody = requests.get(f"{standin.url}/v2/accounts", timeout=5)
    assert nobody.json()["errors"][0]["message"] == "invalid api key"


def test_the_request_path_carries_the_query_on_v2_only(standin: CoinbaseStandIn) -> None:
    batch = f"{ORDERS}/historical/batch"
    assert signed(standin, "GET", batch, "order_status=OPEN").status_code == 200
    assert signed(standin, "GET", batch, "order_status=OPEN", sign_query=True).status_code == 401
    assert signed(standin, "GET", "/v2/accounts", "limit=5").status_code == 200
    assert signed(standin, "GET", "/v2/accounts", "limit=5", sign_query=False).status_code == 401


@pytest.mark.parametrize("skew_s", [-45, 45])  # the limit is 30 s
def test_a_stale_timestamp_is_refused(standin: CoinbaseStandIn, skew_s: int) -> None:
    v2 = signed(standin, "GET", "/v2/accounts", "limit=5", skew_s=skew_s)
    assert v2.status_code == 401
    assert v2.json()["errors"][0]["message"] == "request timestamp expired"
    v3 = signed(standin, "GET", f"{ORDERS}/historical/batch", skew_s=skew_s)
    assert (v3.status_code, v3.text) == (401, "Unauthorized")
    assert signed(standin, "GET", "/v2/accounts", "limit=5", skew_s=skew_s // 2).status_code == 200

    late = make_exchange(standin)
    late.nonce = lambda: (time.time() + skew_s) * 1000
    with pytest.raises(ccxt.AuthenticationError):
        late.fetch_balance()


# -- injected faults answer with Coinbase's bodies ----------------------------------------------


@pytest.mark.parametrize(
    ("fault", "status", "error_id", "error"),
    [
        ("http_429", 429, "rate_limit_exceeded", ccxt.RateLimitExceeded),
        ("http_500", 500, "internal_server_error", ccxt.ExchangeError),
        ("http_503", 503, "internal_server_error", ccxt.ExchangeError),
    ],
)
def test_http_faults_answer_like_coinbase(
    standin: CoinbaseStandIn,
    exchange: ccxt.coinbase,
    fault: str,
    status: int,
    error_id: str,
    error: type[Exception],
) -> None:
    standin.inject(fault, path="/v2/accounts", times=2)
    answer = signed(standin, "GET", "/v2/accounts", "limit=5")
    assert answer.status_code == status and answer.json()["errors"][0]["id"] == error_id
    with pytest.raises(error):
        exchange.fetch_balance()
    assert standin.pending_faults() == []


def test_a_lost_order_answer_leaves_one_order_to_be_found(standin: CoinbaseStandIn) -> None:
    standin.inject("reset_after_accept", path=ORDERS)
    with pytest.raises(requests.ConnectionError):
        signed(standin, "POST", ORDERS, body=limit_buy(client_id="lost"))
    again = signed(standin, "POST", ORDERS, body=limit_buy(client_id="lost")).json()
    open_orders = signed(standin, "GET", f"{ORDERS}/historical/batch", "order_status=OPEN")
    assert [o["order_id"] for o in open_orders.json()["orders"]] == [again["order_id"]]
    assert standin.orders_created == 1
