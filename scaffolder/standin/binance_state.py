"""Account and order state of the Binance spot stand-in.

:class:`ExchangeState` implements the request handlers of the market-data and trading
endpoints. Each takes the merged request parameters (``dict[str, str]``) and returns the JSON
value Binance would answer, or raises :class:`BinanceError`. It is not thread-safe on its own:
the server serialises calls with a lock.

Matching is deliberately simple: there is no counterparty book. Market orders and marketable
limit orders fill at once against the symbol's bid/ask; other limit orders rest, locking funds,
until they are cancelled or :meth:`ExchangeState.set_price` moves the price through them.
Commission is zero.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from scaffolder.standin.binance_market import (
    JSON,
    RATE_LIMITS,
    BinanceError,
    Params,
    SymbolSpec,
    default_balances,
    default_symbols,
    fmt,
    interval_ms,
    invalid_symbol,
    klines,
    missing_param,
    parse_int,
)
from scaffolder.standin.binance_orders import Fill, NewOrder, Order, parse_new_order, stable_id
from scaffolder.standin.spot import Defaults, SpotAccount

_INSUFFICIENT = "Account has insufficient balance for requested action."
_UNKNOWN_ORDER = "Unknown order sent."


class ExchangeState(SpotAccount[SymbolSpec, Order]):
    """Symbols (``markets``), balances and orders of one stand-in account, plus the endpoint
    handlers."""

    defaults = Defaults(default_symbols, default_balances)

    # -- helpers -----------------------------------------------------------------------------

    def spec(self, params: Params, *, required: bool = True) -> SymbolSpec | None:
        """The symbol named by ``params['symbol']`` (``-1102`` if required and missing)."""
        name = params.get("symbol")
        if not name:
            if required:
                raise missing_param("symbol")
            return None
        if name not in self.markets:
            raise invalid_symbol()
        return self.markets[name]

    def _specs(self, params: Params) -> list[SymbolSpec] | None:
        """Symbols from ``symbol`` or the JSON array ``symbols``; None when neither is sent."""
        single = self.spec(params, required=False)
        if single is not None:
            return [single]
        raw = params.get("symbols")
        if not raw:
            return None
        try:
            names = json.loads(raw)
        except ValueError as exc:
            raise BinanceError(-1100, "Illegal characters found in parameter 'symbols'.") from exc
        if not isinstance(names, list) or any(n not in self.markets for n in names):
            raise invalid_symbol()
        return [self.markets[n] for n in names]

    def _per_symbol(self, params: Params, render: Callable[[SymbolSpec], JSON]) -> Any:
        """One object for ``symbol``, otherwise a list (all symbols or ``symbols``)."""
        if params.get("symbol"):
            spec = self.spec(params)
            assert spec is not None
            return render(spec)
        specs = self._specs(params)
        return [render(s) for s in (specs if specs is not None else self.markets.values())]

    def _find_order(self, params: Params) -> Order | None:
        """The order named by ``orderId`` or ``origClientOrderId`` (latest id wins)."""
        spec = self.spec(params)
        assert spec is not None
        order_id = parse_int(params, "orderId")
        client_id = params.get("origClientOrderId")
        if order_id is None and not client_id:
            raise BinanceError(
                -1102,
                "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
            )
        for order in sorted(self.orders.values(), key=lambda o: -o.order_id):
            if order.symbol != spec.symbol:
                continue
            if order_id is not None and order.order_id != order_id:
                continue
            if client_id and order.client_order_id != client_id:
                continue
            return order
        return None

    def _fill(
        self, order: Order, spec: SymbolSpec, price: Decimal, now: int, *, maker: bool
    ) -> None:
        """Fill the whole remaining quantity at ``price`` and settle balances."""
        qty = order.orig_qty - order.executed_qty
        self.settle(order, spec, buy=order.side == "BUY", size=qty, price=price)
        order.fills.append(Fill(self.number("trade"), price, qty, now, maker))
        order.status, order.update_time = "FILLED", now

    # -- market data -------------------------------------------------------------------------

    def exchange_info(self, params: Params) -> JSON:
        """``GET /api/v3/exchangeInfo`` (optionally filtered by ``symbol``/``symbols``)."""
        specs = self._specs(params)
        chosen = specs if specs is not None else list(self.markets.values())
        return {
            "timezone": "UTC",
            "serverTime": self.clock(),
            "rateLimits": RATE_LIMITS,
            "exchangeFilters": [],
            "symbols": [s.exchange_info() for s in chosen],
        }

    def ticker_24hr(self, params: Params) -> Any:
        """``GET /api/v3/ticker/24hr``."""
        now = self.clock()
        return self._per_symbol(params, lambda s: s.ticker_24hr(now))

    def ticker_price(self, params: Params) -> Any:
        """``GET /api/v3/ticker/price``."""
        return self._per_symbol(params, lambda s: {"symbol": s.symbol, "price": fmt(s.price)})

    def book_ticker(self, params: Params) -> Any:
        """``GET /api/v3/ticker/bookTicker``."""
        return self._per_symbol(params, SymbolSpec.book_ticker)

    def depth(self, params: Params) -> JSON:
        """``GET /api/v3/depth``."""
        spec = self.spec(params)
        assert spec is not None
        limit = min(parse_int(params, "limit") or 100, 5000)
        return spec.depth(limit, update_id=1_000_000 + len(self.orders))

    def klines(self, params: Params) -> list[list[Any]]:
        """``GET /api/v3/klines``: deterministic per symbol/interval/time range/limit."""
        spec = self.spec(params)
        assert spec is not None
        step = interval_ms(params.get("interval"))
        limit = max(1, min(parse_int(params, "limit") or 500, 1000))
        return klines(
            spec,
            step,
            now=self.clock(),
            start=parse_int(params, "startTime"),
            end=parse_int(params, "endTime"),
            limit=limit,
        )

    # -- account -----------------------------------------------------------------------------

    def account(self, params: Params) -> JSON:
        """``GET /api/v3/account``."""
        omit_zero = params.get("omitZeroBalances") == "true"
        ledger = self.ledger
        balances = [
            {
                "asset": asset,
                "free": fmt(ledger.available(asset)),
                "locked": fmt(ledger.held[asset]),
            }
            for asset in ledger.amount
            if not (omit_zero and ledger.available(asset) == 0 and ledger.held[asset] == 0)
        ]
        zero = fmt(Decimal(0))
        return {
            "makerCommission": 0,
            "takerCommission": 0,
            "buyerCommission": 0,
            "sellerCommission": 0,
            "commissionRates": {"maker": zero, "taker": zero, "buyer": zero, "seller": zero},
            "canTrade": True,
            "canWithdraw": False,
            "canDeposit": False,
            "brokered": False,
            "requireSelfTradePrevention": False,
            "preventSor": False,
            "updateTime": self.clock(),
            "accountType": "SPOT",
            "balances": balances,
            "permissions": ["SPOT"],
            "uid": 1000000001,
        }

    def my_trades(self, params: Params) -> list[JSON]:
        """``GET /api/v3/myTrades`` (filters: ``orderId``, ``fromId``, time range, ``limit``)."""
        spec = self.spec(params)
        assert spec is not None
        order_id, from_id = parse_int(params, "orderId"), parse_int(params, "fromId")
        start, end = parse_int(params, "startTime"), parse_int(params, "endTime")
        matches = [
            (fill, order)
            for order in self.orders_by_id(spec.symbol)
            if order_id in (None, order.order_id)
            for fill in order.fills
            if (from_id is None or fill.trade_id >= from_id)
            and (start is None or fill.time >= start)
            and (end is None or fill.time <= end)
        ]
        matches.sort(key=lambda match: match[0].trade_id)
        limit = min(parse_int(params, "limit") or 500, 1000)
        return [order.trade_response(fill, spec) for fill, order in matches[:limit]]

    # -- orders ------------------------------------------------------------------------------

    def new_order(self, params: Params, *, test: bool = False) -> JSON:
        """``POST /api/v3/order`` (and ``/order/test`` with ``test=True``)."""
        spec = self.spec(params)
        assert spec is not None
        request = parse_new_order(spec, params)
        client_id = request.client_order_id
        if client_id and any(
            o.client_order_id == client_id and o.status == "NEW" for o in self.orders.values()
        ):
            raise BinanceError(-2010, "Duplicate order sent.")
        crosses = request.crosses(spec)
        if request.type == "LIMIT_MAKER" and crosses:
            raise BinanceError(-2010, "Order would immediately match and take.")
        if not self.affords(spec, buy=request.side == "BUY", size=request.qty, price=request.price):
            raise BinanceError(-2010, _INSUFFICIENT)
        if test:
            return {}
        return self._place(spec, request, crosses)

    def _place(self, spec: SymbolSpec, request: NewOrder, crosses: bool) -> JSON:
        """Create the order, fill or rest it, and render the response."""
        now = self.clock()
        order_id = self.number("order")
        side, qty, price = request.side, request.qty, request.price
        order = Order(
            symbol=spec.symbol,
            order_id=order_id,
            client_order_id=request.client_order_id or stable_id("order", order_id),
            side=side,
            type=request.type,
            time_in_force=request.time_in_force,
            price=Decimal(0) if request.type == "MARKET" else price,
            orig_qty=qty,
            orig_quote_qty=request.quote_qty or Decimal(0),
            time=now,
            update_time=now,
        )
        self.orders[order_id] = order
        self.orders_created += 1
        buy = side == "BUY"
        if crosses:
            self._fill(order, spec, spec.taker_price(buy=buy), now, maker=False)
        elif request.time_in_force in ("IOC", "FOK"):
            order.status = "EXPIRED"
        else:
            self.hold(order, spec, buy=buy, size=qty, price=price)
        commission_asset = spec.base if side == "BUY" else spec.quote
        return order.new_order_response(request.resp_type, commission_asset)

    def query_order(self, params: Params) -> JSON:
        """``GET /api/v3/order`` by ``orderId`` or ``origClientOrderId``."""
        order = self._find_order(params)
        if order is None:
            raise BinanceError(-2013, "Order does not exist.")
        return order.query_response()

    def cancel_order(self, params: Params) -> JSON:
        """``DELETE /api/v3/order``: only open (``NEW``) orders can be cancelled."""
        order = self._find_order(params)
        if order is None or order.status != "NEW":
            raise BinanceError(-2011, _UNKNOWN_ORDER)
        return self._cancel(order, params.get("newClientOrderId"))

    def _cancel(self, order: Order, cancel_client_id: str | None) -> JSON:
        now = self.clock()
        spec = self.markets[order.symbol]
        self.release(order, spec, buy=order.side == "BUY")
        order.status, order.update_time = "CANCELED", now
        generated = stable_id("cancel", self.number("cancel"))  # numbered on every cancel
        return order.cancel_response(cancel_client_id or generated, now)

    def cancel_open_orders(self, params: Params) -> list[JSON]:
        """``DELETE /api/v3/openOrders``: cancel every open order of ``symbol``."""
        spec = self.spec(params)
        assert spec is not None
        open_orders = [o for o in self.orders_by_id(spec.symbol) if o.status == "NEW"]
        if not open_orders:
            raise BinanceError(-2011, _UNKNOWN_ORDER)
        return [self._cancel(o, None) for o in open_orders]

    def orders_by_id(self, symbol: str | None) -> list[Order]:
        """Orders of ``symbol`` (all symbols for None), oldest first."""
        return [
            o
            for o in sorted(self.orders.values(), key=lambda o: o.order_id)
            if symbol is None or o.symbol == symbol
        ]

    def open_orders(self, params: Params) -> list[JSON]:
        """``GET /api/v3/openOrders`` (``symbol`` optional)."""
        spec = self.spec(params, required=False)
        symbol = spec.symbol if spec else None
        return [o.query_response() for o in self.orders_by_id(symbol) if o.status == "NEW"]

    def all_orders(self, params: Params) -> list[JSON]:
        """``GET /api/v3/allOrders`` (filters: ``orderId``, time range, ``limit``)."""
        spec = self.spec(params)
        assert spec is not None
        from_id = parse_int(params, "orderId")
        start, end = parse_int(params, "startTime"), parse_int(params, "endTime")
        rows = [
            o.query_response()
            for o in self.orders_by_id(spec.symbol)
            if (from_id is None or o.order_id >= from_id)
            and (start is None or o.time >= start)
            and (end is None or o.time <= end)
        ]
        return rows[: min(parse_int(params, "limit") or 500, 1000)]

    # -- what set_price needs -----------------------------------------------------------------

    def resting(self, market: SymbolSpec) -> list[tuple[Order, bool, Decimal]]:
        return [
            (o, o.side == "BUY", o.price)
            for o in self.orders_by_id(market.symbol)
            if o.status == "NEW"
        ]

    def fill_resting(self, order: Order, price: Decimal) -> None:
        self._fill(order, self.markets[order.symbol], price, self.clock(), maker=True)
