"""Ticker subscriptions for the sync broker API: over ccxt.pro, or over a plain WebSocket.

Both run on one background thread with its own asyncio loop, so ``subscribe``/``unsubscribe``
stay plain calls; each update is normalised to our :class:`~brokers.shapes.Ticker` and handed
to the callback on that thread. What they share (the thread, waiting for it, reporting errors
to the log and to each subscription's ``on_error``) is :class:`TickerSubscriptions`.

- :class:`TickerStream` (ccxt brokers): one ccxt.pro ``watch_ticker`` task per symbol. After
  a drop it watches again (ccxt.pro reconnects and subscribes) with the broker's
  :class:`~brokers.retry.RetryPolicy`; an error retrying cannot fix stops that symbol.
- :class:`WebSocketTickerStream` (REST brokers): one aiohttp WebSocket connection for every
  symbol. What is particular to an exchange (messages out, tickers in) comes from a
  :class:`TickerChannel`, the broker itself. After a drop it reconnects with the broker's
  :class:`~brokers.retry.RetryPolicy` and subscribes again; a message it cannot read is
  reported and the stream goes on. A subscribe request the exchange refuses is tied to its
  symbols by the request's id: they are told (``on_error``) and dropped, the others go on.

Foreign exceptions become our errors in one place, :func:`brokers.errors.map_exception`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib
import json
import logging
import threading
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from brokers.errors import (
    BadResponseError,
    BrokerConnectionError,
    BrokerError,
    RateLimitError,
    build_error,
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
            asyncio.run_coroutine_threadsafe(self._finish(timeout), self.loop)
            if not self.on_loop_thread():
                self._thread.join(timeout=timeout + 1)
        if not self._thread.is_alive() and not self.loop.is_closed():
            self.loop.close()

    async def _finish(self, timeout: float) -> None:
        """Cancel what is left on the loop (a library's own clean-up tasks), then stop it."""
        others = asyncio.all_tasks() - {asyncio.current_task()}
        for task in others:
            task.cancel()
        if others:
            await asyncio.wait(others, timeout=timeout)
        self.loop.stop()


@dataclass(frozen=True)
class _Subscription:
    callback: TickerCallback
    on_error: ErrorCallback | None


class TickerSubscriptions:
    """What both streams share: the sync API over the background loop, and error reports.

    A subclass implements ``_subscribe``, ``_unsubscribe``, ``_unsubscribed`` and ``_shutdown``,
    coroutines that run on the loop; only they touch ``_subscriptions``.
    """

    def __init__(self, *, broker: str, policy: RetryPolicy, timeout: float) -> None:
        self._broker = broker
        self._policy = policy
        self._timeout = timeout
        self._background = _BackgroundLoop(f"{broker}-ws")
        self._subscriptions: dict[str, _Subscription] = {}

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
        """Stop every subscription, close the connections and the thread."""
        if not self._background.running:
            return
        if self._background.on_loop_thread():
            done = self._background.submit(self._shutdown())
            done.add_done_callback(lambda _: self._background.stop(timeout=self._timeout))
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
        raise NotImplementedError

    async def _unsubscribe(self, symbol: str) -> None:
        if self._subscriptions.pop(symbol, None) is not None:
            await self._unsubscribed(symbol)

    async def _unsubscribed(self, symbol: str) -> None:
        """``symbol`` is no longer subscribed (unless subscribed again meanwhile): tell the
        exchange, and close what nothing uses any more."""
        raise NotImplementedError

    async def _shutdown(self) -> None:
        raise NotImplementedError

    def _hand_over(self, symbol: str, ticker: Ticker) -> bool:
        """Call ``symbol``'s callback with ``ticker``; False when it is not subscribed."""
        subscription = self._subscriptions.get(symbol)
        if subscription is None:
            log.debug("%s: ticker of unsubscribed %s dropped", self._broker, symbol)
            return False
        try:
            subscription.callback(ticker)
        except Exception:
            log.exception("%s: the ticker callback of %s raised", self._broker, symbol)
        return True

    def _report(
        self, error: BrokerError, outcome: str, symbols: Iterable[str] | None = None
    ) -> None:
        """Log ``error`` and hand it to the ``on_error`` of ``symbols`` (default: all)."""
        log.warning("%s: ticker stream: %s (%s)", self._broker, error, outcome)
        chosen = list(self._subscriptions) if symbols is None else symbols
        handlers: list[ErrorCallback] = []
        for symbol in chosen:
            subscription = self._subscriptions.get(symbol)
            if subscription is None or subscription.on_error is None:
                continue
            if subscription.on_error not in handlers:
                handlers.append(subscription.on_error)
        for handler in handlers:
            try:
                handler(error)
            except Exception:
                log.exception("%s: an on_error handler raised", self._broker)

    def _gives_up(self, error: BrokerError, failures: int) -> bool:
        """Whether ``failures`` failed attempts in a row, the last with ``error``, are enough."""
        return not error.retryable or failures >= self._policy.max_attempts

    def _stopped(self, error: BrokerError, failures: int, what: str) -> BrokerError:
        """``error``, of the same class, saying that ``what`` has stopped for good."""
        text = (
            f"{what} stopped after {failures} failed connection(s): {error.message}; "
            "subscribe again to restart it"
        )
        return self._restated(error, text)

    def _restated(self, error: BrokerError, text: str) -> BrokerError:
        """An error of ``error``'s class saying ``text``, with ``error`` as its cause."""
        retry_after = error.retry_after if isinstance(error, RateLimitError) else None
        restated = build_error(type(error), text, self._broker, retry_after)
        restated.__cause__ = error
        return restated


class TickerStream(TickerSubscriptions):
    """Ticker subscriptions over ccxt.pro: one ``watch_ticker`` task per symbol.

    ``make_exchange`` builds the ccxt.pro exchange (on the loop's thread) when the first
    subscription starts; it is closed, with its connections, when the last one ends. A watch
    that fails (a dropped connection, a refused handshake, an error message from the exchange)
    is mapped to our error; retryable ones are retried after ``policy.delay``, and after
    ``policy.max_attempts`` failures in a row (or at once, for an error that retrying cannot
    fix) the error goes to the log and to the symbol's ``on_error`` and the symbol is dropped.
    Reconnecting is ccxt.pro's: the next ``watch_ticker`` opens a new connection and subscribes.
    """

    def __init__(
        self,
        make_exchange: Callable[[], Any],
        *,
        broker: str,
        policy: RetryPolicy,
        timeout: float = 10.0,
    ) -> None:
        super().__init__(broker=broker, policy=policy, timeout=timeout)
        self._make_exchange = make_exchange
        # Owned by the loop's thread, like ``_subscriptions``.
        self._watchers: dict[str, asyncio.Task[None]] = {}
        self._exchange: Any = None

    async def _subscribe(self, symbol: str, subscription: _Subscription) -> None:
        self._subscriptions[symbol] = subscription
        watcher = self._watchers.get(symbol)
        if watcher is None or watcher.done():
            self._watchers[symbol] = asyncio.get_running_loop().create_task(self._watch(symbol))

    async def _unsubscribed(self, symbol: str) -> None:
        if symbol in self._subscriptions:  # subscribed again meanwhile
            return
        watcher = self._watchers.pop(symbol, None)
        if watcher is not None and watcher is not asyncio.current_task():
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
        if not self._subscriptions:
            await self._close_exchange()
        elif self._exchange is not None and self._exchange.has.get("unWatchTicker"):
            try:
                await asyncio.wait_for(self._exchange.un_watch_ticker(symbol), self._timeout)
            except Exception as exc:  # the exchange goes on sending; those tickers are dropped
                log.debug("%s: could not unsubscribe %s (%r)", self._broker, symbol, exc)

    async def _shutdown(self) -> None:
        self._subscriptions.clear()
        watchers = [w for w in self._watchers.values() if w is not asyncio.current_task()]
        self._watchers.clear()
        for watcher in watchers:
            watcher.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
        await self._close_exchange()

    async def _close_exchange(self) -> None:
        exchange, self._exchange = self._exchange, None
        if exchange is not None:
            try:
                await exchange.close()
            except Exception as exc:
                log.debug("%s: closing the ccxt.pro exchange failed (%r)", self._broker, exc)

    async def _watch(self, symbol: str) -> None:
        """Watch ``symbol`` while it is subscribed; retry failed watches by the policy."""
        me = asyncio.current_task()
        failures = 0
        while symbol in self._subscriptions and self._watchers.get(symbol) is me:
            try:
                if self._exchange is None:
                    self._exchange = self._make_exchange()
                raw = await self._exchange.watch_ticker(symbol)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error = map_exception(exc, broker=self._broker)
                failures += 1
                if self._gives_up(error, failures):
                    await self._give_up(symbol, self._stopped(error, failures, f"{symbol} ticker"))
                    return
                wait = self._policy.delay(failures - 1, error)
                log.warning(
                    "%s: ticker stream of %s lost (%s); watching again in %.2fs (%d/%d)",
                    self._broker,
                    symbol,
                    error,
                    wait,
                    failures,
                    self._policy.max_attempts - 1,
                )
                await self._forget_connections(symbol)
                await asyncio.sleep(wait)
                continue
            failures = 0
            self._deliver(symbol, raw)

    async def _forget_connections(self, symbol: str) -> None:
        """Close ccxt.pro's open connections that carry ``symbol``'s subscription.

        A refusal the exchange sends back (a rate limit, say) leaves ccxt.pro holding the
        subscription as made: watching again on that connection would send no new subscribe
        and wait forever. A fresh connection subscribes anew. (A dropped or refused connection
        is forgotten by ccxt.pro itself.)
        """
        clients = getattr(self._exchange, "clients", None) or {}
        for url, client in list(clients.items()):
            if any(symbol in str(key) for key in getattr(client, "subscriptions", {})):
                clients.pop(url, None)
                try:
                    await client.close()
                except Exception as exc:
                    log.debug("%s: closing %s failed (%r)", self._broker, url, exc)

    def _deliver(self, symbol: str, raw: Any) -> None:
        try:
            ticker = ticker_from_ccxt(raw)
        except Exception as exc:
            error = BadResponseError(
                f"unreadable ticker of {symbol} from ccxt.pro ({type(exc).__name__}: {exc})",
                broker=self._broker,
            )
            error.__cause__ = exc
            self._report(error, "ticker skipped", [symbol])
            return
        self._hand_over(symbol, ticker)

    async def _give_up(self, symbol: str, error: BrokerError) -> None:
        self._report(error, "subscription dropped", [symbol])
        self._subscriptions.pop(symbol, None)
        self._watchers.pop(symbol, None)
        if not self._subscriptions:
            await self._close_exchange()
        else:  # ccxt.pro keeps a refused subscription as made: subscribing again would not ask
            await self._forget_connections(symbol)


@dataclass(frozen=True)
class StreamReply:
    """The exchange's answer to one of the stream's requests: ``error`` is None when accepted.

    ``request_id`` is the id the request carried (see :meth:`TickerChannel.ws_request_id`);
    None when the exchange did not say which request it answers.
    """

    request_id: Any
    error: BrokerError | None = None


@dataclass(frozen=True)
class _Request:
    subscribe: bool
    symbols: tuple[str, ...]


class TickerChannel(Protocol):
    """What a :class:`WebSocketTickerStream` needs from its exchange (``RestBroker`` is one).

    Messages are JSON-encoded when they are not already text. ``ws_request_id`` gives the id
    the exchange's reply to an outgoing message will carry (None: it gets no reply we can tell
    apart). ``parse_ws_message`` gets each decoded message and returns its ticker (with our
    unified symbol), a :class:`StreamReply` for an answer to a request (accepted or refused),
    None for another message that carries nothing, or raises when the message is unreadable.
    An error that answers no request may be raised too; it is reported to every subscription.
    """

    def ws_subscribe_messages(self, symbols: list[str]) -> list[Any]: ...

    def ws_unsubscribe_messages(self, symbols: list[str]) -> list[Any]: ...

    def ws_request_id(self, message: Any) -> Any: ...

    def parse_ws_message(self, message: Any) -> Ticker | StreamReply | None: ...


class WebSocketTickerStream(TickerSubscriptions):
    """Ticker subscriptions over one WebSocket connection (aiohttp, imported on first use).

    The connection opens with the first subscription and closes with the last unsubscribe.
    A dropped connection is reopened after ``policy.delay`` and every symbol subscribed again;
    after ``policy.max_attempts`` failed connections in a row (or at once, for an error that
    retrying cannot fix, such as a refused handshake) the stream reports the error and forgets
    its subscriptions. Errors go to the log and to the ``on_error`` of every subscription,
    except a refused subscribe request: its error goes to the symbols it asked for, which are
    dropped (the exchange sends them nothing; subscribing again asks again).
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
        super().__init__(broker=broker, policy=policy, timeout=timeout)
        self.url = url
        self._channel = channel
        self._heartbeat = heartbeat
        # Owned by the loop's thread, like ``_subscriptions``.
        self._ws: Any = None
        self._runner: asyncio.Task[None] | None = None
        #: Requests sent on the open connection and not answered yet, by id, oldest first.
        self._pending: dict[Any, _Request] = {}

    # -- on the loop -----------------------------------------------------------------------
    async def _subscribe(self, symbol: str, subscription: _Subscription) -> None:
        new = symbol not in self._subscriptions
        self._subscriptions[symbol] = subscription
        if self._runner is None or self._runner.done():
            self._runner = asyncio.get_running_loop().create_task(self._connection())
        elif new and self._ws is not None:  # else the connection subscribes when it opens
            await self._request(True, [symbol])

    async def _unsubscribed(self, symbol: str) -> None:
        if symbol in self._subscriptions:  # subscribed again meanwhile
            return
        if self._ws is not None:
            await self._request(False, [symbol])
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

    async def _request(self, subscribe: bool, symbols: list[str]) -> None:
        """Send the (un)subscribe messages of ``symbols``, remembering them until answered."""
        channel = self._channel
        make = channel.ws_subscribe_messages if subscribe else channel.ws_unsubscribe_messages
        messages = make(symbols)
        for message in messages:
            request_id = channel.ws_request_id(message)
            if request_id is not None:
                self._pending[request_id] = _Request(subscribe, tuple(symbols))
        await self._send(messages)

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
                if self._gives_up(error, failures):
                    stopped = self._stopped(error, failures, "ticker stream")
                    self._report(stopped, "subscriptions dropped")
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
                self._pending.clear()
                await self._request(True, list(self._subscriptions))
                async for msg in ws:
                    if msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                        delivered = self._deliver(msg.data) or delivered
                        if self._runner is not asyncio.current_task():
                            break  # its last subscriptions were refused: close
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
                self._pending.clear()  # what was not answered never will be

    def _deliver(self, data: str | bytes) -> bool:
        """Hand one message's ticker to its callback (or settle a reply); True for a ticker."""
        try:
            parsed = self._channel.parse_ws_message(json.loads(data))
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
        if isinstance(parsed, StreamReply):
            self._answered(parsed)
            return False
        return parsed is not None and self._hand_over(parsed["symbol"], parsed)

    def _answered(self, reply: StreamReply) -> None:
        """Settle the request ``reply`` answers; a refused subscribe drops its symbols."""
        request = self._pending.pop(reply.request_id, None)
        if reply.error is None:
            return
        if request is None:
            self._report(reply.error, "message skipped")  # answers no request of ours
            return
        if not request.subscribe:
            self._report(reply.error, "unsubscribe refused; its tickers are dropped", [])
            return
        refused = [s for s in request.symbols if s in self._subscriptions]
        if not refused:  # unsubscribed meanwhile
            self._report(reply.error, "subscribe refused; no longer subscribed", [])
            return
        text = (
            f"ticker subscription of {', '.join(refused)} dropped: {reply.error.message}; "
            "subscribe again to retry"
        )
        self._report(self._restated(reply.error, text), "subscription dropped", refused)
        for symbol in refused:
            self._subscriptions.pop(symbol, None)
        if not self._subscriptions:
            self._runner = None  # the runner closes the connection; a new subscribe reopens
