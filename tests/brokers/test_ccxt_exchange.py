"""The ccxt exchange's answer checks (guard_fetch), on a stand-in exchange object and ccxt's own."""

from __future__ import annotations

from typing import Any

import ccxt
import pytest

from brokers.ccxt_exchange import guard_fetch, has_web_sections


class FakeExchange:
    """What guard_fetch wraps: ccxt's fetch2 -> fetch -> on_rest_response, answering ``body``."""

    def __init__(self, api: dict[str, Any], body: Any = "{}", status: Any = 200) -> None:
        self.api = api
        self.urls = {"api": {section: "https://example.invalid" for section in api}}
        self.body, self.status = body, status
        self.raise_after_answer: Exception | None = None

    def fetch2(self, path: str, api: Any = "public", method: str = "GET", *rest: Any) -> Any:
        return self.fetch(f"https://example.invalid/{path}", method)

    def fetch(self, url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        if self.status is not None:
            text = self.on_rest_response(self.status, "", url, method, {}, self.body, {}, None)
        if self.raise_after_answer is not None:
            raise self.raise_after_answer
        return text

    def on_rest_response(self, code: Any, reason: str, *rest: Any) -> Any:
        return rest[3].strip() if isinstance(rest[3], str) else rest[3]


API = {"public": {"get": ["ticker"]}}
WEB_API = {"public": {"get": ["ticker"]}, "web": {"get": ["pages"]}}


def guarded(api: dict[str, Any], **answer: Any) -> FakeExchange:
    exchange = FakeExchange(api, **answer)
    guard_fetch(exchange, ccxt, "fake")
    return exchange


def test_web_sections_are_found_in_the_api_definition_or_its_urls_at_any_depth() -> None:
    assert has_web_sections(ccxt.gemini()) and has_web_sections(ccxt.kucoin())
    assert not has_web_sections(ccxt.binance()) and not has_web_sections(ccxt.kraken())
    assert has_web_sections(FakeExchange({"v2": {"webExchange": {"get": ["x"]}}}))


@pytest.mark.parametrize("api", [API, WEB_API])
@pytest.mark.parametrize("body", ['{"symbol": "BTC/USDT", "last": 1', "<html>busy</html>"])
def test_a_truncated_or_html_api_answer_is_a_bad_response(api: dict[str, Any], body: str) -> None:
    exchange = guarded(api, body=body)
    with pytest.raises(ccxt.BadResponse, match="the answer is not JSON"):
        exchange.fetch2("ticker", "public")


def test_an_exchange_without_web_sections_keeps_its_own_fetch2_and_checks_every_answer() -> None:
    exchange = guarded(API, body="<html>")
    assert "fetch2" not in vars(exchange)
    with pytest.raises(ccxt.BadResponse):
        exchange.fetch2("pages", "web")


def test_a_web_page_passes_through_unchecked_on_an_exchange_with_web_sections() -> None:
    exchange = guarded(WEB_API, body="<html>a page</html>")
    assert exchange.fetch2("pages", "web") == "<html>a page</html>"
    assert exchange.fetch2("pages", ["webExchange"]) == "<html>a page</html>"
    with pytest.raises(ccxt.BadResponse):
        exchange.fetch2("ticker", "public")


@pytest.mark.parametrize("code", [503, "503"])
def test_a_5xx_that_ccxt_maps_to_a_plain_exchange_error_is_unavailable(code: Any) -> None:
    exchange = guarded(API, status=code, body='{"code": -1008}')
    exchange.raise_after_answer = ccxt.ExchangeError("binance {-1008}")
    with pytest.raises(ccxt.ExchangeNotAvailable, match="HTTP 503"):
        exchange.fetch2("ticker")


def test_an_error_before_any_answer_is_not_taken_for_the_last_requests_5xx() -> None:
    exchange = guarded(API, status=503, body="{}")
    exchange.raise_after_answer = ccxt.ExchangeError("overloaded")
    with pytest.raises(ccxt.ExchangeNotAvailable):
        exchange.fetch2("ticker")
    exchange.status = None  # the next request fails before an answer arrives
    with pytest.raises(ccxt.ExchangeError) as raised:
        exchange.fetch2("ticker")
    assert type(raised.value) is ccxt.ExchangeError
    exchange.raise_after_answer, exchange.status = None, 200
    assert exchange.fetch2("ticker") == "{}"
