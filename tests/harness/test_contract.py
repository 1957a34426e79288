"""BrokerContract (scaffolder/harness/contract.py) builds a broker only for a test that uses it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from brokers.errors import OrderNotFoundError
from scaffolder.harness.contract import BrokerContract


class Contract(BrokerContract):
    broker_name = "binance"


class UnknownOrderBroker:
    """Answers every order look-up and cancel as the exchange does for an unknown order."""

    def get_order(self, **kwargs):
        raise OrderNotFoundError("unknown order")

    cancel_order = get_order


@pytest.mark.parametrize(
    ("test", "call"),
    [
        ("test_get_unknown_order_raises_order_not_found", "get_order_unknown"),
        ("test_cancel_unknown_order_raises_order_not_found", "cancel_order_unknown"),
    ],
)
def test_an_unknown_order_test_asks_for_the_broker_only_when_the_scenario_has_the_call(test, call):
    asked: list[str] = []

    def getfixturevalue(name: str) -> UnknownOrderBroker:
        asked.append(name)
        return UnknownOrderBroker()

    request = SimpleNamespace(getfixturevalue=getfixturevalue)
    with pytest.raises(pytest.skip.Exception, match="no error response was recorded"):
        getattr(Contract(), test)(request, {"calls": {}})
    assert asked == []
    getattr(Contract(), test)(request, {"calls": {call: {"kwargs": {"order_id": "1"}}}})
    assert asked == ["broker"]
