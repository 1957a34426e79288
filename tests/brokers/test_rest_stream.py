"""Ticker subscriptions of REST brokers, against a real WebSocket server on 127.0.0.1.

The REST side is the Binance stand-in (markets on connect); the stream side is
:class:`TickerServer`, an aiohttp WebSocket server speaking Binance's stream protocol as far as
these tests need: SUBSCRIBE/UNSUBSCRIBE requests answered with ``{"result": null, "id": n}``,
and whatever events a test pushes. Waiting is done on queues with a timeout, never on a clock.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import threading
from collections.abc import Collection
from typing import Any

import pytest
from aiohttp import web

from brokers import errors as e
from brokers.rest_broker import RestBroker
from brokers.shapes import Ticker
from scaffolder.standin import BinanceStandIn
from tests.brokers.test_rest_broker import KEY, SECRET, Spot
from tests.brokers.test_rest_broker import make_config as rest_config

WAIT = 10.0  # seconds before a wait that should succeed at once is declared failed
#: Binance's refusal of a stream it does not know.
INVALID_SYMBOL = {"code": -1121, "msg": "Invalid symbol."}


class TickerServer:
    """A WebSocket server on 127.0.0.1 (its own thread and loop) that records what it receives.

    It serves ``/ws`` and, as Binance does for ccxt.pro's numbered streams, ``/ws/<n>``.

    Args:
        refuse_status: answer every handshake with this HTTP status instead of upgrading.
        drop_at_once: upgrade, then close every connection at once.
        tick_on_subscribe: after acknowledging a SUBSCRIBE, send one ticker event (last price
            ``tick_on_subscribe``) for each stream it names.
        refuse_subscribe: answer SUBSCRIBE requests with this error object (Binance's
            ``{"error": {"code": ..., "msg": ...}, "id": n}``) instead of acknowledging them.
        refuse_first: refuse only this many SUBSCRIBE requests (default: every one).
        refuse_streams: refuse only SUBSCRIBE requests naming one of these streams.
        refuse_unsubscribe: answer UNSUBSCRIBE requests with this error object.
    """

    def __init__(
        self,
        *,
        refuse_status: int | None = None,
        drop_at_once: bool = False,
        tick_on_subscribe: float | None = None,
        refuse_subscribe: dict[str, Any] | None = None,
        refuse_first: int | None = None,
        refuse_streams: Collection[str] | None = None,
        refuse_unsubscribe: dict[str, Any] | None = None,
    ) -> None:
        self.refuse_status = refuse_status
        self.drop_at_once = drop_at_once
        self.tick_on_subscribe = tick_on_subscribe
        self.refuse_subscribe = refuse_subscribe
        self.refusals_left = refuse_first
        self.refuse_streams = refuse_streams
        self.refuse_unsubscribe = refuse_unsubscribe
        #: ``(connection number, decoded message)`` for every message received.
        self.received: queue.Queue[tuple[int, Any]] = queue.Queue()
        #: The number of every connection that has ended, as it ends.
        self.ended: queue.Queue[int] = queue.Queue()
        self.handshakes = 0
        self.connections = 0
        #: The path each connection was opened on, by connection number.
        self.paths: dict[int, str] = {}
        self._clients: dict[int, tuple[web.WebSocketResponse, Any]] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def __enter__(self) -> TickerServer:
        self._thread.start()
        self._call(self._start())
        return self

    def __exit__(self, *exc: object) -> None:
        self._call(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(WAIT)
        self._loop.close()

    def send(self, message: Any) -> None:
        """Send ``message`` (JSON-encoded unless text) to every open connection."""
        text = message if isinstance(message, str) else json.dumps(message)
        self._call(self._broadcast(text))

    def drop(self) -> None:
        """Cut every open connection without a closing handshake, as a network failure does."""
        self._call(self._abort())

    def next_request(self, method: str) -> tuple[int, dict[str, Any]]:
        """The next message received, which must be a ``method`` request."""
        connection, message = self.received.get(timeout=WAIT)
        assert message.get("method") == method, message
        return connection, message

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(WAIT)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/ws", self._handle)
        app.router.add_get("/ws/{stream}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def _stop(self) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.handshakes += 1
        if self.refuse_status is not None:
            return web.Response(status=self.refuse_status, text="refused")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.connections += 1
        number = self.connections
        self.paths[number] = request.path
        self._clients[number] = (ws, request.transport)
        try:
            if self.drop_at_once:
                await ws.close()
            async for msg in ws:
                message = json.loads(msg.data)
                self.received.put((number, message))
                if message.get("method") == "SUBSCRIBE" and self._refuses(message["params"]):
                    await ws.send_json({"error": self.refuse_subscribe, "id": message["id"]})
                    continue
                if message.get("method") == "UNSUBSCRIBE" and self.refuse_unsubscribe:
                    await ws.send_json({"error": self.refuse_unsubscribe, "id": message["id"]})
                    continue
                if message.get("method") in ("SUBSCRIBE", "UNSUBSCRIBE"):
                    await ws.send_json({"result": None, "id": message["id"]})
                if message.get("method") == "SUBSCRIBE" and self.tick_on_subscribe is not None:
                    for stream in message["params"]:
                        market_id = stream.partition("@")[0].upper()
                        await ws.send_json(ticker_event(market_id, self.tick_on_subscribe))
        finally:
            del self._clients[number]
            self.ended.put(number)
        return ws

    def _refuses(self, streams: list[str]) -> bool:
        if self.refuse_subscribe is None or self.refusals_left == 0:
            return False
        if self.refuse_streams is not None and not set(streams) & set(self.refuse_streams):
            return False
        if self.refusals_left is not None:
            self.refusals_left -= 1
        return True

    async def _broadcast(self, text: str) -> None:
        for ws, _ in list(self._clients.values()):
            await ws.send_str(text)

    async def _abort(self) -> None:
        for _, transport in list(self._clients.values()):
            transport.abort()


class StreamingSpot(Spot):
    websocket = True


def make_config(standin: BinanceStandIn, ws_url: str | None, *, testnet: bool = True):
    custom = {"testnet_ws_url": ws_url} if ws_url else {}
    return rest_config(standin, testnet=testnet, custom=custom)


def ticker_event(market_id: str, last: float) -> dict[str, Any]:
    """A Binance ``<symbol>@ticker`` event."""
    return {
        "e": "24hrTicker",
        "E": 1700000000123,
        "s": market_id,
        "c": str(last),
        "b": str(last - 1),
        "a": str(last + 1),
        "h": "70000.00",
        "l": "60000.00",
        "v": "1234.5",
        "q": "80000000.0",
        "C": 1700000000100,
    }


class Collector:
    """A callback that queues what it is given."""

    def __init__(self) -> None:
        self.items: queue.Queue[Any] = queue.Queue()

    def __call__(self, item: Any) -> None:
        self.items.put(item)

    def next(self) -> Any:
        return self.items.get(timeout=WAIT)


class StreamContract:
    """What every broker's ticker stream does, whichever library runs it underneath.

    A subclass provides the fixture ``make_broker``: ``make_broker(url, websocket=True)`` is a
    broker (not connected yet) of the Binance stand-in ``standin`` streaming from ``url``.
    """

    @pytest.fixture
    def standin(self):
        with BinanceStandIn(KEY, SECRET) as server:
            yield server

    @pytest.fixture
    def server(self):
        with TickerServer() as ws_server:
            yield ws_server

    @pytest.fixture
    def broker(self, make_broker, server):
        broker = make_broker(server.url)
        broker.connect()
        yield broker
        broker.disconnect()

    def test_subscribed_tickers_arrive_in_the_ticker_shape(self, broker, server):
        ticks = Collector()
        broker.subscribe_ticker("BTC/USDT", ticks)
        _, request = server.next_request("SUBSCRIBE")
        assert request["params"] == ["btcusdt@ticker"]
        server.send(ticker_event("BTCUSDT", 65000.5))
        ticker = ticks.next()
        assert set(ticker) == set(Ticker.__annotations__)
        assert ticker == {
            "symbol": "BTC/USDT",
            "timestamp": 1700000000100,
            "last": 65000.5,
            "bid": 64999.5,
            "ask": 65001.5,
            "high": 70000.0,
            "low": 60000.0,
            "base_volume": 1234.5,
            "quote_volume": 80000000.0,
        }

    def test_after_a_drop_the_stream_reconnects_and_ticks_continue(self, broker, server):
        ticks, errors = Collector(), Collector()
        broker.subscribe_ticker("BTC/USDT", ticks, on_error=errors)
        server.next_request("SUBSCRIBE")
        server.send(ticker_event("BTCUSDT", 65000))
        assert ticks.next()["last"] == 65000

        server.drop()
        assert server.ended.get(timeout=WAIT) == 1
        connection, request = server.next_request("SUBSCRIBE")
        assert (connection, request["params"]) == (2, ["btcusdt@ticker"])
        server.send(ticker_event("BTCUSDT", 66000))
        assert ticks.next()["last"] == 66000
        assert errors.items.empty()  # recovered: nothing to report

    def test_a_raising_callback_is_logged_and_does_not_stop_the_stream(
        self, broker, server, caplog
    ):
        ticks = Collector()

        def callback(ticker: Ticker) -> None:
            ticks(ticker)
            if ticker["last"] == 1:
                raise RuntimeError("bot bug")

        broker.subscribe_ticker("BTC/USDT", callback)
        server.next_request("SUBSCRIBE")
        server.send(ticker_event("BTCUSDT", 1))
        assert ticks.next()["last"] == 1
        server.send(ticker_event("BTCUSDT", 2))
        assert ticks.next()["last"] == 2
        assert any("callback of BTC/USDT raised" in r.getMessage() for r in caplog.records)

    def test_a_callback_may_unsubscribe_itself(self, broker, server):
        ticks = Collector()

        def once(ticker: Ticker) -> None:
            ticks(ticker)
            broker.unsubscribe("BTC/USDT")

        broker.subscribe_ticker("BTC/USDT", once)
        server.next_request("SUBSCRIBE")
        server.send(ticker_event("BTCUSDT", 1))
        server.send(ticker_event("BTCUSDT", 2))
        assert ticks.next()["last"] == 1
        assert server.ended.get(timeout=WAIT) == 1  # the last subscription: connection closed
        assert ticks.items.empty()

    def test_disconnect_closes_the_stream_and_its_thread(self, make_broker, server):
        broker = make_broker(server.url)
        broker.connect()
        broker.subscribe_ticker("BTC/USDT", Collector())
        server.next_request("SUBSCRIBE")
        broker.disconnect()
        assert server.ended.get(timeout=WAIT) == 1
        assert not [t for t in threading.enumerate() if t.name == f"{broker.name}-ws"]

    def test_a_connection_that_keeps_dropping_is_given_up_after_the_retry_policy(self, make_broker):
        with TickerServer(drop_at_once=True) as server:
            broker = make_broker(server.url)
            broker.connect()
            errors = Collector()
            broker.subscribe_ticker("BTC/USDT", Collector(), on_error=errors)
            error = errors.next()
            assert isinstance(error, e.BrokerConnectionError)
            assert "stopped after 3 failed connection(s)" in str(error)
            assert server.connections == 3  # max_attempts in the config
            broker.disconnect()

    def test_a_refused_handshake_is_not_retried(self, make_broker):
        with TickerServer(refuse_status=401) as server:
            broker = make_broker(server.url)
            broker.connect()
            errors = Collector()
            broker.subscribe_ticker("BTC/USDT", Collector(), on_error=errors)
            error = errors.next()
            assert isinstance(error, e.AuthenticationError) and "HTTP 401" in str(error)
            assert "stopped after 1 failed connection(s)" in str(error)
            assert server.handshakes == 1
            broker.disconnect()

    def test_a_refused_subscription_is_reported_to_its_symbol_alone_and_dropped(
        self, make_broker, caplog
    ):
        with TickerServer(
            refuse_subscribe=INVALID_SYMBOL, refuse_streams=["btcusdt@ticker"]
        ) as server:
            broker = make_broker(server.url)
            broker.connect()
            eth, eth_errors = Collector(), Collector()
            broker.subscribe_ticker("ETH/USDT", eth, on_error=eth_errors)
            server.next_request("SUBSCRIBE")
            btc, btc_errors = Collector(), Collector()
            broker.subscribe_ticker("BTC/USDT", btc, on_error=btc_errors)
            _, request = server.next_request("SUBSCRIBE")
            assert request["params"] == ["btcusdt@ticker"]

            error = btc_errors.next()
            assert isinstance(error, e.InvalidSymbolError)
            assert "BTC/USDT" in str(error) and "Invalid symbol." in str(error)
            server.send(ticker_event("BTCUSDT", 65000))  # the client must drop it
            server.send(ticker_event("ETHUSDT", 3000))
            assert eth.next()["last"] == 3000
            assert btc.items.empty() and btc_errors.items.empty() and eth_errors.items.empty()
            warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
            assert any("Invalid symbol." in w and "dropped" in w for w in warnings)
            broker.disconnect()

    @pytest.mark.parametrize("others", [False, True], ids=["alone", "beside-another"])
    def test_subscribing_again_after_a_refusal_asks_the_exchange_again(self, make_broker, others):
        with TickerServer(
            refuse_subscribe=INVALID_SYMBOL, refuse_streams=["btcusdt@ticker"], refuse_first=1
        ) as server:
            broker = make_broker(server.url)
            broker.connect()
            if others:
                broker.subscribe_ticker("ETH/USDT", Collector())
                server.next_request("SUBSCRIBE")
            errors = Collector()
            broker.subscribe_ticker("BTC/USDT", Collector(), on_error=errors)
            assert isinstance(errors.next(), e.InvalidSymbolError)
            if not others:  # nothing is left to stream: the connection closes
                assert server.ended.get(timeout=WAIT) == 1

            ticks = Collector()
            broker.subscribe_ticker("BTC/USDT", ticks, on_error=errors)
            server.next_request("SUBSCRIBE")  # the refused one
            _, request = server.next_request("SUBSCRIBE")
            assert request["params"] == ["btcusdt@ticker"]
            server.send(ticker_event("BTCUSDT", 65000))
            assert ticks.next()["last"] == 65000
            assert errors.items.empty()
            broker.disconnect()

    def test_subscribing_before_connect_raises_not_connected(self, make_broker, server):
        with pytest.raises(e.NotConnectedError):
            make_broker(server.url).subscribe_ticker("BTC/USDT", Collector())
        assert server.handshakes == 0

    def test_unsupported_symbols_and_brokers_without_websocket_are_refused(
        self, broker, make_broker, server
    ):
        with pytest.raises(e.InvalidSymbolError):
            broker.subscribe_ticker("DOGE/USDT", Collector())

        plain = make_broker(server.url, websocket=False)
        plain.connect()
        with pytest.raises(e.NotSupportedError, match="websocket"):
            plain.subscribe_ticker("BTC/USDT", Collector())
        plain.disconnect()
        assert server.handshakes == 0


class TestRestStream(StreamContract):
    """The contract, and what is particular to RestBroker's one aiohttp connection."""

    @pytest.fixture
    def make_broker(self, standin):
        def make(url: str, *, websocket: bool = True) -> RestBroker:
            return (StreamingSpot if websocket else Spot)(make_config(standin, url))

        return make

    def test_each_symbol_reaches_its_own_callback_over_one_connection(self, broker, server):
        btc, eth = Collector(), Collector()
        broker.subscribe_ticker("BTC/USDT", btc)
        broker.subscribe_ticker("ETH/USDT", eth)
        connections, streams = streams_subscribed(server, 2)
        assert connections == {1} and streams == {"btcusdt@ticker", "ethusdt@ticker"}
        server.send({"stream": "ethusdt@ticker", "data": ticker_event("ETHUSDT", 3000)})
        server.send(ticker_event("BTCUSDT", 65000))
        assert btc.next()["last"] == 65000
        assert eth.next()["symbol"] == "ETH/USDT"
        assert btc.items.empty() and eth.items.empty()

    def test_after_a_drop_every_symbol_is_subscribed_again_on_the_new_connection(
        self, broker, server
    ):
        btc, eth = Collector(), Collector()
        broker.subscribe_ticker("BTC/USDT", btc)
        broker.subscribe_ticker("ETH/USDT", eth)
        assert streams_subscribed(server, 2)[0] == {1}

        server.drop()
        assert server.ended.get(timeout=WAIT) == 1
        connections, streams = streams_subscribed(server, 2)
        assert connections == {2} and streams == {"btcusdt@ticker", "ethusdt@ticker"}
        server.send(ticker_event("BTCUSDT", 66000))
        server.send(ticker_event("ETHUSDT", 3100))
        assert btc.next()["last"] == 66000
        assert eth.next()["last"] == 3100

    def test_unsubscribe_stops_delivery_and_the_last_one_closes_the_connection(
        self, broker, server
    ):
        btc, eth = Collector(), Collector()
        broker.subscribe_ticker("BTC/USDT", btc)
        broker.subscribe_ticker("ETH/USDT", eth)
        streams_subscribed(server, 2)

        broker.unsubscribe("BTC/USDT")
        _, request = server.next_request("UNSUBSCRIBE")
        assert request["params"] == ["btcusdt@ticker"]
        server.send(ticker_event("BTCUSDT", 65000))  # sent anyway: the client must drop it
        server.send(ticker_event("ETHUSDT", 3000))
        assert eth.next()["last"] == 3000  # arrived after the BTC one, on the same connection
        assert btc.items.empty()

        broker.unsubscribe("ETH/USDT")
        _, request = server.next_request("UNSUBSCRIBE")
        assert request["params"] == ["ethusdt@ticker"]
        assert server.ended.get(timeout=WAIT) == 1
        assert server.connections == 1 and server.received.empty()

    def test_an_unreadable_message_is_reported_and_the_stream_goes_on(self, broker, server, caplog):
        ticks, errors = Collector(), Collector()
        broker.subscribe_ticker("BTC/USDT", ticks, on_error=errors)
        server.next_request("SUBSCRIBE")
        caplog.set_level(logging.WARNING, logger="brokers.streaming")

        server.send("{not json")
        server.send({"e": "24hrTicker", "c": "1"})  # no symbol
        server.send({"e": "kline", "s": "BTCUSDT"})  # another event than the parser knows
        server.send({"error": {"code": 2, "msg": "Invalid request"}, "id": 9})
        server.send(ticker_event("BTCUSDT", 65000))

        assert ticks.next()["last"] == 65000
        reported = [errors.next() for _ in range(4)]
        assert [type(error) for error in reported] == [
            e.BadResponseError,
            e.BadResponseError,
            e.BadResponseError,
            e.InvalidRequestError,
        ]
        assert "{not json" in str(reported[0]) and isinstance(reported[0].__cause__, ValueError)
        assert "KeyError" in str(reported[1])
        assert "Invalid request" in str(reported[3])
        assert server.connections == 1
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert sum("message skipped" in w for w in warnings) == 4

    def test_a_refused_request_for_several_symbols_drops_each_and_closes_the_connection(
        self, broker, server
    ):
        btc, eth = Collector(), Collector()
        broker.subscribe_ticker("BTC/USDT", Collector(), on_error=btc)
        broker.subscribe_ticker("ETH/USDT", Collector(), on_error=eth)
        streams_subscribed(server, 2)

        server.refuse_subscribe = {"code": 2, "msg": "Invalid request: too many parameters"}
        server.drop()  # the new connection subscribes both in one request, which is refused
        assert server.ended.get(timeout=WAIT) == 1
        connection, request = server.next_request("SUBSCRIBE")
        assert (connection, sorted(request["params"])) == (2, ["btcusdt@ticker", "ethusdt@ticker"])
        for errors in (btc, eth):
            error = errors.next()
            assert isinstance(error, e.InvalidRequestError)
            assert "BTC/USDT, ETH/USDT" in str(error) or "ETH/USDT, BTC/USDT" in str(error)
            assert "too many parameters (code 2)" in str(error)
        assert server.ended.get(timeout=WAIT) == 2  # nothing left to stream
        assert btc.items.empty() and eth.items.empty()

    def test_an_error_reply_to_no_pending_request_goes_to_every_subscription(self, broker, server):
        btc, eth = Collector(), Collector()
        btc_errors, eth_errors = Collector(), Collector()
        broker.subscribe_ticker("BTC/USDT", btc, on_error=btc_errors)
        _, first = server.next_request("SUBSCRIBE")
        broker.subscribe_ticker("ETH/USDT", eth, on_error=eth_errors)
        server.next_request("SUBSCRIBE")

        # Request ``first`` was acknowledged already (the server answers at once, in order).
        server.send({"error": {"code": -1121, "msg": "Invalid symbol."}, "id": first["id"]})
        for errors in (btc_errors, eth_errors):
            error = errors.next()
            assert isinstance(error, e.InvalidSymbolError)
            assert f"refused request {first['id']}: Invalid symbol." in str(error)
        server.send(ticker_event("BTCUSDT", 65000))
        server.send(ticker_event("ETHUSDT", 3000))
        assert btc.next()["last"] == 65000 and eth.next()["last"] == 3000
        assert server.connections == 1

    def test_a_refused_unsubscribe_is_logged_and_told_to_no_one(self, make_broker, caplog):
        refusal = {"code": 2, "msg": "Invalid request: unknown stream"}
        with TickerServer(refuse_unsubscribe=refusal) as server:
            broker = make_broker(server.url)
            broker.connect()
            btc, eth, errors = Collector(), Collector(), Collector()
            broker.subscribe_ticker("BTC/USDT", btc, on_error=errors)
            broker.subscribe_ticker("ETH/USDT", eth, on_error=errors)
            streams_subscribed(server, 2)
            caplog.set_level(logging.WARNING, logger="brokers.streaming")

            broker.unsubscribe("BTC/USDT")
            server.next_request("UNSUBSCRIBE")
            server.send(ticker_event("BTCUSDT", 65000))  # the exchange goes on: dropped
            server.send(ticker_event("ETHUSDT", 3000))
            assert eth.next()["last"] == 3000
            assert btc.items.empty() and errors.items.empty()
            warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
            assert any("unknown stream" in w and "unsubscribe refused" in w for w in warnings)
            broker.disconnect()

    def test_a_closed_websocket_is_the_cause_of_giving_up(self, standin):
        with TickerServer(drop_at_once=True) as server:
            broker = StreamingSpot(make_config(standin, server.url))
            broker.connect()
            errors = Collector()
            broker.subscribe_ticker("BTC/USDT", Collector(), on_error=errors)
            assert "closed the WebSocket" in str(errors.next().__cause__)
            broker.disconnect()

    def test_the_stream_url_follows_testnet_and_overrides(self, standin):
        class Urls(RestBroker):
            name = "spotrest"
            websocket = True
            ws_url = "wss://stream.spotrest.invalid/ws/"
            testnet_ws_url = "wss://testnet.spotrest.invalid/ws"

        assert Urls(make_config(standin, "ws://127.0.0.1:1/ws")).stream_url == "ws://127.0.0.1:1/ws"
        assert Urls(make_config(standin, None)).stream_url == "wss://testnet.spotrest.invalid/ws"
        live = make_config(standin, None, testnet=False)
        assert Urls(live).stream_url == "wss://stream.spotrest.invalid/ws"
        with pytest.raises(e.ConfigError, match="no WebSocket URL"):
            _ = Spot(live).stream_url
        with pytest.raises(e.ConfigError, match="no testnet WebSocket URL"):
            _ = Spot(make_config(standin, None)).stream_url


def streams_subscribed(server: TickerServer, count: int) -> tuple[set[int], set[str]]:
    """Connections and stream names of the next SUBSCRIBE requests, until ``count`` streams."""
    connections: set[int] = set()
    streams: set[str] = set()
    while len(streams) < count:
        connection, request = server.next_request("SUBSCRIBE")
        connections.add(connection)
        streams.update(request["params"])
    return connections, streams


def test_importing_the_rest_broker_does_not_import_aiohttp():
    import subprocess
    import sys

    code = "import sys, brokers.rest_broker; print('aiohttp' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr
