"""Tests of the Coinbase Advanced broker: the shared contract on its cassettes, and its own checks."""

from __future__ import annotations

from brokers.coinbase import CoinbaseBroker
from brokers.config import CCXT_CREDENTIALS
from brokers.registry import broker_class
from scaffolder.harness.contract import BrokerContract


class TestCoinbaseBrokerContract(BrokerContract):
    """Every BaseBroker method, its return shape and its errors, replayed from cassettes/coinbase/."""

    broker_name = "coinbase"
    # Coinbase answers these as the cassettes hold (recorded against the stand-in); the broker
    # does not turn the answers into the contract's results yet.
    known_defects = {
        "test_cancel_order": (
            "Coinbase's batch_cancel answers {success, failure_reason, order_id} only: ccxt's "
            "order has no side, and the broker returns it as it is"
        ),
        "test_get_unknown_order_raises_order_not_found": (
            'Coinbase answers {"error": "unknown", "message": "order with this orderID was not '
            'found"}: ccxt raises a bare ExchangeError, the broker maps it to ExchangeError'
        ),
        "test_cancel_unknown_order_raises_order_not_found": (
            "Coinbase answers success false, UNKNOWN_CANCEL_ORDER: ccxt raises BadRequest, the "
            "broker maps it to InvalidRequestError"
        ),
    }


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
