"""The ccxt exchange object's plumbing that is not the broker's: URL overrides and answer checks.

:class:`~brokers.ccxt_broker.CcxtBroker` builds its ccxt exchange, points it with
:func:`merged` (``custom_settings.urls`` laid over ccxt's ``urls['api']``) and wraps its
``fetch`` with :func:`guard_fetch`, so a truncated or HTML answer and an unspecific 5xx become
the right (retryable) errors.
"""

from __future__ import annotations

import json
from typing import Any


def merged(base: Any, overrides: Any) -> Any:
    """``overrides`` laid over ``base``; dicts merge key by key, anything else replaces."""
    if not isinstance(base, dict) or not isinstance(overrides, dict):
        return overrides
    return {**base, **{key: merged(base.get(key), value) for key, value in overrides.items()}}


def guard_fetch(exchange: Any, ccxt: Any, exchange_id: str) -> None:
    """Wrap the exchange's ``fetch`` so two kinds of failed answer become the right errors.

    - A 2xx answer that is truncated JSON or an HTML page: ccxt hands such a body to its parsers
      as a string, and they read it as an empty answer (a zero balance, a ticker of Nones, an
      order without an id). It becomes ccxt's ``BadResponse`` (our retryable
      ``BadResponseError``), so reads retry and orders are looked up. ccxt has parsed the
      body already: only a body it could not parse (a string result) is parsed again here.
    - A 5xx whose body ccxt maps to nothing more specific than ``ExchangeError`` (Binance's 503
      ``-1008`` "server overloaded"): the exchange is unavailable, not refusing the request,
      so it becomes ``ExchangeNotAvailable`` (our retryable ``ExchangeUnavailableError``).

    Pages of the exchange's web site (requests of ccxt's ``web...`` API sections: Gemini reads
    currency precision from one) are HTML by design and pass through unchecked. The section is
    taken from the request (``fetch2``), not guessed from the URL, which a proxy or stand-in
    may share with the API. An exchange without such sections (:func:`has_web_sections`) never
    sends one, so its ``fetch2`` is left as it is: every answer of it is checked.
    """
    fetch, on_rest_response = exchange.fetch, exchange.on_rest_response
    status: list[Any] = [0]
    web_request: list[bool] = [False]

    def record_status(code: Any, *args: Any) -> Any:
        status[0] = code  # read (as a number) only when the request failed
        return on_rest_response(code, *args)

    def checked(url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        status[0] = 0
        try:
            result = fetch(url, method, headers, body)
        except ccxt.ExchangeError as exc:
            if type(exc) is ccxt.ExchangeError and int(status[0] or 0) >= 500:
                raise ccxt.ExchangeNotAvailable(f"HTTP {status[0]}: {exc}") from exc
            raise
        if isinstance(result, (str, bytes)) and not web_request[0]:
            text = result.decode("utf-8", "replace") if isinstance(result, bytes) else result
            text = text.lstrip()
            if text[:1] in ("{", "[", "<"):
                try:
                    json.loads(text)
                except ValueError as exc:
                    raise ccxt.BadResponse(
                        f"{exchange_id} {method} {url}: the answer is not JSON: {text[:80]!r}"
                    ) from exc
        return result

    exchange.on_rest_response = record_status
    exchange.fetch = checked
    if not has_web_sections(exchange):
        return
    fetch2 = exchange.fetch2

    def tracked_fetch2(path: Any, api: Any = "public", *args: Any, **kwargs: Any) -> Any:
        outer = web_request[0]
        web_request[0] = (
            api.startswith("web")
            if isinstance(api, str)
            else any(str(section).startswith("web") for section in api or ())
        )
        try:
            return fetch2(path, api, *args, **kwargs)
        finally:
            web_request[0] = outer

    exchange.fetch2 = tracked_fetch2


def has_web_sections(exchange: Any) -> bool:
    """Whether any name in the exchange's API definition or API URLs, at any depth, starts with
    ``web`` (ccxt's web page sections: Gemini's ``web``, KuCoin's ``webExchange``). Endpoint
    paths count too (Bitstamp's ``websockets_token/``): a false yes only costs the tracking."""

    def names(tree: Any) -> Any:
        if isinstance(tree, dict):
            for key, value in tree.items():
                yield key
                yield from names(value)

    return any(
        str(name).startswith("web")
        for tree in (exchange.api, exchange.urls.get("api"))
        for name in names(tree)
    )
