"""Orders are checked before anything is sent, the same way for ccxt and REST brokers.

Exact numbers (Decimal from the caller's value, never a 6-decimal format), the market's step,
tick and minimums, and the config's trading settings and risk limits. Driven against the
Binance stand-in, which applies Binance's filters and counts every order and request.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest

from brokers import errors as e
from brokers.ccxt_broker import CcxtBroker
from brokers.config import build_config
from brokers.order_checks import PreTradeLimitError, plain, to_decimal
from brokers.rest_broker import RestBroker
from scaffolder.standin import BinanceStandIn
from scaffolder.standin.binance_market import SymbolSpec, default_symbols

KEY, SECRET = "CANARY-API-KEY-0000", "CANARY-SECRET-0000"
SPOT = {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False}
#: A market with a fine step, where a 6-decimal format loses the amount.
FINE = SymbolSpec(
    "DOGEBTC",
    "DOGE",
    "BTC",
    Decimal("0.00000150"),
    tick_size=Decimal("0.00000001"),
    min_price=Decimal("0.00000001"),
    step_size=Decimal("0.00000001"),
    min_qty=Decimal("0.00000001"),
    min_notional=Decimal("0.000000000001"),
)


class Binance(CcxtBroker):
    name = "binance"
    exchange_id = "binance"
    ccxt_options = {"defaultType": "spot", **SPOT}
    fetch_order_by_client_id = True


class Spot(RestBroker):
    name = "spotrest"
    base_url = "https://api.spotrest.invalid"


def make_broker(kind: str, standin: BinanceStandIn, **sections: Any) -> Any:
    document: dict[str, Any] = {
        "name": "binance" if kind == "ccxt" else "spotrest",
        "integration": "ccxt" if kind == "ccxt" else "rest",
        "type": "crypto",
        "enabled": True,
        "api_credentials": {"api_key": "${K}", "api_secret": "${S}"},
        "settings": {
            "testnet": True,
            "timeout": 1500,
            "enable_rate_limit": False,
            "retry": {"max_attempts": 2, "base_delay_ms": 0, "max_delay_ms": 0},
        },
        "supported_pairs": ["BTC/USDT", "ETH/USDT", "DOGE/BTC"],
        "custom_settings": (
            {"urls": standin.ccxt_api_urls()} if kind == "ccxt" else {"testnet_url": standin.url}
        ),
        **sections,
    }
    config = build_config(document, env={"K": KEY, "S": SECRET})
    klass = Binance if kind == "ccxt" else Spot
    broker = klass(config, sleep=lambda seconds: None)
    broker.connect()
    return broker


@pytest.fixture
def standin():
    balances = {"BTC": "10", "USDT": "1000000", "ETH": "100", "DOGE": "1000000"}
    with BinanceStandIn(
        KEY, SECRET, symbols=[*default_symbols(), FINE], balances=balances, fault_delay=3.0
    ) as server:
        yield server


@pytest.fixture(params=["ccxt", "rest"])
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


def order_posts(standin: BinanceStandIn) -> list[dict[str, Any]]:
    return [r.params for r in standin.requests if r.method == "POST" and r.path.endswith("order")]


# -- numbers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1e-7, "0.0000001"),
        (0.00000123, "0.00000123"),
        (0.1 + 0.2, "0.30000000000000004"),  # what the caller's float says, nothing invented
        (20000, "20000"),
        ("0.00100", "0.001"),
        (Decimal("1E+2"), "100"),
    ],
)
def test_numbers_become_exact_decimals_from_their_repr(value, text):
    assert plain(to_decimal(value, "amount")) == text


@pytest.mark.parametrize(
    "value", [math.nan, math.inf, -math.inf, -1, 0, 0.0, "0", "abc", "", None, True, [1]]
)
def test_nan_infinite_negative_zero_and_non_numbers_are_refused(value):
    with pytest.raises(e.InvalidOrderError, match="amount must be a positive number"):
        to_decimal(value, "amount")


def test_an_amount_finer_than_six_decimals_is_sent_exactly(kind, standin):
    broker = make_broker(kind, standin)
    order = broker.create_order("DOGE/BTC", "limit", "buy", 0.00000123, price=0.0000015)
    assert order["amount"] == pytest.approx(0.00000123)
    assert [o["origQty"] for o in standin.orders()] == ["0.00000123"]
    assert Decimal(standin.orders()[0]["price"]) == Decimal("0.0000015")


@pytest.mark.parametrize("amount", [0.0012345, "0.0012345", Decimal("0.0012345")])
def test_an_amount_off_the_step_is_truncated_to_it_and_accepted(kind, standin, amount):
    broker = make_broker(kind, standin)
    broker.create_order("BTC/USDT", "limit", "buy", amount, price="20000.004")
    (placed,) = standin.orders()
    assert Decimal(placed["origQty"]) == Decimal("0.00123")  # down, never up
    assert Decimal(placed["price"]) == Decimal("20000")  # to the nearest tick


@pytest.mark.parametrize(
    ("symbol", "amount", "price", "named"),
    [
        ("BTC/USDT", 0.000001, 20000, "rounds down to 0"),  # below the step 0.00001
        ("ETH/USDT", 0.0001, 3000, "minimum cost 5"),  # 0.3 USDT < NOTIONAL 5
        ("BTC/USDT", math.nan, 20000, "positive number"),
        ("BTC/USDT", 0.001, -1, "price must be a positive number"),
    ],
)
def test_what_the_market_refuses_is_refused_before_anything_is_sent(
    kind, standin, symbol, amount, price, named
):
    broker = make_broker(kind, standin)
    before = len(standin.requests)
    with pytest.raises(e.InvalidOrderError, match=named):
        broker.create_order(symbol, "limit", "buy", amount, price=price)
    assert len(standin.requests) == before
    assert standin.orders_created == 0


# -- the config's limits -------------------------------------------------------------------


def test_max_position_size_caps_the_orders_value_in_the_quote_currency(kind, standin):
    broker = make_broker(kind, standin, risk_management={"max_position_size": 1000})
    broker.create_order("BTC/USDT", "limit", "buy", 0.05, price=20000)  # 1000 USDT: allowed
    before = len(standin.requests)
    with pytest.raises(PreTradeLimitError, match="max_position_size") as info:
        broker.create_order("BTC/USDT", "limit", "buy", 0.0501, price=20000)
    assert info.value.field == "risk_management.max_position_size"
    assert "1002" in str(info.value) and "1000" in str(info.value)
    assert len(standin.requests) == before and standin.orders_created == 1


def test_a_market_order_is_valued_at_the_last_price_and_nothing_is_placed(kind, standin):
    broker = make_broker(kind, standin, risk_management={"max_position_size": 1000})
    with pytest.raises(PreTradeLimitError, match="max_position_size"):
        broker.create_order("BTC/USDT", "market", "buy", 0.02)  # 0.02 x 60000 = 1200 USDT
    assert order_posts(standin) == [] and standin.orders_created == 0


def test_default_order_type_and_time_in_force_apply_when_the_caller_gives_none(kind, standin):
    trading = {"default_order_type": "limit", "time_in_force": "IOC"}
    broker = make_broker(kind, standin, trading_settings=trading)
    order = broker.create_order("BTC/USDT", None, "buy", 0.001, price=20000)
    assert order["type"] == "limit"
    assert [(p["type"], p["timeInForce"]) for p in order_posts(standin)] == [("LIMIT", "IOC")]
    broker.create_order(
        "BTC/USDT", "limit", "buy", 0.001, price=20000, params={"timeInForce": "GTC"}
    )
    assert order_posts(standin)[-1]["timeInForce"] == "GTC"  # the caller's choice wins


def test_no_order_type_and_no_default_is_refused(kind, standin):
    broker = make_broker(kind, standin, trading_settings={})
    with pytest.raises(e.InvalidOrderError, match="default_order_type"):
        broker.create_order("BTC/USDT", None, "buy", 0.001, price=20000)
    assert standin.orders_created == 0


def test_an_order_type_outside_supported_order_types_is_refused(kind, standin):
    broker = make_broker(kind, standin, trading_settings={"supported_order_types": ["limit"]})
    with pytest.raises(PreTradeLimitError, match="supported_order_types") as info:
        broker.create_order("BTC/USDT", "market", "buy", 0.001)
    assert info.value.field == "trading_settings.supported_order_types"
    assert order_posts(standin) == []


@pytest.mark.parametrize(
    ("trading", "risk", "params", "field"),
    [
        ({}, {}, {"marginMode": "cross"}, "trading_settings.margin_enabled"),
        ({}, {}, {"leverage": 3}, "trading_settings.futures_enabled"),
        ({"margin_enabled": True}, {"max_leverage": 2}, {"leverage": 3}, "max_leverage"),
    ],
)
def test_margin_and_leverage_need_the_config_to_allow_them(
    kind, standin, trading, risk, params, field
):
    broker = make_broker(kind, standin, trading_settings=trading, risk_management=risk)
    with pytest.raises(PreTradeLimitError, match=field) as info:
        broker.create_order("BTC/USDT", "limit", "buy", 0.001, price=20000, params=params)
    assert info.value.field.endswith(field)
    assert standin.requests and order_posts(standin) == []


class Capture(Spot):
    """Sends nothing: keeps the orders that passed every check."""

    def _place_order(self, order):
        self.sent.append(order)
        return {}


def offline_broker(market: dict[str, Any], **sections: Any) -> Capture:
    """A connected REST broker on a one-market snapshot that records instead of sending."""
    document: dict[str, Any] = {
        "name": "spotrest",
        "integration": "rest",
        "type": "crypto",
        "enabled": True,
        "api_credentials": {},
        "settings": {"testnet": True},
        "supported_pairs": ["BTC/USDT"],
        "custom_settings": {"testnet_url": "http://127.0.0.1:9"},
        **sections,
    }
    broker = Capture(build_config(document), markets={"BTC/USDT": {"id": "BTCUSDT", **market}})
    broker.sent = []
    broker.connect()
    return broker


def test_a_derivative_market_needs_futures_enabled():
    refusing = offline_broker({"kind": "swap"}, trading_settings={"futures_enabled": False})
    with pytest.raises(PreTradeLimitError, match="futures_enabled"):
        refusing.create_order("BTC/USDT", "limit", "buy", 1, price=1)
    allowing = offline_broker({"kind": "swap"}, trading_settings={"futures_enabled": True})
    allowing.create_order("BTC/USDT", "limit", "buy", 1, price=1)
    assert (refusing.sent, len(allowing.sent)) == ([], 1)


def test_reduce_only_orders_are_not_capped_by_max_position_size():
    broker = offline_broker(
        {}, trading_settings={"futures_enabled": True}, risk_management={"max_position_size": 10}
    )
    broker.create_order("BTC/USDT", "limit", "sell", 1, price=100, params={"reduceOnly": True})
    with pytest.raises(PreTradeLimitError):
        broker.create_order("BTC/USDT", "limit", "sell", 1, price=100)
    assert [plain(o.amount) for o in broker.sent] == ["1"]


def test_a_symbol_the_exchange_does_not_list_is_our_error_not_ccxts(standin):
    broker = make_broker("ccxt", standin)
    broker.config.supported_pairs.clear()  # any symbol passes our own check
    with pytest.raises(e.InvalidSymbolError):
        broker.create_order("NOPE/USDT", "limit", "buy", 1, price=1)
    assert order_posts(standin) == []


def _snapshot_broker(markets: dict[str, Any]) -> tuple[CcxtBroker, list[tuple[Any, ...]]]:
    """A ccxt broker on a markets snapshot whose orders are caught instead of sent."""
    config = build_config(
        {
            "name": "binance",
            "type": "crypto",
            "enabled": True,
            "api_credentials": {"api_key": "${K}", "api_secret": "${S}"},
            "settings": {"testnet": True, "enable_rate_limit": False},
            "supported_pairs": ["BTC/USDT"],
        },
        env={"K": KEY, "S": SECRET},
    )
    broker = Binance(config, markets=markets)
    broker.connect()
    sent: list[tuple[Any, ...]] = []
    broker.exchange.create_order = lambda *args: sent.append(args) or {"id": "1"}
    return broker, sent


def _btc_market(amount_step: float, price_tick: float) -> dict[str, Any]:
    return {
        "BTC/USDT": {
            "id": "BTCUSDT",
            "symbol": "BTC/USDT",
            "base": "BTC",
            "quote": "USDT",
            "type": "spot",
            "spot": True,
            "active": True,
            "precision": {"amount": amount_step, "price": price_tick},
            "limits": {"amount": {"min": amount_step}, "cost": {"min": 5.0}},
        }
    }


def test_reloaded_markets_give_their_own_step_and_tick_to_the_next_order():
    broker, sent = _snapshot_broker(_btc_market(0.00001, 0.01))
    broker.create_order("BTC/USDT", "limit", "buy", "0.000255", price="30000.004")
    # The exchange changes the market's step and tick; the markets are loaded again.
    broker._markets_snapshot = _btc_market(0.0001, 0.5)
    broker.connect()
    broker.create_order("BTC/USDT", "limit", "buy", "0.000255", price="30000.3")
    assert [(args[3], args[4]) for args in sent] == [(0.00025, 30000.0), (0.0002, 30000.5)]


def test_amounts_and_prices_already_on_the_step_and_tick_are_sent_as_they_are():
    broker, sent = _snapshot_broker(_btc_market(0.00001, 0.01))
    broker.create_order("BTC/USDT", "limit", "buy", "0.00120", price="30000.10")
    assert [(args[3], args[4]) for args in sent] == [(0.0012, 30000.1)]
