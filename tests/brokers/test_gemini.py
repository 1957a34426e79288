"""Tests of the Gemini broker: the shared contract on its cassettes, and its own checks."""

from __future__ import annotations

from brokers.config import CCXT_CREDENTIALS
from brokers.gemini import GeminiBroker
from brokers.registry import broker_class
from scaffolder.harness.contract import BrokerContract


class TestGeminiBrokerContract(BrokerContract):
    """Every BaseBroker method, its return shape and its errors, replayed from cassettes/gemini/."""

    broker_name = "gemini"


def test_gemini_is_registered():
    assert broker_class("gemini") is GeminiBroker


def test_gemini_config_validates(broker_config):
    config = broker_config("gemini")
    assert config.name == "gemini"
    assert config.settings.testnet is True


def test_gemini_credentials_reach_the_client(broker_config):
    config = broker_config("gemini")
    broker = GeminiBroker(config)
    for ours, value in config.credentials.items():
        assert getattr(broker.exchange, CCXT_CREDENTIALS[ours]) == value


def test_gemini_uses_the_sandbox(broker_config):
    broker = GeminiBroker(broker_config("gemini"))
    assert broker.exchange.isSandboxModeEnabled
