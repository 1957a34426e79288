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


class _CountedRisk(dict):
    """A risk_management section that counts how often a limit is read."""

    reads = 0

    def get(self, key, default=None):
        type(self).reads += 1
        return super().get(key, default)


def test_max_position_size_is_read_once_not_on_every_order():
    from decimal import Decimal

    from brokers.order_checks import OrderLimits

    limits = OrderLimits({}, _CountedRisk(max_position_size=1000))
    assert [limits.max_position() for _ in range(3)] == [Decimal(1000)] * 3
    assert _CountedRisk.reads == 1
