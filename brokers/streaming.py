"""Ticker subscriptions for the sync broker API: over ccxt.pro, or over a plain WebSocket.

Both run on one background thread with its own asyncio loop, so ``subscribe``/``unsubscribe``
stay plain calls; each update is normalised to our :class:`~brokers.shapes.Ticker` and handed
to the callback on that thread.

- :class:`TickerStream` (ccxt brokers): one ccxt.pro ``watch_ticker`` task per symbol. Errors
  are mapped to our tree and handed to ``on_error`` (the watcher then stops).
- :class:`WebSocketTickerStream` (REST brokers): one aiohttp WebSocket connection for every
  symbol. What is particular to an exchange (messages out, tickers in) comes from a
  :class:`TickerChannel`, the broker itself. After a drop it reconnects with the broker's
  :class:`~brokers.retry.RetryPolicy` and subscribes again; a message it cannot read is
  reported and the stream goes on.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib
import json
import logging
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from brokers.errors import (
    BadResponseError,
    BrokerConnectionError,
    BrokerError,
    RateLimitError,
    map_exception,
)
from brokers.shapes import Ticker, ticker_from_ccxt

if TYPE_CHECKING:
    from brokers.retry import RetryPolicy

TickerCallback = Callable[[Ticker], None]
ErrorCallback = Callable[[BrokerError], None]
T = TypeVar("T")
log = logging.getLogger(__name__)


class _BackgroundLoop:
    """An asyncio loop on a daemon thread, started on first use; ``stop()`` ends both."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def on_loop_thread(self) -> bool:
        """Whether the caller is on the loop's thread (inside a callback)."""
        return threading.current_thread() is self._thread

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run ``coro`` on the loop, starting the thread if needed."""
        if not self._thread.is_alive():
            self._thread.start()
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def stop(self, timeout: float) -> None:
        """Stop the loop and wait for the thread (not from the loop's own thread)."""
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            if not self.on_loop_thread():
                self._thread.join(timeout=timeout)
        if not self._thread.is_alive() and not self.loop.is_closed():
            self.loop.close()


class TickerStream:
    """Subscriptions of one broker; ``close()`` stops them all and the thread."""

    def __init__(
        self,
        make_exchange: Callable[[], Any],
        *,
        broker: str,
        on_error: Callable[[BrokerError], None] | None = None,
    ) -> None:
        self._make_exchange = make_exchange
        self._broker = broker
        self._on_error = on_error
        self._background = _BackgroundLoop(f"{broker}-ws")
        self._tasks: dict[str, concurrent.futures.Future[None]] = {}
        self._exchange: Any = None

    def subscribe(self, symbol: str, callback: TickerCallback) -> None:
        """Start delivering ``symbol``'s ticker updates to ``callback`` (replaces an earlier one)."""
        self.unsubscribe(symbol)
        self._tasks[symbol] = self._background.submit(self._watch(symbol, callback))

    def unsubscribe(self, symbol: str) -> None:
        """Stop ``symbol``'s updates; unknown symbols are ignored."""
        task = self._tasks.pop(symbol, None)
        if task is not None:
            task.cancel()

    def close(self) -> None:
        """Stop every subscription, close the exchange connection and the thread."""
        for symbol in list(self._tasks):
            self.unsubscribe(symbol)
        if self._background.running and self._exchange is not None:
            self._background.submit(self._exchange.close()).result(timeout=10)
        self._background.stop(timeout=10)

    async def _watch(self, symbol: str, callback: TickerCallback) -> None:
        if self._exchange is None:
            self._exchange = self._make_exchange()
        while True:
            try:
                raw = await self._exchange.watch_ticker(symbol)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._on_error is not None:
                    self._on_error(map_exception(exc, broker=self._broker))
                return
            callback(ticker_from_ccxt(raw))


def pro_exchange_factory(
    exchange_id: str, params: dict[str, Any], sandbox: bool
) -> Callable[[], Any]:
    """A factory of the ccxt.pro exchange matching a sync exchange's settings."""

    def make() -> Any:
        pro = importlib.import_module("ccxt.pro")
        exchange = getattr(pro, exchange_id)(params)
        if sandbox:
            exchange.set_sandbox_mode(True)
        return exchange

    return make


class TickerChannel(Protocol):
    """What a :class:`WebSocketTickerStream` needs from its exchange (``RestBroker`` is one).

    Messages are JSON-encoded when they are not already text. ``parse_ws_message`` gets each
    decoded message and returns its ticker (with our unified symbol), None for a message that
    carries none (an acknowledgement), or raises when the message is an error or unreadable.
    """

    def ws_subscribe_messages(self, symbols: list[str]) -> list[Any]: ...

    def ws_unsubscribe_messages(self, symbols: list[str]) -> list[Any]: ...

    def parse_ws_message(self, message: Any) -> Ticker | None: ...


@dataclass(frozen=True)
class _Subscription:
    callback: TickerCallback
    on_error: ErrorCallback | None


class WebSocketTickerStream:
    """Ticker subscriptions over one WebSocket connection (aiohttp, imported on first use).

    The connection opens with the first subscription and closes with the last unsubscribe.
    A dropped connection is reopened after ``policy.delay`` and every symbol subscribed again;
    after ``policy.max_attempts`` failed connections in a row (or at once, for an error that
    retrying cannot fix, such as a refused handshake) the stream reports the error and forgets
    its subscriptions. Errors go to the log and to the ``on_error`` of every subscription.
    """

    def __init__(
        self,
        url: str,
        channel: TickerChannel,
        *,
        broker: str,
        policy: RetryPolicy,
        timeout: float = 10.0,
        heartbeat: float | None = 30.0,
    ) -> None:
        self.url = url
        self._channel = channel
        self._broker = broker
        self._policy = policy
        self._timeout = timeout
        self._heartbeat = heartbeat
        self._background = _BackgroundLoop(f"{broker}-ws")
        # Owned by the loop's thread: only coroutines running there touch these.
        self._subscriptions: dict[str, _Subscription] = {}
        self._ws: Any = None
        self._runner: asyncio.Task[None] | None = None

    # -- the sync API ----------------------------------------------------------------------
    def subscribe(
        self, symbol: str, callback: TickerCallback, on_error: ErrorCallback | None = None
    ) -> None:
        """Deliver ``symbol``'s tickers to ``callback`` (replacing an earlier callback)."""
        self._run(self._subscribe(symbol, _Subscription(callback, on_error)))

    def unsubscribe(self, symbol: str) -> None:
        """Stop ``symbol``'s tickers: none is delivered once this returns. Unknown: ignored."""
        if not self._background.running:
            return
        if self._background.on_loop_thread():  # from a callback: stop delivery right now
            if self._subscriptions.pop(symbol, None) is not None:
                self._run(self._unsubscribed(symbol))
        else:
            self._run(self._unsubscribe(symbol))

    def close(self) -> None:
        """Stop every subscription, close the connection and the thread."""
        if not self._background.running:
            return
        if self._background.on_loop_thread():
            done = self._background.submit(self._shutdown())
            done.add_done_callback(lambda _: self._background.stop(timeout=0))
            return
        self._run(self._shutdown())
        self._background.stop(timeout=self._timeout)

    def _run(self, coro: Coroutine[Any, Any, None]) -> None:
        future = self._background.submit(coro)
        if self._background.on_loop_thread():
            return  # called from a callback: waiting here would block the loop
        try:
            future.result(timeout=2 * self._timeout)
        except concurrent.futures.TimeoutError:
            log.warning("%s: the ticker stream did not answer in time", self._broker)

    # -- on the loop -----------------------------------------------------------------------
    async def _subscribe(self, symbol: str, subscription: _Subscription) -> None:
        new = symbol not in self._subscriptions
        self._subscriptions[symbol] = subscription
        if self._runner is None or self._runner.done():
            self._runner = asyncio.get_running_loop().create_task(self._connection())
        elif new and self._ws is not None:  # else the connection subscribes when it opens
            await self._send(self._channel.ws_subscribe_messages([symbol]))

    async def _unsubscribe(self, symbol: str) -> None:
        if self._subscriptions.pop(symbol, None) is not None:
            await self._unsubscribed(symbol)

    async def _unsubscribed(self, symbol: str) -> None:
        """Tell the exchange; with nothing left subscribed, close the connection."""
        if symbol in self._subscriptions:  # subscribed again meanwhile
            return
        if self._ws is not None:
            await self._send(self._channel.ws_unsubscribe_messages([symbol]))
        if not self._subscriptions:
            await self._stop_connection()

    async def _shutdown(self) -> None:
        self._subscriptions.clear()
        await self._stop_connection()

    async def _stop_connection(self) -> None:
        runner, ws = self._runner, self._ws
        self._runner = None  # the runner ends as soon as it notices; a new subscribe starts anew
        if runner is None or runner.done():
            return
        if ws is not None:
            await ws.close()  # ends the runner's receive loop
        else:
            runner.cancel()  # connecting, or waiting to reconnect
        await asyncio.gather(runner, return_exceptions=True)

    async def _send(self, messages: list[Any]) -> None:
        ws = self._ws
        for message in messages:
            text = message if isinstance(message, str) else json.dumps(message)
            try:
                await ws.send_str(text)
            except Exception as exc:  # the connection is going; the runner reconnects
                log.debug("%s: could not send %s (%s)", self._broker, text, exc)
                return

    async def _connection(self) -> None:
        """Connect, subscribe, deliver; reconnect after drops while this is the runner."""
        aiohttp = importlib.import_module("aiohttp")
        me = asyncio.current_task()
        failures = 0
        timeout = aiohttp.ClientTimeout(total=None, connect=self._timeout)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while self._subscriptions and self._runner is me:
                error, delivered = await self._connect_once(aiohttp, session)
                if not self._subscriptions or self._runner is not me:
                    return
                failures = 1 if delivered else failures + 1
                if not error.retryable or failures >= self._policy.max_attempts:
                    self._report(self._stopped(error, failures), "subscriptions dropped")
                    self._subscriptions.clear()
                    return
                wait = self._policy.delay(failures - 1, error)
                log.warning(
                    "%s: ticker stream to %s lost (%s); reconnecting in %.2fs (%d/%d)",
                    self._broker,
                    self.url,
                    error,
                    wait,
                    failures,
                    self._policy.max_attempts - 1,
                )
                await asyncio.sleep(wait)

    async def _connect_once(self, aiohttp: Any, session: Any) -> tuple[BrokerError, bool]:
        """One connection until it ends: why it ended, and whether it delivered a ticker."""
        delivered = False
        ws: Any = None
        try:
            async with session.ws_connect(
                self.url,
                heartbeat=self._heartbeat,
                timeout=aiohttp.ClientWSTimeout(ws_close=self._timeout),
            ) as ws:
                self._ws = ws
                await self._send(self._channel.ws_subscribe_messages(list(self._subscriptions)))
                async for msg in ws:
                    if msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                        delivered = self._deliver(msg.data) or delivered
                    elif msg.type == aiohttp.WSMsgType.ERROR:
                        break
                if ws.exception() is not None:
                    return map_exception(ws.exception(), broker=self._broker), delivered
                return BrokerConnectionError(
                    f"{self.url} closed the WebSocket (code {ws.close_code})",
                    broker=self._broker,
                ), delivered
        except Exception as exc:
            return map_exception(exc, broker=self._broker), delivered
        finally:
            if self._ws is ws:
                self._ws = None

    def _deliver(self, data: str | bytes) -> bool:
        """Hand one message's ticker to its callback; True when a ticker was delivered."""
        try:
            ticker = self._channel.parse_ws_message(json.loads(data))
        except Exception as exc:
            if isinstance(exc, BrokerError):
                error = exc
            else:
                error = BadResponseError(
                    f"unreadable WebSocket message ({type(exc).__name__}: {exc}): {data[:200]!r}",
                    broker=self._broker,
                )
                error.__cause__ = exc
            self._report(error, "message skipped")
            return False
        if ticker is None:
            return False
        subscription = self._subscriptions.get(ticker["symbol"])
        if subscription is None:
            log.debug("%s: ticker of unsubscribed %s dropped", self._broker, ticker["symbol"])
            return False
        try:
            subscription.callback(ticker)
        except Exception:
            log.exception("%s: the ticker callback of %s raised", self._broker, ticker["symbol"])
        return True

    def _report(self, error: BrokerError, outcome: str) -> None:
        log.warning("%s: ticker stream: %s (%s)", self._broker, error, outcome)
        handlers: list[ErrorCallback] = []
        for subscription in self._subscriptions.values():
            if subscription.on_error is not None and subscription.on_error not in handlers:
                handlers.append(subscription.on_error)
        for handler in handlers:
            try:
                handler(error)
            except Exception:
                log.exception("%s: an on_error handler raised", self._broker)

    def _stopped(self, error: BrokerError, failures: int) -> BrokerError:
        """``error``, of the same class, saying that the stream has stopped for good."""
        text = (
            f"ticker stream stopped after {failures} failed connection(s): {error.message}; "
            "subscribe again to restart it"
        )
        if isinstance(error, RateLimitError):
            stopped: BrokerError = RateLimitError(
                text, retry_after=error.retry_after, broker=self._broker
            )
        else:
            stopped = type(error)(text, broker=self._broker)
        stopped.__cause__ = error
        return stopped
