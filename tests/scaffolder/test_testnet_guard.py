"""A "testnet" config that points at the live exchange: ``record`` refuses it, ``doctor`` sends
no key there, ``validate`` warns. Judged by the URLs actually used, not by ``settings.testnet``.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

import brokers.registered
from brokers.rest_broker import RestBroker
from scaffolder import testnet_guard
from scaffolder.cli import main
from scaffolder.errors import UsageError
from scaffolder.harness.record import record
from scaffolder.standin import BinanceStandIn

ROOT = Path(__file__).resolve().parents[2]
ENV = {"BINANCE_API_KEY": "CANARY-API-KEY-0000", "BINANCE_API_SECRET": "CANARY-SECRET-0000"}
MAINNET = "https://api.binance.com/api/v3"


class GuardRest(RestBroker):
    """A REST broker as the template renders one: answered live and testnet URLs."""

    name = "guardrest"
    base_url = "https://api.guardrest.invalid"
    testnet_url = "https://testnet.guardrest.invalid"


def project(tmp_path: Path, custom: dict, *, name: str = "binance") -> Path:
    """A project holding the binance config with ``custom_settings`` replaced."""
    (tmp_path / "templates" / "broker").mkdir(parents=True)
    (tmp_path / "templates" / "broker" / "copier.yml").write_text("")
    configs = tmp_path / "config" / "brokers"
    configs.mkdir(parents=True)
    (tmp_path / "cassettes").mkdir()
    config = json.loads((ROOT / "config" / "brokers" / "binance.json").read_text())
    config.pop("$schema")
    config["custom_settings"] = custom
    if name != "binance":
        config.update(name=name, integration="rest")
        config["api_credentials"] = {"api_key": "${BINANCE_API_KEY}"}
        config["allowed_env"] = ["BINANCE_API_KEY"]  # the canary key, shared on purpose
    (configs / f"{name}.json").write_text(json.dumps(config, indent=2))
    return tmp_path


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """Every outgoing connection attempt, refused and remembered."""
    attempts: list[tuple] = []

    def refuse(address, *args, **kwargs):
        attempts.append(address)
        raise OSError("the test forbids connections")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)  # what urllib3 calls first
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    return attempts


@pytest.mark.parametrize(
    "custom",
    [
        {"urls": {"public": MAINNET, "private": MAINNET}},
        {"urls": {"private": MAINNET}},
        {"urls": {"public": "https://testnet.binance.vision.evil.example/api/v3"}},
    ],
    ids=["both", "private-only", "lookalike-host"],
)
def test_record_refuses_a_testnet_config_whose_urls_are_the_live_exchange(
    tmp_path, no_network, custom
):
    root = project(tmp_path, custom)
    with pytest.raises(UsageError, match="--allow-mainnet") as refused:
        record("binance", root, replay=False)
    assert "not a testnet host" in str(refused.value)
    assert no_network == [], "nothing may be sent before the refusal"
    assert not any((root / "cassettes").iterdir())


def test_record_cli_refuses_with_exit_2_and_one_line(tmp_path, no_network, monkeypatch):
    monkeypatch.chdir(project(tmp_path, {"urls": {"public": MAINNET, "private": MAINNET}}))
    result = CliRunner().invoke(main, ["record", "binance", "--no-replay"])
    assert result.exit_code == 2, result.output
    assert "api.binance.com" in result.output and "Traceback" not in result.output
    assert no_network == []


@pytest.mark.parametrize("via", ["https://api.binance.com", "http://10.0.0.7:8080"])
def test_record_refuses_a_via_that_is_not_the_testnet_or_this_machine(tmp_path, no_network, via):
    with pytest.raises(UsageError, match="--allow-mainnet"):
        record("binance", project(tmp_path, {}), via=via, replay=False)
    assert no_network == []


def test_record_of_a_rest_broker_judges_its_testnet_url_against_the_answered_one(
    tmp_path, no_network, monkeypatch
):
    monkeypatch.setitem(brokers.registered.BROKERS, "guardrest", f"{__name__}:GuardRest")
    root = project(tmp_path, {"testnet_url": GuardRest.base_url}, name="guardrest")
    with pytest.raises(UsageError, match=r"api\.guardrest\.invalid"):
        record("guardrest", root, replay=False)
    assert no_network == []


def test_loopback_urls_and_the_real_testnet_are_accepted():
    hosts = {"testnet.binance.vision"}
    urls = [
        "https://testnet.binance.vision/api/v3",
        "http://127.0.0.1:8765/api/v3",
        "http://[::1]:1/x",
        "http://localhost:1",
    ]
    assert testnet_guard.off_testnet(urls, hosts) == []
    assert testnet_guard.off_testnet(["http:///nohost", MAINNET], hosts) == [
        "http:///nohost",
        MAINNET,
    ]


def test_a_testnet_config_pointed_at_the_local_standin_still_records(tmp_path, monkeypatch):
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    with BinanceStandIn(*ENV.values()) as standin:
        root = project(tmp_path, {"urls": standin.ccxt_api_urls()})
        report = record("binance", root, replay=False)
    assert "create_order" in report.calls


def test_doctor_sends_no_key_to_the_live_exchange_of_a_testnet_config(
    tmp_path, no_network, monkeypatch
):
    monkeypatch.chdir(project(tmp_path, {"urls": {"public": MAINNET, "private": MAINNET}}))
    result = CliRunner().invoke(main, ["doctor", "binance"])
    assert result.exit_code == 1, result.output
    lines = dict(line.split(":", 1) for line in result.output.splitlines())
    assert lines["fail  broker"].strip().startswith("binance's config says testnet")
    assert "not tried" in lines["warn  signed read"]
    assert no_network == []


def test_validate_warns_about_the_same_config_and_exits_0(tmp_path):
    root = project(tmp_path, {"urls": {"public": MAINNET, "private": MAINNET}})
    config = root / "config" / "brokers" / "binance.json"
    result = CliRunner().invoke(main, ["validate", str(config)])
    assert result.exit_code == 0, result.output
    [warning] = [line for line in result.output.splitlines() if "warning:" in line]
    assert "/custom_settings/urls" in warning and "api.binance.com" in warning
    as_json = CliRunner().invoke(main, ["validate", str(config), "--format", "json"])
    assert as_json.exit_code == 0
    assert [w["rule"] for w in json.loads(as_json.output)["warnings"]] == ["testnet-urls"]


def test_validate_does_not_warn_about_the_committed_configs():
    result = CliRunner().invoke(main, ["validate", str(ROOT / "config" / "brokers")])
    assert result.exit_code == 0 and "warning:" not in result.output


def test_validate_warns_about_a_rest_testnet_url_off_the_answered_testnet(tmp_path):
    root = project(tmp_path, {"testnet_url": GuardRest.base_url}, name="guardrest")
    answers = root / "brokers" / "guardrest" / ".copier-answers.yml"
    answers.parent.mkdir(parents=True)
    answers.write_text(f"testnet_url: {GuardRest.testnet_url}\n")
    result = CliRunner().invoke(main, ["validate", str(root / "config" / "brokers")])
    assert result.exit_code == 0, result.output
    assert "/custom_settings/testnet_url" in result.output and "warning:" in result.output


def test_allow_mainnet_is_the_explicit_way_through(tmp_path, no_network):
    root = project(tmp_path, {"urls": {"public": MAINNET, "private": MAINNET}})
    with pytest.raises(Exception) as failure:  # it goes on, and meets the forbidden network
        record("binance", root, allow_mainnet=True, replay=False)
    assert not isinstance(failure.value, UsageError)
    assert no_network, "with --allow-mainnet the recording went ahead"
