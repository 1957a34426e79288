"""Tests of the Binance broker: the shared contract on its cassettes, and its own checks."""

from __future__ import annotations

from brokers.binance import BinanceBroker
from brokers.config import CCXT_CREDENTIALS
from brokers.registry import broker_class
from scaffolder.harness.contract import BrokerContract


class TestBinanceBrokerContract(BrokerContract):
    """Every BaseBroker method, its return shape and its errors, replayed from cassettes/binance/."""

    broker_name = "binance"


def test_binance_is_registered():
    assert broker_class("binance") is BinanceBroker


def test_binance_config_validates(broker_config):
    config = broker_config("binance")
    assert config.name == "binance"
    assert config.settings.testnet is True


def test_binance_credentials_reach_the_client(broker_config):
    config = broker_config("binance")
    broker = BinanceBroker(config)
    for ours, value in config.credentials.items():
        assert getattr(broker.exchange, CCXT_CREDENTIALS[ours]) == value


def test_binance_uses_the_sandbox(broker_config):
    broker = BinanceBroker(broker_config("binance"))
    assert broker.exchange.isSandboxModeEnabled
