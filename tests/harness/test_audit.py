"""``scaffolder cassettes audit``: clean on what we ship, loud on anything that looks like a secret."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml
from click.testing import CliRunner
from vcr.request import Request

from scaffolder.cli import main
from scaffolder.harness.scrub import Scrubber

ROOT = Path(__file__).resolve().parents[2]
CASSETTES = ROOT / "cassettes"
ORDER = CASSETTES / "binance" / "create_order.yaml"
CANARY = "CANARY-BINANCE-SECRET-0000"


@pytest.fixture
def audit(monkeypatch):
    """Run ``scaffolder cassettes audit ARGS`` from the repository root; (exit code, output)."""
    monkeypatch.chdir(ROOT)

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(main, ["cassettes", "audit", *args])
        return result.exit_code, result.output

    return run


@pytest.fixture
def order(tmp_path) -> tuple[Path, dict]:
    """A copy of the committed binance order cassette to plant things in: (path, document)."""
    path = tmp_path / "planted.yaml"
    return path, yaml.safe_load(ORDER.read_text(encoding="utf-8"))


def write(path: Path, document: dict) -> Path:
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def request_of(document: dict) -> dict:
    return document["interactions"][0]["request"]


def response_body(document: dict) -> dict:
    return document["interactions"][0]["response"]["body"]


# -- clean ---------------------------------------------------------------------------------------


def test_the_committed_cassettes_are_clean(audit):
    code, output = audit(str(CASSETTES))
    assert code == 0, output
    scanned = int(output.strip().splitlines()[-1].split(" in ")[1].split()[0])
    assert output.strip().endswith(f"0 finding(s) in {scanned} file(s)")
    expected = [p for p in CASSETTES.rglob("*") if p.suffix in (".yaml", ".json")]
    assert scanned == len(expected) > 10


def test_without_a_path_the_project_cassettes_are_audited(audit):
    code, output = audit()
    assert code == 0, output
    assert output == audit(str(CASSETTES))[1]


def test_the_untouched_copy_is_clean(audit, order):
    path, document = order
    code, output = audit(str(write(path, document)))
    assert (code, output.strip()) == (0, "0 finding(s) in 1 file(s)")


# -- findings ------------------------------------------------------------------------------------


def test_an_unscrubbed_binance_api_key_header_is_found(audit, order):
    path, document = order
    request_of(document)["headers"]["X-MBX-APIKEY"] = ["CANARY-API-KEY-0000"]
    code, output = audit(str(write(path, document)))
    assert code == 1
    assert f"{path}: interaction 0 header X-MBX-APIKEY: auth header not scrubbed" in output
    assert "1 finding(s) in 1 file(s)" in output


@pytest.mark.parametrize("where", ["uri", "body"])
def test_a_signature_in_the_uri_or_body_is_found(audit, order, where):
    path, document = order
    request = request_of(document)
    signature = "0a1b2c3d" * 8
    if where == "uri":
        request["uri"] += f"?symbol=BTCUSDT&signature={signature}"
    else:
        request["body"] = request["body"].replace("signature=SCRUBBED", f"signature={signature}")
        assert signature in request["body"]
    code, output = audit(str(write(path, document)))
    assert code == 1
    assert str(path) in output and "parameter signature" in output


def test_a_signature_like_token_under_another_name_is_found(audit, order):
    path, document = order
    request_of(document)["uri"] += "?symbol=BTCUSDT&msgSig=" + "9f" * 32
    code, output = audit(str(write(path, document)))
    assert code == 1
    assert "parameter msgSig: looks like a signature" in output


def test_a_secret_field_in_a_json_body_is_found(audit, order):
    path, document = order
    request_of(document)["body"] = json.dumps({"product_id": "BTC-USD", "apiKey": "abc123def456"})
    code, output = audit(str(write(path, document)))
    assert code == 1
    assert "parameter apiKey: secret parameter not scrubbed" in output


def _plant(document: dict, text: str) -> None:
    body = response_body(document)
    body["string"] = body["string"][:-1] + f',"note":"{text}"}}'


@pytest.mark.parametrize(
    "encode",
    [
        lambda v: v,
        lambda v: quote(v, safe=""),
        lambda v: base64.b64encode(v.encode()).decode(),
        lambda v: base64.b64encode(f'{{"id":12,"secret":"{v}"}}'.encode()).decode(),
        lambda v: base64.urlsafe_b64encode(f"k:{v}".encode()).decode(),
    ],
    ids=["raw", "url-encoded", "base64", "base64-inside-json", "urlsafe-base64-inside"],
)
def test_the_value_of_a_configured_credential_variable_is_found(audit, order, monkeypatch, encode):
    """BINANCE_API_SECRET is referenced by config/brokers/binance.json; its value is a secret."""
    monkeypatch.setenv("BINANCE_API_SECRET", CANARY)
    path, document = order
    _plant(document, encode(CANARY))
    code, output = audit(str(write(path, document)))
    assert code == 1
    assert f"{path}: content: contains the value of $BINANCE_API_SECRET" in output
    assert CANARY not in output, "the audit must not print the secret it found"


def test_credential_values_are_found_in_markets_and_scenario_json_too(audit, tmp_path, monkeypatch):
    monkeypatch.setenv("BINANCE_API_KEY", CANARY)
    path = tmp_path / "contract.json"
    path.write_text(json.dumps({"calls": {"x": {"kwargs": {"note": CANARY}}}}), encoding="utf-8")
    code, output = audit(str(path))
    assert code == 1 and "$BINANCE_API_KEY" in output


def test_a_directory_is_scanned_recursively_and_every_bad_file_named(audit, tmp_path, order):
    _, document = order
    request_of(document)["headers"]["X-MBX-APIKEY"] = ["CANARY-API-KEY-0000"]
    (tmp_path / "a" / "b").mkdir(parents=True)
    first = write(tmp_path / "a" / "one.yaml", document)
    second = write(tmp_path / "a" / "b" / "two.yaml", document)
    code, output = audit(str(tmp_path / "a"))
    assert code == 1
    assert str(first) in output and str(second) in output
    assert "2 finding(s) in 2 file(s)" in output


def test_json_output(audit, order):
    path, document = order
    request_of(document)["headers"]["X-MBX-APIKEY"] = ["CANARY-API-KEY-0000"]
    code, output = audit("--format", "json", str(write(path, document)))
    assert code == 1
    report = json.loads(output)
    assert report == {
        "scanned": 1,
        "findings": [
            {
                "path": str(path),
                "where": "interaction 0 header X-MBX-APIKEY",
                "reason": "auth header not scrubbed",
            }
        ],
    }
    code, output = audit("--format", "json", str(CASSETTES))
    assert code == 0
    assert json.loads(output)["findings"] == []


def test_a_missing_path_is_a_usage_error(audit, tmp_path):
    code, output = audit(str(tmp_path / "nope"))
    assert code == 2
    assert "no such path" in output and "nope" in output


# -- Gemini's payload header: the scrubber keeps it (scrubbed inside), the audit must agree ------


def _gemini_cassette(path: Path, headers: dict[str, str]) -> Path:
    document = {
        "version": 1,
        "interactions": [
            {
                "request": {
                    "method": "POST",
                    "uri": "https://api.gemini.com/v1/order/new",
                    "body": None,
                    "headers": {k: [v] for k, v in headers.items()},
                },
                "response": {
                    "status": {"code": 200, "message": "OK"},
                    "headers": {},
                    "body": {"string": "{}"},
                },
            }
        ],
    }
    return write(path, document)


def _gemini_request(payload: dict) -> Request:
    return Request(
        "POST",
        "https://api.gemini.com/v1/order/new",
        b"",
        {
            "X-GEMINI-APIKEY": "CANARY-GEMINI-KEY-0000",
            "X-GEMINI-PAYLOAD": base64.b64encode(json.dumps(payload).encode()).decode(),
            "X-GEMINI-SIGNATURE": "ab" * 48,
        },
    )


def test_a_scrubbed_gemini_request_passes_the_audit(audit, tmp_path):
    payload = {"request": "/v1/order/new", "nonce": 1, "symbol": "btcusd", "apikey": "k-123456"}
    request = Scrubber("gemini", ["CANARY-GEMINI-KEY-0000"]).request(_gemini_request(payload))
    path = _gemini_cassette(tmp_path / "gemini.yaml", dict(request.headers))
    code, output = audit(str(path))
    assert (code, output.strip()) == (0, "0 finding(s) in 1 file(s)")


def test_an_unscrubbed_gemini_request_fails_the_audit(audit, tmp_path):
    payload = {"request": "/v1/order/new", "nonce": 1, "symbol": "btcusd", "apikey": "k-123456"}
    path = _gemini_cassette(tmp_path / "gemini.yaml", dict(_gemini_request(payload).headers))
    code, output = audit(str(path))
    assert code == 1
    assert "header X-GEMINI-APIKEY: auth header not scrubbed" in output
    assert "header X-GEMINI-SIGNATURE: auth header not scrubbed" in output
    assert "header X-GEMINI-PAYLOAD field apikey: secret parameter not scrubbed" in output


def test_a_gemini_payload_that_is_not_base64_json_fails_the_audit(audit, tmp_path):
    path = _gemini_cassette(tmp_path / "gemini.yaml", {"X-GEMINI-PAYLOAD": "not base64 at all"})
    code, output = audit(str(path))
    assert code == 1 and "X-GEMINI-PAYLOAD" in output


def test_python_tags_vcrpy_writes_are_read_as_vcrpy_reads_them(audit, order):
    """Older vcrpy wrote strings as ``!!python/unicode``: replay reads them, so must the audit
    (a plain safe loader refuses the tag and would call the file unreadable)."""
    path, document = order
    text = yaml.safe_dump(document).replace("uri: ", "uri: !!python/unicode ", 1)
    path.write_text(text, encoding="utf-8")
    code, output = audit(str(path))
    assert (code, output.strip()) == (0, "0 finding(s) in 1 file(s)")
    request_of(document)["headers"]["X-MBX-APIKEY"] = ["MARKER"]
    text = yaml.safe_dump(document).replace("MARKER", "!!python/unicode CANARY-API-KEY-0000")
    path.write_text(text, encoding="utf-8")
    code, output = audit(str(path))
    assert code == 1 and "header X-MBX-APIKEY: auth header not scrubbed" in output
