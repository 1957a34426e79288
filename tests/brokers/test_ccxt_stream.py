"""Ticker subscriptions of ccxt brokers: ccxt.pro's real binance against servers on 127.0.0.1.

The REST side is the Binance stand-in (markets on connect). The stream side is
:class:`~tests.brokers.test_rest_stream.TickerServer`, an aiohttp WebSocket server speaking
Binance's stream protocol: ccxt.pro opens one numbered stream per symbol (``/ws/0``,
``/ws/1``...), sends SUBSCRIBE/UNSUBSCRIBE requests and reads ``24hrTicker`` events. The broker
is pointed at it through ``custom_settings.urls`` (``{"ws": {"spot": ...}}``), as a user would
point it at a proxy. Waiting is done on queues with a timeout, never on a clock.

The ccxt.pro binance broker the template renders (websocket answered yes) is streamed the same
way, to show that its options pick the full ticker stream.
"""

from __future__ import annotations

import importlib.util
import inspect
import logging
import queue

import ccxt
import pytest

from brokers import errors as e
from brokers.base import BaseBroker
from brokers.ccxt_broker import CcxtBroker
from brokers.rest_broker import RestBroker
from scaffolder.generate import generate
from scaffolder.standin import BinanceStandIn
from tests.brokers.test_ccxt_broker import KEY, SECRET, Binance
from tests.brokers.test_ccxt_broker import make_config as ccxt_config
from tests.brokers.test_rest_stream import (
    WAIT,
    Collector,
    StreamContract,
    TickerServer,
    ticker_event,
)
from tests.scaffolder.test_generate import make_project
from tests.scaffolder.test_template_all_exchanges import (
    test_the_generated_code_is_formatted_and_lint_clean as assert_lint_clean,
)


class LogQueue(logging.Handler):
    """A logging handler that queues the WARNING (and worse) records it is given."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: queue.Queue[logging.LogRecord] = queue.Queue()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.put(record)

    def get(self) -> logging.LogRecord:
        return self.records.get(timeout=WAIT)


class StreamingBinance(Binance):
    websocket = True
    # ccxt.pro's binance watches the mini ticker by default, which has no bid and ask.
    ccxt_options = {**Binance.ccxt_options, "watchTickers": {"name": "ticker"}}


def make_config(standin: BinanceStandIn, ws_url: str):
    urls = {**standin.ccxt_api_urls(), "ws": {"spot": ws_url}}
    return ccxt_config(standin, custom_settings={"urls": urls})


class TestCcxtStream(StreamContract):
    """The contract, and what is particular to ccxt.pro: a numbered stream per symbol."""

    @pytest.fixture
    def make_broker(self, standin):
        def make(url: str, *, websocket: bool = True) -> CcxtBroker:
            return (StreamingBinance if websocket else Binance)(make_config(standin, url))

        return make

    def test_each_symbol_has_its_own_numbered_stream_and_no_markets_request(
        self, broker, server, standin
    ):
        seen = len(standin.requests)
        btc, eth = Collector(), Collector()
        broker.subscribe_ticker("BTC/USDT", btc)
        broker.subscribe_ticker("ETH/USDT", eth)
        on = subscribed(server, "btcusdt@ticker", "ethusdt@ticker")
        assert {server.paths[on["btcusdt@ticker"]], server.paths[on["ethusdt@ticker"]]} == {
            "/ws/0",
            "/ws/1",
        }
        server.send(ticker_event("ETHUSDT", 3000))
        assert eth.next()["symbol"] == "ETH/USDT"
        server.send(ticker_event("BTCUSDT", 65000))
        assert btc.next()["last"] == 65000
        assert btc.items.empty() and eth.items.empty()
        assert len(standin.requests) == seen  # ccxt.pro got the broker's markets

    def test_unsubscribe_stops_delivery_and_the_last_one_closes_the_connections(
        self, broker, server
    ):
        btc, eth = Collector(), Collector()
        broker.subscribe_ticker("BTC/USDT", btc)
        broker.subscribe_ticker("ETH/USDT", eth)
        on = subscribed(server, "btcusdt@ticker", "ethusdt@ticker")

        broker.unsubscribe("BTC/USDT")
        connection, request = server.next_request("UNSUBSCRIBE")
        assert (connection, request["params"]) == (on["btcusdt@ticker"], ["btcusdt@ticker"])
        server.send(ticker_event("BTCUSDT", 65000))  # sent anyway: the client must drop it
        server.send(ticker_event("ETHUSDT", 3000))
        assert eth.next()["last"] == 3000

        again = Collector()  # the same connection, subscribed anew: its first tick is the next one
        broker.subscribe_ticker("BTC/USDT", again)
        assert subscribed(server, "btcusdt@ticker") == {"btcusdt@ticker": on["btcusdt@ticker"]}
        server.send(ticker_event("BTCUSDT", 65100))
        assert again.next()["last"] == 65100
        assert btc.items.empty() and again.items.empty()

        broker.unsubscribe("ETH/USDT")
        server.next_request("UNSUBSCRIBE")
        broker.unsubscribe("BTC/USDT")  # the last one: the exchange and its connections close
        assert {server.ended.get(timeout=WAIT), server.ended.get(timeout=WAIT)} == {1, 2}
        assert server.connections == 2 and server.received.empty()

    @pytest.fixture
    def refused(self, make_broker):
        """A connected broker whose stream server refuses every subscription as Binance does."""
        with TickerServer(refuse_subscribe={"code": -1121, "msg": "Invalid symbol."}) as server:
            broker = make_broker(server.url)
            broker.connect()
            yield broker, server
            broker.disconnect()

    def test_a_refused_subscription_is_reported_and_logged_not_retried(self, refused, caplog):
        broker, server = refused
        errors = Collector()
        broker.subscribe_ticker("BTC/USDT", Collector(), on_error=errors)
        error = errors.next()
        assert isinstance(error, e.InvalidSymbolError)
        assert "Invalid symbol." in str(error) and "stopped after 1" in str(error)
        assert isinstance(error.__cause__.__cause__, ccxt.BadSymbol)
        assert server.handshakes == 1  # an error retrying cannot fix: not retried
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any("Invalid symbol." in w and "subscription dropped" in w for w in warnings)

    def test_a_rate_limited_subscription_is_made_again_on_a_fresh_connection(self, make_broker):
        limit = {"code": -1003, "msg": "Too many requests."}
        with TickerServer(refuse_subscribe=limit, refuse_first=1) as server:
            broker = make_broker(server.url)
            broker.connect()
            ticks, errors = Collector(), Collector()
            broker.subscribe_ticker("BTC/USDT", ticks, on_error=errors)
            assert server.next_request("SUBSCRIBE")[0] == 1  # refused
            assert server.ended.get(timeout=WAIT) == 1
            assert server.next_request("SUBSCRIBE")[0] == 2
            server.send(ticker_event("BTCUSDT", 65000))
            assert ticks.next()["last"] == 65000
            assert errors.items.empty()
            broker.disconnect()

    def test_without_on_error_a_stream_error_still_reaches_the_log(self, refused):
        broker, _ = refused
        records = LogQueue()
        logging.getLogger("brokers.streaming").addHandler(records)
        try:
            broker.subscribe_ticker("ETH/USDT", Collector())
            record = records.get()
        finally:
            logging.getLogger("brokers.streaming").removeHandler(records)
        assert record.levelno == logging.WARNING
        assert "ETH/USDT" in record.getMessage() and "Invalid symbol." in record.getMessage()


@pytest.fixture(scope="module")
def rendered_binance(tmp_path_factory) -> type[CcxtBroker]:
    """The binance broker class as the template renders it with websocket answered yes."""
    project = make_project(tmp_path_factory.mktemp("rendered") / "project")
    generate("binance", project, data={"websocket": True})
    assert_lint_clean(project)
    spec = importlib.util.spec_from_file_location(
        "rendered_binance_broker", project / "brokers" / "binance" / "broker.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.BinanceBroker


def test_the_rendered_binance_broker_streams_the_full_ticker_with_bid_and_ask(rendered_binance):
    assert rendered_binance.websocket is True
    with BinanceStandIn(KEY, SECRET) as standin, TickerServer() as server:
        broker = rendered_binance(make_config(standin, server.url))
        broker.connect()
        ticks = Collector()
        broker.subscribe_ticker("BTC/USDT", ticks)
        _, request = server.next_request("SUBSCRIBE")
        assert request["params"] == ["btcusdt@ticker"]  # not ccxt.pro's default, @miniTicker
        server.send(ticker_event("BTCUSDT", 65000))
        ticker = ticks.next()
        assert (ticker["bid"], ticker["ask"], ticker["last"]) == (64999.0, 65001.0, 65000.0)
        broker.disconnect()


def subscribed(server: TickerServer, *streams: str) -> dict[str, int]:
    """Wait for a SUBSCRIBE of each of ``streams``: the connection each came on."""
    connections: dict[str, int] = {}
    while len(connections) < len(streams):
        connection, request = server.next_request("SUBSCRIBE")
        for stream in request["params"]:
            assert stream in streams, request
            connections[stream] = connection
    return connections


def test_both_broker_kinds_subscribe_with_the_same_signature():
    assert CcxtBroker.subscribe_ticker is RestBroker.subscribe_ticker
    assert CcxtBroker.unsubscribe is RestBroker.unsubscribe is BaseBroker.unsubscribe
    parameters = inspect.signature(BaseBroker.subscribe_ticker).parameters
    assert parameters["on_error"].kind is inspect.Parameter.KEYWORD_ONLY
