"""``BaseBroker``: the interface the trading bot talks to, and the checks every broker shares.

Every broker returns the shapes in :mod:`brokers.shapes` and raises the errors in
:mod:`brokers.errors`. The checks that must happen *before* anything is sent (connected?
symbol supported? a limit order has a price?) live here once, so no broker can forget them.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

from brokers.errors import (
    BrokerError,
    ConfigError,
    InvalidOrderError,
    InvalidSymbolError,
    NotConnectedError,
    NotSupportedError,
    map_exception,
)
from brokers.order_checks import (
    ORDER_SIDES,
    PRICED_ORDER_TYPES,
    MarketRules,
    OrderLimits,
    OrderRequest,
    check_market_rules,
    check_position_size,
    number_or_none,
    to_decimal,
)
from brokers.retry import UNFINDABLE, call_with_retry, cancel_with_retry, place_order_once
from brokers.shapes import (
    OHLCV,
    Balance,
    BalanceEntry,
    Order,
    OrderSide,
    OrderType,
    Position,
    Ticker,
    is_cancelled,
)

if TYPE_CHECKING:
    from brokers.config import BrokerConfig
    from brokers.signing import AuthNames
    from brokers.streaming import ErrorCallback, TickerCallback, TickerSubscriptions

__all__ = [
    "OHLCV",
    "Balance",
    "BalanceEntry",
    "BaseBroker",
    "Number",
    "Order",
    "OrderSide",
    "OrderType",
    "Position",
    "Ticker",
]

#: What an amount or a price may be given as (floats are read through their repr).
Number = float | int | str | Decimal
T = TypeVar("T")


class BaseBroker(abc.ABC):
    """One exchange account, as the trading bot sees it.

    Subclasses implement the abstract methods; they call :meth:`_require_connected` and
    :meth:`_require_symbol` first, so that refusals happen before any request is made. Orders
    enter through :meth:`create_order` here, which checks them and hands the subclass's
    :meth:`_place_order` an exact, rounded :class:`~brokers.order_checks.OrderRequest`.
    Requests go through the one retry policy (:mod:`brokers.retry`) by :meth:`_retried`,
    :meth:`_place_once` and :meth:`_cancel_retried`, with the config's policy, the broker's
    error mapping (:meth:`_to_error`) and its ``sleep``.
    """

    #: Registry name of the broker (``binance``, ``kraken``...). Set by each broker class.
    name: str = ""
    #: Whether the broker offers :meth:`subscribe_ticker` (its class makes the stream).
    websocket: ClassVar[bool] = False
    #: How to get ticker subscriptions, for the error of a broker without them.
    websocket_hint: ClassVar[str] = "regenerate the broker with websocket enabled"

    @classmethod
    def auth_names(cls) -> AuthNames:
        """The headers and parameters this broker's signed requests carry secrets in, so the
        harness can scrub exactly those (see :class:`brokers.signing.AuthNames`). A broker
        that signs requests overrides this; the default declares none."""
        from brokers.signing import AuthNames

        return AuthNames()

    def __init__(
        self, config: BrokerConfig, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.config = config
        self.name = self.name or config.name
        self._sleep = sleep
        self._connected = False
        self._stream: TickerSubscriptions | None = None
        self._limits_of: tuple[BrokerConfig | None, OrderLimits] = (None, OrderLimits({}, {}))

    # -- lifecycle -------------------------------------------------------------------------
    def connect(self) -> bool:
        """Open the session and load what the broker needs (:meth:`_open`). True when ready;
        when loading fails, the broker stays disconnected."""
        self._open()
        self._connected = True
        return True

    @abc.abstractmethod
    def _open(self) -> None:
        """What :meth:`connect` does before the broker is ready: open a session, load markets."""

    def disconnect(self) -> None:
        """Stop the ticker subscriptions and close the session (:meth:`_close_session`). Safe
        to call twice; the next :meth:`connect` starts afresh."""
        self._connected = False
        self._close_stream()
        self._close_session()

    @abc.abstractmethod
    def _close_session(self) -> None:
        """Close what :meth:`connect` opened (an HTTP session). Safe to call twice."""

    def is_connected(self) -> bool:
        """Whether :meth:`connect` succeeded and :meth:`disconnect` has not been called since."""
        return self._connected

    # -- market data -----------------------------------------------------------------------
    @abc.abstractmethod
    def get_balance(self) -> Balance:
        """Free, used and total balance per currency (zero balances omitted)."""

    @abc.abstractmethod
    def get_ticker(self, symbol: str) -> Ticker:
        """Last price and top of book for ``symbol`` (``BASE/QUOTE``)."""

    @abc.abstractmethod
    def get_ohlcv(
        self, symbol: str, timeframe: str = "1h", limit: int = 100, since: int | None = None
    ) -> list[OHLCV]:
        """Candles ``[ts_ms, open, high, low, close, volume]``, oldest first."""

    # -- orders ----------------------------------------------------------------------------
    def create_order(
        self,
        symbol: str,
        order_type: str | None,
        side: str,
        amount: Number,
        price: Number | None = None,
        params: dict[str, Any] | None = None,
        *,
        client_order_id: str | None = None,
    ) -> Order:
        """Place an order once. A client order id is generated when none is given; if the answer
        is lost, the order is looked up by that id before anything is re-sent.

        Every check happens first, here, for every broker (:mod:`brokers.order_checks`): exact
        numbers, the config's trading settings and risk limits (``order_type=None`` takes
        ``trading_settings.default_order_type``), the market's step, tick and minimums.
        """
        request = self._checked_order(
            symbol, order_type, side, amount, price, params, client_order_id
        )
        return _as_sent(self._place_order(request), request)

    @abc.abstractmethod
    def _place_order(self, order: OrderRequest) -> Order:
        """Send ``order`` (checked and rounded) once: the broker's part of :meth:`create_order`."""

    @abc.abstractmethod
    def cancel_order(self, order_id: str, symbol: str | None = None) -> Order:
        """Cancel an open order. Raises ``OrderNotFoundError`` when there is none to cancel."""

    @abc.abstractmethod
    def get_order(self, order_id: str, symbol: str | None = None) -> Order:
        """One order by exchange id. Raises ``OrderNotFoundError`` when it does not exist."""

    @abc.abstractmethod
    def get_open_orders(self, symbol: str | None = None) -> list[Order]:
        """Open orders, for one symbol or all supported ones."""

    @abc.abstractmethod
    def get_positions(self) -> list[Position]:
        """Open positions (for spot accounts: derived from the balance)."""

    # -- streaming -------------------------------------------------------------------------
    def subscribe_ticker(
        self, symbol: str, callback: TickerCallback, *, on_error: ErrorCallback | None = None
    ) -> None:
        """Deliver every ticker update of ``symbol`` to ``callback`` (on a background thread).

        Subscribing a symbol again replaces its callbacks. The stream reconnects after drops
        with the config's retry policy. What goes wrong on the way (an unreadable message, a
        subscription given up) is logged and passed to ``on_error``; the callback's own
        exceptions are logged. Refused before any connection when not connected, for a symbol
        outside ``supported_pairs``, and (``NotSupportedError``) on a broker without streams.
        """
        self._require_connected()
        self._require_symbol(symbol)
        if not self.websocket:
            raise NotSupportedError(
                f"{self.name} has no ticker subscription ({self.websocket_hint})",
                broker=self.name,
            )
        if self._stream is None:
            self._stream = self._new_ticker_stream()
        self._stream.subscribe(symbol, callback, on_error)

    def unsubscribe(self, symbol: str) -> None:
        """Stop the ticker updates of ``symbol``: none arrives once this returns."""
        if self._stream is not None:
            self._stream.unsubscribe(symbol)

    def _new_ticker_stream(self) -> TickerSubscriptions:
        """The stream :meth:`subscribe_ticker` uses; brokers with ``websocket`` make one."""
        raise NotSupportedError(f"{self.name} has no ticker stream", broker=self.name)

    def _close_stream(self) -> None:
        """Stop every subscription and the stream's thread (for ``disconnect``)."""
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    # -- symbols ---------------------------------------------------------------------------
    def get_supported_symbols(self) -> list[str]:
        """The pairs this broker trades: the config's ``supported_pairs``."""
        return list(self.config.supported_pairs)

    def validate_symbol(self, symbol: str) -> bool:
        """Whether ``symbol`` is one of the supported pairs."""
        pairs = self.config.supported_pairs
        return isinstance(symbol, str) and (not pairs or symbol in pairs)

    # -- shared pre-checks -----------------------------------------------------------------
    def _require_connected(self) -> None:
        if not self._connected:
            raise NotConnectedError(
                "not connected: call connect() before using the broker", broker=self.name
            )

    def _require_symbol(self, symbol: str | None) -> None:
        if symbol is None:
            return
        if not self.validate_symbol(symbol):
            pairs = ", ".join(self.config.supported_pairs)
            raise InvalidSymbolError(
                f"symbol {symbol!r} is not supported; supported_pairs are: {pairs}",
                broker=self.name,
            )

    def has(self, method: str) -> bool:
        """Whether the broker offers ccxt's unified ``method`` (``createOrder``...). A broker
        implements every BaseBroker method unless its class says otherwise."""
        return True

    def _require(self, method: str, what: str) -> None:
        if not self.has(method):
            raise NotSupportedError(
                f"{self.name} cannot {what}: it has no {method}", broker=self.name
            )

    def _config_error(self, message: str, pointer: str) -> ConfigError:
        """A refusal of this broker's config file at JSON ``pointer`` (``/settings/testnet``)."""
        return ConfigError(message, pointer=pointer, path=self.config.source, broker=self.name)

    # -- requests, through the one retry policy -------------------------------------------
    def _to_error(self, exc: BaseException) -> BrokerError:
        """Our error for what a request raised (:func:`brokers.errors.map_exception`)."""
        return map_exception(exc, broker=self.name)

    def _retried(self, fn: Callable[[], T], describe: str) -> T:
        """``fn``, an idempotent request, retried (:func:`brokers.retry.call_with_retry`)."""
        return call_with_retry(
            fn,
            policy=self.config.settings.retry,
            describe=f"{self.name}: {describe}",
            to_error=self._to_error,
            sleep=self._sleep,
        )

    def _place_once(
        self,
        send: Callable[[], Order],
        find: Callable[[], Order | None] | None,
        client_id: str,
        unfindable: str = UNFINDABLE,
    ) -> Order:
        """An order sent at most once per proven absence (:func:`brokers.retry.place_order_once`;
        ``unfindable`` says why ``find`` is None and what to check)."""
        return place_order_once(
            send,
            find,
            client_order_id=client_id,
            policy=self.config.settings.retry,
            to_error=self._to_error,
            sleep=self._sleep,
            broker=self.name,
            unfindable=unfindable,
        )

    def _cancel_retried(
        self, order_id: str, cancel: Callable[[], Order], look_up: Callable[[], Order] | None
    ) -> Order:
        """``cancel`` retried like a read, seeing through a lost answer with ``look_up``
        (:func:`brokers.retry.cancel_with_retry`)."""
        return cancel_with_retry(
            cancel,
            look_up,
            is_cancelled,
            policy=self.config.settings.retry,
            describe=f"{self.name}: cancel order {order_id}",
            to_error=self._to_error,
            sleep=self._sleep,
        )

    def market_rules(self, symbol: str) -> MarketRules:
        """``symbol``'s step, tick, minimums and kind; none known by default."""
        return MarketRules()

    def _reference_price(self, symbol: str) -> Decimal | None:
        """The price a market order without one is valued at: the ticker's last price."""
        return number_or_none(self.get_ticker(symbol)["last"] or None)

    def _checked_order(
        self,
        symbol: str,
        order_type: str | None,
        side: str,
        amount: Number,
        price: Number | None,
        params: dict[str, Any] | None,
        client_order_id: str | None,
    ) -> OrderRequest:
        """The order as it will be sent, or a refusal before any request (the module
        docstring of :mod:`brokers.order_checks` lists the checks, in order)."""
        self._require_connected()
        self._require_symbol(symbol)
        self._require("createOrder", "place orders")
        if side not in ORDER_SIDES:
            raise InvalidOrderError(f"side must be 'buy' or 'sell', got {side!r}", broker=self.name)
        limits = self._order_limits()
        kind = limits.order_type(order_type, self.name)
        exact_amount = to_decimal(amount, "amount", broker=self.name)
        if kind in PRICED_ORDER_TYPES and price is None:
            raise InvalidOrderError(
                f"a {kind} order needs a price; pass price=... or use a market order",
                broker=self.name,
            )
        exact_price = None if price is None else to_decimal(price, "price", broker=self.name)
        extra = dict(params or {})
        time_in_force = extra.get("timeInForce") or (
            self.config.trading.get("time_in_force") if kind in PRICED_ORDER_TYPES else None
        )
        rules = self.market_rules(symbol)
        limits.check_market(rules, extra, self.name)
        reference = None
        if exact_price is None and limits.max_position() is not None:
            reference = self._reference_price(symbol)
        order = OrderRequest(
            symbol, kind, side, exact_amount, exact_price, extra, client_order_id, time_in_force
        )
        order = check_market_rules(order, rules, reference, self.name)
        check_position_size(order, rules, limits, reference, self.name)
        return order

    def _order_limits(self) -> OrderLimits:
        """The config's order limits, read once per config (not on every order)."""
        config = self.config
        if self._limits_of[0] is not config:
            self._limits_of = (config, OrderLimits(config.trading, config.risk))
        return self._limits_of[1]

    def __enter__(self) -> BaseBroker:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.disconnect()

    def __repr__(self) -> str:
        state = "connected" if self._connected else "disconnected"
        return f"<{type(self).__name__} {self.name!r} {state}>"


def balance_positions(balance: Balance, pairs: list[str]) -> list[Position]:
    """Spot positions derived from a balance: one long position per held base asset of ``pairs``.

    This is the fallback for exchanges without a positions endpoint: holding 0.5 BTC with
    BTC/USDT configured is a 0.5 long BTC/USDT position. Prices are not known here.
    """
    positions: list[Position] = []
    seen: set[str] = set()
    for pair in pairs:
        base = pair.split("/")[0]
        entry: BalanceEntry | None = balance.get(base)
        if entry is None or not entry["total"] or base in seen:
            continue
        seen.add(base)
        positions.append(
            {
                "symbol": pair,
                "side": "long",
                "contracts": entry["total"],
                "entry_price": None,
                "mark_price": None,
                "unrealized_pnl": None,
                "leverage": None,
            }
        )
    return positions


#: What :func:`_as_sent` fills in when the exchange's answer leaves it out.
_SENT_KEYS = ("symbol", "type", "side", "client_order_id", "amount", "price")


def _as_sent(order: Order, request: OrderRequest) -> Order:
    """A new order's answer with what the exchange left out filled in from what was sent:
    many exchanges answer an order with its id alone (no side, type or amount echoed)."""
    get = order.get
    absent = [key for key in _SENT_KEYS if get(key) in (None, "")]
    if not absent:  # a full echo: nothing to fill (and nothing converted)
        return order
    sent: dict[str, Any] = {
        "symbol": request.symbol, "type": request.order_type, "side": request.side,
        "client_order_id": request.client_order_id, "amount": float(request.amount),
        "price": None if request.price is None else float(request.price),
    }  # fmt: skip
    missing = {key: sent[key] for key in absent if sent[key] is not None}
    return cast(Order, {**order, **missing}) if missing else order
