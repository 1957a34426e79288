"""Orders of the Binance spot stand-in: the order model, its JSON renderings, and validation
of ``POST /api/v3/order`` parameters (Binance's parameter errors and ``-1013`` filter failures).
"""

from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass, field
from decimal import Decimal

from scaffolder.standin.binance_market import (
    JSON,
    BinanceError,
    Params,
    SymbolSpec,
    fmt,
    missing_param,
    parse_decimal,
)
from scaffolder.standin.price_series import floor_to_step

_ID_ALPHABET = string.ascii_letters + string.digits
_SIDES = ("BUY", "SELL")
_ORDER_TYPES = ("LIMIT", "LIMIT_MAKER", "MARKET")
_TIME_IN_FORCE = ("GTC", "IOC", "FOK")
_RESP_TYPES = ("ACK", "RESULT", "FULL")


def stable_id(*parts: object) -> str:
    """A 22-character id that looks like Binance's random client order ids but is stable."""
    number = int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest(), "big")
    chars = []
    for _ in range(22):
        number, index = divmod(number, len(_ID_ALPHABET))
        chars.append(_ID_ALPHABET[index])
    return "".join(chars)


@dataclass
class Fill:
    """One execution of an order (there is one per fill event, at a single price)."""

    trade_id: int
    price: Decimal
    qty: Decimal
    time: int
    maker: bool


@dataclass
class Order:
    """A spot order as the stand-in keeps it."""

    symbol: str
    order_id: int
    client_order_id: str
    side: str
    type: str
    time_in_force: str
    price: Decimal
    orig_qty: Decimal
    orig_quote_qty: Decimal
    time: int
    update_time: int
    status: str = "NEW"
    held: Decimal = Decimal(0)
    fills: list[Fill] = field(default_factory=list)

    @property
    def executed_qty(self) -> Decimal:
        """Base quantity filled so far."""
        return sum((f.qty for f in self.fills), Decimal(0))

    @property
    def quote_qty(self) -> Decimal:
        """Quote quantity filled so far (``cummulativeQuoteQty``)."""
        return sum((f.qty * f.price for f in self.fills), Decimal(0))

    def _common(self) -> JSON:
        return {
            "symbol": self.symbol,
            "orderId": self.order_id,
            "orderListId": -1,
            "clientOrderId": self.client_order_id,
        }

    def _amounts(self) -> JSON:
        return {
            "price": fmt(self.price),
            "origQty": fmt(self.orig_qty),
            "executedQty": fmt(self.executed_qty),
            "origQuoteOrderQty": fmt(self.orig_quote_qty),
            "cummulativeQuoteQty": fmt(self.quote_qty),
            "status": self.status,
            "timeInForce": self.time_in_force,
            "type": self.type,
            "side": self.side,
        }

    def new_order_response(self, resp_type: str, commission_asset: str) -> JSON:
        """``POST /api/v3/order`` answer for ``newOrderRespType`` ACK, RESULT or FULL."""
        body = {**self._common(), "transactTime": self.time}
        if resp_type == "ACK":
            return body
        body.update(self._amounts())
        body.update({"workingTime": self.time, "selfTradePreventionMode": "NONE"})
        if resp_type == "FULL":
            body["fills"] = [
                {
                    "price": fmt(f.price),
                    "qty": fmt(f.qty),
                    "commission": fmt(Decimal(0)),
                    "commissionAsset": commission_asset,
                    "tradeId": f.trade_id,
                }
                for f in self.fills
            ]
        return body

    def query_response(self) -> JSON:
        """``GET /api/v3/order`` (and ``openOrders``/``allOrders``) entry."""
        return {
            **self._common(),
            **self._amounts(),
            "stopPrice": fmt(Decimal(0)),
            "icebergQty": fmt(Decimal(0)),
            "time": self.time,
            "updateTime": self.update_time,
            "isWorking": True,
            "workingTime": self.time,
            "origQuoteOrderQty": fmt(self.orig_quote_qty),
            "selfTradePreventionMode": "NONE",
        }

    def trade_response(self, fill: Fill, spec: SymbolSpec) -> JSON:
        """``GET /api/v3/myTrades`` entry for one of this order's fills."""
        return {
            "symbol": self.symbol,
            "id": fill.trade_id,
            "orderId": self.order_id,
            "orderListId": -1,
            "price": fmt(fill.price),
            "qty": fmt(fill.qty),
            "quoteQty": fmt(fill.price * fill.qty),
            "commission": fmt(Decimal(0)),
            "commissionAsset": spec.base if self.side == "BUY" else spec.quote,
            "time": fill.time,
            "isBuyer": self.side == "BUY",
            "isMaker": fill.maker,
            "isBestMatch": True,
        }

    def cancel_response(self, cancel_client_id: str, now: int) -> JSON:
        """``DELETE /api/v3/order`` answer."""
        return {
            "symbol": self.symbol,
            "origClientOrderId": self.client_order_id,
            "orderId": self.order_id,
            "orderListId": -1,
            "clientOrderId": cancel_client_id,
            "transactTime": now,
            **self._amounts(),
            "selfTradePreventionMode": "NONE",
        }


@dataclass(frozen=True)
class NewOrder:
    """A validated new-order request: every filter has passed.

    For market orders ``price`` is the fill price (ask for buys, bid for sells) and ``qty``
    is derived from ``quoteOrderQty`` when that was sent instead of ``quantity``.
    """

    side: str
    type: str
    time_in_force: str
    price: Decimal
    qty: Decimal
    quote_qty: Decimal | None
    client_order_id: str | None
    resp_type: str

    def crosses(self, spec: SymbolSpec) -> bool:
        """Whether the order would take liquidity at once (always true for market orders)."""
        return spec.crosses(self.price, buy=self.side == "BUY")


def parse_new_order(spec: SymbolSpec, params: Params) -> NewOrder:
    """Validate ``POST /api/v3/order`` parameters the way Binance does, in Binance's order:
    mandatory/enum parameters (``-1102``, ``-1116``, ``-1117``, ...) then filters (``-1013``).
    """
    side, order_type = params.get("side"), params.get("type")
    if not side:
        raise missing_param("side")
    if side not in _SIDES:
        raise BinanceError(-1117, "Invalid side.")
    if not order_type:
        raise missing_param("type")
    if order_type not in _ORDER_TYPES:
        raise BinanceError(-1116, "Invalid orderType.")
    resp_type = params.get("newOrderRespType") or "FULL"
    if resp_type not in _RESP_TYPES:
        raise BinanceError(-1100, "Illegal characters found in parameter 'newOrderRespType'.")
    client_id = params.get("newClientOrderId")
    if client_id == "":
        raise BinanceError(-1118, "New client order ID was empty.")
    qty = parse_decimal(params, "quantity")
    price = parse_decimal(params, "price")
    quote_qty = parse_decimal(params, "quoteOrderQty")
    tif = params.get("timeInForce") or ""
    if order_type == "MARKET":
        qty, price = _market_terms(spec, side, qty, quote_qty)
        tif = "GTC"
    else:
        qty, price, tif = _limit_terms(spec, order_type, qty, price, tif)
    return NewOrder(side, order_type, tif, price, qty, quote_qty, client_id, resp_type)


def _market_terms(
    spec: SymbolSpec, side: str, qty: Decimal | None, quote_qty: Decimal | None
) -> tuple[Decimal, Decimal]:
    """Quantity and fill price of a market order, applying the filters."""
    fill_price = spec.taker_price(buy=side == "BUY")
    if qty is None and quote_qty is None:
        raise BinanceError(
            -1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!"
        )
    if qty is not None and quote_qty is not None:
        raise BinanceError(-1106, "Parameter 'quoteOrderQty' sent when not required.")
    if qty is None:
        assert quote_qty is not None
        qty = floor_to_step(quote_qty / fill_price, spec.step_size)
    spec.check_qty(qty)
    spec.check_notional(qty * fill_price, market=True)
    return qty, fill_price


def _limit_terms(
    spec: SymbolSpec, order_type: str, qty: Decimal | None, price: Decimal | None, tif: str
) -> tuple[Decimal, Decimal, str]:
    """Quantity, price and time in force of a limit order, applying the filters."""
    if order_type == "LIMIT":
        if not tif:
            raise missing_param("timeInForce")
        if tif not in _TIME_IN_FORCE:
            raise BinanceError(-1115, "Invalid timeInForce.")
    elif tif:
        raise BinanceError(-1106, "Parameter 'timeInForce' sent when not required.")
    if qty is None:
        raise missing_param("quantity")
    if price is None:
        raise missing_param("price")
    spec.check_price(price)
    spec.check_qty(qty)
    spec.check_notional(qty * price, market=False)
    return qty, price, tif or "GTC"
