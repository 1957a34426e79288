"""Accounts and orders of the Coinbase stand-in, and its private endpoints.

Each handler takes the request's parameters (the query string's, or the JSON body's) and
returns the JSON value Coinbase answers, or raises :class:`CoinbaseError`. Not thread-safe on
its own: the server serialises calls with a lock.

Orders follow the Advanced Trade API: ``limit_limit_gtc`` rests (holding its funds) unless it
crosses the spread, ``market_market_ioc`` fills at once; a ``client_order_id`` already used
returns the order it named instead of placing another, as Coinbase documents. A refused order
is answered 200 with ``"success": false`` and an ``error_response``, as Coinbase does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from scaffolder.standin.coinbase_market import (
    CURRENCIES,
    JSON,
    Product,
    currency_record,
    default_balances,
    default_products,
    iso_time,
    stable_uuid,
    text,
    v3_error,
)
from scaffolder.standin.ledger import positive_decimal
from scaffolder.standin.spot import Defaults, SpotAccount

#: ``user_id`` of the stand-in's account.
USER_ID = stable_uuid("user")
_SIDES = ("BUY", "SELL")


class OrderRefused(Exception):
    """A new order Coinbase refuses: answered 200 with ``success: false``."""

    def __init__(self, error: str, message: str) -> None:
        super().__init__(f"{error}: {message}")
        self.error = error
        self.message = message


@dataclass
class CoinbaseOrder:
    """A spot order as the stand-in keeps it."""

    order_id: str
    product: Product
    side: str
    client_order_id: str
    configuration: JSON
    base_size: Decimal
    limit_price: Decimal | None
    created: int
    status: str = "OPEN"
    filled: Decimal = Decimal(0)
    average: Decimal = Decimal(0)
    held: Decimal = Decimal(0)
    last_fill: int | None = None
    edit_history: list[Any] = field(default_factory=list)

    @property
    def order_type(self) -> str:
        return "LIMIT" if self.limit_price is not None else "MARKET"

    def success(self) -> JSON:
        """The answer to ``POST /api/v3/brokerage/orders`` that placed (or named) this order."""
        return {
            "success": True,
            "failure_reason": "UNKNOWN_FAILURE_REASON",
            "order_id": self.order_id,
            "success_response": {
                "order_id": self.order_id,
                "product_id": self.product.id,
                "side": self.side,
                "client_order_id": self.client_order_id,
            },
            "order_configuration": self.configuration,
        }

    def render(self) -> JSON:
        """The order as ``orders/historical/{order_id}`` and ``orders/historical/batch``
        render it."""
        value = self.filled * self.average
        return {
            "order_id": self.order_id,
            "product_id": self.product.id,
            "user_id": USER_ID,
            "order_configuration": self.configuration,
            "side": self.side,
            "client_order_id": self.client_order_id,
            "status": self.status,
            "time_in_force": (
                "GOOD_UNTIL_CANCELLED" if self.order_type == "LIMIT" else "IMMEDIATE_OR_CANCEL"
            ),
            "created_time": iso_time(self.created),
            "completion_percentage": text(self.filled / self.base_size * 100),
            "filled_size": text(self.filled),
            "average_filled_price": text(self.average),
            "fee": "",
            "number_of_fills": "1" if self.filled else "0",
            "filled_value": text(value),
            "pending_cancel": False,
            "size_in_quote": False,
            "total_fees": "0",
            "size_inclusive_of_fees": False,
            "total_value_after_fees": text(value),
            "trigger_status": "INVALID_ORDER_TYPE",
            "order_type": self.order_type,
            "reject_reason": "REJECT_REASON_UNSPECIFIED",
            "settled": self.status != "OPEN",
            "product_type": "SPOT",
            "reject_message": "",
            "cancel_message": "User requested cancel" if self.status == "CANCELLED" else "",
            "order_placement_source": "RETAIL_ADVANCED",
            "outstanding_hold_amount": text(self.held),
            "is_liquidation": False,
            "last_fill_time": iso_time(self.last_fill) if self.last_fill else None,
            "edit_history": list(self.edit_history),
            "leverage": "",
            "margin_type": "UNKNOWN_MARGIN_TYPE",
        }


def _decimal(raw: Any, error: str, what: str) -> Decimal:
    value = positive_decimal(raw)
    if value is None:
        raise OrderRefused(error, f"invalid {what}: {raw!r}")
    return value


class CoinbaseState(SpotAccount[Product, CoinbaseOrder]):
    """Products (``markets``), balances and orders of one stand-in account, plus the private
    endpoints."""

    defaults = Defaults(default_products, default_balances)

    # -- the Coinbase App API (v2) -----------------------------------------------------------

    def accounts(self, query: Mapping[str, list[str]]) -> JSON:
        """``GET /v2/accounts``: one wallet per currency, newest first."""
        limit = int((query.get("limit") or ["25"])[0])
        opened = datetime.fromtimestamp(self.opened_at / 1000, tz=timezone.utc)
        created = opened.strftime("%Y-%m-%dT%H:%M:%SZ")
        data = []
        amounts = self.ledger.amount
        for code in sorted(amounts, reverse=True)[:limit]:
            account_id = stable_uuid("account", code)
            exponent = CURRENCIES.get(code, (code, 8, False))[1]
            data.append(
                {
                    "id": account_id,
                    "name": f"{code} Wallet",
                    "primary": True,
                    "type": "fiat" if CURRENCIES.get(code, ("", 8, False))[2] else "wallet",
                    "balance": {
                        "amount": f"{amounts[code].quantize(Decimal(1).scaleb(-exponent)):f}",
                        "currency": code,
                    },
                    "created_at": created,
                    "updated_at": created,
                    "resource": "account",
                    "resource_path": f"/v2/accounts/{account_id}",
                    "currency": currency_record(code),
                    "allow_deposits": True,
                    "allow_withdrawals": True,
                }
            )
        pagination = {
            "ending_before": None,
            "limit": str(limit),
            "next_starting_after": None,
            "next_uri": None,
            "order": "desc",
            "previous_ending_before": None,
            "previous_uri": None,
            "starting_after": None,
        }
        return {"data": data, "pagination": pagination}

    # -- the Advanced Trade API (v3) ---------------------------------------------------------

    def transaction_summary(self, query: Mapping[str, list[str]]) -> JSON:
        """``GET /api/v3/brokerage/transaction_summary``: no volume yet, the first fee tier."""
        return {
            "total_volume": 0,
            "total_fees": 0,
            "fee_tier": {
                "pricing_tier": "",
                "usd_from": "0",
                "usd_to": "10000",
                "taker_fee_rate": "0.006",
                "maker_fee_rate": "0.004",
            },
            "margin_rate": None,
            "goods_and_services_tax": None,
            "advanced_trade_only_volume": 0,
            "advanced_trade_only_fees": 0,
            "coinbase_pro_volume": 0,
            "coinbase_pro_fees": 0,
        }

    def create_order(self, body: Mapping[str, Any]) -> JSON:
        """``POST /api/v3/brokerage/orders``."""
        configuration = body.get("order_configuration")
        try:
            return self._create(body)
        except OrderRefused as refused:
            return {
                "success": False,
                "failure_reason": "UNKNOWN_FAILURE_REASON",
                "order_id": "",
                "error_response": {
                    "error": refused.error,
                    "message": refused.message,
                    "error_details": "",
                    "new_order_failure_reason": refused.error,
                },
                "order_configuration": configuration,
            }

    def _create(self, body: Mapping[str, Any]) -> JSON:
        client_id = str(body.get("client_order_id") or "")
        if not client_id:
            raise v3_error("INVALID_ARGUMENT", "client_order_id is required")
        for order in self.orders.values():
            if order.client_order_id == client_id:
                return order.success()  # Coinbase returns the order this id already names
        product = self.markets.get(str(body.get("product_id")))
        if product is None:
            raise OrderRefused("INVALID_PRODUCT_ID", f"unknown product {body.get('product_id')}")
        side = str(body.get("side") or "")
        if side not in _SIDES:
            raise OrderRefused("INVALID_SIDE", f"invalid side {side!r}")
        configuration = body.get("order_configuration") or {}
        if not isinstance(configuration, dict) or len(configuration) != 1:
            raise OrderRefused("UNSUPPORTED_ORDER_CONFIGURATION", "one order configuration")
        ((kind, terms),) = configuration.items()
        buy = side == "BUY"
        if kind == "limit_limit_gtc":
            size = _decimal(terms.get("base_size"), "INVALID_SIZE_PRECISION", "base_size")
            price = _decimal(terms.get("limit_price"), "INVALID_PRICE_PRECISION", "limit_price")
            if price % product.quote_increment:
                raise OrderRefused("INVALID_PRICE_PRECISION", "limit_price off the increment")
            crosses = product.crosses(price, buy=buy)
            if crosses and terms.get("post_only"):
                raise OrderRefused("INVALID_LIMIT_PRICE_POST_ONLY", "post-only order would take")
        elif kind == "market_market_ioc":
            price, crosses = None, True
            fill_price = product.taker_price(buy=buy)
            if terms.get("quote_size") is not None:
                quote = _decimal(terms["quote_size"], "INVALID_SIZE_PRECISION", "quote_size")
                size = (quote / fill_price).quantize(product.base_increment, "ROUND_DOWN")
            else:
                size = _decimal(terms.get("base_size"), "INVALID_SIZE_PRECISION", "base_size")
        else:
            raise OrderRefused("UNSUPPORTED_ORDER_CONFIGURATION", f"{kind} is not supported")
        if size % product.base_increment or not (
            product.base_min_size <= size <= product.base_max_size
        ):
            raise OrderRefused("INVALID_SIZE_PRECISION", "base_size off the increment or limits")
        limit = price if price is not None else product.ask
        if not self.affords(product, buy=buy, size=size, price=limit):
            raise OrderRefused("INSUFFICIENT_FUND", "Insufficient balance in source account")
        order = CoinbaseOrder(
            stable_uuid("order", len(self.orders) + 1),
            product,
            side,
            client_id,
            dict(configuration),
            size,
            price,
            self.clock(),
        )
        self.orders[order.order_id] = order
        self.orders_created += 1
        if crosses:
            self._fill(order, product.taker_price(buy=buy))
        else:
            self.hold(order, product, buy=buy, size=size, price=limit)
        return order.success()

    def _fill(self, order: CoinbaseOrder, price: Decimal) -> None:
        buy, size = order.side == "BUY", order.base_size
        self.settle(order, order.product, buy=buy, size=size, price=price)
        order.filled, order.average, order.status = size, price, "FILLED"
        order.last_fill = self.clock()

    def get_order(self, order_id: str) -> JSON:
        """``GET /api/v3/brokerage/orders/historical/{order_id}``."""
        order = self.orders.get(order_id)
        if order is None:
            raise v3_error("unknown", "order with this orderID was not found", 404)
        return {"order": order.render()}

    def list_orders(self, query: Mapping[str, list[str]]) -> JSON:
        """``GET /api/v3/brokerage/orders/historical/batch`` (``order_status``, ``product_id``
        and ``limit`` filters; newest first)."""
        statuses = set(query.get("order_status", []))
        products = set(query.get("product_id", []) + query.get("product_ids", []))
        limit = int((query.get("limit") or ["100"])[0])
        orders = [
            o.render()
            for o in sorted(self.orders.values(), key=lambda o: -o.created)
            if (not statuses or o.status in statuses) and (not products or o.product.id in products)
        ]
        return {"orders": orders[:limit], "sequence": "0", "has_next": False, "cursor": ""}

    def cancel_orders(self, body: Mapping[str, Any]) -> JSON:
        """``POST /api/v3/brokerage/orders/batch_cancel``: one result per id; an id that names
        no open order fails with ``UNKNOWN_CANCEL_ORDER``."""
        results = []
        for order_id in body.get("order_ids") or []:
            order = self.orders.get(str(order_id))
            if order is None or order.status != "OPEN":
                results.append(
                    {
                        "success": False,
                        "failure_reason": "UNKNOWN_CANCEL_ORDER",
                        "order_id": order_id,
                    }
                )
                continue
            self.release(order, order.product, buy=order.side == "BUY")
            order.status = "CANCELLED"
            results.append(
                {
                    "success": True,
                    "failure_reason": "UNKNOWN_CANCEL_FAILURE_REASON",
                    "order_id": order_id,
                }
            )
        return {"results": results}

    # -- what set_price needs ---------------------------------------------------------------

    def resting(self, market: Product) -> list[tuple[CoinbaseOrder, bool, Decimal]]:
        return [
            (o, o.side == "BUY", o.limit_price)
            for o in self.orders.values()
            if o.status == "OPEN" and o.product is market and o.limit_price is not None
        ]

    def fill_resting(self, order: CoinbaseOrder, price: Decimal) -> None:
        self._fill(order, price)
