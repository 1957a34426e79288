"""Account and order state of the Gemini stand-in, and its private endpoints.

Each handler takes the decoded request payload (Gemini carries every private parameter in the
``X-GEMINI-PAYLOAD`` header) and returns the JSON value Gemini answers, or raises
:class:`GeminiError`. Not thread-safe on its own: the server serialises calls with a lock.

Matching is as simple as the Binance stand-in's: no counterparty book. An order that crosses
the spread fills at once at the bid/ask; any other limit order rests and holds its funds until
it is cancelled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from scaffolder.standin.gemini_market import (
    JSON,
    GeminiError,
    GeminiSymbol,
    amount_text,
    default_balances,
    default_symbols,
    parse_decimal,
    price_text,
)
from scaffolder.standin.spot import Defaults, SpotAccount

#: Order ids start here (Gemini's are 11-12 digit numbers).
FIRST_ORDER_ID = 106_000_000_001
_SIDES = ("buy", "sell")
#: ``options`` of a new order the stand-in understands (at most one, as on Gemini).
_OPTIONS = ("maker-or-cancel", "immediate-or-cancel", "fill-or-kill")


@dataclass
class GeminiOrder:
    """A spot limit order as the stand-in keeps it."""

    order_id: int
    symbol: GeminiSymbol
    side: str
    price: Decimal
    amount: Decimal
    client_order_id: str | None
    options: list[str]
    timestampms: int
    executed: Decimal = Decimal(0)
    avg_price: Decimal = Decimal(0)
    is_live: bool = True
    is_cancelled: bool = False
    held: Decimal = Decimal(0)

    def render(self) -> JSON:
        """The order as ``order/new``, ``order/status``, ``order/cancel`` and ``orders``
        render it."""
        tick = self.symbol.tick
        body: JSON = {
            "order_id": str(self.order_id),
            "id": str(self.order_id),
            "symbol": self.symbol.id,
            "exchange": "gemini",
            "avg_execution_price": price_text(self.avg_price, tick),
            "side": self.side,
            "type": "exchange limit",
            "timestamp": str(self.timestampms // 1000),
            "timestampms": self.timestampms,
            "is_live": self.is_live,
            "is_cancelled": self.is_cancelled,
            "is_hidden": False,
            "was_forced": False,
            "executed_amount": amount_text(self.executed),
        }
        if self.client_order_id is not None:
            body["client_order_id"] = self.client_order_id
        if self.is_cancelled:
            body["reason"] = "Requested"
        body.update(
            {
                "options": list(self.options),
                "price": price_text(self.price, tick),
                "original_amount": amount_text(self.amount),
                "remaining_amount": amount_text(self.amount - self.executed),
            }
        )
        return body


class GeminiState(SpotAccount[GeminiSymbol, GeminiOrder]):
    """Symbols (``markets``), balances and orders of one stand-in account, plus the private
    endpoints."""

    defaults = Defaults(default_symbols, default_balances)

    # -- helpers -----------------------------------------------------------------------------

    def symbol(self, raw: Any) -> GeminiSymbol:
        """The market named ``raw`` (case-insensitive), else Gemini's ``InvalidSymbol``."""
        spec = self.markets.get(str(raw or "").lower())
        if spec is None:
            raise GeminiError("InvalidSymbol", f"Invalid symbol: {raw}")
        return spec

    def _order(self, payload: Mapping[str, Any]) -> GeminiOrder:
        """The order named by ``order_id`` (or ``client_order_id``), else ``OrderNotFound``."""
        raw_id, client_id = payload.get("order_id"), payload.get("client_order_id")
        if raw_id is None and client_id is None:
            raise GeminiError("MissingOrderField", "Missing required field: order_id")
        for order in sorted(self.orders.values(), key=lambda o: -o.order_id):
            if raw_id is not None and str(order.order_id) == str(raw_id):
                return order
            if raw_id is None and order.client_order_id == str(client_id):
                return order
        raise GeminiError("OrderNotFound", f"Order {raw_id or client_id} not found", 404)

    def _settle(self, order: GeminiOrder, price: Decimal) -> None:
        """Fill the whole order at ``price``: release its hold, move both currencies."""
        buy = order.side == "buy"
        self.settle(order, order.symbol, buy=buy, size=order.amount, price=price)
        order.executed, order.avg_price, order.is_live = order.amount, price, False

    # -- endpoints ---------------------------------------------------------------------------

    def balances(self, payload: Mapping[str, Any]) -> list[JSON]:
        """``POST /v1/balances``: one row per currency the account holds."""
        return [
            {
                "type": "exchange",
                "currency": currency,
                "amount": amount_text(amount),
                "available": amount_text(self.ledger.available(currency)),
                "availableForWithdrawal": amount_text(self.ledger.available(currency)),
            }
            for currency, amount in self.ledger.amount.items()
            if amount
        ]

    def new_order(self, payload: Mapping[str, Any]) -> JSON:
        """``POST /v1/order/new``: an ``exchange limit`` order, checked as Gemini checks it."""
        spec = self.symbol(payload.get("symbol"))
        side = str(payload.get("side") or "").lower()
        if side not in _SIDES:
            raise GeminiError("InvalidSide", f"Invalid side for symbol {spec.id.upper()}")
        if payload.get("type") != "exchange limit":
            raise GeminiError("InvalidOrderType", f"Invalid order type: {payload.get('type')}")
        client_id = payload.get("client_order_id")
        if client_id is not None and not isinstance(client_id, str):
            raise GeminiError("ClientOrderIdMustBeString", "The Client Order ID must be a string")
        if client_id is not None and len(client_id) >= 100:
            raise GeminiError(
                "ClientOrderIdTooLong", "The Client Order ID must be under 100 characters"
            )
        amount = parse_decimal(payload.get("amount"), "InvalidQuantity", "quantity")
        price = parse_decimal(payload.get("price"), "InvalidPrice", "price")
        if amount < spec.min_order_size or amount % spec.step:
            raise GeminiError("InvalidQuantity", f"Invalid quantity for symbol {spec.id.upper()}")
        if price % spec.tick:
            raise GeminiError("InvalidPrice", f"Invalid price for symbol {spec.id.upper()}")
        options = list(payload.get("options") or [])
        if len(options) > 1:
            raise GeminiError("ConflictingOptions", "A single order supports a single option")
        if any(option not in _OPTIONS for option in options):
            raise GeminiError("UnsupportedOption", f"Option {options[0]} is not supported")
        buy = side == "buy"
        if not self.affords(spec, buy=buy, size=amount, price=price):
            raise GeminiError(
                "InsufficientFunds",
                f"Failed to place {side} order on symbol '{spec.id.upper()}' for price "
                f"{price_text(price, spec.tick)} and quantity {amount_text(amount)} {spec.base} "
                "due to insufficient funds",
                406,
            )
        order = GeminiOrder(
            FIRST_ORDER_ID + len(self.orders),
            spec,
            side,
            price,
            amount,
            client_id,
            options,
            self.clock(),
        )
        self.orders[order.order_id] = order
        self.orders_created += 1
        crosses = spec.crosses(price, buy=buy)
        if crosses and options != ["maker-or-cancel"]:
            self._settle(order, spec.taker_price(buy=buy))
        elif crosses or options:  # maker-or-cancel would take; IOC/FOK found nothing
            order.is_live, order.is_cancelled = False, True
        else:
            self.hold(order, spec, buy=buy, size=amount, price=price)
        return order.render()

    def order_status(self, payload: Mapping[str, Any]) -> JSON:
        """``POST /v1/order/status`` by ``order_id`` or ``client_order_id``."""
        return self._order(payload).render()

    def cancel_order(self, payload: Mapping[str, Any]) -> JSON:
        """``POST /v1/order/cancel``: a live order is cancelled; a finished one is returned
        as it is."""
        if payload.get("order_id") is None:
            raise GeminiError("MissingOrderField", "Missing required field: order_id")
        order = self._order({"order_id": payload["order_id"]})
        if order.is_live:
            self.release(order, order.symbol, buy=order.side == "buy")
            order.is_live, order.is_cancelled = False, True
        return order.render()

    def active_orders(self, payload: Mapping[str, Any]) -> list[JSON]:
        """``POST /v1/orders``: every live order of the account, oldest first."""
        return [
            o.render() for o in sorted(self.orders.values(), key=lambda o: o.order_id) if o.is_live
        ]

    # -- what set_price needs ---------------------------------------------------------------

    def resting(self, market: GeminiSymbol) -> list[tuple[GeminiOrder, bool, Decimal]]:
        return [
            (o, o.side == "buy", o.price)
            for o in self.orders.values()
            if o.is_live and o.symbol is market
        ]

    def fill_resting(self, order: GeminiOrder, price: Decimal) -> None:
        self._settle(order, price)
