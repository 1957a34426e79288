"""Ticker subscriptions over ccxt.pro's WebSocket ``watch_ticker``, for the sync broker API.

One background thread runs an asyncio loop with one watcher task per subscribed symbol; each
update is normalised to our :class:`~brokers.shapes.Ticker` and handed to the callback on that
thread. Errors are mapped to our tree and handed to ``on_error`` (the watcher then stops).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib
import threading
from collections.abc import Callable
from typing import Any

from brokers.errors import BrokerError, map_exception
from brokers.shapes import Ticker, ticker_from_ccxt

TickerCallback = Callable[[Ticker], None]


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
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name=f"{broker}-ws", daemon=True
        )
        self._tasks: dict[str, concurrent.futures.Future[None]] = {}
        self._exchange: Any = None

    def subscribe(self, symbol: str, callback: TickerCallback) -> None:
        """Start delivering ``symbol``'s ticker updates to ``callback`` (replaces an earlier one)."""
        if not self._thread.is_alive():
            self._thread.start()
        self.unsubscribe(symbol)
        self._tasks[symbol] = asyncio.run_coroutine_threadsafe(
            self._watch(symbol, callback), self._loop
        )

    def unsubscribe(self, symbol: str) -> None:
        """Stop ``symbol``'s updates; unknown symbols are ignored."""
        task = self._tasks.pop(symbol, None)
        if task is not None:
            task.cancel()

    def close(self) -> None:
        """Stop every subscription, close the exchange connection and the thread."""
        for symbol in list(self._tasks):
            self.unsubscribe(symbol)
        if self._thread.is_alive():
            if self._exchange is not None:
                asyncio.run_coroutine_threadsafe(self._exchange.close(), self._loop).result(
                    timeout=10
                )
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)

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
