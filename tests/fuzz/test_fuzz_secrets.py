"""Fuzzed secrets planted in recorded interactions: the audit finds them, the scrubber removes them.

Each case plants a credential (a canary, from 6 to 64 characters, some needing URL-encoding)
in one place of a request or response (a query parameter, a URL path segment, a custom
header, a JSON body at some depth, a form body, a gzip body, a response field or header),
spelled one way (raw, URL-encoded in either case, path-encoded, hex, base64, ``\\u``-escaped
in JSON), under a name that may or may not look like an auth name. What must hold:

* the audit, with the credential's variable set, finds the unscrubbed cassette;
* after the harness's scrubber, no spelling of the credential is left, in the file or in a
  decoded body, and the audit finds nothing;
* neither prints the credential; nothing raises.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import quote

from hypothesis import given
from hypothesis import strategies as st
from vcr.request import Request

from brokers.redaction import encoded_forms
from scaffolder.harness.audit import audit, decoded_texts
from scaffolder.harness.scrub import Scrubber
from tests.fuzz import ROOT, fuzz_settings, record_stats, write_case

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_/+="
secrets_ = st.text(ALPHABET, min_size=0, max_size=58).map(lambda s: "CANARY" + s)
names = st.sampled_from(["note", "memo", "apiKey", "X-Custom", "hmac", "data", "listenKey"])
SPELLINGS = {
    "raw": lambda v: v,
    "url": lambda v: quote(v, safe=""),
    "url-lower": lambda v: "".join(
        c.lower() if i and quote(v, safe="")[i - 1] == "%" else c
        for i, c in enumerate(quote(v, safe=""))
    ),
    "path": lambda v: quote(v, safe="/"),
    "hex": lambda v: v.encode().hex(),
}
PLACES = [
    "query",
    "path",
    "header",
    "json",
    "form",
    "gzip",
    "unicode",
    "response",
    "response-header",
]


def interaction(place: str, name: str, spelled: str, secret: str) -> tuple[Request, dict]:
    """A request and a response with ``spelled`` planted in ``place`` under ``name``."""
    uri, body, headers = "https://api.example.com/v1/order?symbol=BTCUSDT", None, {"Accept": "*/*"}
    response_body: Any = json.dumps({"orderId": 12, "price": "20000.1"})
    response_headers = {"Content-Type": ["application/json"]}
    if place == "query":
        uri += f"&{name}={spelled}"
    elif place == "path":
        uri = uri.replace("/order", f"/keys/{spelled}/order")
    elif place == "header":
        headers[name] = spelled
    elif place == "json":
        body = json.dumps({"symbol": "BTCUSDT", "legs": [{"auth": {name: spelled}}]})
    elif place == "form":
        body = f"symbol=BTCUSDT&{name}={spelled}"
    elif place == "gzip":
        body = gzip.compress(json.dumps({name: spelled}).encode())
    elif place == "unicode":
        body = '{"' + name + '":"' + "".join(f"\\u{ord(c):04x}" for c in secret) + '"}'
    elif place == "response":
        response_body = json.dumps({"orderId": 12, name: spelled})
    else:
        response_headers[name] = [spelled]
    request = Request("POST", uri, body, headers)
    response = {
        "status": {"code": 200, "message": "OK"},
        "headers": response_headers,
        "body": {"string": response_body},
    }
    return request, response


def write_cassette(path: Path, request: Request, response: dict) -> str:
    from vcr.serializers.yamlserializer import serialize

    text = serialize({"interactions": [{"request": request._to_dict(), "response": response}]})
    write_case(path, text.encode("utf-8"))
    return text


def left_over(text: str, request: Request, response: dict, secret: str) -> list[str]:
    texts = [text, request.uri, json.dumps(dict(request.headers))]
    texts += decoded_texts(request.body) + decoded_texts(response["body"])
    texts += [json.dumps(response["headers"])]
    forms = {f for f in encoded_forms(secret) if len(f) >= 6}
    return sorted(f for f in forms if any(f in t for t in texts))


def test_planted_secrets_are_found_unscrubbed_and_gone_once_scrubbed(tmp_path: Path) -> None:
    outcomes: Counter[str] = Counter()
    places: Counter[str] = Counter()
    cassette = tmp_path / "planted.yaml"

    @fuzz_settings(max_examples=800)
    @given(
        secrets_.filter(lambda s: len(s) >= 6),
        st.sampled_from(PLACES),
        st.sampled_from(sorted(SPELLINGS)),
        names,
    )
    def run(secret: str, place: str, spelling: str, name: str) -> None:
        places[f"{place}/{spelling}"] += 1
        env = {"BINANCE_API_SECRET": secret}
        request, response = interaction(place, name, SPELLINGS[spelling](secret), secret)
        write_cassette(cassette, request, response)
        _, before = audit([cassette], ROOT, env=env)
        assert before, f"{secret!r} {spelling} in {place} under {name} was not found"
        assert all(secret not in str(f) for f in before)

        scrubber = Scrubber("binance", [secret])
        scrubber.request(request)
        scrubber.response(response)
        text = write_cassette(cassette, request, response)
        assert left_over(text, request, response, secret) == [], (place, spelling, name)
        _, after = audit([cassette], ROOT, env=env)
        assert after == [], [str(f) for f in after]
        outcomes["found, then scrubbed"] += 1

    run()
    record_stats("secrets", outcomes, places=dict(sorted(places.items())))
    assert sum(outcomes.values()) >= 600
