"""A new order's answer is completed from what was sent (``brokers.base._as_sent``).

Many exchanges answer an order with its id alone; :meth:`BaseBroker.create_order` fills in
symbol, type, side, client order id, amount and price from the checked request, and never
overrides what the exchange did say.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from brokers.base import _as_sent
from brokers.order_checks import OrderRequest
from tests.brokers.id_only import IdOnlyBroker, id_only_config

LIMIT = OrderRequest("BTC/USDT", "limit", "buy", Decimal("0.5"), Decimal("30000.1"), {}, "cid-1")
MARKET = OrderRequest("BTC/USDT", "market", "sell", Decimal("2"), None, {}, None)


def test_an_answer_with_the_id_alone_gets_what_was_sent() -> None:
    order = _as_sent({"id": "42"}, LIMIT)  # type: ignore[typeddict-item]
    assert order == {
        "id": "42", "symbol": "BTC/USDT", "type": "limit", "side": "buy",
        "client_order_id": "cid-1", "amount": 0.5, "price": 30000.1,
    }  # fmt: skip


def test_what_the_exchange_said_is_kept() -> None:
    answer: Any = {
        "id": "42", "symbol": "BTC/USDT", "type": "limit", "side": "buy", "amount": 0.25,
        "price": 30001.0, "client_order_id": "exchange-cid", "status": "open",
    }  # fmt: skip
    order = _as_sent(answer, LIMIT)
    assert order == answer
    assert order is answer  # nothing missing: the answer itself


@pytest.mark.parametrize("blank", [None, ""])
def test_a_blank_field_counts_as_missing(blank: Any) -> None:
    answer: Any = {"id": "42", "side": blank, "type": blank, "amount": None, "price": None}
    order = _as_sent(answer, LIMIT)
    assert (order["side"], order["type"], order["amount"], order["price"]) == (
        "buy",
        "limit",
        0.5,
        30000.1,
    )
    assert answer["side"] == blank  # the broker's own dict is not changed


def test_nothing_sent_is_nothing_filled() -> None:
    """A market order has no price and here no client order id: they stay as answered."""
    order = _as_sent({"id": "7", "price": None}, MARKET)  # type: ignore[typeddict-item]
    assert order["price"] is None
    assert "client_order_id" not in order
    assert (order["side"], order["type"], order["amount"]) == ("sell", "market", 2.0)


def test_create_order_returns_the_completed_answer() -> None:
    broker = IdOnlyBroker(id_only_config())
    broker.connect()
    order = broker.create_order("BTC/USDT", "limit", "buy", "0.5", "30000.1", client_order_id="c9")
    (request,) = broker.sent
    assert request.amount == Decimal("0.5") and request.price == Decimal("30000.1")
    assert order == {
        "id": "answer-1", "symbol": "BTC/USDT", "type": "limit", "side": "buy",
        "client_order_id": "c9", "amount": 0.5, "price": 30000.1,
    }  # fmt: skip
