"""Ticker subscriptions over a plain WebSocket, for REST brokers (see :mod:`brokers.streaming`).

What is particular to an exchange (messages out, tickers in) comes from a
:class:`TickerChannel`: :class:`~brokers.rest_broker.RestBroker` is one, Binance-style by
default.
"""

from __future__ import annotations

import asyncio
import importlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from brokers.errors import BadResponseError, BrokerConnectionError, BrokerError, map_exception
from brokers.shapes import Ticker
from brokers.streaming import Subscription, TickerSubscriptions, log

if TYPE_CHECKING:
    from brokers.retry import RetryPolicy


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
    async def _subscribe(self, symbol: str, subscription: Subscription) -> None:
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
