"""The shared ccxt broker. A generated ccxt broker is a thin subclass of :class:`CcxtBroker`.

Everything common to ccxt exchanges lives here once: credential mapping, sandbox selection,
rate limit and timeout, market loading (or a recorded snapshot), capability checks against
ccxt's ``has``, error mapping, retries for reads and the place-once rule for orders. A subclass
says only how its exchange differs: ``exchange_id``, ``ccxt_options``, ``capabilities``, its
exchange ``profile`` (how a client order id is carried and an order found again) or an
overridden method.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from brokers.base import BaseBroker, balance_positions
from brokers.ccxt_errors import ccxt_error
from brokers.ccxt_exchange import guard_fetch, merged
from brokers.ccxt_lookup import find_by_client_id, profile_can_find
from brokers.config import CCXT_CREDENTIALS, BrokerConfig
from brokers.errors import BrokerError, ConfigError, NotSupportedError
from brokers.order_checks import MarketRules, OrderRequest, ccxt_market_rules
from brokers.profile import ExchangeProfile, merged_profile, new_client_order_id
from brokers.shapes import (
    OHLCV,
    Balance,
    Order,
    Position,
    Ticker,
    balance_from_ccxt,
    ohlcv_from_rows,
    order_from_ccxt,
    position_from_ccxt,
    ticker_from_ccxt,
)

if TYPE_CHECKING:
    from brokers.ccxt_pro_stream import TickerStream
    from brokers.signing import AuthNames


class CcxtBroker(BaseBroker):
    """A broker over one ccxt exchange class (sync API).

    ``markets`` (a ccxt markets dict, e.g. a recorded snapshot) replaces the ``load_markets``
    request on connect; tests and replays use it so no exchange listing is fetched.
    """

    #: ccxt exchange id; defaults to the config's name.
    exchange_id: ClassVar[str] = ""
    #: Extra ccxt ``options`` for this exchange (merged under the config's custom ccxt_options).
    ccxt_options: ClassVar[dict[str, Any]] = {}
    #: Overrides of ccxt's ``has`` for our use (e.g. ``{"fetchPositions": False}`` on spot-only).
    capabilities: ClassVar[dict[str, bool]] = {}
    #: How the exchange carries a client order id and finds an order by it (see
    #: :class:`brokers.profile.ExchangeProfile`; laid over ``DEFAULT_PROFILE``). Generated
    #: brokers state the profile derived from ccxt.
    profile: ClassVar[ExchangeProfile] = {}
    #: Fragments of the exchange's error messages or refusal bodies that mean "no such order"
    #: where ccxt raises only a generic error for them (Coinbase: ``UNKNOWN_CANCEL_ORDER``);
    #: such a non-retryable error becomes OrderNotFoundError.
    order_not_found_messages: ClassVar[tuple[str, ...]] = ()
    #: With ``websocket = True``, ``subscribe_ticker`` streams over ccxt.pro's watch_ticker.
    websocket_hint: ClassVar[str] = (
        "regenerate it with websocket enabled, where ccxt.pro supports the exchange"
    )
    #: Timeframes this broker offers (a subset of ccxt's); empty means all of ccxt's.
    timeframes: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        config: BrokerConfig,
        *,
        markets: dict[str, Any] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(config, sleep=sleep)
        self._markets_snapshot = markets
        self._exchange: Any = None
        self._rules_of: tuple[Any, dict[str, MarketRules]] = (None, {})
        self._profile_of: tuple[Any, ExchangeProfile] = (None, {})

    @classmethod
    def auth_names(cls) -> AuthNames:
        """What ccxt's ``sign()`` for the exchange adds to a request (see
        :mod:`brokers.ccxt_auth`): learnt offline, with canary credentials."""
        from brokers.ccxt_auth import ccxt_auth_names

        return ccxt_auth_names(cls.exchange_id or cls.name)

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def _ccxt_id(self) -> str:
        """The ccxt exchange id: ``exchange_id``, else the config's name."""
        return self.exchange_id or self.config.name

    @property
    def exchange(self) -> Any:
        """The underlying ccxt exchange object (created on first use)."""
        if self._exchange is None:
            self._exchange = self._build_exchange()
        return self._exchange

    def _build_exchange(self) -> Any:
        ccxt = importlib.import_module("ccxt")
        exchange_id = self._ccxt_id
        klass = getattr(ccxt, exchange_id, None)
        if klass is None:
            raise ConfigError(
                f"ccxt has no exchange {exchange_id!r}", pointer="/name", path=self.config.source
            )
        exchange = klass(self._exchange_params())
        if self.config.settings.testnet and not exchange.urls.get("test"):
            raise self._config_error(
                f"{exchange_id} has no testnet/sandbox in ccxt; set settings.testnet to false "
                "only if you mean to trade on the live exchange",
                "/settings/testnet",
            )
        self._point(exchange)
        guard_fetch(exchange, ccxt, exchange_id)
        return exchange

    def _exchange_params(self) -> dict[str, Any]:
        """The ccxt constructor's settings: credentials, timeout, rate limit, options."""
        settings = self.config.settings
        params: dict[str, Any] = {
            "enableRateLimit": settings.enable_rate_limit,
            "timeout": settings.timeout,
            "options": {**self.ccxt_options, **self.config.custom.get("ccxt_options", {})},
        }
        if settings.rate_limit is not None:
            params["rateLimit"] = settings.rate_limit
        if settings.recv_window is not None:
            params["options"]["recvWindow"] = settings.recv_window
        for ours, theirs in CCXT_CREDENTIALS.items():
            if self.config.credentials.get(ours):
                params[theirs] = self.config.credentials[ours]
        return params

    def _point(self, exchange: Any) -> None:
        """Point ``exchange`` where the config says: the sandbox, then ``custom_settings.urls``.

        The URL overrides (a proxy, the local exchange stand-in) merge into ccxt's
        ``urls['api']`` key by key, nested ones too: ``{"ws": {"spot": url}}`` replaces only
        ccxt.pro's spot stream URL.
        """
        if self.config.settings.testnet:
            exchange.set_sandbox_mode(True)
        overrides: dict[str, Any] = self.config.custom.get("urls", {})
        if not overrides:
            return
        if isinstance(exchange.urls.get("api"), str):
            exchange.urls["api"] = overrides.get("api", exchange.urls["api"])
        else:
            exchange.urls["api"] = merged(exchange.urls["api"], overrides)

    def _open(self) -> None:
        """Create the ccxt exchange and load markets (or the snapshot given at construction)."""
        exchange = self.exchange
        if self._markets_snapshot is not None:
            exchange.set_markets(self._markets_snapshot)
        else:
            self._retried(lambda: exchange.load_markets(), "load markets")
        missing = [p for p in self.config.supported_pairs if p not in exchange.markets]
        if missing:
            raise self._config_error(
                f"{self.name} does not list {', '.join(missing)}"
                + (" on its testnet" if self.config.settings.testnet else "")
                + "; remove them from supported_pairs",
                "/supported_pairs",
            )

    def _close_session(self) -> None:
        """Close ccxt's HTTP session and forget the exchange (``connect`` makes a new one)."""
        if self._exchange is not None:
            session = getattr(self._exchange, "session", None)
            if session is not None:
                session.close()
        self._exchange = None

    # -- streaming -------------------------------------------------------------------------
    def _new_ticker_stream(self) -> TickerStream:
        from brokers.ccxt_pro_stream import TickerStream

        if not hasattr(importlib.import_module("ccxt.pro"), self._ccxt_id):
            raise NotSupportedError(
                f"{self.name} cannot stream tickers: ccxt.pro has no {self._ccxt_id}",
                broker=self.name,
            )
        markets, currencies = self.exchange.markets, self.exchange.currencies
        return TickerStream(
            lambda: self._build_pro_exchange(markets, currencies),
            broker=self.name,
            policy=self.config.settings.retry,
            timeout=self.config.settings.timeout / 1000,
        )

    def _build_pro_exchange(self, markets: dict[str, Any], currencies: Any) -> Any:
        """The ccxt.pro twin of :attr:`exchange`: same settings and URLs.

        It gets the markets already loaded, so it sends no markets request. Called on the
        stream's thread, which owns it.
        """
        pro = importlib.import_module("ccxt.pro")
        exchange = getattr(pro, self._ccxt_id)(self._exchange_params())
        self._point(exchange)
        exchange.set_markets(markets, currencies)
        return exchange

    # -- capability and call helpers -------------------------------------------------------
    def has(self, method: str) -> bool:
        """Whether the exchange supports ccxt's unified ``method`` (our overrides first)."""
        if method in self.capabilities:
            return self.capabilities[method]
        return bool(self.exchange.has.get(method))

    def _require(self, method: str, what: str) -> None:
        if not self.has(method):
            raise NotSupportedError(
                f"{self.name} cannot {what}: ccxt's {self.exchange_id or self.name} has no "
                f"{method}",
                broker=self.name,
            )

    def _to_error(self, exc: BaseException) -> BrokerError:
        return ccxt_error(
            exc,
            self._exchange,
            broker=self.name,
            not_found_messages=self.order_not_found_messages,
        )

    # -- market data -----------------------------------------------------------------------
    def get_balance(self) -> Balance:
        """Balances per currency, from ``fetch_balance``."""
        self._require_connected()
        self._require("fetchBalance", "fetch balances")
        return balance_from_ccxt(self._retried(self.exchange.fetch_balance, "fetch balance"))

    def get_ticker(self, symbol: str) -> Ticker:
        """The ticker of ``symbol``, from ``fetch_ticker``."""
        self._require_connected()
        self._require_symbol(symbol)
        self._require("fetchTicker", "fetch tickers")
        return ticker_from_ccxt(
            self._retried(lambda: self.exchange.fetch_ticker(symbol), "fetch ticker")
        )

    def get_ohlcv(
        self, symbol: str, timeframe: str = "1h", limit: int = 100, since: int | None = None
    ) -> list[OHLCV]:
        """Candles from ``fetch_ohlcv``; the timeframe must be one the exchange offers."""
        self._require_connected()
        self._require_symbol(symbol)
        self._require("fetchOHLCV", "fetch candles")
        timeframes = list(self.timeframes or self.exchange.timeframes or {})
        if timeframes and timeframe not in timeframes:
            raise NotSupportedError(
                f"timeframe {timeframe!r} is not offered by {self.name}; use one of "
                f"{', '.join(timeframes)}",
                broker=self.name,
            )
        rows = self._retried(
            lambda: self.exchange.fetch_ohlcv(symbol, timeframe, since, limit), "fetch candles"
        )
        return ohlcv_from_rows(rows)

    # -- orders ----------------------------------------------------------------------------
    def market_rules(self, symbol: str) -> MarketRules:
        """ccxt's market: its limits, and rounding through amount/price_to_precision.

        Read once per symbol and markets listing (ccxt's ``set_markets``/``load_markets`` put
        a new listing in place, which starts afresh), not on every order.
        """
        markets = self.exchange.markets
        if self._rules_of[0] is not markets:
            self._rules_of = (markets, {})
        known = self._rules_of[1]
        if symbol not in known:
            try:
                known[symbol] = ccxt_market_rules(self.exchange, symbol)
            except Exception as exc:  # a symbol ccxt does not list (BadSymbol)
                raise self._to_error(exc) from exc
        return known[symbol]

    def _place_order(self, order: OrderRequest) -> Order:
        """Place a checked order once (see :func:`brokers.retry.place_order_once`).

        ccxt takes floats: the nearest to the exact, rounded values (ccxt formats them back by
        repr). The id goes under the profile's ``client_id_param``. Where ccxt cannot carry
        one, or no look-up can prove an order absent, an order whose answer was lost is never
        re-sent: it ends in ``OrderStateUnknownError`` saying what to check.
        """
        symbol, order_type, side = order.symbol, order.order_type, order.side
        amount = float(order.amount)
        price = None if order.price is None else float(order.price)
        profile = self.order_profile
        param = profile.get("client_id_param")
        client_id = order.client_order_id or new_client_order_id(profile=profile)
        can_find = bool(param) and self._can_find()
        request = {
            **order.params,
            **order.exchange_time_in_force(),
            **({param: client_id} if param else {}),
        }

        def send() -> Order:
            raw = self.exchange.create_order(symbol, order_type, side, amount, price, request)
            order = order_from_ccxt(raw)
            if not order["client_order_id"] and param:
                order["client_order_id"] = client_id
            return order

        def find() -> Order | None:
            return self._find_by_client_id(client_id, symbol)

        if can_find:  # the message below says what to check when nothing can be looked up
            return self._place_once(send, find, client_id)
        if not param:
            unfindable = (
                f"ccxt's {self._ccxt_id} cannot send a client order id (so the exchange does "
                f"not know this one); check the open and recent orders of {symbol} for a "
                f"{side} of {amount}"
            )
        else:
            unfindable = (
                f"no look-up of {self.name} can prove an order absent; check its open and "
                f"recent orders of {symbol} for client order id {client_id}"
            )
        return self._place_once(send, None, client_id, unfindable)

    @property
    def order_profile(self) -> ExchangeProfile:
        """This broker's exchange profile, laid over the defaults (merged once per ``profile``:
        read it, do not change it)."""
        if self._profile_of[0] is not self.profile:
            self._profile_of = (self.profile, merged_profile(self.profile))
        return self._profile_of[1]

    def _can_find(self) -> bool:
        """Whether a look-up by client id can prove an order absent.

        A subclass that writes its own :meth:`_find_by_client_id` is trusted to; otherwise the
        profile's look-up must be one ccxt has (:func:`brokers.ccxt_lookup.profile_can_find`).
        """
        if type(self)._find_by_client_id is not CcxtBroker._find_by_client_id:
            return True
        return profile_can_find(self.order_profile, self.has)

    def _find_by_client_id(self, client_id: str, symbol: str) -> Order | None:
        """The order carrying ``client_id``, or None when the exchange proves it has none
        (the way the profile's ``lookup`` says: see :mod:`brokers.ccxt_lookup`)."""
        return find_by_client_id(
            self.exchange,
            self.order_profile,
            client_id,
            symbol,
            to_error=self._to_error,
            broker=self.name,
        )

    def cancel_order(self, order_id: str, symbol: str | None = None) -> Order:
        """Cancel ``order_id``, retried like a read (see :func:`brokers.retry.cancel_with_retry`:
        "not found" after a lost answer is success when the order is found cancelled)."""
        self._require_connected()
        self._require_symbol(symbol)
        self._require("cancelOrder", "cancel orders")

        def look_up() -> Order:
            return order_from_ccxt(self.exchange.fetch_order(order_id, symbol))

        order = self._cancel_retried(
            order_id,
            lambda: order_from_ccxt(self.exchange.cancel_order(order_id, symbol)),
            look_up if self.has("fetchOrder") else None,
        )
        if not (order["side"] and order["symbol"]) and self.has("fetchOrder"):
            # Some exchanges answer a cancel with the id alone (Coinbase: success, order_id):
            # the order as it stands now is the answer the caller expects.
            order = self.get_order(order_id, symbol)
        order["symbol"] = order["symbol"] or symbol or ""
        order["status"] = order["status"] or "canceled"
        return order

    def get_order(self, order_id: str, symbol: str | None = None) -> Order:
        """One order, from ``fetch_order``."""
        self._require_connected()
        self._require_symbol(symbol)
        self._require("fetchOrder", "fetch orders")
        return order_from_ccxt(
            self._retried(lambda: self.exchange.fetch_order(order_id, symbol), "fetch order")
        )

    def get_open_orders(self, symbol: str | None = None) -> list[Order]:
        """Open orders of ``symbol``, or of every supported pair."""
        self._require_connected()
        self._require_symbol(symbol)
        self._require("fetchOpenOrders", "list open orders")
        orders: list[Order] = []
        for scope in [symbol] if symbol else list(self.config.supported_pairs):
            orders.extend(order_from_ccxt(o) for o in self._fetch_open_orders(scope))
        return orders

    def _fetch_open_orders(self, symbol: str) -> list[dict[str, Any]]:
        raw: list[dict[str, Any]] = self._retried(
            lambda: self.exchange.fetch_open_orders(symbol), "fetch open orders"
        )
        return raw

    def get_positions(self) -> list[Position]:
        """Derivative positions from ``fetch_positions`` when futures/margin are enabled and the
        exchange has it; otherwise spot holdings derived from the balance."""
        self._require_connected()
        if self.config.futures_enabled:
            self._require("fetchPositions", "fetch positions")
            pairs = list(self.config.supported_pairs) or None
            raw = self._retried(lambda: self.exchange.fetch_positions(pairs), "fetch positions")
            return [position_from_ccxt(p) for p in raw if float(p.get("contracts") or 0)]
        return balance_positions(self.get_balance(), list(self.config.supported_pairs))
