"""Spot trading as every stand-in does it: how a market is quoted, what an order spends, and
the account that keeps the markets, the balances and the orders.

The rule is one for all exchanges: a market is quoted one tick wide at its last price (bid at
the price, ask a tick above); an order that crosses that quote takes it at once, a buy at the
ask and a sell at the bid; any other limit order rests, holding what it would spend (the quote
currency of a buy, the base currency of a sell), until it is cancelled or the price moves
through it, when it fills at its own price. What stays with each exchange is its wire format,
its checks and errors, and its order types (post-only, immediate-or-cancel, ...).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, Protocol, TypeVar

from scaffolder.standin import price_series
from scaffolder.standin.ledger import Ledger, TradedPair

Item = TypeVar("Item")


class SpotMarket:
    """A market as the stand-ins quote it; each exchange's market is a dataclass that gives
    ``id`` (the exchange's market id), ``base``, ``quote``, the last ``price``, ``tick`` (the
    price increment), ``step`` (the amount increment) and ``base_volume`` (a candle's typical
    volume), as fields or properties."""

    id: str
    base: str
    quote: str
    price: Decimal
    tick: Decimal
    step: Decimal
    base_volume: Decimal

    @property
    def min_price(self) -> Decimal:
        """The lowest price a candle may reach (default: one tick)."""
        return self.tick

    @property
    def bid(self) -> Decimal:
        """Best bid: the last price."""
        return self.price

    @property
    def ask(self) -> Decimal:
        """Best ask: one tick above the last price."""
        return self.price + self.tick

    def taker_price(self, *, buy: bool) -> Decimal:
        """The price an order that takes the quote fills at: the ask for a buy, else the bid."""
        return self.ask if buy else self.bid

    def crosses(self, limit: Decimal, *, buy: bool) -> bool:
        """Whether a limit order at ``limit`` reaches the quote (a buy at or above the ask, a
        sell at or below the bid)."""
        return limit >= self.ask if buy else limit <= self.bid

    def series(self) -> price_series.Market:
        """This market as the shared price series sees it."""
        return price_series.Market(
            self.id, self.price, self.tick, self.step, self.min_price, self.base_volume
        )


def funding(market: TradedPair, *, buy: bool) -> str:
    """The currency an order spends: the quote currency for a buy, the base for a sell."""
    return market.quote if buy else market.base


def spends(market: TradedPair, *, buy: bool, size: Decimal, price: Decimal) -> tuple[str, Decimal]:
    """The currency and amount an order of ``size`` base currency at ``price`` spends: the
    quote currency's ``size * price`` for a buy, the base currency's ``size`` for a sell."""
    return funding(market, buy=buy), (size * price if buy else size)


def copies_or(items: Iterable[Item] | None, default: Callable[[], list[Item]]) -> list[Item]:
    """Copies of the given market specifications (the caller's stay untouched), or defaults."""
    return [dataclasses.replace(i) for i in items] if items is not None else default()  # type: ignore[type-var]


def balances_or(
    balances: Mapping[str, Decimal | int | str] | None, default: Callable[[], dict[str, Decimal]]
) -> dict[str, Decimal]:
    """Starting balances as decimals, or defaults."""
    if balances is None:
        return default()
    return {currency: Decimal(str(amount)) for currency, amount in balances.items()}


Market = TypeVar("Market", bound=SpotMarket)
Order = TypeVar("Order")


class Holding(Protocol):
    """An order as the account sees its funds: the amount it holds while it rests."""

    held: Decimal


@dataclass(frozen=True)
class Defaults:
    """What an exchange's account lists and holds unless told otherwise."""

    markets: Callable[[], list[Any]]
    balances: Callable[[], dict[str, Decimal]]


class SpotAccount(Generic[Market, Order]):
    """The markets (by id), balances and orders of one stand-in account.

    Args:
        markets: the markets to list (copied: the caller's stay untouched), else the
            exchange's :attr:`defaults`.
        balances: the starting balances, else the exchange's :attr:`defaults`.
        clock: milliseconds since the epoch; the account is opened at its current value.

    An exchange's account subclasses it with its :attr:`defaults`, its endpoints and the two
    things :meth:`set_price` needs of its orders (:meth:`resting`, :meth:`fill_resting`). Not
    thread-safe on its own: the server serialises calls with a lock.
    """

    defaults: Defaults

    def __init__(
        self,
        markets: Iterable[Market] | None,
        balances: Mapping[str, Decimal | int | str] | None,
        clock: Callable[[], int],
    ) -> None:
        self.markets: dict[str, Market] = {
            m.id: m for m in copies_or(markets, self.defaults.markets)
        }
        self.clock = clock
        self.opened_at = clock()
        self.ledger = Ledger(balances_or(balances, self.defaults.balances), self.markets.values())
        self.orders: dict[Any, Order] = {}
        self.orders_created = 0
        self._numbers: Counter[str] = Counter()

    def number(self, kind: str) -> int:
        """The next number of ``kind`` (``"trade"``, ``"cancel"``, ...): 1, 2, 3 ..."""
        self._numbers[kind] += 1
        return self._numbers[kind]

    # -- funds -------------------------------------------------------------------------------

    def affords(self, market: Market, *, buy: bool, size: Decimal, price: Decimal) -> bool:
        """Whether the available balance covers what the order :func:`spends`."""
        currency, amount = spends(market, buy=buy, size=size, price=price)
        return self.ledger.available(currency) >= amount

    def hold(
        self, order: Holding, market: Market, *, buy: bool, size: Decimal, price: Decimal
    ) -> None:
        """Hold what a resting order spends (in ``order.held``)."""
        currency, order.held = spends(market, buy=buy, size=size, price=price)
        self.ledger.hold(currency, order.held)

    def release(self, order: Holding, market: Market, *, buy: bool) -> None:
        """Release what an order holds (it filled, or it was cancelled)."""
        self.ledger.release(funding(market, buy=buy), order.held)
        order.held = Decimal(0)

    def settle(
        self, order: Holding, market: Market, *, buy: bool, size: Decimal, price: Decimal
    ) -> None:
        """Fill an order: release what it holds and trade ``size`` at ``price``."""
        self.release(order, market, buy=buy)
        self.ledger.trade(market.base, market.quote, buy=buy, size=size, price=price)

    # -- prices ------------------------------------------------------------------------------

    def resting(self, market: Market) -> Iterable[tuple[Order, bool, Decimal]]:
        """The open limit orders on ``market``, oldest first, as ``(order, buy, limit)``."""
        raise NotImplementedError

    def fill_resting(self, order: Order, price: Decimal) -> None:
        """Fill a resting order at ``price`` (its own limit, as a maker)."""
        raise NotImplementedError

    def set_price(self, market_id: str, price: Decimal) -> None:
        """Move the last price; resting limit orders it crosses fill at their own price."""
        market = self.markets[market_id]
        market.price = price
        for order, buy, limit in list(self.resting(market)):
            if market.crosses(limit, buy=buy):
                self.fill_resting(order, limit)
