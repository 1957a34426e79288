"""The shared signed-REST broker, for exchanges ccxt lacks.

A generated REST broker subclasses :class:`RestBroker` and states its URLs, signing scheme,
endpoint paths and, where its JSON differs, the ``parse_*`` normalisers. The defaults speak a
Binance-style API (``/api/v3/...``, HMAC-SHA256 over the query), which many exchanges copy, so
a new broker starts from something that works and changes only what differs.

With ``websocket = True`` and a ``ws_url``, ``subscribe_ticker`` streams tickers over a
WebSocket (:class:`brokers.websocket_stream.WebSocketTickerStream`); the messages and their
parsing default to Binance's ``<symbol>@ticker`` streams, overridable in the same way. The
Binance-style defaults are :mod:`brokers.binance_style`; the answers' errors
:mod:`brokers.rest_answers`.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

import requests

from brokers import binance_style
from brokers.base import BaseBroker, balance_positions
from brokers.binance_style import BINANCE_STYLE_ENDPOINTS, BINANCE_STYLE_ERRORS
from brokers.config import BrokerConfig
from brokers.errors import BrokerError, OrderNotFoundError
from brokers.order_checks import MarketRules, OrderRequest, number_or_none
from brokers.profile import new_client_order_id
from brokers.rest_answers import decode_answer
from brokers.shapes import OHLCV, Balance, Order, Position, Ticker, ohlcv_from_rows
from brokers.signing import AuthNames, Scheme, Signer
from brokers.websocket_stream import StreamReply

if TYPE_CHECKING:
    from brokers.websocket_stream import WebSocketTickerStream


class RestBroker(BaseBroker):
    """A broker over a signed REST API, with requests."""

    base_url: ClassVar[str] = ""
    testnet_url: ClassVar[str] = ""
    signing_scheme: ClassVar[Scheme] = "hmac_sha256_query"
    key_header: ClassVar[str] = "X-MBX-APIKEY"
    signature_header: ClassVar[str] = "X-SIGNATURE"
    timestamp_header: ClassVar[str] = "X-TIMESTAMP"
    #: Endpoint paths by purpose.
    endpoints: ClassVar[dict[str, str]] = BINANCE_STYLE_ENDPOINTS
    #: Exchange error code (as a string) -> our error class.
    error_codes: ClassVar[dict[str, type[BrokerError]]] = BINANCE_STYLE_ERRORS
    #: Error message fragments that identify a duplicate client order id.
    duplicate_order_markers: ClassVar[tuple[str, ...]] = ("Duplicate order",)
    #: With ``websocket = True``, ``subscribe_ticker`` streams from ``ws_url``/``testnet_ws_url``.
    websocket_hint: ClassVar[str] = (
        "regenerate it with websocket enabled and the exchange's WebSocket URL"
    )
    ws_url: ClassVar[str] = ""
    testnet_ws_url: ClassVar[str] = ""

    def __init__(
        self,
        config: BrokerConfig,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], int] | None = None,
        markets: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(config, sleep=sleep)
        self._session = session
        self._last_request = 0.0
        self.signer = Signer(
            api_key=config.credentials.get("api_key", ""),
            secret=config.credentials.get("api_secret", ""),
            scheme=self.signing_scheme,
            key_header=self.key_header,
            signature_header=self.signature_header,
            timestamp_header=self.timestamp_header,
            recv_window=config.settings.recv_window,
        )
        if clock is not None:
            self.signer.clock = clock
        self._markets_snapshot = markets
        self.markets = {}
        self._ws_request_ids = itertools.count(1)

    @classmethod
    def auth_names(cls) -> AuthNames:
        """What the class's :class:`Signer` fills: its key header, and the signature and
        timestamp of its scheme (headers, or query parameters)."""
        return Signer(
            api_key="",
            secret="",
            scheme=cls.signing_scheme,
            key_header=cls.key_header,
            signature_header=cls.signature_header,
            timestamp_header=cls.timestamp_header,
        ).auth_names()

    @property
    def url(self) -> str:
        """The API root: ``custom_settings.base_url``/``testnet_url`` if set, else the class's."""
        return self._pick_url("base_url", "testnet_url", "testnet URL")

    @property
    def stream_url(self) -> str:
        """The stream root: ``custom_settings.ws_url``/``testnet_ws_url`` if set, else the class's."""
        url = self._pick_url("ws_url", "testnet_ws_url", "testnet WebSocket URL")
        if not url:
            raise self._config_error(
                f"{self.name} has no WebSocket URL; set ws_url in the broker class or "
                "custom_settings.ws_url",
                "/custom_settings",
            )
        return url

    def _pick_url(self, live_key: str, testnet_key: str, what: str) -> str:
        custom = self.config.custom
        if self.config.settings.testnet:
            url = custom.get(testnet_key) or getattr(self, testnet_key)
            if not url:
                raise self._config_error(
                    f"{self.name} has no {what}; set settings.testnet to false only if "
                    "you mean to trade live",
                    "/settings/testnet",
                )
            return str(url).rstrip("/")
        return str(custom.get(live_key) or getattr(self, live_key)).rstrip("/")

    # -- transport -------------------------------------------------------------------------
    def request(
        self,
        method: str,
        endpoint: str,
        params: dict[str, Any] | None = None,
        *,
        signed: bool = False,
        read: bool = False,
    ) -> Any:
        """Send one request and return its decoded JSON; every failure is a BrokerError.

        ``read=True``: an idempotent request, retried by the config's policy (:meth:`_retried`).
        """
        if read:
            return self._retried(
                lambda: self.request(method, endpoint, params, signed=signed),
                f"{method} {endpoint}",
            )
        path = self.endpoints.get(endpoint, endpoint)
        session = self._session or requests.Session()
        self._session = session
        self._throttle()
        if signed:
            signed_request = self.signer.sign(method, path, params)
            query: Any = signed_request.params
            headers = signed_request.headers
        else:
            query, headers = sorted((params or {}).items()), {}
        response = session.request(
            method,
            self.url + path,
            params=query,
            headers=headers,
            timeout=self.config.settings.timeout / 1000,
        )
        return self._decode(response)

    def _throttle(self) -> None:
        settings = self.config.settings
        if settings.enable_rate_limit and settings.rate_limit:
            wait = self._last_request + settings.rate_limit / 1000 - time.monotonic()
            if wait > 0:
                self._sleep(wait)
        self._last_request = time.monotonic()

    def _decode(self, response: requests.Response) -> Any:
        return decode_answer(
            response,
            broker=self.name,
            error_codes=self.error_codes,
            duplicate_order_markers=self.duplicate_order_markers,
        )

    # -- symbols ---------------------------------------------------------------------------
    def market_id(self, symbol: str) -> str:
        """The exchange's id of a unified symbol (``BTC/USDT`` -> ``BTCUSDT``)."""
        market = self.markets.get(symbol)
        if market:
            return str(market["id"])
        return symbol.split(":")[0].replace("/", "")

    @property
    def markets(self) -> dict[str, dict[str, Any]]:
        """Unified symbol -> market, as :meth:`connect` loaded it. Assigning a new listing
        (reloading markets) rebuilds the id index that :meth:`symbol_of` reads."""
        return self._markets

    @markets.setter
    def markets(self, markets: dict[str, dict[str, Any]]) -> None:
        self._markets = markets
        self._index_markets()

    def _index_markets(self) -> None:
        """Market id -> unified symbol, built once per listing (the first symbol of an id wins)."""
        index: dict[str, str] = {}
        for symbol, market in self._markets.items():
            market_id = market.get("id")
            if isinstance(market_id, str):
                index.setdefault(market_id, symbol)
        self._symbols_by_id = index
        self._indexed_count = len(self._markets)

    def symbol_of(self, market_id: str) -> str:
        """The unified symbol of an exchange market id (inverse of :meth:`market_id`).

        A dictionary look-up (every stream message and order answer asks): the index is built
        when markets are loaded, and again if the listing was changed in place since.
        """
        if len(self._markets) != self._indexed_count:
            self._index_markets()
        symbol = self._symbols_by_id.get(market_id)
        if symbol is not None:
            return symbol
        for symbol in self.config.supported_pairs:
            if self.market_id(symbol) == market_id:
                return symbol
        return market_id

    # -- lifecycle -------------------------------------------------------------------------
    def _open(self) -> None:
        """Check the exchange answers and load the supported markets (or take the snapshot
        given at construction: a recorded ``markets.json``, so replays fetch no listing)."""
        if self._markets_snapshot is not None:
            self.markets = dict(self._markets_snapshot)
        else:
            self.markets = self.parse_markets(self.request("GET", "markets", read=True))

    def _close_session(self) -> None:
        """Close the HTTP session (the next request opens a new one)."""
        if self._session is not None:
            self._session.close()
            self._session = None

    # -- streaming -------------------------------------------------------------------------
    def _new_ticker_stream(self) -> WebSocketTickerStream:
        from brokers.websocket_stream import WebSocketTickerStream

        return WebSocketTickerStream(
            self.stream_url,
            self,
            broker=self.name,
            policy=self.config.settings.retry,
            timeout=self.config.settings.timeout / 1000,
        )

    def ws_stream_name(self, symbol: str) -> str:
        """The exchange's name of ``symbol``'s ticker stream (Binance: ``btcusdt@ticker``)."""
        return f"{self.market_id(symbol).lower()}@ticker"

    def ws_subscribe_messages(self, symbols: list[str]) -> list[Any]:
        """The messages that subscribe to ``symbols``' tickers (Binance style)."""
        return [self._ws_request("SUBSCRIBE", symbols)]

    def ws_unsubscribe_messages(self, symbols: list[str]) -> list[Any]:
        """The messages that end the ticker subscriptions of ``symbols`` (Binance style)."""
        return [self._ws_request("UNSUBSCRIBE", symbols)]

    def ws_request_id(self, message: Any) -> Any:
        """The id the exchange's reply to outgoing ``message`` carries (Binance: its ``id``)."""
        return message.get("id") if isinstance(message, dict) else None

    def _ws_request(self, method: str, symbols: list[str]) -> dict[str, Any]:
        return {
            "method": method,
            "params": [self.ws_stream_name(symbol) for symbol in symbols],
            "id": next(self._ws_request_ids),
        }

    def parse_ws_message(self, message: Any) -> Ticker | StreamReply | None:
        """The ticker in one decoded WebSocket message, or the reply to a request.

        Binance style: ``24hrTicker`` events, bare or wrapped as ``{"stream", "data"}``; replies
        ``{"result", "id"}``, or ``{"error": {"code", "msg"}, "id"}`` for a refused request (its
        error class from :attr:`error_codes`, else InvalidRequestError). A message of another
        shape raises, so the stream reports it rather than dropping it unseen.
        """
        return binance_style.stream_message_of(
            message, self.symbol_of, error_codes=self.error_codes, broker=self.name
        )

    # -- BaseBroker ------------------------------------------------------------------------
    def get_balance(self) -> Balance:
        """Balances per currency."""
        self._require_connected()
        return self.parse_balance(self.request("GET", "balance", signed=True, read=True))

    def get_ticker(self, symbol: str) -> Ticker:
        """The 24h ticker of ``symbol``."""
        self._require_connected()
        self._require_symbol(symbol)
        return self.parse_ticker(
            self.request("GET", "ticker", {"symbol": self.market_id(symbol)}, read=True), symbol
        )

    def get_ohlcv(
        self, symbol: str, timeframe: str = "1h", limit: int = 100, since: int | None = None
    ) -> list[OHLCV]:
        """Candles, oldest first."""
        self._require_connected()
        self._require_symbol(symbol)
        params: dict[str, Any] = {
            "symbol": self.market_id(symbol),
            "interval": timeframe,
            "limit": limit,
        }
        if since is not None:
            params["startTime"] = since
        return ohlcv_from_rows(self.request("GET", "ohlcv", params, read=True))

    def _place_order(self, order: OrderRequest) -> Order:
        """Place a checked order once, looking it up by client id when the answer is lost."""
        client_id = order.client_order_id or new_client_order_id()
        body = self.order_params(order, client_id)
        body.update(order.params)
        return self._place_once(
            lambda: self.parse_order(self.request("POST", "order", body, signed=True)),
            lambda: self._find_by_client_id(client_id, order.symbol),
            client_id,
        )

    def order_params(self, order: OrderRequest, client_id: str) -> dict[str, Any]:
        """The exchange's parameters for a new order (Binance style by default). Amount and
        price are exact decimals, already on the market's step and tick."""
        return binance_style.order_params(order, self.market_id(order.symbol), client_id)

    def _find_by_client_id(self, client_id: str, symbol: str) -> Order | None:
        try:
            data = self.request(
                "GET",
                "order",
                {"symbol": self.market_id(symbol), "origClientOrderId": client_id},
                signed=True,
            )
        except OrderNotFoundError:
            return None
        return self.parse_order(data)

    def cancel_order(self, order_id: str, symbol: str | None = None) -> Order:
        """Cancel an open order, retried like a read; "not found" after a lost answer is
        success when the order is found cancelled (:func:`brokers.retry.cancel_with_retry`)."""
        self._require_connected()
        self._require_symbol(symbol)
        params = self._order_query(order_id, symbol)
        order = self._cancel_retried(
            order_id,
            lambda: self.parse_order(self.request("DELETE", "order", params, signed=True)),
            lambda: self.parse_order(self.request("GET", "order", params, signed=True)),
        )
        order["status"] = order["status"] or "canceled"
        return order

    def get_order(self, order_id: str, symbol: str | None = None) -> Order:
        """One order by id."""
        self._require_connected()
        self._require_symbol(symbol)
        params = self._order_query(order_id, symbol)
        return self.parse_order(self.request("GET", "order", params, signed=True, read=True))

    def _order_query(self, order_id: str, symbol: str | None) -> dict[str, Any]:
        """The parameters that name one order: its id, and its market when the symbol is given."""
        return {"orderId": order_id, **({"symbol": self.market_id(symbol)} if symbol else {})}

    def get_open_orders(self, symbol: str | None = None) -> list[Order]:
        """Open orders, for one symbol or all."""
        self._require_connected()
        self._require_symbol(symbol)
        params = {"symbol": self.market_id(symbol)} if symbol else {}
        return [
            self.parse_order(o)
            for o in self.request("GET", "open_orders", params, signed=True, read=True)
        ]

    def get_positions(self) -> list[Position]:
        """Spot holdings of the supported pairs' base assets, derived from the balance."""
        self._require_connected()
        return balance_positions(self.get_balance(), list(self.config.supported_pairs))

    # -- normalisers (override where the exchange's JSON differs) --------------------------
    def parse_markets(self, data: Any) -> dict[str, dict[str, Any]]:
        """Unified symbol -> market from the exchange listing: ``id``, ``base``, ``quote``, and
        the trading rules :meth:`market_rules` reads (decimal strings, from Binance-style
        ``LOT_SIZE``, ``PRICE_FILTER`` and ``NOTIONAL``/``MIN_NOTIONAL`` filters)."""
        return binance_style.markets_of(data)

    def market_rules(self, symbol: str) -> MarketRules:
        """Step, tick and minimums of ``symbol`` from :attr:`markets` (a zero means none)."""
        market = self.markets.get(symbol, {})

        def rule(key: str) -> Decimal | None:
            number = number_or_none(market.get(key))
            return number if number else None

        return MarketRules(
            amount_step=rule("amount_step"),
            price_tick=rule("price_tick"),
            min_amount=rule("min_amount"),
            min_cost=rule("min_cost"),
            kind=str(market.get("kind") or "spot"),
        )

    def parse_balance(self, data: Any) -> Balance:
        """Balances from ``{"balances": [{"asset", "free", "locked"}]}``."""
        return binance_style.balance_of(data)

    def parse_ticker(self, data: Any, symbol: str) -> Ticker:
        """Ticker from a 24h statistics object."""
        return binance_style.ticker_of(data, symbol)

    def parse_order(self, data: Any) -> Order:
        """Order from the exchange's order object."""
        return binance_style.order_of(data, self.symbol_of)
