"""The scrubber: keys, secrets, signatures and auth headers never reach a cassette.

By name (the exchange's secret parameters and auth headers) and by value (the credentials in
use, wherever they turn up, raw, URL-encoded or base64-encoded), in the URL, the headers, the
body and the response; while keeping what replay needs to match the request.
"""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import pytest
from vcr.request import Request

from scaffolder.harness.matching import make_matcher
from scaffolder.harness.scrub import MASK, Scrubber

API_KEY = "CANARY-API-KEY-0000"
SECRET = "CANARY/SECRET+0000="  # needs URL-encoding: '/', '+', '='
PASSPHRASE = "CANARY-PASSPHRASE-0000"
SECRETS = [API_KEY, SECRET, PASSPHRASE]
SIGNATURE = "5f" * 32


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def every_form(value: str) -> list[str]:
    """``value`` raw, URL-encoded and base64-encoded (on its own and inside a longer blob)."""
    forms = [value, quote(value, safe=""), b64(value).rstrip("=")]
    for prefix in ("x", "xy"):
        # the characters of the encoded blob that only the value's bytes determine
        blob = base64.b64encode((prefix + value + "tail").encode()).decode()
        start = -(-8 * len(prefix) // 6)
        forms.append(blob[start : 8 * (len(prefix) + len(value)) // 6])
    return forms


def assert_nowhere(text: str) -> None:
    for value in SECRETS:
        for form in every_form(value):
            assert form not in text, f"{form!r} (a form of {value!r}) reached the cassette"
    assert SIGNATURE not in text


def dump(request: Request) -> str:
    body = request.body.decode() if isinstance(request.body, bytes) else str(request.body)
    return f"{request.method} {request.uri}\n{dict(request.headers)}\n{body}"


def query(request: Request) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(request.uri).query))


# -- requests: by name ---------------------------------------------------------------------------


def test_secret_query_parameters_are_masked_and_the_rest_kept():
    params = {
        "symbol": "BTCUSDT",
        "timestamp": "1700000000000",
        "signature": SIGNATURE,
        "apiKey": "some-key-value",
    }
    request = Request(
        "GET", f"https://testnet.binance.vision/api/v3/order?{urlencode(params)}", None, {}
    )
    Scrubber("binance", SECRETS).request(request)
    scrubbed = query(request)
    assert scrubbed["signature"] == MASK
    assert scrubbed["apiKey"] == MASK
    assert scrubbed["symbol"] == "BTCUSDT"
    assert scrubbed["timestamp"] == "1700000000000"
    assert "some-key-value" not in request.uri
    assert urlsplit(request.uri).netloc == "testnet.binance.vision"
    assert_nowhere(dump(request))


def test_secret_form_body_parameters_are_masked_and_the_rest_kept():
    body = urlencode(
        {"symbol": "BTCUSDT", "side": "BUY", "price": "30000", "signature": SIGNATURE},
    ).encode()
    request = Request("POST", "https://testnet.binance.vision/api/v3/order", body, {})
    Scrubber("binance", SECRETS).request(request)
    assert isinstance(request.body, bytes)
    scrubbed = dict(parse_qsl(request.body.decode()))
    assert scrubbed == {"symbol": "BTCUSDT", "side": "BUY", "price": "30000", "signature": MASK}


def test_secret_json_body_fields_are_masked_at_any_depth_and_the_rest_kept():
    document = {
        "product_id": "BTC-USD",
        "price": "20000",
        "passphrase": "other-passphrase",
        "auth": {"key": "nested-key-value", "sign": SIGNATURE},
        "legs": [{"token": "list-token-value", "size": "1"}],
    }
    request = Request("POST", "https://api.example.com/orders", json.dumps(document), {})
    Scrubber("coinbase", SECRETS).request(request)
    scrubbed = json.loads(request.body)
    assert scrubbed == {
        "product_id": "BTC-USD",
        "price": "20000",
        "passphrase": MASK,
        "auth": {"key": MASK, "sign": MASK},
        "legs": [{"token": MASK, "size": "1"}],
    }


@pytest.mark.parametrize(
    ("exchange", "header", "value"),
    [
        ("binance", "X-MBX-APIKEY", "any-api-key-value"),
        ("coinbase", "CB-ACCESS-KEY", "any-api-key-value"),
        ("coinbase", "CB-ACCESS-SIGN", "c2lnbmF0dXJlLXZhbHVlLWhlcmU="),
        ("coinbase", "CB-ACCESS-TIMESTAMP", "1700000000"),
        ("coinbase", "CB-ACCESS-PASSPHRASE", "any-passphrase"),
        ("gemini", "X-GEMINI-APIKEY", "any-api-key-value"),
        ("gemini", "X-GEMINI-SIGNATURE", SIGNATURE),
        ("kraken", "API-Sign", "a3Jha2VuLXNpZ25hdHVyZQ=="),
        ("okx", "OK-ACCESS-SIGN", "b2t4LXNpZ25hdHVyZQ=="),
        ("bybit", "X-BAPI-SIGN", SIGNATURE),
        (None, "Authorization", "Bearer any-token-value"),
        (None, "Cookie", "session=any-session-value"),
    ],
)
def test_auth_headers_are_masked_whatever_their_case(exchange, header, value):
    for spelling in (header, header.lower()):
        request = Request(
            "GET", "https://api.example.com/v1/x", None, {spelling: value, "Accept": "*/*"}
        )
        Scrubber(exchange, SECRETS).request(request)
        assert request.headers[spelling] == MASK
        assert request.headers["Accept"] == "*/*"


def test_gemini_payload_is_scrubbed_inside_and_keeps_its_meaningful_fields():
    payload = {
        "request": "/v1/order/new",
        "nonce": 1700000000123,
        "symbol": "btcusd",
        "amount": "0.01",
        "price": "20000",
        "side": "buy",
        "account": API_KEY,  # a credential value in a meaningful-looking field
        "apikey": "inline-key-value",  # a secret name inside the payload
    }
    request = Request(
        "POST",
        "https://api.gemini.com/v1/order/new",
        b"",
        {
            "X-GEMINI-APIKEY": API_KEY,
            "X-GEMINI-PAYLOAD": b64(json.dumps(payload)),
            "X-GEMINI-SIGNATURE": SIGNATURE,
        },
    )
    live = Request(request.method, request.uri, request.body, dict(request.headers))
    Scrubber("gemini", SECRETS).request(request)
    assert request.headers["X-GEMINI-APIKEY"] == MASK
    assert request.headers["X-GEMINI-SIGNATURE"] == MASK
    scrubbed = json.loads(base64.b64decode(request.headers["X-GEMINI-PAYLOAD"]))
    assert scrubbed == {**payload, "account": MASK, "apikey": MASK}
    assert_nowhere(dump(request))
    assert "inline-key-value" not in json.dumps(scrubbed)
    # what replay needs survives: the request path and the order fields still decide a match
    live_without_secrets = dict(payload, account=MASK, apikey=MASK, nonce=1)
    live.headers["X-GEMINI-PAYLOAD"] = b64(json.dumps(live_without_secrets))
    make_matcher("gemini")(request, live)
    live.headers["X-GEMINI-PAYLOAD"] = b64(json.dumps({**live_without_secrets, "price": "1"}))
    with pytest.raises(AssertionError, match="price"):
        make_matcher("gemini")(request, live)


def test_gemini_payload_that_is_not_base64_json_is_masked_whole():
    request = Request(
        "POST", "https://api.gemini.com/v1/balances", b"", {"X-GEMINI-PAYLOAD": "%%%" + API_KEY}
    )
    Scrubber("gemini", SECRETS).request(request)
    assert request.headers["X-GEMINI-PAYLOAD"] == MASK


# -- requests: by value --------------------------------------------------------------------------


def test_raw_credential_values_are_masked_wherever_they_appear():
    request = Request(
        "POST",
        f"https://api.example.com/v1/{API_KEY}/orders?note={API_KEY}&symbol=BTCUSDT",
        f"memo={quote(SECRET, safe='')}&label={PASSPHRASE}&side=buy",
        {"X-Custom-Client": f"client {API_KEY}", "User-Agent": "ccxt"},
    )
    Scrubber(None, SECRETS).request(request)
    text = dump(request)
    assert_nowhere(text)
    assert query(request)["symbol"] == "BTCUSDT"
    assert b"side=buy" in request.body
    assert request.headers["User-Agent"] == "ccxt"


def test_url_encoded_secret_is_masked():
    encoded = quote(SECRET, safe="")
    assert encoded != SECRET  # the canary really needs encoding
    request = Request(
        "GET", f"https://api.example.com/v1/x?memo={encoded}", None, {"X-Echo": encoded}
    )
    Scrubber(None, SECRETS).request(request)
    assert_nowhere(dump(request))


@pytest.mark.parametrize("prefix", ["", "a", "ab", "abc", '{"user":"'], ids=repr)
def test_base64_encoded_secret_is_masked_standalone_or_inside_a_blob(prefix):
    """Any offset: base64 spells a value three ways depending on where it starts."""
    blob = b64(f"{prefix}{API_KEY}:{SECRET}")
    request = Request(
        "GET",
        f"https://api.example.com/v1/x?blob={quote(blob, safe='')}",
        f"data={quote(blob, safe='')}",
        {"X-Blob": blob, "X-Urlsafe": blob.replace("+", "-").replace("/", "_")},
    )
    Scrubber(None, SECRETS).request(request)
    assert_nowhere(dump(request))


def test_short_or_empty_secret_values_are_not_masked_everywhere():
    """A secret of a few characters would mask ordinary text all over the cassette."""
    request = Request("GET", "https://api.example.com/v1/ticker?symbol=BTC", None, {})
    Scrubber(None, ["", "BTC"]).request(request)
    assert query(request)["symbol"] == "BTC"


# -- responses -----------------------------------------------------------------------------------


def test_set_cookie_and_echoed_credentials_are_scrubbed_from_responses():
    response = {
        "status": {"code": 200, "message": "OK"},
        "headers": {
            "Set-Cookie": ["session=abcdef123456; HttpOnly"],
            "set-cookie": ["other=1"],
            "X-Echo-Key": [API_KEY],
            "Content-Type": ["application/json"],
        },
        "body": {
            "string": json.dumps({"apiKey": API_KEY, "note": b64(SECRET), "price": "1"}).encode()
        },
    }
    Scrubber("binance", SECRETS).response(response)
    assert response["headers"]["Set-Cookie"] == [MASK]
    assert response["headers"]["set-cookie"] == [MASK]
    assert response["headers"]["Content-Type"] == ["application/json"]
    text = (
        json.dumps({k: v for k, v in response.items() if k != "body"})
        + response["body"]["string"].decode()
    )
    assert_nowhere(text)
    assert "abcdef123456" not in text
    assert json.loads(response["body"]["string"])["price"] == "1"


def test_response_body_as_text_is_scrubbed_too():
    response = {"status": {"code": 401}, "headers": {}, "body": {"string": f"bad key {API_KEY}"}}
    Scrubber(None, SECRETS).response(response)
    assert response["body"]["string"] == f"bad key {MASK}"


# -- scrubbing keeps the request replayable ------------------------------------------------------


def test_a_scrubbed_binance_request_still_matches_the_live_one():
    params = {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "quantity": "0.001",
        "price": "30000",
        "timestamp": "1700000000000",
        "signature": SIGNATURE,
    }

    def live() -> Request:
        return Request(
            "POST",
            "https://testnet.binance.vision/api/v3/order",
            urlencode(params),
            {"X-MBX-APIKEY": API_KEY},
        )

    recorded = Scrubber("binance", SECRETS).request(live())
    assert_nowhere(dump(recorded))
    make_matcher("binance")(recorded, live())


def test_a_json_array_body_holding_equals_signs_stays_json():
    """A batch body like ``["symbol=BTCUSDT", ...]`` used to be taken for a form and
    URL-encoded, so the recorded request no longer matched the live one."""
    body = json.dumps([{"symbol": "BTCUSDT", "note": "a=b"}, "side=BUY", {"sign": SIGNATURE}])
    request = Request("POST", "https://api.example.com/v1/batch", body.encode(), {})
    Scrubber(None, SECRETS).request(request)
    assert json.loads(request.body) == [
        {"symbol": "BTCUSDT", "note": "a=b"},
        "side=BUY",
        {"sign": MASK},
    ]
    make_matcher(None)(request, Request("POST", "https://api.example.com/v1/batch", body, {}))


def test_what_the_scrubber_masks_beyond_the_matchers_table_still_matches_on_replay():
    """The scrubber masks by the broker's declared scheme and by look; the matcher of a broker
    outside its table knows neither, so the mask matches whatever the replay sends there."""
    from scaffolder.harness.signed_requests import AuthScheme

    declared = AuthScheme(secret_params=frozenset({"accesskeyid", "signaturemethod"}))
    token = "CANARYa8Kq3Zr7Tm2Wx9Pn4Lb6Vc1Hd5Jf0Gs8Yt3Ue7Ri2Oo6Ap1Sk9Dl4Fm"

    def live(key: str, access: str, symbol: str = "btcusdt") -> Request:
        query = urlencode({"AccessKeyId": key, "SignatureMethod": "HmacSHA256", "symbol": symbol})
        body = json.dumps({"auth": {"accessToken": access}, "amount": "1"})
        return Request("POST", f"https://api.example.com/v1/order?{query}", body, {})

    recorded = Scrubber("freshccxt", [], scheme=declared).request(live("REALKEY", token))
    assert query(recorded)["AccessKeyId"] == MASK
    assert json.loads(recorded.body)["auth"]["accessToken"] == MASK
    matcher = make_matcher("freshccxt")
    matcher(recorded, live("CANARYKEY", "CANARY-TOKEN"))
    with pytest.raises(AssertionError, match="symbol"):
        matcher(recorded, live("CANARYKEY", "CANARY-TOKEN", symbol="ethusdt"))


def test_a_short_credential_is_masked_where_it_stands_whole_and_nowhere_else():
    """ "abcd" is 61626364 in hex: masking that inside other text would corrupt an order id."""
    request = Request(
        "POST",
        "https://api.example.com/v1/order?orderId=7616263649&symbol=abcd",
        json.dumps({"passphrase_hint": "x", "note": "abcd", "auth": "abcd"}),
        {"X-Pass": "abcd", "X-Other": "abcdef"},
    )
    Scrubber(None, ["abcd"]).request(request)
    assert query(request) == {"orderId": "7616263649", "symbol": "abcd"}
    assert request.headers == {"X-Pass": MASK, "X-Other": "abcdef"}
    assert json.loads(request.body) == {"passphrase_hint": "x", "note": "abcd", "auth": MASK}


def test_a_secret_spelled_raw_in_a_query_is_masked_even_where_parsing_changes_it():
    """'+' in a query reads as a space and '=' splits: the raw text must be masked as sent
    (found by tests/fuzz/test_fuzz_secrets.py)."""
    from vcr.request import Request

    secret = "CANARY=+"
    request = Request("GET", f"https://api.example.com/v1/x?note={secret}&symbol=BTCUSDT", None, {})
    scrubbed = Scrubber("binance", secrets=[secret]).request(request)
    assert secret not in scrubbed.uri and "CANARY" not in scrubbed.uri
    assert "symbol=BTCUSDT" in scrubbed.uri
