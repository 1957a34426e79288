"""The shared ccxt broker, driven for real: ccxt's binance class against the local stand-in."""

from __future__ import annotations

import ccxt
import pytest

from brokers import errors as e
from brokers.ccxt_broker import CcxtBroker
from brokers.config import build_config
from brokers.retry import OrderStateUnknownError
from scaffolder.standin import BinanceStandIn

KEY, SECRET = "CANARY-API-KEY-0000", "CANARY-SECRET-0000"
SPOT = {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False}


class Binance(CcxtBroker):
    name = "binance"
    exchange_id = "binance"
    ccxt_options = {"defaultType": "spot", **SPOT}
    profile = {"lookup": "fetch_order"}


def make_config(standin: BinanceStandIn, **overrides):
    document = {
        "name": "binance",
        "type": "crypto",
        "enabled": True,
        "api_credentials": {"api_key": "${K}", "api_secret": "${S}"},
        "settings": {
            "testnet": True,
            "timeout": 1500,
            "rate_limit": 10,
            "enable_rate_limit": False,
            "retry": {"max_attempts": 3, "base_delay_ms": 0, "max_delay_ms": 0},
        },
        "supported_pairs": ["BTC/USDT", "ETH/USDT"],
        "custom_settings": {"urls": standin.ccxt_api_urls()},
    }
    for key, value in overrides.items():
        document[key] = value
    return build_config(document, env={"K": KEY, "S": SECRET})


@pytest.fixture
def standin():
    with BinanceStandIn(KEY, SECRET, fault_delay=3.0) as server:
        yield server


@pytest.fixture
def broker(standin):
    waits: list[float] = []
    broker = Binance(make_config(standin), sleep=waits.append)
    broker.waits = waits
    broker.connect()
    yield broker
    broker.disconnect()


def test_connect_loads_markets_in_the_sandbox_with_settings_applied(broker):
    exchange = broker.exchange
    assert broker.is_connected()
    assert exchange.isSandboxModeEnabled
    assert {"BTC/USDT", "ETH/USDT"} <= set(exchange.markets)
    assert (exchange.apiKey, exchange.secret) == (KEY, SECRET)
    assert (
        exchange.timeout == 1500 and exchange.rateLimit == 10 and exchange.enableRateLimit is False
    )


def test_balance_ticker_and_candles_have_our_shapes(broker):
    balance = broker.get_balance()
    assert balance["USDT"]["total"] == balance["USDT"]["free"] + balance["USDT"]["used"] > 0
    ticker = broker.get_ticker("BTC/USDT")
    assert ticker["symbol"] == "BTC/USDT" and ticker["last"] > 0
    rows = broker.get_ohlcv("BTC/USDT", "1h", limit=5)
    assert len(rows) == 5 and all(len(r) == 6 for r in rows)
    assert [r[0] for r in rows] == sorted(r[0] for r in rows)


def test_order_lifecycle_create_get_list_cancel(broker, standin):
    order = broker.create_order(
        "BTC/USDT", "limit", "buy", 0.001, price=20000, client_order_id="lifecycle1"
    )
    assert order["status"] == "open" and order["client_order_id"] == "lifecycle1"
    assert broker.get_order(order["id"], "BTC/USDT")["id"] == order["id"]
    assert [o["id"] for o in broker.get_open_orders("BTC/USDT")] == [order["id"]]
    assert broker.cancel_order(order["id"], "BTC/USDT")["status"] == "canceled"
    assert broker.get_open_orders() == []
    assert standin.orders_created == 1


def test_positions_are_derived_from_the_spot_balance(broker):
    positions = broker.get_positions()
    assert {p["symbol"] for p in positions} == {"BTC/USDT", "ETH/USDT"}
    assert all(p["side"] == "long" and p["contracts"] > 0 for p in positions)


@pytest.mark.parametrize(
    ("call", "expected", "cause"),
    [
        (
            lambda b: b.create_order("BTC/USDT", "limit", "buy", 1, price=20000),
            e.InsufficientFundsError,
            ccxt.InsufficientFunds,
        ),
        (lambda b: b.get_order("424242", "BTC/USDT"), e.OrderNotFoundError, ccxt.OrderNotFound),
        (lambda b: b.cancel_order("424242", "BTC/USDT"), e.OrderNotFoundError, ccxt.OrderNotFound),
    ],
)
def test_exchange_refusals_become_our_errors_with_the_cause_chained(broker, call, expected, cause):
    with pytest.raises(expected) as info:
        call(broker)
    assert isinstance(info.value.__cause__, cause)
    assert info.value.broker == "binance"


def test_a_wrong_secret_is_an_authentication_error(standin):
    config = make_config(standin)
    config.credentials["api_secret"] = "CANARY-WRONG-SECRET"
    broker = Binance(config, sleep=lambda s: None)
    broker.connect()
    with pytest.raises(e.AuthenticationError):
        broker.get_balance()


def test_refusals_before_any_request(broker, standin):
    seen = len(standin.requests)
    with pytest.raises(e.InvalidSymbolError):
        broker.get_ticker("DOGE/USDT")
    with pytest.raises(e.InvalidOrderError, match="needs a price"):
        broker.create_order("BTC/USDT", "limit", "buy", 0.001)
    with pytest.raises(e.InvalidOrderError, match="side"):
        broker.create_order("BTC/USDT", "market", "hold", 0.001)
    with pytest.raises(e.NotSupportedError, match="timeframe"):
        broker.get_ohlcv("BTC/USDT", "7m")
    assert len(standin.requests) == seen


def test_calls_before_connect_raise_not_connected(standin):
    broker = Binance(make_config(standin))
    with pytest.raises(e.NotConnectedError):
        broker.get_balance()
    with pytest.raises(e.NotConnectedError):
        broker.create_order("BTC/USDT", "limit", "buy", 1, price=1)
    assert standin.requests == []


def test_a_pair_the_exchange_does_not_list_is_a_config_error(standin):
    broker = Binance(make_config(standin, supported_pairs=["BTC/USDT", "XYZ/USDT"]))
    with pytest.raises(e.ConfigError, match="XYZ/USDT"):
        broker.connect()


def test_testnet_on_an_exchange_without_sandbox_fails_before_any_request():
    class Kraken(CcxtBroker):
        exchange_id = "kraken"

    config = build_config(
        {
            "name": "kraken",
            "type": "crypto",
            "enabled": True,
            "api_credentials": {},
            "settings": {"testnet": True},
            "supported_pairs": ["BTC/USD"],
        },
    )
    with pytest.raises(e.ConfigError, match="no testnet"):
        Kraken(config).connect()


def test_credentials_map_to_ccxt_names():
    class Okx(CcxtBroker):
        exchange_id = "okx"

    config = build_config(
        {
            "name": "okx",
            "type": "crypto",
            "enabled": True,
            "api_credentials": {"api_key": "${A}", "api_secret": "${B}", "passphrase": "${C}"},
            "settings": {"testnet": True},
            "supported_pairs": ["BTC/USDT"],
        },
        env={"A": "CANARY-A", "B": "CANARY-B", "C": "CANARY-C"},
    )
    exchange = Okx(config).exchange
    assert (exchange.apiKey, exchange.secret, exchange.password) == (
        "CANARY-A",
        "CANARY-B",
        "CANARY-C",
    )


def test_rate_limit_is_retried_after_the_servers_retry_after(broker, standin):
    standin.inject("http_429", path="/api/v3/ticker/24hr")
    assert broker.get_ticker("BTC/USDT")["last"] > 0
    assert broker.waits and broker.waits[0] >= 1.0


def test_timeout_after_accept_never_leaves_two_orders(broker, standin):
    standin.inject("timeout_after_accept", method="POST", path="/api/v3/order")
    order = broker.create_order(
        "BTC/USDT", "limit", "buy", 0.001, price=20000, client_order_id="once1"
    )
    assert standin.orders_created == 1
    assert order["client_order_id"] == "once1" and order["status"] == "open"


@pytest.mark.parametrize("closed_orders", [True, False], ids=["sees-filled", "open-only"])
def test_a_filled_order_whose_answer_was_lost_is_never_sent_again(standin, closed_orders):
    """Without a look-up by client id, open orders alone cannot prove an order absent (one that
    filled at once is not there): the state is reported unknown instead of sending it again."""

    class OpenOrdersOnly(Binance):
        profile = {"lookup": "scan"}

    broker = OpenOrdersOnly(make_config(standin), sleep=lambda s: None)
    broker.connect()
    broker.exchange.has["fetchClosedOrders"] = closed_orders  # what ccxt says of the exchange
    ask = broker.get_ticker("BTC/USDT")["ask"]
    standin.inject("timeout_after_accept", method="POST", path="/api/v3/order")
    if closed_orders:
        order = broker.create_order(
            "BTC/USDT", "limit", "buy", 0.001, price=ask * 1.1, client_order_id="fill1"
        )
        assert order["client_order_id"] == "fill1" and order["status"] == "closed"
    else:
        with pytest.raises(OrderStateUnknownError) as info:
            broker.create_order(
                "BTC/USDT", "limit", "buy", 0.001, price=ask * 1.1, client_order_id="fill1"
            )
        assert info.value.client_order_id == "fill1"
    assert standin.orders_created == 1


def test_an_order_without_a_symbol_is_not_named_none():
    from brokers.shapes import order_from_ccxt

    order = order_from_ccxt({"id": "42", "status": "canceled"})
    assert order["symbol"] == "" and order["side"] == "" and order["status"] == "canceled"


class _Offline:
    """No stand-in: the brokers below load the recorded markets and send nothing."""

    def ccxt_api_urls(self) -> dict:
        return {}


def _offline(klass: type[Binance]) -> Binance:
    import json
    from pathlib import Path

    markets = json.loads(Path("cassettes/binance/markets.json").read_text(encoding="utf-8"))
    broker = klass(make_config(_Offline()), markets=markets, sleep=lambda s: None)
    broker.connect()
    return broker


def test_the_profile_is_merged_once_and_again_when_it_is_replaced():
    broker = _offline(Binance)
    first = broker.order_profile
    assert first["lookup"] == "fetch_order" and first["client_id_param"] == "clientOrderId"
    assert broker.order_profile is first  # not merged again on every order
    broker.profile = {"lookup": "none"}
    assert broker.order_profile["lookup"] == "none"
    assert broker.order_profile["client_id_param"] == "clientOrderId"


@pytest.mark.parametrize(
    ("profile", "says"),
    [
        ({"client_id_param": None}, "cannot send a client order id"),
        ({"lookup": "none"}, "no look-up of binance can prove an order absent"),
    ],
    ids=["no-client-id", "no-look-up"],
)
def test_a_lost_answer_that_no_look_up_can_settle_says_what_to_check(profile, says):
    class Unfindable(Binance):
        pass

    Unfindable.profile = profile
    broker = _offline(Unfindable)
    sent = []

    def lost(*args):
        sent.append(args)
        raise ccxt.RequestTimeout("read timed out")

    broker.exchange.create_order = lost
    with pytest.raises(OrderStateUnknownError, match=says) as info:
        broker.create_order("BTC/USDT", "limit", "buy", 0.001, price=20000, client_order_id="u1")
    assert info.value.client_order_id == "u1" and "BTC/USDT" in str(info.value)
    assert len(sent) == 1  # never re-sent
