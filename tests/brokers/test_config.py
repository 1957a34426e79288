"""Loading configs: syntax, schema, environment references, and the messages a person reads."""

from __future__ import annotations

import json

import pytest

from brokers.config import build_config, load_config, schema_problems
from brokers.errors import ConfigError


def test_valid_config_loads_with_credentials_from_the_environment(
    write_config, config_doc, canary_env
):
    config = load_config(write_config(config_doc))
    assert config.name == "binance"
    assert config.credentials == {
        "api_key": "CANARY-API-KEY-0000",
        "api_secret": "CANARY-SECRET-0000",
    }
    assert config.settings.testnet is True
    assert config.settings.rate_limit == 50
    assert config.supported_pairs == ["BTC/USDT", "ETH/USDT"]
    assert config.integration == "ccxt"


def test_malformed_json_reports_file_line_and_column(write_config):
    path = write_config('{\n  "name": "binance",\n  "type": \n}')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.path == str(path)
    assert (info.value.line, info.value.column) == (4, 1)
    assert str(info.value).startswith(f"{path}:4:1")


def test_missing_file_is_a_config_error_naming_it(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "absent.json")


def test_wrong_type_names_pointer_and_expected_type(write_config, config_doc, canary_env):
    config_doc["enabled"] = "yes"
    with pytest.raises(ConfigError) as info:
        load_config(write_config(config_doc))
    assert info.value.pointer == "/enabled"
    assert "must be a boolean, got string" in info.value.message
    assert info.value.line == 5


def test_literal_secret_is_refused_without_echoing_it(write_config, config_doc):
    config_doc["api_credentials"]["api_secret"] = "sk-live-0123456789abcdef"
    with pytest.raises(ConfigError) as info:
        load_config(write_config(config_doc), resolve_env=False)
    assert info.value.pointer == "/api_credentials/api_secret"
    assert "${BINANCE_API_SECRET}" in str(info.value)
    assert "sk-live" not in str(info.value)


def test_missing_environment_variable_is_named(write_config, config_doc, monkeypatch):
    monkeypatch.delenv("TESTEX_API_KEY", raising=False)
    monkeypatch.setenv("TESTEX_API_SECRET", "CANARY-SECRET-0000")
    with pytest.raises(ConfigError) as info:
        load_config(write_config(config_doc))
    assert "TESTEX_API_KEY is not set" in info.value.message
    assert info.value.pointer == "/api_credentials/api_key"


def test_empty_environment_variable_is_reported_as_empty(
    write_config, config_doc, canary_env, monkeypatch
):
    monkeypatch.setenv("TESTEX_API_KEY", "")
    with pytest.raises(ConfigError, match="TESTEX_API_KEY is empty"):
        load_config(write_config(config_doc))


def test_validate_only_does_not_need_the_environment(write_config, config_doc, monkeypatch):
    monkeypatch.delenv("TESTEX_API_KEY", raising=False)
    config = load_config(write_config(config_doc), resolve_env=False)
    assert config.credentials["api_key"] == "${TESTEX_API_KEY}"


def test_unknown_key_suggests_the_close_one(config_doc):
    config_doc["settings"]["rate_limt"] = 50
    [problem] = schema_problems(config_doc)
    assert problem.pointer == "/settings/rate_limt"
    assert "did you mean 'rate_limit'" in problem.message


@pytest.mark.parametrize(
    ("mutate", "pointer", "fragment"),
    [
        (lambda d: d["settings"].update(timeout=999), "/settings/timeout", "at least 1000"),
        (lambda d: d["settings"].update(timeout=120001), "/settings/timeout", "at most 120000"),
        (
            lambda d: d.update(supported_pairs=["BTC/USDT", "BTC/USDT"]),
            "/supported_pairs",
            "more than once",
        ),
        (
            lambda d: d.update(supported_pairs=["btcusdt"]),
            "/supported_pairs/0",
            "not a unified symbol",
        ),
        (lambda d: d.update(supported_pairs=[]), "/supported_pairs", "at least 1"),
        (
            lambda d: d["trading_settings"].update(max_slippage=1.5),
            "/trading_settings/max_slippage",
            "at most 1",
        ),
        (
            lambda d: d["trading_settings"].update(time_in_force="GTX"),
            "/trading_settings/time_in_force",
            "must be one of",
        ),
        (lambda d: d.update(type="crypt"), "/type", "must be one of"),
        (lambda d: d.pop("settings"), "", "missing required key 'settings'"),
        (lambda d: d.update(name="Bin-ance"), "/name", "not a valid broker name"),
        (
            lambda d: d["risk_management"].update(max_leverage=500),
            "/risk_management/max_leverage",
            "at most 125",
        ),
        (
            lambda d: d["api_credentials"].update(api_token="${X}"),
            "/api_credentials/api_token",
            "unknown key",
        ),
    ],
)
def test_schema_errors_name_pointer_and_rule(config_doc, mutate, pointer, fragment):
    mutate(config_doc)
    problems = schema_problems(config_doc)
    assert any(p.pointer == pointer and fragment in p.message for p in problems), problems


def test_derivative_symbols_are_accepted(config_doc):
    config_doc["supported_pairs"] = ["BTC/USDT:USDT", "ETH/USD:ETH"]
    assert schema_problems(config_doc) == []


def test_build_config_reports_how_many_more_problems(config_doc):
    config_doc["enabled"] = 1
    config_doc["type"] = "x"
    with pytest.raises(ConfigError, match=r"and 1 more problem"):
        build_config(config_doc, resolve_env=False)


def test_retry_settings_become_the_policy(config_doc, canary_env):
    config_doc["settings"]["retry"] = {"max_attempts": 2, "base_delay_ms": 10, "max_delay_ms": 100}
    config = build_config(config_doc)
    assert config.settings.retry.max_attempts == 2
    assert config.settings.retry.base_delay == pytest.approx(0.01)
    assert config.settings.retry.max_delay == pytest.approx(0.1)


def test_shipped_configs_are_valid():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "config" / "brokers"
    for path in root.glob("*.json"):
        document = json.loads(path.read_text())
        assert schema_problems(document) == [], path


def test_every_unknown_key_is_reported_at_its_own_line(write_config, config_doc):
    config_doc["settings"]["testnett"] = True
    config_doc["settings"]["time_out"] = 5000
    config_doc["colour"] = "blue"
    path = write_config(config_doc)
    text = path.read_text(encoding="utf-8")
    problems = schema_problems(json.loads(text), text)
    assert [(p.pointer, p.rule) for p in problems] == [
        ("/settings/testnett", "additionalProperties"),
        ("/settings/time_out", "additionalProperties"),
        ("/colour", "additionalProperties"),
    ]
    assert "did you mean 'testnet'?" in problems[0].message
    assert "did you mean 'timeout'?" in problems[1].message
    lines = text.splitlines()
    for problem in problems:
        key = problem.pointer.rsplit("/", 1)[1]
        assert f'"{key}"' in lines[problem.line - 1]


def test_a_config_over_the_size_limit_is_refused_before_it_is_read(write_config, config_doc):
    from brokers.config import MAX_CONFIG_BYTES

    config_doc["description"] = "x" * MAX_CONFIG_BYTES
    path = write_config(config_doc)
    with pytest.raises(ConfigError) as info:
        load_config(path, resolve_env=False)
    assert info.value.path == str(path)
    assert f"at most {MAX_CONFIG_BYTES} bytes" in info.value.message
    assert str(path.stat().st_size) in info.value.message


def test_substitution_resolves_every_reference_but_keeps_schema_links_as_written():
    """One substitution for the loader and ``scaffolder doctor``: ``${VAR}`` anywhere, an
    unset variable as "", and a ``$schema`` key's value (at any depth) left alone."""
    from brokers.config import substitute

    env = {"HOST": "127.0.0.1", "PORT": "9"}
    document = {
        "$schema": "${HOST}.json",
        "custom": {"url": "http://${HOST}:${PORT}/", "$schema": "${PORT}", "unset": "${NOPE}"},
        "list": ["${PORT}", 1, None, {"$schema": "${HOST}"}],
    }
    assert substitute(document, env) == {
        "$schema": "${HOST}.json",
        "custom": {"url": "http://127.0.0.1:9/", "$schema": "${PORT}", "unset": ""},
        "list": ["9", 1, None, {"$schema": "${HOST}"}],
    }
    assert substitute("${HOST}", env) == "127.0.0.1"


@pytest.mark.parametrize("newline", ["\r\n", "\r"], ids=["crlf", "cr"])
def test_a_file_with_other_newlines_reads_as_text_mode_would(tmp_path, config_doc, newline):
    """The file is read as bytes and decoded at once; its newlines still become ``\\n``, so
    lines and columns are those of the same file saved with ``\\n``."""
    from brokers.config import read_document, schema_problems

    config_doc["settings"]["testnett"] = True
    text = json.dumps(config_doc, indent=2) + "\n"
    plain, other = tmp_path / "plain.json", tmp_path / "other.json"
    plain.write_bytes(text.encode("utf-8"))
    other.write_bytes(text.replace("\n", newline).encode("utf-8"))
    assert read_document(other) == read_document(plain)
    located = [
        schema_problems(doc, txt) for txt, doc in (read_document(plain), read_document(other))
    ]
    assert located[0] == located[1] and located[0][0].line > 1


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b'{"name": "\xff"}', "invalid start byte"), (b'{"name": "\xc3', "unexpected end of data")],
)
def test_a_file_that_is_not_utf8_is_refused_with_the_reason(tmp_path, data, reason):
    from brokers.config import read_document

    path = tmp_path / "bad.json"
    path.write_bytes(data)
    with pytest.raises(ConfigError) as info:
        read_document(path)
    assert info.value.message == f"not UTF-8 text ({reason})"


def test_a_directory_is_refused_as_unreadable(tmp_path):
    from brokers.config import read_document

    with pytest.raises(ConfigError) as info:
        read_document(tmp_path)
    assert info.value.message.startswith("cannot read file: ")
