"""The config's order limits are read once per config, and a replaced config applies at once."""

from __future__ import annotations

import pytest

from brokers.order_checks import PreTradeLimitError
from tests.brokers.id_only import IdOnlyBroker, id_only_config


def test_the_limits_are_read_once_per_config_and_a_new_config_applies_to_the_next_order():
    broker = IdOnlyBroker(id_only_config(risk_management={"max_position_size": 100}))
    broker.connect()
    with pytest.raises(PreTradeLimitError, match="max_position_size"):
        broker.create_order("BTC/USDT", "limit", "buy", 1, price=1000)
    assert broker._order_limits() is broker._order_limits()

    broker.config = id_only_config()  # the same broker, a config without the limit
    broker.create_order("BTC/USDT", "limit", "buy", 1, price=1000)
    assert [order.amount for order in broker.sent] == [1]
