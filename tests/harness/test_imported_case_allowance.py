"""What ``for_imported_case`` allows a broker replaying one of ccxt's recorded cases.

The config's risk limits are lifted (they are the user's policy, proven by their own contract
test); futures trading is allowed only where the case trades a derivative market, so a spot
case still meets the config's trading settings as they are.
"""

from __future__ import annotations

import pytest

from brokers.order_checks import PreTradeLimitError
from scaffolder.harness.session import for_imported_case
from tests.brokers.id_only import IdOnlyBroker, id_only_config

PAIRS = ("BTC/USDT", "BTC/USDT:USDT", "ETH/USDT:USDT-240329")
KINDS = {"BTC/USDT:USDT": "swap", "ETH/USDT:USDT-240329": "future"}


def _broker(**sections: object) -> IdOnlyBroker:
    trading = {"default_order_type": "limit", "futures_enabled": False}
    config = id_only_config(PAIRS, trading_settings=trading, **sections)
    broker = IdOnlyBroker(config, kinds=KINDS)
    broker.connect()
    return broker


@pytest.mark.parametrize("symbol", sorted(KINDS))
def test_a_derivative_case_may_trade_its_market(symbol: str) -> None:
    broker = _broker()
    with pytest.raises(PreTradeLimitError, match="futures_enabled"):
        broker.create_order(symbol, "limit", "buy", "1", "100")
    assert for_imported_case(broker, symbol) is broker
    assert broker.config.trading["futures_enabled"] is True
    assert broker.config.trading["default_order_type"] == "limit"  # the rest as configured
    order = broker.create_order(symbol, "limit", "buy", "1", "100")
    assert order["id"] == "answer-1" and [o.symbol for o in broker.sent] == [symbol]


@pytest.mark.parametrize("symbol", ["BTC/USDT", None])
def test_a_spot_case_or_none_leaves_futures_as_configured(symbol: str | None) -> None:
    broker = _broker()
    for_imported_case(broker, symbol)
    assert broker.config.trading["futures_enabled"] is False
    with pytest.raises(PreTradeLimitError, match="futures_enabled"):
        broker.create_order("BTC/USDT:USDT", "limit", "buy", "1", "100")
    assert broker.sent == []


def test_risk_limits_are_lifted_with_or_without_a_symbol() -> None:
    for symbol in (None, "BTC/USDT", "BTC/USDT:USDT"):
        broker = _broker(risk_management={"max_position_size": 10})
        with pytest.raises(PreTradeLimitError):
            broker.create_order("BTC/USDT", "limit", "buy", "1", "100")  # 100 > 10 quote
        for_imported_case(broker, symbol)
        assert broker.config.risk == {}
        assert broker.create_order("BTC/USDT", "limit", "buy", "1", "100")["id"] == "answer-1"
