"""Balances of a stand-in account, and the test controls of stand-ins that keep one.

A :class:`Ledger` knows, per currency, the amount the account owns and how much of it open
orders hold; a fill moves base and quote currency. Every stand-in keeps its balances this way
and renders them in its exchange's terms (Binance's ``free`` is what is available, its
``locked`` what open orders hold).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from scaffolder.standin.server import StandInServer


def positive_decimal(raw: Any) -> Decimal | None:
    """A positive, finite decimal from a request field (a string or a number), else None."""
    try:
        value = Decimal(str(raw))
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() and value > 0 else None


def plain(value: Decimal) -> str:
    """A decimal written plainly: no exponent, no trailing zeros (``"0.014434"``, ``"0"``)."""
    text = f"{value.normalize():f}"
    return "0" if text == "-0" else text


class TradedPair(Protocol):
    """What a ledger needs of a market: the two currencies it trades."""

    base: str
    quote: str


class Ledger:
    """Amounts and holds per currency of one account: the starting ``balances``, and zero of
    every other currency the ``markets`` trade."""

    def __init__(self, balances: Mapping[str, Decimal], markets: Iterable[TradedPair]) -> None:
        self.amount: dict[str, Decimal] = dict(balances)
        for market in markets:
            for currency in (market.base, market.quote):
                self.amount.setdefault(currency, Decimal(0))
        self.held: dict[str, Decimal] = dict.fromkeys(self.amount, Decimal(0))

    def available(self, currency: str) -> Decimal:
        """What ``currency`` is free for trading: the amount minus what open orders hold."""
        return self.amount.get(currency, Decimal(0)) - self.held.get(currency, Decimal(0))

    def hold(self, currency: str, amount: Decimal) -> None:
        self.held[currency] = self.held.get(currency, Decimal(0)) + amount

    def release(self, currency: str, amount: Decimal) -> None:
        self.held[currency] -= amount

    def trade(self, base: str, quote: str, *, buy: bool, size: Decimal, price: Decimal) -> None:
        """Settle a fill of ``size`` base currency at ``price``."""
        sign = 1 if buy else -1
        self.amount[base] += sign * size
        self.amount[quote] -= sign * size * price


class LedgerStandIn(StandInServer):
    """A stand-in with one account: its credentials, its ``state`` (an ``account``, a
    :class:`~scaffolder.standin.spot.SpotAccount` that keeps a :class:`Ledger` in ``ledger``,
    counts ``orders_created`` and can ``set_price(market, price)``) and the test controls.

    Args:
        api_key: the only accepted API key.
        secret: the signing secret.
        markets: the exchange's market specifications (copied), else the account's defaults.
        balances: starting balances, else the account's defaults.
        server: ``host``, ``port``, ``clock``, ``fault_delay``, ``verbose``: see
            :class:`StandInServer`.
    """

    #: The exchange's account class (a ``SpotAccount``): ``state`` is one.
    account: Any

    def __init__(
        self,
        api_key: str,
        secret: str,
        markets: Iterable[Any] | None,
        balances: Mapping[str, Decimal | int | str] | None,
        **server: Any,
    ) -> None:
        super().__init__(**server)
        self.api_key = api_key
        self.secret = secret
        self.state = self.account(markets, balances, self.clock)

    @property
    def orders_created(self) -> int:
        """Number of orders actually created (refused ones do not count)."""
        with self.lock:
            count: int = self.state.orders_created
            return count

    def balance(self, currency: str) -> tuple[Decimal, Decimal]:
        """``(available, amount)`` of ``currency``."""
        with self.lock:
            ledger: Ledger = self.state.ledger
            return ledger.available(currency), ledger.amount.get(currency, Decimal(0))

    def set_price(self, market: str, price: Decimal | str) -> None:
        """Set the market's last price (its exchange id); resting orders it crosses fill."""
        with self.lock:
            self.state.set_price(market, Decimal(str(price)))
