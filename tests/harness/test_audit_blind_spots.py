"""The audit's former blind spots (issue 16 item 5), each planted in a copy of a committed cassette.

With the credential's variable set, its value is found however the cassette spells it (a gzip
body, ``\\u`` escapes, hex, lower-case ``%2f``, a short credential); a key-like value under an
auth-like name is found whatever the name. Without the variable (the pre-commit hook), an
API-key-shaped value is found in a nested JSON body, under a harmless JSON key, in
``?AccessKeyId=``, in the URL path, in a response body or in a custom header. The scrubber masks
every one of them before anything is written, so a recording passes the audit it is held to.
"""

from __future__ import annotations

import gzip
import json
from urllib.parse import quote

import pytest
from vcr.request import Request

from brokers.redaction import MASK
from scaffolder.harness.scrub import Scrubber
from tests.harness.test_audit import audit, order, request_of, response_body, write  # noqa: F401

#: Shaped as exchanges issue API keys (61 mixed-case letters and digits), and still a canary.
KEY_SHAPED = "CANARYa8Kq3Zr7Tm2Wx9Pn4Lb6Vc1Hd5Jf0Gs8Yt3Ue7Ri2Oo6Ap1Sk9Dl4Fm"
API_KEY = "CANARY-AUDIT-KEY-0000"
SECRET = "CANARY/AUDIT+SECRET=0"
HEX64 = "5f3a" * 16


def unicode_escaped(value: str) -> str:
    return "".join(f"\\u{ord(c):04x}" for c in value)


def findings(audit, path, document) -> tuple[int, str]:  # noqa: F811
    return audit(str(write(path, document)))


# -- with the credential's variable set ---------------------------------------------------------


def plant_gzip_body(document: dict) -> None:
    request_of(document)["body"] = gzip.compress(json.dumps({"k": API_KEY}).encode())


def plant_unicode_escapes(document: dict) -> None:
    request_of(document)["body"] = '{"symbol":"BTCUSDT","note":"' + unicode_escaped(API_KEY) + '"}'


def plant_hex(document: dict) -> None:
    request_of(document)["uri"] += "?blob=" + API_KEY.encode().hex()


def plant_lowercase_percent(document: dict) -> None:
    request_of(document)["uri"] += "?s=" + quote(SECRET, safe="").replace("%2F", "%2f")


@pytest.mark.parametrize(
    "plant",
    [plant_gzip_body, plant_unicode_escapes, plant_hex, plant_lowercase_percent],
    ids=["gzip-body", "unicode-escaped", "hex", "lowercase-%2f"],
)
def test_a_credential_is_found_however_the_cassette_spells_it(audit, order, monkeypatch, plant):  # noqa: F811
    monkeypatch.setenv("BINANCE_API_KEY", API_KEY)
    monkeypatch.setenv("BINANCE_API_SECRET", SECRET)
    path, document = order
    plant(document)
    code, output = findings(audit, path, document)
    assert code == 1, output
    assert "contains the value of $BINANCE_API_" in output
    assert API_KEY not in output and SECRET not in output


def test_a_credential_shorter_than_six_characters_is_found_where_it_stands_whole(
    audit,  # noqa: F811
    order,  # noqa: F811
    monkeypatch,
):
    monkeypatch.setenv("BINANCE_API_SECRET", "Zq9x")
    path, document = order
    request_of(document)["headers"]["X-Pass"] = ["Zq9x"]
    code, output = findings(audit, path, document)
    assert code == 1 and "$BINANCE_API_SECRET" in output, output


@pytest.mark.parametrize(
    ("where", "plant"),
    [
        ("header X-MYEX-SIGN", lambda r: r["headers"].update({"X-MYEX-SIGN": [HEX64]})),
        ("parameter hmac", lambda r: r.update(uri=r["uri"] + "?hmac=" + HEX64)),
    ],
    ids=["custom-sign-header", "hmac-param"],
)
def test_a_signature_under_an_auth_like_name_is_found_whatever_the_name(
    audit,  # noqa: F811
    order,  # noqa: F811
    monkeypatch,
    where,
    plant,
):
    monkeypatch.setenv("BINANCE_API_KEY", API_KEY)
    path, document = order
    plant(request_of(document))
    code, output = findings(audit, path, document)
    assert code == 1, output
    assert f"interaction 0 {where}:" in output


# -- without any credential variable (the pre-commit hook) ---------------------------------------


def nested_json(document: dict) -> None:
    request_of(document)["body"] = json.dumps({"order": {"auth": {"apiKey": KEY_SHAPED}}})


def other_json_key(document: dict) -> None:
    request_of(document)["body"] = json.dumps({"symbol": "BTCUSDT", "memo": KEY_SHAPED})


def access_key_id(document: dict) -> None:
    request_of(document)["uri"] += "?AccessKeyId=" + KEY_SHAPED


def url_path(document: dict) -> None:
    request = request_of(document)
    request["uri"] = request["uri"].replace("/api/v3/", f"/api/v3/keys/{KEY_SHAPED}/")


def response_field(document: dict) -> None:
    body = response_body(document)
    body["string"] = body["string"][:-1] + f',"listenKey":"{KEY_SHAPED}"}}'


def custom_header(document: dict) -> None:
    request_of(document)["headers"]["X-MYEX-KEY"] = [KEY_SHAPED]


@pytest.mark.parametrize(
    "plant",
    [nested_json, other_json_key, access_key_id, url_path, response_field, custom_header],
    ids=lambda f: f.__name__,
)
def test_a_key_shaped_value_is_found_without_the_credential_variables(
    audit,  # noqa: F811
    order,  # noqa: F811
    monkeypatch,
    plant,
):
    for name in ("BINANCE_API_KEY", "BINANCE_API_SECRET"):
        monkeypatch.delenv(name, raising=False)
    path, document = order
    plant(document)
    code, output = findings(audit, path, document)
    assert code == 1, output
    assert "looks like a key or signature" in output or "not scrubbed" in output
    assert KEY_SHAPED not in output


# -- the scrubber masks all of it ----------------------------------------------------------------


def test_the_scrubber_masks_every_planted_form_before_it_is_written():
    body = json.dumps({"order": {"auth": {"apiKey": KEY_SHAPED}}, "memo": API_KEY.encode().hex()})
    request = Request(
        "POST",
        f"https://api.example.com/v1/keys/{quote(SECRET, safe='')}/x?hmac={HEX64}"
        f"&AccessKeyId={KEY_SHAPED}&s={quote(SECRET, safe='').lower()}&symbol=BTC",
        gzip.compress(body.encode()),
        {"X-MYEX-SIGN": HEX64, "X-MYEX-KEY": KEY_SHAPED, "X-Pass": "Zq9x"},
    )
    Scrubber(None, [API_KEY, SECRET, "Zq9x"]).request(request)
    text = request.uri + json.dumps(dict(request.headers)) + gzip.decompress(request.body).decode()
    for value in (KEY_SHAPED, HEX64, API_KEY.encode().hex(), "Zq9x", "CANARY"):
        assert value not in text, value
    assert "symbol=BTC" in request.uri
    assert request.headers["X-MYEX-SIGN"] == MASK
    response = {
        "status": {"code": 200},
        "headers": {"X-Session-Token": [KEY_SHAPED]},
        "body": {"string": json.dumps({"listenKey": KEY_SHAPED, "price": "1"})},
    }
    Scrubber(None, []).response(response)
    assert KEY_SHAPED not in json.dumps(response)
    assert json.loads(response["body"]["string"])["price"] == "1"


def test_a_key_shaped_value_in_a_scenario_file_is_found_without_the_variables(audit, tmp_path):  # noqa: F811
    path = tmp_path / "contract.json"
    path.write_text(json.dumps({"calls": {"get_balance": {"kwargs": {"memo": KEY_SHAPED}}}}))
    code, output = audit(str(path))
    assert code == 1 and "field calls.get_balance.kwargs.memo: looks like a key" in output


def test_a_placeholder_of_a_few_characters_is_not_taken_for_a_credential(audit, order, monkeypatch):  # noqa: F811
    monkeypatch.setenv("BINANCE_API_KEY", "x")
    path, document = order
    code, output = findings(audit, path, document)
    assert code == 0, output
