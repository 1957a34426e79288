"""The spot rule every stand-in shares: a quote one tick wide at the last price, what an order
spends, and an account that holds funds for resting orders and fills them when the price moves
through them."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest

from scaffolder.standin import binance_market, coinbase_market, gemini_market
from scaffolder.standin.binance_state import ExchangeState
from scaffolder.standin.coinbase_state import CoinbaseState
from scaffolder.standin.gemini_state import GeminiState
from scaffolder.standin.spot import SpotAccount, SpotMarket, spends

#: Each exchange's first default market, and the names it gives the tick and the step.
MARKETS = {
    "binance": (binance_market.default_symbols()[2], "tick_size", "step_size"),
    "coinbase": (coinbase_market.default_products()[0], "quote_increment", "base_increment"),
    "gemini": (gemini_market.default_symbols()[1], "tick", "step"),
}
ACCOUNTS: dict[str, type[SpotAccount]] = {
    "binance": ExchangeState,
    "coinbase": CoinbaseState,
    "gemini": GeminiState,
}


def _clock() -> int:
    return 1_700_000_000_000


@pytest.mark.parametrize("name", sorted(MARKETS))
def test_every_market_is_quoted_one_tick_wide_at_its_last_price(name):
    market, tick_name, step_name = MARKETS[name]
    assert isinstance(market, SpotMarket)
    assert market.tick == getattr(market, tick_name) and market.step == getattr(market, step_name)
    assert (market.bid, market.ask) == (market.price, market.price + market.tick)
    assert market.taker_price(buy=True) == market.ask
    assert market.taker_price(buy=False) == market.bid
    assert market.crosses(market.ask, buy=True) and not market.crosses(market.bid, buy=True)
    assert market.crosses(market.bid, buy=False) and not market.crosses(market.ask, buy=False)
    series = market.series()
    assert (series.name, series.price, series.tick) == (market.id, market.price, market.tick)


def test_binance_candles_stop_at_its_min_price_the_others_at_one_tick():
    binance = binance_market.SymbolSpec(
        "ABCUSDT", "ABC", "USDT", Decimal("10"), tick_size=Decimal("0.1"), min_price=Decimal("1")
    )
    assert binance.series().min_price == Decimal("1") != binance.tick
    for name in ("coinbase", "gemini"):
        market, _, _ = MARKETS[name]
        assert market.series().min_price == market.tick


def test_an_order_spends_quote_currency_to_buy_and_base_currency_to_sell():
    market, _, _ = MARKETS["gemini"]  # ETH/USD
    size, price = Decimal("2"), Decimal("3000")
    assert spends(market, buy=True, size=size, price=price) == ("USD", Decimal("6000"))
    assert spends(market, buy=False, size=size, price=price) == ("ETH", Decimal("2"))


@pytest.mark.parametrize("name", sorted(ACCOUNTS))
def test_an_account_copies_its_markets_and_reads_its_balances_as_decimals(name):
    market, _, _ = MARKETS[name]
    account = ACCOUNTS[name]([market], {market.quote: 100, "XYZ": "0.5"}, _clock)
    assert list(account.markets) == [market.id] and account.markets[market.id] is not market
    account.set_price(market.id, market.price * 2)
    assert account.markets[market.id].price == market.price * 2 != market.price
    assert account.ledger.available(market.quote) == Decimal(100)
    assert account.ledger.available("XYZ") == Decimal("0.5")
    assert account.ledger.amount[market.base] == 0  # every currency the markets trade
    assert account.opened_at == _clock() and account.orders_created == 0


@pytest.mark.parametrize("name", sorted(ACCOUNTS))
def test_an_account_without_markets_or_balances_opens_with_the_exchanges_defaults(name):
    account = ACCOUNTS[name](None, None, _clock)
    defaults = account.defaults
    assert list(account.markets) == [m.id for m in defaults.markets()]
    assert account.ledger.amount == {
        **dict.fromkeys(account.ledger.amount, Decimal(0)),
        **defaults.balances(),
    }


def test_holds_are_released_when_an_order_settles_and_it_trades_both_currencies():
    market, _, _ = MARKETS["gemini"]
    account = GeminiState([market], {"USD": 10_000, "ETH": 0}, _clock)
    size, price = Decimal("1"), Decimal("3000")
    assert account.affords(market, buy=True, size=size, price=price)
    assert not account.affords(market, buy=True, size=size * 4, price=price)
    order = SimpleNamespace(held=Decimal(0))
    account.hold(order, market, buy=True, size=size, price=price)
    assert order.held == 3000 and account.ledger.available("USD") == 7000
    account.settle(order, market, buy=True, size=size, price=Decimal("2990"))
    assert account.ledger.available("USD") == 7010 and account.ledger.amount["ETH"] == 1
    assert order.held == 0 and account.ledger.held["USD"] == 0


def test_a_cancelled_order_gives_back_what_it_held():
    market, _, _ = MARKETS["gemini"]
    account = GeminiState([market], {"USD": 0, "ETH": 5}, _clock)
    order = SimpleNamespace(held=Decimal(0))
    account.hold(order, market, buy=False, size=Decimal("2"), price=Decimal("4000"))
    assert order.held == 2 and account.ledger.available("ETH") == 3
    account.release(order, market, buy=False)
    assert order.held == 0 and account.ledger.available("ETH") == 5
    assert account.ledger.amount == {"ETH": 5, "USD": 0}


def test_numbers_count_up_per_kind():
    account = GeminiState(None, None, _clock)
    assert [account.number("trade"), account.number("trade"), account.number("cancel")] == [
        1,
        2,
        1,
    ]
