"""What ``scaffolder record`` needs from a broker, for ccxt and signed-REST brokers alike.

A ccxt broker's traffic goes through its ccxt exchange object, a REST broker's through its API
root; both state their markets' rules through :meth:`brokers.base.BaseBroker.market_rules`, so
the recording's one order is sized the same way for either, with exact decimals.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from brokers.base import BaseBroker
from brokers.ccxt_broker import CcxtBroker
from brokers.order_checks import plain


def move_url(url: str, via: str) -> str:
    """``url`` with its scheme and host taken from ``via``, under ``via``'s path if it has one
    (the path and query of ``url`` kept)."""
    target, parts = urlsplit(via), urlsplit(url)
    path = target.path.rstrip("/") + parts.path
    return urlunsplit((target.scheme, target.netloc, path, parts.query, parts.fragment))


def redirect_exchange(exchange: Any, via: str) -> dict[str, str]:
    """Point every API URL of a ccxt exchange at ``via`` (same paths); return the aliases back.

    Sections on different hosts can land on the same moved URL (gemini's API and its web
    pages are all at the root of their hosts): the first section keeps the alias, since ccxt
    lists an exchange's API sections before its web pages, and only API traffic is recorded.
    """
    aliases: dict[str, str] = {}

    def move(url: str) -> str:
        moved = move_url(url, via)
        aliases.setdefault(moved, url)
        return moved

    api = exchange.urls["api"]
    if isinstance(api, str):
        exchange.urls["api"] = move(api)
    else:
        for key, url in list(api.items()):
            if isinstance(url, str):
                api[key] = move(url)
    return dict(sorted(aliases.items(), key=lambda kv: -len(kv[0])))


def redirect(broker: Any, via: str) -> dict[str, str]:
    """Send ``broker``'s traffic to ``via``; return the URL aliases that map it back.

    A REST broker's API root (the testnet's or the live one, as its config chooses) is set
    through ``custom_settings``, the place a user would set it too.
    """
    if isinstance(broker, CcxtBroker):
        return redirect_exchange(broker.exchange, via)
    original = broker.url
    key = "testnet_url" if broker.config.settings.testnet else "base_url"
    moved = move_url(original, via)
    custom = {**broker.config.custom, key: moved}
    broker.config = dataclasses.replace(broker.config, custom=custom)
    return {moved: original}


def safe_limit(broker: BaseBroker, symbol: str, last: float) -> tuple[str, str]:
    """A buy price at half the market and the smallest amount the market accepts there, as
    exact decimal strings on the market's tick and step."""
    rules = broker.market_rules(symbol)
    price = rules.round_price(Decimal(str(last)) / 2)
    amount = rules.min_amount or Decimal(0)
    if rules.min_cost:
        amount = max(amount, rules.min_cost / price * Decimal("1.5"))
    if not amount:
        amount = Decimal(10) / price
    return plain(price), plain(rules.round_amount(amount * Decimal("1.01")))


def markets_snapshot(broker: Any, pairs: list[str]) -> dict[str, Any]:
    """The loaded markets of ``pairs``, as the broker takes them back for replay."""
    markets = broker.exchange.markets if isinstance(broker, CcxtBroker) else broker.markets
    return {symbol: markets[symbol] for symbol in pairs}


def timeframe(broker: Any) -> str:
    """``1h`` where offered (or where the broker does not say), else its first timeframe."""
    offered = list(getattr(broker, "timeframes", ()) or ())
    if not offered and isinstance(broker, CcxtBroker):
        offered = list(broker.exchange.timeframes or {})
    return "1h" if "1h" in offered or not offered else offered[0]
