"""A real ccxt exchange run offline, as ccxt's own static test runner runs it.

:func:`make_offline_exchange` builds one with its markets set (no HTTP), canary credentials and
the options ccxt's offline harness sets.  :func:`capture` runs a response case on it with
``fetch`` answered by the recorded body, as ccxt's ``tests_sync.py`` does (with
``httpResponseByUrl``: the body of the first url fragment found in the url, else the first
body); :func:`replay_case` runs it again against the cassette made of what was captured.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ccxt
import vcr

from scaffolder.harness.ccxt_canaries import canary_credentials

__all__ = [
    "CLOCK_MS", "MATCH_ON", "capture", "freeze_clock", "harness_options",
    "make_offline_exchange", "replay_case", "response_for",
]  # fmt: skip

#: vcrpy matchers for replay: query strings and bodies carry nonces and timestamps.
MATCH_ON: tuple[str, ...] = ("method", "scheme", "host", "port", "path")
#: ccxt's clock (ms) while a case is recorded, and again when it is replayed through a broker:
#: requests that carry a time ccxt computes (candles "from now - limit", say) then match.
CLOCK_MS = 1710331200000
# what ccxt's init_offline_exchange puts in options, with its token made a canary
_HARNESS_OPTIONS: dict[str, Any] = {
    "enableUnifiedAccount": True, "enableUnifiedMargin": False,
    "accessToken": "CANARY-ACCESS-TOKEN", "expires": 999999999999999, "leverageBrackets": {},
}  # fmt: skip


def harness_options() -> dict[str, Any]:
    """The ccxt options ccxt's offline harness sets (its token a canary): a recorded case is
    replayed with them, as it was recorded."""
    return copy.deepcopy(_HARNESS_OPTIONS)


def freeze_clock(exchange: Any, now_ms: int) -> None:
    """Make ``exchange``'s ``milliseconds``/``seconds``/``microseconds`` return ``now_ms``."""
    exchange.milliseconds = lambda: now_ms
    exchange.seconds = lambda: now_ms // 1000
    exchange.microseconds = lambda: now_ms * 1000


def make_offline_exchange(
    exchange_id: str,
    markets: Mapping[str, Any],
    *,
    options: Mapping[str, Any] | None = None,
    credentials: Mapping[str, str] | None = None,
) -> Any:
    """A sync ccxt exchange with *markets* set (no HTTP), canary credentials and *options*."""
    creds = dict(credentials) if credentials is not None else canary_credentials(exchange_id)
    exchange = getattr(ccxt, exchange_id)({"enableRateLimit": False, **creds})
    exchange.extend_exchange_options(harness_options())
    exchange.set_markets(copy.deepcopy(dict(markets)))
    if options:
        merged = exchange.deep_extend(exchange.options, copy.deepcopy(dict(options)))
        exchange.extend_exchange_options(merged)
    return exchange


def response_for(case: Mapping[str, Any], url: str) -> Any:
    """The recorded body ccxt's runner answers a request to ``url`` with."""
    by_url = case.get("httpResponseByUrl")
    if isinstance(by_url, dict) and by_url:
        first = next(iter(by_url.values()))
        return next((body for frag, body in by_url.items() if frag in url), first)
    return case["httpResponse"]


def capture(exchange: Any, case: Mapping[str, Any]) -> tuple[Any, list[tuple[dict, Any]]]:
    """Run the case offline; every ``fetch`` is answered as ccxt's test runner answers it.
    Returns the unified result as plain JSON data, and each request made with its answer."""
    calls: list[tuple[dict, Any]] = []

    def fetch(url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        answer = response_for(case, url)
        sent = exchange.prepare_request_headers(dict(headers or {}))
        request = {"method": method, "uri": url, "body": body}
        request["headers"] = {str(k): str(v) for k, v in sent.items()}
        calls.append((request, answer))
        return copy.deepcopy(answer)

    exchange.fetch = fetch
    result = getattr(exchange, case["method"])(*copy.deepcopy(case.get("input") or []))
    return json.loads(json.dumps(result)), calls


def replay_case(exchange: Any, case: Mapping[str, Any], cassette_path: Path) -> Any:
    """Run *case* on *exchange* against its cassette only (``record_mode='none'``).

    Every recorded interaction must be played, so ccxt must make the calls it made at import.
    Returns the unified result as plain JSON data.
    """
    from scaffolder.harness.vcr_loader import clients_absent, vcr_options

    if case.get("clock"):
        freeze_clock(exchange, int(case["clock"]))
    # the options the case was recorded with (ccxt's harness ones, the fixture's own)
    options = exchange.deep_extend(
        _HARNESS_OPTIONS, case.get("typeOptions") or {}, case.get("options") or {}
    )
    exchange.extend_exchange_options(exchange.deep_extend(exchange.options, copy.deepcopy(options)))
    recorder = vcr.VCR(record_mode="none", match_on=MATCH_ON, **vcr_options())
    with clients_absent(), recorder.use_cassette(str(cassette_path)) as cassette:
        result = getattr(exchange, case["method"])(*copy.deepcopy(case.get("input") or []))
        if not cassette.all_played:
            raise AssertionError(f"{cassette_path}: ccxt made fewer requests than recorded")
    return json.loads(json.dumps(result))
