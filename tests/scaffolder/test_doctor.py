"""``scaffolder doctor``: every check against the local Binance stand-in, never a secret shown."""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import brokers.registered
from brokers.rest_broker import RestBroker
from scaffolder.cli import main
from scaffolder.doctor import Redactor
from scaffolder.standin import BinanceStandIn
from scaffolder.validate import one_line

ROOT = Path(__file__).resolve().parents[2]
KEY, SECRET = "CANARY-API-KEY-0000", "CANARY-SECRET-0000"
WRONG_SECRET = "WRONG-SECRET-4242"
LINE = re.compile(r"^(ok|warn|fail) +([a-z ]+): (.+)$")
CHECKS = ["config", "broker", "credentials", "tls", "clock skew", "signed read"]


class SpotRest(RestBroker):
    """A signed-REST broker speaking the Binance-style API the stand-in serves."""

    name = "spotrest"
    base_url = "https://api.spotrest.invalid"
    testnet_url = "https://testnet.spotrest.invalid"
    key_header = "X-MBX-APIKEY"


REST_CONFIG = {
    "$schema": "../../schemas/broker-config.schema.json",
    "name": "spotrest",
    "integration": "rest",
    "type": "crypto",
    "enabled": True,
    "api_credentials": {"api_key": "${SPOTREST_API_KEY}", "api_secret": "${SPOTREST_API_SECRET}"},
    "settings": {"testnet": True, "timeout": 5000, "recv_window": 5000},
    "supported_pairs": ["BTC/USDT"],
}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project with the repository's binance config (and the REST broker's), cwd inside it."""
    (tmp_path / "templates" / "broker").mkdir(parents=True)
    (tmp_path / "templates" / "broker" / "copier.yml").write_text("")
    configs = tmp_path / "config" / "brokers"
    configs.mkdir(parents=True)
    shutil.copy(ROOT / "config" / "brokers" / "binance.json", configs / "binance.json")
    (configs / "spotrest.json").write_text(json.dumps(REST_CONFIG, indent=2))
    monkeypatch.setitem(brokers.registered.BROKERS, "spotrest", f"{__name__}:SpotRest")
    for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for prefix in ("BINANCE", "SPOTREST"):
        monkeypatch.setenv(f"{prefix}_API_KEY", KEY)
        monkeypatch.setenv(f"{prefix}_API_SECRET", SECRET)


@pytest.fixture
def standin():
    with BinanceStandIn(KEY, SECRET) as server:
        yield server


def doctor(*args: str):
    result = CliRunner().invoke(main, ["doctor", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def lines(output: str) -> dict[str, tuple[str, str]]:
    """check -> (status, detail); every line must have the ``status  check: detail`` form."""
    found = {}
    for line in output.splitlines():
        match = LINE.match(line)
        assert match, f"not a check line: {line!r}"
        found[match.group(2)] = (match.group(1), match.group(3))
    return found


def assert_no_secrets(output: str, *secrets: str) -> None:
    for secret in (KEY, SECRET, *secrets):
        assert secret not in output
    assert not re.search(r"[0-9a-f]{64}", output), "a signature was shown"


def test_all_ok_with_the_right_canary_keys(project, keys, standin):
    result = doctor("binance", "--via", standin.url)
    assert result.exit_code == 0, result.output
    checks = lines(result.output)
    assert list(checks) == CHECKS
    assert all(status == "ok" for status, _ in checks.values()), result.output
    assert checks["config"][1].startswith("config/brokers/binance.json is valid")
    assert "BINANCE_API_KEY=***************0000" in checks["credentials"][1]
    assert "BINANCE_API_SECRET set (18 characters)" in checks["credentials"][1]
    assert "testnet.binance.vision" in checks["tls"][1] and "CA certificates" in checks["tls"][1]
    assert "/api/v3/account was signed and accepted" in checks["signed read"][1]
    assert_no_secrets(result.output)


def test_a_missing_variable_is_named_and_fails(project, keys, standin, monkeypatch):
    monkeypatch.delenv("BINANCE_API_SECRET")
    result = doctor("binance", "--via", standin.url)
    assert result.exit_code == 1
    checks = lines(result.output)
    status, detail = checks["credentials"]
    assert (
        status == "fail"
        and "BINANCE_API_SECRET" in detail
        and "/api_credentials/api_secret" in detail
    )
    assert checks["clock skew"][0] == "ok"  # the server time is public
    assert checks["signed read"] == ("warn", "not tried: BINANCE_API_SECRET not set")
    assert_no_secrets(result.output)


def test_a_wrong_secret_shows_what_was_signed_with_secrets_masked(
    project, keys, standin, monkeypatch
):
    monkeypatch.setenv("BINANCE_API_SECRET", WRONG_SECRET)
    result = doctor("binance", "--via", standin.url)
    assert result.exit_code == 1
    checks = lines(result.output)
    status, detail = checks["signed read"]
    assert status == "fail" and "Signature for this request is not valid" in detail
    assert "BINANCE_API_SECRET does not belong to the key" in detail
    status, signed = checks["signed string"]
    assert status == "fail"
    canonical = re.search(r"HMAC-SHA256 of '(timestamp=\d+&recvWindow=10000)'", signed)
    assert canonical, signed
    assert "/api/v3/account?" in signed and "signature=***" in signed
    assert "X-MBX-APIKEY: ***************0000" in signed
    assert_no_secrets(result.output, WRONG_SECRET)
    # the stand-in saw that very string (plus the signature)
    account = [r for r in standin.requests if r.path == "/api/v3/account"][-1]
    assert account.params["timestamp"] in canonical.group(1)


def test_a_wrong_key_is_named_without_showing_it(project, keys, standin, monkeypatch):
    monkeypatch.setenv("BINANCE_API_KEY", "CANARY-API-KEY-9999")
    result = doctor("binance", "--via", standin.url)
    assert result.exit_code == 1
    status, detail = lines(result.output)["signed read"]
    assert status == "fail" and "does not accept the key in BINANCE_API_KEY" in detail
    assert_no_secrets(result.output, "CANARY-API-KEY-9999")
    assert "***************9999" in result.output


@pytest.mark.parametrize(
    ("offset_ms", "status", "direction", "signed"),
    [
        (5000, "warn", "behind", "ok"),  # within ccxt's recvWindow (10 s): still accepted
        (-5000, "warn", "ahead of", "fail"),  # Binance refuses timestamps 1 s ahead
        (40000, "fail", "behind", "fail"),  # beyond the recvWindow
    ],
)
def test_clock_skew_against_a_stand_in_with_a_fixed_clock(
    project, keys, monkeypatch, offset_ms, status, direction, signed
):
    # the server's clock runs offset_ms off ours (a clock frozen at the start would add the
    # doctor's own run time to the skew)
    with BinanceStandIn(KEY, SECRET, clock=lambda: int(time.time() * 1000) + offset_ms) as server:
        result = doctor("binance", "--via", server.url, "--json")
    report = json.loads(result.output)
    checks = {c["check"]: c for c in report["checks"]}
    clock = checks["clock skew"]
    assert clock["status"] == status
    assert f"s {direction} binance's server time" in clock["detail"]
    assert "local clock is" in clock["detail"] and "synchronise the clock" in clock["detail"]
    assert abs(abs(clock["data"]["skew_ms"]) - abs(offset_ms)) < 1000
    assert clock["data"]["recv_window_ms"] == 10000
    assert checks["signed read"]["status"] == signed
    if signed == "fail":
        assert "clock skew above is the likely cause" in checks["signed read"]["detail"]
    assert result.exit_code == (0 if (status, signed) == ("warn", "ok") else 1)


def test_json_output_parses(project, keys, standin):
    result = doctor("binance", "--via", standin.url, "--json")
    assert result.exit_code == 0
    report = json.loads(result.output)
    assert report["broker"] == "binance" and report["ok"] is True and report["exit_code"] == 0
    assert report["via"] == standin.url and report["config"] == "config/brokers/binance.json"
    assert [c["check"] for c in report["checks"]] == CHECKS
    assert {c["status"] for c in report["checks"]} == {"ok"}
    tls = next(c for c in report["checks"] if c["check"] == "tls")["data"]
    assert Path(tls["cafile"]).is_file() and tls["certificates"] > 0
    assert "testnet.binance.vision" in tls["https_hosts"]
    assert_no_secrets(result.output)


def test_an_invalid_config_fails_with_its_position_and_stops_there(project, keys, standin):
    path = project / "config" / "brokers" / "binance.json"
    document = json.loads(path.read_text())
    document["api_credentials"]["api_secret"] = "sk_live_a-literal-secret"
    path.write_text(json.dumps(document, indent=2))
    result = doctor("binance", "--via", standin.url)
    assert result.exit_code == 1
    checks = lines(result.output)
    status, detail = checks["config"]
    assert status == "fail"
    assert re.match(r"config/brokers/binance\.json:\d+:\d+ /api_credentials/api_secret: ", detail)
    assert checks["broker"][0] == "warn" and checks["signed read"][0] == "warn"
    assert "sk_live_a-literal-secret" not in result.output


def test_usage_errors_exit_2(project):
    assert doctor("nosuch").exit_code == 2
    assert doctor("../binance").exit_code == 2
    assert doctor("binance", "--via", "127.0.0.1:8765").exit_code == 2
    result = doctor("nosuch")
    assert result.output.startswith("error: no config for 'nosuch'")


def test_rest_broker_all_ok(project, keys, standin):
    result = doctor("spotrest", "--via", standin.url)
    assert result.exit_code == 0, result.output
    checks = lines(result.output)
    assert all(status == "ok" for status, _ in checks.values()), result.output
    assert "signed REST at " + standin.url in checks["broker"][1]
    assert "testnet.spotrest.invalid" in checks["tls"][1]
    assert_no_secrets(result.output)


def test_references_in_custom_settings_are_resolved_for_the_broker(
    project, keys, standin, monkeypatch
):
    """The doctor builds the broker with ``${VAR}`` in custom_settings resolved (the same
    substitution as the config loader): the testnet URL comes from the environment."""
    config = {**REST_CONFIG, "custom_settings": {"testnet_url": "${SPOTREST_TESTNET_URL}"}}
    (project / "config" / "brokers" / "spotrest.json").write_text(json.dumps(config))
    monkeypatch.setenv("SPOTREST_TESTNET_URL", standin.url)
    result = doctor("spotrest")
    assert result.exit_code == 0, result.output
    checks = lines(result.output)
    assert all(status == "ok" for status, _ in checks.values()), result.output
    # the balance came from the stand-in at the resolved URL, which is shown masked: every
    # value a reference resolves to is treated as a secret
    assert "was signed and accepted" in checks["signed read"][1]
    assert "signed REST at ***, testnet" in checks["broker"][1]
    assert "SPOTREST_TESTNET_URL set" in checks["credentials"][1]
    assert_no_secrets(result.output)


def test_rest_broker_wrong_secret_shows_the_signers_canonical_string(
    project, keys, standin, monkeypatch
):
    monkeypatch.setenv("SPOTREST_API_SECRET", WRONG_SECRET)
    result = doctor("spotrest", "--via", standin.url, "--json")
    assert result.exit_code == 1
    checks = {c["check"]: c for c in json.loads(result.output)["checks"]}
    assert checks["signed read"]["status"] == "fail"
    signed = checks["signed string"]
    [canonical] = signed["data"]["canonical"]
    assert re.fullmatch(r"timestamp=\d+&recvWindow=5000", canonical)
    assert f"hmac_sha256_query of '{canonical}'" in signed["detail"]
    assert signed["data"]["headers"] == {"X-MBX-APIKEY": "***************0000"}
    assert_no_secrets(result.output, WRONG_SECRET)


def test_redactor_masks_every_encoding_and_signatures():
    redact = Redactor({"api_key": "key/with+plus=", "api_secret": "s3cr3t value"})
    text = redact(
        "k=key%2Fwith%2Bplus%3D q=key%2Fwith%2Bplus%3D s=s3cr3t+value raw=s3cr3t value "
        "&signature=abcdef0123; sig=ff"
    )
    assert "key" not in text.replace("k=", "") and "s3cr3t" not in text
    assert "signature=***;" in text and "sig=***" in text
    assert one_line("a\nb\u202e\ud800") == "a\\nb\\u202e\\ud800"


def test_a_signature_header_is_never_shown(project, monkeypatch):
    """Gemini signs in headers (X-GEMINI-SIGNATURE over a base64 payload): the signed string
    shows the payload, the key masked, and the signature not at all."""
    from scaffolder.standin.gemini import CANARY_API_KEY, CANARY_SECRET, GeminiStandIn

    shutil.copy(ROOT / "config" / "brokers" / "gemini.json", project / "config" / "brokers")
    monkeypatch.setenv("GEMINI_API_KEY", CANARY_API_KEY)
    monkeypatch.setenv("GEMINI_API_SECRET", WRONG_SECRET)
    with GeminiStandIn(CANARY_API_KEY, CANARY_SECRET) as server:
        result = doctor("gemini", "--via", server.url)
    assert result.exit_code == 1, result.output
    checks = lines(result.output)
    assert checks["signed read"][0] == "fail"
    status, signed = checks["signed string"]
    assert status == "fail" and "X-GEMINI-PAYLOAD" in signed
    assert "X-GEMINI-SIGNATURE: ***" in signed
    assert not re.search(r"[0-9a-f]{32}", result.output), "a signature was shown"
    assert CANARY_SECRET not in result.output and WRONG_SECRET not in result.output
    assert CANARY_API_KEY not in result.output
