"""Ticker subscriptions for the sync broker API: what both kinds of stream share.

Both run on one background thread with its own asyncio loop, so ``subscribe``/``unsubscribe``
stay plain calls; each update is normalised to our :class:`~brokers.shapes.Ticker` and handed
to the callback on that thread. What they share (the thread, waiting for it, reporting errors
to the log and to each subscription's ``on_error``) is :class:`TickerSubscriptions`; the two
streams are its subclasses:

- :class:`brokers.ccxt_pro_stream.TickerStream` (ccxt brokers): one ccxt.pro ``watch_ticker``
  task per symbol. After a drop it watches again (ccxt.pro reconnects and subscribes) with the
  broker's :class:`~brokers.retry.RetryPolicy`; an error retrying cannot fix stops that symbol.
- :class:`brokers.websocket_stream.WebSocketTickerStream` (REST brokers): one aiohttp
  WebSocket connection for every symbol. What is particular to an exchange (messages out,
  tickers in) comes from a :class:`~brokers.websocket_stream.TickerChannel`, the broker itself.
  After a drop it reconnects with the broker's :class:`~brokers.retry.RetryPolicy` and
  subscribes again; a message it cannot read is reported and the stream goes on. A subscribe
  request the exchange refuses is tied to its symbols by the request's id: they are told
  (``on_error``) and dropped, the others go on.

Foreign exceptions become our errors in one place, :func:`brokers.errors.map_exception`. All
three modules log to the one logger ``brokers.streaming``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from brokers.errors import BrokerError, RateLimitError, build_error
from brokers.shapes import Ticker

if TYPE_CHECKING:
    from brokers.retry import RetryPolicy

TickerCallback = Callable[[Ticker], None]
ErrorCallback = Callable[[BrokerError], None]
T = TypeVar("T")
#: The streams' one logger (each stream module logs here too).
log = logging.getLogger("brokers.streaming")


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
class Subscription:
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
        self._subscriptions: dict[str, Subscription] = {}

    # -- the sync API ----------------------------------------------------------------------
    def subscribe(
        self, symbol: str, callback: TickerCallback, on_error: ErrorCallback | None = None
    ) -> None:
        """Deliver ``symbol``'s tickers to ``callback`` (replacing an earlier callback)."""
        self._run(self._subscribe(symbol, Subscription(callback, on_error)))

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
    async def _subscribe(self, symbol: str, subscription: Subscription) -> None:
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
