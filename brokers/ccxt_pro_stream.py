"""Ticker subscriptions over ccxt.pro, for ccxt brokers (see :mod:`brokers.streaming`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from brokers.errors import BadResponseError, BrokerError, map_exception
from brokers.shapes import ticker_from_ccxt
from brokers.streaming import Subscription, TickerSubscriptions, log

if TYPE_CHECKING:
    from brokers.retry import RetryPolicy


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

    async def _subscribe(self, symbol: str, subscription: Subscription) -> None:
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
