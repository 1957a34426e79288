"""The signed-request matcher: what must never decide a match, and what always must.

A replayed request carries a new timestamp, nonce, signature, recvWindow, client order id and
auth headers, and must still find its recording; a request for another symbol, price, side,
amount, path, host or method must not, and the failure must say what differs.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import pytest
import requests
import vcr
import yaml
from vcr.errors import CannotOverwriteExistingCassetteException
from vcr.request import Request

from scaffolder.harness.matching import make_matcher
from scaffolder.harness.session import harness_vcr_config, register_matchers

ROOT = Path(__file__).resolve().parents[2]
BINANCE_CASSETTE = ROOT / "cassettes" / "binance" / "create_order.yaml"

BINANCE_ORDER = {
    "symbol": "BTCUSDT",
    "side": "BUY",
    "type": "LIMIT",
    "quantity": "0.001",
    "price": "30000",
    "timeInForce": "GTC",
    "newClientOrderId": "rec0001",
    "timestamp": "1700000000000",
    "recvWindow": "5000",
    "signature": "a" * 64,
}


def binance(
    method: str = "POST",
    host: str = "testnet.binance.vision",
    path: str = "/api/v3/order",
    headers: dict[str, str] | None = None,
    in_query: bool = False,
    **changes: str,
) -> Request:
    params = {**BINANCE_ORDER, **changes}
    uri = f"https://{host}{path}"
    heads = {"X-MBX-APIKEY": "CANARY-API-KEY-0000", **(headers or {})}
    if in_query:
        return Request(method, f"{uri}?{urlencode(params)}", None, heads)
    heads["Content-Type"] = "application/x-www-form-urlencoded"
    return Request(method, uri, urlencode(params), heads)


def gemini(
    nonce: int = 1, signature: str = "b" * 96, key: str = "CANARY-GEMINI-KEY-0000", **changes: str
) -> Request:
    payload = {
        "request": "/v1/order/new",
        "nonce": nonce,
        "symbol": "btcusd",
        "amount": "0.01",
        "price": "20000",
        "side": "buy",
        "type": "exchange limit",
        "client_order_id": f"rec{nonce}",
        **changes,
    }
    encoded = base64.b64encode(json.dumps(payload).encode()).decode()
    headers = {
        "Content-Type": "text/plain",
        "X-GEMINI-APIKEY": key,
        "X-GEMINI-PAYLOAD": encoded,
        "X-GEMINI-SIGNATURE": signature,
    }
    return Request("POST", "https://api.gemini.com/v1/order/new", b"", headers)


def coinbase(sign: str = "c" * 44, timestamp: str = "1700000000", **changes: str) -> Request:
    body = {
        "product_id": "BTC-USD",
        "side": "buy",
        "price": "20000",
        "size": "0.01",
        "client_oid": f"oid-{timestamp}",
        **changes,
    }
    headers = {
        "CB-ACCESS-KEY": "CANARY-CB-KEY-0000",
        "CB-ACCESS-SIGN": sign,
        "CB-ACCESS-TIMESTAMP": timestamp,
        "CB-ACCESS-PASSPHRASE": "CANARY-PASSPHRASE",
        "Content-Type": "application/json",
    }
    return Request("POST", "https://api.exchange.coinbase.com/orders", json.dumps(body), headers)


# -- what never decides a match ------------------------------------------------------------------


@pytest.mark.parametrize("in_query", [False, True], ids=["form-body", "query-string"])
def test_binance_requests_differing_only_in_volatile_and_auth_parts_match(in_query):
    matcher = make_matcher("binance")
    recorded = binance(in_query=in_query)
    replayed = binance(
        in_query=in_query,
        headers={"X-MBX-APIKEY": "CANARY-OTHER-KEY-1111"},
        timestamp="1800000000999",
        recvWindow="60000",
        signature="f" * 64,
        newClientOrderId="rec9999",
    )
    matcher(recorded, replayed)  # no AssertionError
    matcher(replayed, recorded)


def test_binance_recorded_scrubbed_signature_and_key_still_match():
    """A cassette holds SCRUBBED where the live request has the signature and API key."""
    recorded = binance(signature="SCRUBBED", headers={"X-MBX-APIKEY": "SCRUBBED"})
    make_matcher("binance")(recorded, binance())


def test_binance_orig_client_order_id_never_decides():
    recorded = binance(method="DELETE", origClientOrderId="rec-a", in_query=True)
    make_matcher("binance")(
        recorded, binance(method="DELETE", origClientOrderId="rec-b", in_query=True)
    )


def test_coinbase_sign_timestamp_and_client_oid_never_decide():
    make_matcher("coinbase")(coinbase(), coinbase(sign="d" * 44, timestamp="1800000000"))


def test_gemini_nonce_inside_the_base64_payload_and_signature_never_decide():
    recorded = gemini(nonce=1, signature="b" * 96)
    replayed = gemini(nonce=987654321, signature="e" * 96, key="CANARY-GEMINI-KEY-1111")
    make_matcher("gemini")(recorded, replayed)


def test_kraken_nonce_and_api_sign_never_decide():
    def kraken(nonce: str, sign: str) -> Request:
        body = urlencode({"nonce": nonce, "pair": "XBTUSD", "type": "buy", "volume": "0.01"})
        return Request(
            "POST",
            "https://api.kraken.com/0/private/AddOrder",
            body,
            {"API-Key": "CANARY-KRAKEN-KEY", "API-Sign": sign},
        )

    make_matcher("kraken")(kraken("1", "x" * 88), kraken("2", "y" * 88))


def test_header_order_and_unrelated_headers_never_decide():
    recorded = binance(headers={"User-Agent": "python-requests/2.0", "Accept": "*/*"})
    make_matcher("binance")(recorded, binance(headers={"User-Agent": "ccxt/4"}))


# -- what always decides a match -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"symbol": "ETHUSDT"}, "symbol"),
        ({"price": "30001"}, "price"),
        ({"quantity": "0.002"}, "quantity"),
        ({"side": "SELL"}, "side"),
        ({"type": "MARKET"}, "type"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
@pytest.mark.parametrize("in_query", [False, True], ids=["form-body", "query-string"])
def test_binance_meaningful_parameter_differences_are_rejected_and_named(changes, named, in_query):
    matcher = make_matcher("binance")
    with pytest.raises(AssertionError) as failure:
        matcher(binance(in_query=in_query), binance(in_query=in_query, **changes))
    message = str(failure.value)
    assert named in message
    assert repr(BINANCE_ORDER[named]) in message and repr(changes[named]) in message


def test_binance_missing_parameter_is_rejected_and_named():
    recorded = binance()
    replayed = binance()
    body = replayed.body.decode() if isinstance(replayed.body, bytes) else replayed.body
    replayed.body = urlencode([(k, v) for k, v in parse_qsl(body) if k != "timeInForce"])
    with pytest.raises(AssertionError, match="timeInForce"):
        make_matcher("binance")(recorded, replayed)


def test_method_difference_is_rejected_and_named():
    with pytest.raises(AssertionError, match=r"method.*POST.*DELETE"):
        make_matcher("binance")(binance(in_query=True), binance(method="DELETE", in_query=True))


def test_host_difference_is_rejected_and_named():
    """Testnet traffic never answers a mainnet request (and the reverse)."""
    with pytest.raises(AssertionError, match=r"testnet\.binance\.vision.*api\.binance\.com"):
        make_matcher("binance")(binance(), binance(host="api.binance.com"))


def test_path_difference_is_rejected_and_named():
    with pytest.raises(AssertionError, match=r"/api/v3/order != .*/api/v3/order/test"):
        make_matcher("binance")(binance(), binance(path="/api/v3/order/test"))


def test_port_difference_is_rejected():
    with pytest.raises(AssertionError):
        make_matcher(None)(
            Request("GET", "http://127.0.0.1:8000/api/v3/time", None, {}),
            Request("GET", "http://127.0.0.1:8001/api/v3/time", None, {}),
        )


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"request": "/v1/order/cancel"}, "request"),
        ({"price": "20001"}, "price"),
        ({"amount": "0.02"}, "amount"),
        ({"side": "sell"}, "side"),
        ({"symbol": "ethusd"}, "symbol"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_gemini_meaningful_payload_differences_are_rejected_and_named(changes, named):
    with pytest.raises(AssertionError) as failure:
        make_matcher("gemini")(gemini(nonce=1), gemini(nonce=2, **changes))
    assert named in str(failure.value)
    assert "nonce" not in str(failure.value)


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"price": "20001"}, "price"),
        ({"product_id": "ETH-USD"}, "product_id"),
        ({"side": "sell"}, "side"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_coinbase_meaningful_json_body_differences_are_rejected_and_named(changes, named):
    with pytest.raises(AssertionError, match=named):
        make_matcher("coinbase")(coinbase(), coinbase(sign="z" * 44, **changes))


def test_generic_matcher_ignores_generic_volatile_names_only():
    def req(**params: str) -> Request:
        return Request("GET", f"https://api.example.com/v1/order?{urlencode(params)}", None, {})

    matcher = make_matcher(None)
    matcher(
        req(symbol="BTC", timestamp="1", nonce="1", sign="a"),
        req(symbol="BTC", timestamp="2", nonce="9", sign="b"),
    )
    with pytest.raises(AssertionError, match="symbol"):
        matcher(req(symbol="BTC", timestamp="1"), req(symbol="ETH", timestamp="1"))


# -- through vcrpy: the committed binance cassette -------------------------------------------------


def _recorded_order() -> tuple[str, dict[str, str]]:
    document = yaml.safe_load(BINANCE_CASSETTE.read_text(encoding="utf-8"))
    request = document["interactions"][0]["request"]
    return request["uri"], dict(parse_qsl(request["body"]))


def _replay_order(params: dict[str, str]) -> requests.Response:
    """Send ``params`` as a signed order through vcrpy in replay mode (as the contract does)."""
    recorder = vcr.VCR(record_mode="none")
    register_matchers(recorder)
    uri, _ = _recorded_order()
    with recorder.use_cassette(str(BINANCE_CASSETTE), **harness_vcr_config("binance")):
        return requests.post(
            uri,
            data=params,
            headers={"X-MBX-APIKEY": "CANARY-API-KEY-0000"},
            timeout=5,
        )


def fresh_signing(params: dict[str, str]) -> dict[str, str]:
    """What a later run of the same order changes: timestamp, signature, client id, recvWindow."""
    return {
        **params,
        "timestamp": str(int(params["timestamp"]) + 86_400_000),
        "signature": "0123456789abcdef" * 4,
        "newClientOrderId": "rec-another-run",
        "recvWindow": "5000",
    }


def test_committed_binance_cassette_replays_a_freshly_signed_identical_order():
    before = BINANCE_CASSETTE.read_bytes()
    _, params = _recorded_order()
    response = _replay_order(fresh_signing(params))
    assert response.status_code == 200
    assert response.json()["symbol"] == params["symbol"]
    assert BINANCE_CASSETTE.read_bytes() == before, "replay must never rewrite a cassette"


def test_committed_binance_cassette_refuses_an_order_at_another_price():
    before = BINANCE_CASSETTE.read_bytes()
    _, params = _recorded_order()
    other = fresh_signing(params)
    other["price"] = str(float(params["price"]) + 1)
    uri, _ = _recorded_order()
    difference = _refused(
        "binance",
        "create_order",
        "POST",
        uri,
        urlencode(other),
        {"X-MBX-APIKEY": "CANARY-API-KEY-0000"},
    )
    # our matcher names the price, and only the price (not the timestamp, signature or client id)
    assert "price" in difference and other["price"] in difference and params["price"] in difference
    for volatile in ("timestamp", "signature", "newClientOrderId", "recvWindow"):
        assert volatile not in difference
    assert BINANCE_CASSETTE.read_bytes() == before


# -- through vcrpy: the committed gemini and coinbase cassettes ------------------------------------


def _cassette_request(name: str, call: str) -> dict:
    path = ROOT / "cassettes" / name / f"{call}.yaml"
    return dict(yaml.safe_load(path.read_text(encoding="utf-8"))["interactions"][0]["request"])


def _refused(name: str, call: str, method: str, uri: str, body: str, headers: dict) -> str:
    """Replay refuses the request (vcrpy's refusal, by type), and what our matcher says differs
    between it and the recording (our own wording, not vcrpy's report of it)."""
    with pytest.raises(CannotOverwriteExistingCassetteException):
        _replay(name, call, method, uri, body, headers)
    recorded = _cassette_request(name, call)
    recorded_headers = {
        key: value[0] if isinstance(value, list) else value
        for key, value in (recorded.get("headers") or {}).items()
    }
    sent = Request(method, uri, body, headers)
    kept = Request(recorded["method"], recorded["uri"], recorded["body"], recorded_headers)
    with pytest.raises(AssertionError) as difference:
        make_matcher(name)(sent, kept)
    return str(difference.value)


def _replay(name: str, call: str, method: str, uri: str, body: str, headers: dict) -> str:
    """Send a request through vcrpy in replay mode (as the contract does); the answer's text."""
    recorder = vcr.VCR(record_mode="none")
    register_matchers(recorder)
    cassette = ROOT / "cassettes" / name / f"{call}.yaml"
    with recorder.use_cassette(str(cassette), **harness_vcr_config(name)):
        return requests.request(method, uri, data=body, headers=headers, timeout=5).text


def fresh_gemini(changes: dict[str, str]) -> tuple[str, str, dict[str, str]]:
    """The recorded gemini order as a later run sends it: new nonce, client order id,
    signature and key, and ``changes``."""
    recorded = _cassette_request("gemini", "create_order")
    payload = json.loads(base64.b64decode(recorded["headers"]["X-GEMINI-PAYLOAD"][0]))
    payload = {**payload, "nonce": str(int(payload["nonce"]) + 86_400_000), **changes}
    payload["client_order_id"] = "rec-another-run"
    fields = {k: v for k, v in payload.items() if k not in ("request", "nonce")}
    headers = {
        "X-GEMINI-APIKEY": "account-CANARY-OTHER-KEY",
        "X-GEMINI-PAYLOAD": base64.b64encode(json.dumps(payload).encode()).decode(),
        "X-GEMINI-SIGNATURE": "f" * 96,
    }
    return recorded["uri"], json.dumps(fields), headers


def test_committed_gemini_cassette_replays_an_order_with_a_new_nonce_and_signature():
    uri, body, headers = fresh_gemini({})
    answer = json.loads(_replay("gemini", "create_order", "POST", uri, body, headers))
    assert answer["symbol"] == "btcusdt" and answer["is_live"] is True


def test_committed_gemini_cassette_refuses_an_order_at_another_price():
    uri, body, headers = fresh_gemini({"price": "31000"})
    difference = _refused("gemini", "create_order", "POST", uri, body, headers)
    assert "price" in difference and "31000" in difference
    for volatile in ("nonce", "client_order_id", "signature"):
        assert volatile not in difference


def fresh_coinbase(call: str, changes: dict) -> tuple[str, str, str, dict[str, str]]:
    """A recorded coinbase request as a later run sends it: new timestamp, signature, key and
    client order id, and ``changes`` to its JSON body."""
    recorded = _cassette_request("coinbase", call)
    body = json.loads(recorded["body"]) if recorded["body"] else None
    if body is not None:
        body = {**body, **changes, "client_order_id": "ccxt-another-run"}
    headers = {
        "CB-ACCESS-KEY": "CANARY-OTHER-KEY",
        "CB-ACCESS-SIGN": "e" * 64,
        "CB-ACCESS-TIMESTAMP": "1900000000",
        "Content-Type": "application/json",
    }
    text = json.dumps(body) if body is not None else ""
    return recorded["method"], recorded["uri"], text, headers


def test_committed_coinbase_cassettes_replay_with_new_timestamps_and_signatures():
    method, uri, body, headers = fresh_coinbase("create_order", {})
    assert json.loads(_replay("coinbase", "create_order", method, uri, body, headers))["success"]
    # the candle window ccxt computes from the clock moves on every run
    method, uri, _, headers = fresh_coinbase("get_ohlcv", {})
    later = uri.replace("start=", "start=9").replace("end=", "end=9")
    assert json.loads(_replay("coinbase", "get_ohlcv", method, later, "", headers))["candles"]


def test_committed_coinbase_cassette_refuses_an_order_for_another_product():
    method, uri, body, headers = fresh_coinbase("create_order", {"product_id": "ETH-USDT"})
    difference = _refused("coinbase", "create_order", method, uri, body, headers)
    assert "product_id" in difference and "client_order_id" not in difference
