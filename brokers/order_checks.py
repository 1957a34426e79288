"""What every order passes before anything is sent: exact numbers, the config's limits, the market's.

:meth:`brokers.base.BaseBroker.create_order` is the one entry for orders of every broker (ccxt
and REST alike). It turns the caller's arguments into an :class:`OrderRequest` here, in this
order, and refuses with an :class:`~brokers.errors.InvalidOrderError` (or its child
:class:`PreTradeLimitError`, naming the config field) before any request is made:

1. numbers: amount and price become :class:`~decimal.Decimal`. An ``int``, ``str`` or
   ``Decimal`` is taken as it is, a ``float`` through its shortest repr (``str(1e-07)``), never
   a fixed format; ``bool``, NaN, infinities, zero and negatives are refused;
2. ``trading_settings``: ``default_order_type`` when the caller gives none (``None``),
   ``supported_order_types``, ``time_in_force`` as the default ``timeInForce`` of priced
   orders, ``futures_enabled`` for swap/future/option markets and ``margin_enabled`` for margin
   orders (``marginMode``/``margin`` params or a margin market);
3. ``risk_management.max_leverage`` against the order's ``leverage`` param (ccxt's unified
   name; a leverage set on the exchange account by other means is not seen here);
4. the market's rules (:class:`MarketRules`): the amount is truncated to the step (as ccxt's
   ``amount_to_precision`` does, so a buy never grows), the price rounded to the nearest tick
   (as ccxt's ``price_to_precision``); then the minimum amount and minimum cost (notional);
5. ``risk_management.max_position_size``: the order's notional in the quote currency (amount x
   price x contract size; for inverse contracts amount x contract size), with the last price
   for a market order without one, must not exceed it. It caps what one order can add to a
   position; holdings from earlier orders are not summed (that would need a balance read before
   every order). Orders with ``reduceOnly`` cannot grow a position and are not capped.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import ROUND_DOWN, ROUND_HALF_UP, Context, Decimal, InvalidOperation, localcontext
from typing import Any

from brokers.errors import InvalidOrderError

log = logging.getLogger(__name__)

ORDER_SIDES = ("buy", "sell")
#: Order types that need a price.
PRICED_ORDER_TYPES = ("limit", "stop_loss_limit", "take_profit_limit")
#: Market kinds that trade derivatives (need ``trading_settings.futures_enabled``).
DERIVATIVE_KINDS = ("swap", "future", "option")
#: Exact arithmetic, whatever another library set as the thread's decimal context.
_EXACT = Context(prec=50)


class PreTradeLimitError(InvalidOrderError):
    """The order breaks a limit of the broker's config; ``field`` names it
    (``risk_management.max_position_size``). Nothing was sent."""

    def __init__(self, message: str, *, field: str, broker: str | None = None) -> None:
        super().__init__(message, broker=broker)
        self.field = field


@dataclass(frozen=True)
class OrderRequest:
    """An order that passed every check: what a broker sends, exactly."""

    symbol: str
    order_type: str
    side: str
    amount: Decimal
    price: Decimal | None
    #: The caller's params, as given.
    params: dict[str, Any] = field(default_factory=dict)
    client_order_id: str | None = None
    #: The caller's ``timeInForce`` param, else for priced orders
    #: ``trading_settings.time_in_force``.
    time_in_force: str | None = None

    def exchange_time_in_force(self) -> dict[str, str]:
        """The ``timeInForce`` param to add for ccxt: the config's default when it is not GTC
        (every exchange's and ccxt's own default, which ccxt sets itself where the exchange
        needs it; an exchange whose ccxt class has no such param is not sent one it would
        refuse). The caller's own ``timeInForce`` is in :attr:`params` already."""
        if "timeInForce" in self.params or self.time_in_force in (None, "GTC"):
            return {}
        return {"timeInForce": str(self.time_in_force)}


def plain(number: Decimal) -> str:
    """``number`` as an exchange wants it: positional notation, no trailing zeros."""
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def to_decimal(value: object, what: str, *, broker: str | None = None) -> Decimal:
    """A positive, finite Decimal from an int, float (its repr), str or Decimal."""
    if value.__class__ is float:  # the usual: str() is the shortest repr, nothing to clean
        number = Decimal(str(value))
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InvalidOrderError(
            f"{what} must be a positive number (int, float, str or Decimal), got {value!r}",
            broker=broker,
        )
    else:
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise InvalidOrderError(
                f"{what} must be a positive number, got {value!r}", broker=broker
            ) from None
    if not number.is_finite() or number <= 0:
        raise InvalidOrderError(f"{what} must be a positive number, got {value!r}", broker=broker)
    return number


def _step_round(value: Decimal, step: Decimal | None, rounding: str) -> Decimal:
    if step is None or step <= 0:
        return value
    with localcontext(_EXACT):
        return (value / step).to_integral_value(rounding=rounding) * step


@dataclass(frozen=True)
class MarketRules:
    """A market's trading rules, all optional: step and tick, minimums, contract terms.

    ``round_amount``/``round_price`` default to the step and tick; a ccxt broker passes
    ccxt's own ``amount_to_precision``/``price_to_precision`` instead (any precision mode).
    """

    amount_step: Decimal | None = None
    price_tick: Decimal | None = None
    min_amount: Decimal | None = None
    min_cost: Decimal | None = None
    #: ``spot``, ``margin``, ``swap``, ``future`` or ``option``.
    kind: str = "spot"
    contract_size: Decimal = Decimal(1)
    inverse: bool = False
    amount_rounder: Callable[[Decimal], Decimal] | None = None
    price_rounder: Callable[[Decimal], Decimal] | None = None

    def round_amount(self, amount: Decimal) -> Decimal:
        """``amount`` truncated to the step (never rounded up)."""
        if self.amount_rounder is not None:
            return self.amount_rounder(amount)
        return _step_round(amount, self.amount_step, ROUND_DOWN)

    def round_price(self, price: Decimal) -> Decimal:
        """``price`` rounded to the nearest tick (half up)."""
        if self.price_rounder is not None:
            return self.price_rounder(price)
        return _step_round(price, self.price_tick, ROUND_HALF_UP)

    def notional(self, amount: Decimal, price: Decimal) -> Decimal:
        """The order's value in the quote currency."""
        if self.inverse:
            return _EXACT.multiply(amount, self.contract_size)
        return _EXACT.multiply(_EXACT.multiply(amount, price), self.contract_size)


def number_or_none(value: Any) -> Decimal | None:
    """A Decimal from a market field (a float, int or string), or None when absent or invalid."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def ccxt_market_rules(exchange: Any, symbol: str) -> MarketRules:
    """The rules of ccxt market ``symbol``, rounding through ccxt's own precision functions."""
    market: Mapping[str, Any] = exchange.market(symbol)
    limits = market.get("limits") or {}
    precision = market.get("precision") or {}
    mode = getattr(exchange, "precisionMode", None)
    amount_step = _ccxt_step(precision.get("amount"), mode)
    price_tick = _ccxt_step(precision.get("price"), mode)

    def through(method: str, step: Decimal | None) -> Callable[[Decimal], Decimal]:
        # ccxt's own rounding of a value already on the step is the value itself, so it is
        # asked only for values off the step (or with no fixed step, or where the exchange's
        # ccxt class rounds its own way): it costs more than the rest of the checks together.
        step = step if not _overrides(exchange, method) else None

        def rounded(value: Decimal) -> Decimal:
            if step is not None and _on_step(value, step):
                return value
            try:
                return Decimal(str(getattr(exchange, method)(symbol, plain(value))))
            except Exception as exc:
                if type(exc).__name__ == "InvalidOrder":  # it rounds to 0: our check says so
                    return Decimal(0)
                raise InvalidOrderError(
                    f"{symbol}: ccxt's {method} cannot round {plain(value)}: {exc}"
                ) from exc

        return rounded

    kind = str(market.get("type") or "spot")
    return MarketRules(
        min_amount=number_or_none((limits.get("amount") or {}).get("min")),
        min_cost=number_or_none((limits.get("cost") or {}).get("min")),
        amount_step=amount_step,
        price_tick=price_tick,
        kind=kind,
        contract_size=number_or_none(market.get("contractSize")) or Decimal(1),
        inverse=bool(market.get("inverse")),
        amount_rounder=through("amount_to_precision", amount_step)
        if precision.get("amount") is not None
        else None,
        price_rounder=through("price_to_precision", price_tick)
        if precision.get("price") is not None
        else None,
    )


def _overrides(exchange: Any, method: str) -> bool:
    """Whether ``exchange``'s ccxt class rounds with its own ``method`` (not ccxt's base one)."""
    for klass in type(exchange).__mro__:
        if klass.__module__ == "ccxt.base.exchange":
            return False
        if method in vars(klass):
            return True
    return True  # not a ccxt exchange as we know it: always ask it


def _on_step(value: Decimal, step: Decimal) -> bool:
    """Whether ``value`` is a whole multiple of ``step`` (exactly)."""
    if step <= 0:
        return False
    try:
        return not _EXACT.remainder(value, step)
    except InvalidOperation:
        return False


#: ccxt's ``precisionMode`` values (``ccxt.base.decimal_to_precision``).
_DECIMAL_PLACES, _TICK_SIZE = 2, 4


def _ccxt_step(precision: Any, mode: Any) -> Decimal | None:
    """The step a ccxt precision stands for (None in significant-digits mode: no fixed step)."""
    number = number_or_none(precision)
    if number is None:
        return None
    if mode == _TICK_SIZE:
        return number
    if mode == _DECIMAL_PLACES:
        return Decimal(1).scaleb(-int(number))
    return None


@dataclass(frozen=True)
class OrderLimits:
    """The order-related parts of a config: ``trading_settings`` and ``risk_management``."""

    trading: Mapping[str, Any]
    risk: Mapping[str, Any]

    def order_type(self, given: str | None, broker: str | None) -> str:
        """The caller's order type, else ``trading_settings.default_order_type``; supported?"""
        order_type = given or self.trading.get("default_order_type")
        if not order_type:
            raise InvalidOrderError(
                "no order type given and trading_settings.default_order_type is not set: "
                "pass 'limit' or 'market'",
                broker=broker,
            )
        supported = self.trading.get("supported_order_types")
        if supported and order_type not in supported:
            raise PreTradeLimitError(
                f"order type {order_type!r} is not in trading_settings.supported_order_types "
                f"({', '.join(supported)})",
                field="trading_settings.supported_order_types",
                broker=broker,
            )
        return str(order_type)

    def check_market(
        self, rules: MarketRules, params: Mapping[str, Any], broker: str | None
    ) -> None:
        """Derivatives, margin and leverage against the config (before any number is sent)."""
        futures = bool(self.trading.get("futures_enabled"))
        margin = bool(self.trading.get("margin_enabled"))
        if rules.kind in DERIVATIVE_KINDS and not futures:
            raise PreTradeLimitError(
                f"this is a {rules.kind} market and trading_settings.futures_enabled is not "
                "true: enable it in the config to trade derivatives",
                field="trading_settings.futures_enabled",
                broker=broker,
            )
        wants_margin = rules.kind == "margin" or (
            bool(params)  # the usual order has no params: nothing to look up in them
            and (
                bool(params.get("marginMode"))
                or bool(params.get("margin"))
                or params.get("type") == "margin"
            )
        )
        if wants_margin and not margin:
            raise PreTradeLimitError(
                "the order trades on margin and trading_settings.margin_enabled is not true: "
                "enable it in the config to trade on margin",
                field="trading_settings.margin_enabled",
                broker=broker,
            )
        if not params or params.get("leverage") is None:
            return
        leverage = to_decimal(params["leverage"], "leverage", broker=broker)
        if leverage > 1 and not (futures or margin):
            raise PreTradeLimitError(
                f"leverage {plain(leverage)} needs trading_settings.futures_enabled or "
                "margin_enabled",
                field="trading_settings.futures_enabled",
                broker=broker,
            )
        ceiling = number_or_none(self.risk.get("max_leverage"))
        if ceiling is not None and leverage > ceiling:
            raise PreTradeLimitError(
                f"leverage {plain(leverage)} exceeds risk_management.max_leverage "
                f"({plain(ceiling)})",
                field="risk_management.max_leverage",
                broker=broker,
            )

    def max_position(self) -> Decimal | None:
        """``risk_management.max_position_size``, in the quote currency, when set (read once:
        a broker keeps its OrderLimits per config)."""
        return self._max_position

    @functools.cached_property
    def _max_position(self) -> Decimal | None:
        return number_or_none(self.risk.get("max_position_size"))


def check_market_rules(
    order: OrderRequest, rules: MarketRules, reference: Decimal | None, broker: str | None
) -> OrderRequest:
    """``order`` rounded to the market's step and tick, its minimums checked.

    ``reference`` is the price a market order without one is valued at (None: unknown, then
    the minimum cost is left to the exchange).
    """
    amount = rules.round_amount(order.amount)
    price = None if order.price is None else rules.round_price(order.price)
    symbol = order.symbol
    if amount <= 0:
        step = f" {plain(rules.amount_step)}" if rules.amount_step else ""
        raise InvalidOrderError(
            f"amount {plain(order.amount)} is below {symbol}'s amount step{step}: it rounds "
            "down to 0; nothing was sent",
            broker=broker,
        )
    if price is not None and price <= 0:
        raise InvalidOrderError(
            f"price {plain(order.price or Decimal(0))} is below {symbol}'s price tick "
            f"{plain(rules.price_tick or Decimal(0))}: it rounds to 0; nothing was sent",
            broker=broker,
        )
    if amount != order.amount or price != order.price:
        log.info(
            "%s order rounded to the market's step/tick: amount %s -> %s, price %s -> %s",
            symbol,
            plain(order.amount),
            plain(amount),
            order.price,
            price,
        )
    if rules.min_amount is not None and amount < rules.min_amount:
        raise InvalidOrderError(
            f"amount {plain(amount)} is below {symbol}'s minimum amount "
            f"{plain(rules.min_amount)}; nothing was sent",
            broker=broker,
        )
    valued_at = price if price is not None else reference
    if rules.min_cost is not None and valued_at is not None:
        cost = rules.notional(amount, valued_at)
        if cost < rules.min_cost:
            raise InvalidOrderError(
                f"order value {plain(cost)} (amount {plain(amount)} x price {plain(valued_at)}) "
                f"is below {symbol}'s minimum cost {plain(rules.min_cost)}; nothing was sent",
                broker=broker,
            )
    if amount == order.amount and price == order.price:
        return order
    return replace(order, amount=amount, price=price)


def check_position_size(
    order: OrderRequest,
    rules: MarketRules,
    limits: OrderLimits,
    reference: Decimal | None,
    broker: str | None,
) -> None:
    """``risk_management.max_position_size`` against the order's notional (module docstring)."""
    ceiling = limits.max_position()
    if ceiling is None or order.params.get("reduceOnly"):
        return
    price = order.price if order.price is not None else reference
    if price is None:
        raise PreTradeLimitError(
            f"cannot check risk_management.max_position_size for a {order.order_type} order on "
            f"{order.symbol}: no price is known (the ticker has none); pass price=...",
            field="risk_management.max_position_size",
            broker=broker,
        )
    notional = rules.notional(order.amount, price)
    if notional > ceiling:
        raise PreTradeLimitError(
            f"order value {plain(notional)} (amount {plain(order.amount)} x price "
            f"{plain(price)}) exceeds risk_management.max_position_size ({plain(ceiling)}, "
            "in the quote currency); nothing was sent",
            field="risk_management.max_position_size",
            broker=broker,
        )
