"""One module decides what a secret looks like and how it is masked (issue 16 item 11, issue 15
item 2); the same canaries go through every path that shows or writes text: the runtime's
errors, the retry log, the CLI's stderr, doctor's redactor, config error wording and the
cassette scrubber.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import shutil
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
import requests
from click.testing import CliRunner
from vcr.request import Request

from brokers.config import load_config
from brokers.errors import BrokerError, ConfigError, map_exception
from brokers.redaction import Redactor, encoded_forms, redact
from brokers.retry import RetryPolicy, call_with_retry
from scaffolder.cli import main
from scaffolder.doctor import Redactor as DoctorRedactor
from scaffolder.harness.scrub import MASK, Scrubber

ROOT = Path(__file__).resolve().parents[2]
SIGNATURE = "5f3a" * 16
SIGNED_URL = (
    f"https://api.example.com/api/v3/order?symbol=BTCUSDT&timestamp=1&signature={SIGNATURE}"
)
PASSWORD = "CANARY-PROXY-PASS-0000"
PROXY = f"http://user:{PASSWORD}@127.0.0.1:9"
KEY = "CANARY/REDACT+KEY=0000"
#: How the key may be spelled in a message or a request.
KEY_FORMS = {
    "raw": KEY,
    "url": quote(KEY, safe=""),
    "url-lowercase": re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(KEY, safe="")),
    "form": quote_plus(KEY),
    "hex": KEY.encode().hex(),
    "base64": base64.b64encode(KEY.encode()).decode(),
}
LEAKS = (SIGNATURE, PASSWORD)


def assert_clean(text: str) -> None:
    for leak in LEAKS:
        assert leak not in text, f"{leak!r} shown in {text!r}"


def foreign_error() -> requests.ConnectionError:
    return requests.ConnectionError(f"Max retries exceeded with url: {SIGNED_URL} (proxy {PROXY})")


def test_every_form_of_a_known_value_is_listed():
    forms = encoded_forms(KEY)
    for spelling in ("raw", "url", "form", "hex"):
        assert KEY_FORMS[spelling] in forms, spelling
    assert any(form in KEY_FORMS["base64"] for form in forms)
    assert KEY_FORMS["url-lowercase"] in forms


def test_a_signed_url_and_a_proxy_password_are_masked_without_knowing_them():
    shown = redact(f"GET {SIGNED_URL} via {PROXY}; hmac={SIGNATURE}&AccessKeyId=AKIDCANARY00")
    assert_clean(shown)
    assert "AKIDCANARY00" not in shown
    assert "symbol=BTCUSDT" in shown and "http://user:***@127.0.0.1:9" in shown


def test_runtime_errors_mask_what_a_foreign_exception_said():
    error = map_exception(foreign_error(), broker="binance")
    assert isinstance(error, BrokerError)
    assert_clean(str(error))
    assert_clean(str(ConfigError(f"cannot reach {PROXY}", path="x.json")))


def retried_once(failure: Exception, describe: str) -> str:
    """A call that fails with ``failure`` once, through the retry loop (which logs it)."""
    attempts = iter([failure, None])

    def flaky() -> str:
        failed = next(attempts)
        if failed is not None:
            raise failed
        return "ok"

    return call_with_retry(
        flaky,
        policy=RetryPolicy(base_delay=0, max_delay=0),
        describe=describe,
        sleep=lambda seconds: None,
    )


def test_the_retry_log_masks_signed_urls_and_proxy_passwords(caplog):
    with caplog.at_level(logging.WARNING, logger="brokers.retry"):
        assert retried_once(foreign_error(), f"GET {SIGNED_URL}") == "ok"
    assert caplog.records, "the retry was logged"
    for record in caplog.records:
        assert_clean(record.getMessage())


@pytest.mark.parametrize("redactor", [Redactor, DoctorRedactor])
def test_doctor_and_the_shared_redactor_mask_every_form_of_a_credential(redactor):
    redact_text = redactor({"api_secret": KEY})
    for spelling, form in KEY_FORMS.items():
        shown = redact_text(f"signed with {form} at {SIGNED_URL} via {PROXY}")
        assert form not in shown, spelling
        assert_clean(shown)


def test_the_scrubber_masks_every_form_of_a_credential_and_the_signature():
    for spelling, form in KEY_FORMS.items():
        request = Request(
            "GET", f"{SIGNED_URL}&note={quote(form, safe='')}", None, {"X-Note": form}
        )
        Scrubber(None, [KEY]).request(request)
        text = request.uri + json.dumps(dict(request.headers))
        assert form not in text and quote(form, safe="") not in text, spelling
        assert SIGNATURE not in text
        assert request.headers["X-Note"].startswith(MASK)


def test_config_errors_never_word_a_literal_secret(tmp_path):
    document = json.loads((ROOT / "config" / "brokers" / "binance.json").read_text("utf-8"))
    document.pop("$schema", None)
    document["api_credentials"]["api_secret"] = KEY
    path = tmp_path / "binance.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, resolve_env=False)
    for form in KEY_FORMS.values():
        assert form not in str(info.value)


def test_record_via_a_proxy_with_a_password_never_prints_it(tmp_path, monkeypatch):
    (tmp_path / "config" / "brokers").mkdir(parents=True)
    shutil.copy(ROOT / "config" / "brokers" / "binance.json", tmp_path / "config" / "brokers")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BINANCE_API_KEY", "CANARY-K-0000")
    monkeypatch.setenv("BINANCE_API_SECRET", "CANARY-S-0000")
    result = CliRunner().invoke(main, ["record", "binance", "--via", PROXY])
    assert result.exit_code == 1, result.output
    assert "via http://user:***@127.0.0.1:9" in result.output
    assert_clean(result.output)


@pytest.mark.parametrize("as_json", [[], ["--json"]], ids=["text", "json"])
def test_doctor_via_a_proxy_with_a_password_never_prints_it(tmp_path, monkeypatch, as_json):
    (tmp_path / "config" / "brokers").mkdir(parents=True)
    shutil.copy(ROOT / "config" / "brokers" / "binance.json", tmp_path / "config" / "brokers")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BINANCE_API_KEY", "CANARY-K-0000")
    monkeypatch.setenv("BINANCE_API_SECRET", "CANARY-S-0000")
    result = CliRunner().invoke(main, ["doctor", "binance", "--via", PROXY, *as_json])
    assert "http://user:***@127.0.0.1:9" in result.output, result.output
    assert_clean(result.output)


#: Obvious canaries: plain, with characters that URL-encoding changes, with a space and "&".
CANARIES = ("CANARY-SECRET-123", "CANARY/SECRET+456=", "CANARY secret&789")


def spellings(value: str) -> dict[str, str]:
    """The forms a secret may take in text, written out here (not asked of brokers.redaction)."""
    url = quote(value, safe="")
    b64 = base64.b64encode(value.encode()).decode()
    return {
        "raw": value,
        "url": url,
        "url-lowercase": re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), url),
        "form": quote_plus(value),
        "hex": value.encode().hex(),
        "HEX": value.encode().hex().upper(),
        "base64": b64,
        "base64-urlsafe": b64.translate(str.maketrans("+/", "-_")),
        "base64-unpadded": b64.rstrip("="),
    }


def assert_no_canary(text: str, where: str) -> None:
    for canary in CANARIES:
        for spelling, form in spellings(canary).items():
            assert form not in text, (
                f"{where}: the {spelling} form of {canary!r} survived: {text!r}"
            )


@pytest.mark.parametrize("canary", CANARIES)
def test_the_same_canaries_leave_no_form_in_any_path(canary, tmp_path, monkeypatch, caplog):
    """Scrubber, doctor's redactor, config error wording and the log, one canary at a time:
    every spelling of it goes in, none comes out."""
    forms = spellings(canary)
    mentions = " | ".join(f"{name}: {form}" for name, form in forms.items())
    # the cassette scrubber: URL, headers, a JSON body and a response
    request = Request(
        "POST",
        "https://api.example.com/v1/order?"
        + "&".join(f"n{i}={quote(form, safe='')}" for i, form in enumerate(forms.values())),
        json.dumps({"note": mentions, **{name: form for name, form in forms.items()}}),
        {f"X-Note-{name}": form for name, form in forms.items()},
    )
    scrubber = Scrubber(None, [canary])
    scrubber.request(request)
    response = scrubber.response(
        {"headers": {"X-Echo": [mentions]}, "body": {"string": mentions.encode()}}
    )
    assert_no_canary(
        request.uri + request.body.decode() + json.dumps(dict(request.headers)), "scrubbed request"
    )
    assert_no_canary(
        json.dumps(response["headers"]) + response["body"]["string"].decode(), "response"
    )
    # doctor's redactor
    assert_no_canary(DoctorRedactor({"api_secret": canary})(mentions), "doctor")
    # config error wording: each spelling written as a literal secret
    document = json.loads((ROOT / "config" / "brokers" / "binance.json").read_text("utf-8"))
    document.pop("$schema", None)
    for name, form in forms.items():
        document["api_credentials"]["api_secret"] = form
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(document), encoding="utf-8")
        with pytest.raises(ConfigError) as info:
            load_config(path)
        assert_no_canary(str(info.value), f"config error ({name})")
    # the log: a broker's credentials loaded, then a retried failure quoting every spelling
    config = ROOT / "config" / "brokers" / "binance.json"
    monkeypatch.setenv("BINANCE_API_KEY", "CANARY-LOG-KEY-0000")
    monkeypatch.setenv("BINANCE_API_SECRET", canary)
    assert load_config(config).credentials["api_secret"] == canary
    with caplog.at_level(logging.WARNING, logger="brokers.retry"):
        retried_once(requests.ConnectionError(f"refused ({mentions})"), f"GET /b ({mentions})")
    assert caplog.records, "the retry was logged"
    for record in caplog.records:
        assert_no_canary(record.getMessage(), "log")
    assert_no_canary(str(map_exception(RuntimeError(mentions), broker="binance")), "error")


def test_a_signature_is_told_by_its_spelling():
    from brokers.redaction import signature_like

    assert signature_like(SIGNATURE) and signature_like(base64.b64encode(b"C" * 32).decode())
    assert (
        not signature_like("5f3a" * 9) and not signature_like("BTCUSDT") and not signature_like("")
    )
