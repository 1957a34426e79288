"""Tests of the Coinbase Advanced broker: the shared contract on its cassettes, and its own checks."""

from __future__ import annotations

from brokers.coinbase import CoinbaseBroker
from brokers.config import CCXT_CREDENTIALS
from brokers.registry import broker_class
from scaffolder.harness.contract import BrokerContract


class TestCoinbaseBrokerContract(BrokerContract):
    """Every BaseBroker method, its return shape and its errors, replayed from cassettes/coinbase/."""

    broker_name = "coinbase"


def test_coinbase_is_registered():
    assert broker_class("coinbase") is CoinbaseBroker


def test_coinbase_config_validates(broker_config):
    config = broker_config("coinbase")
    assert config.name == "coinbase"
    assert config.settings.testnet is False


def test_coinbase_credentials_reach_the_client(broker_config):
    config = broker_config("coinbase")
    broker = CoinbaseBroker(config)
    for ours, value in config.credentials.items():
        assert getattr(broker.exchange, CCXT_CREDENTIALS[ours]) == value


def test_coinbase_uses_the_live_api(broker_config):
    broker = CoinbaseBroker(broker_config("coinbase"))
    assert not broker.exchange.isSandboxModeEnabled
