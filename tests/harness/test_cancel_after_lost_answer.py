"""A cancel whose answer was lost, retried against the exchange's current state.

The stand-in keeps its orders: the first cancel is done and its answer lost (a read timeout
after the stand-in acted), so the retry meets an order that is already cancelled and is
refused ("unknown order", ``UNKNOWN_CANCEL_ORDER``...). A replayed cassette cannot show this
(its retry replays the recorded success). The broker looks the order up, finds it cancelled,
and answers the cancel as done. For the committed brokers, the ones generated fresh from the
template (``<name>-fresh``), and the Binance-style REST broker.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from brokers.errors import OrderNotFoundError
from scaffolder.fresh_project import fresh_project
from scaffolder.harness.faults.campaign import AMOUNT, RESTING_PRICE, SYMBOL
from scaffolder.harness.faults.targets import TARGETS_BY_NAME, order_broker, order_standin

ROOT = Path(__file__).resolve().parents[2]
#: The stand-in's cancel endpoint, per exchange.
CANCEL_PATH = {
    "binance": ("DELETE", "/api/v3/order"),
    "coinbase": ("POST", "/api/v3/brokerage/orders/batch_cancel"),
    "gemini": ("POST", "/v1/order/cancel"),
}
BROKERS = [
    "binance",
    "spotrest",
    "coinbase",
    "gemini",
    "binance-fresh",
    "coinbase-fresh",
    "gemini-fresh",
]


@pytest.fixture(scope="module")
def fresh_root() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="fresh-cancel-") as work:
        yield fresh_project(["binance", "coinbase", "gemini"], Path(work), ROOT)


def cancelled_on_exchange(standin, exchange: str, order_id: str) -> bool:
    """Whether the stand-in holds ``order_id`` as cancelled."""
    id_field = TARGETS_BY_NAME[exchange].order_id_field
    [order] = [o for o in standin.orders() if str(o.get(id_field)) == order_id]
    text = repr(order).lower()
    return "cancel" in text


@pytest.mark.parametrize("name", BROKERS)
@pytest.mark.parametrize("fault", ["timeout_after_accept", "reset_after_accept"])
def test_a_cancel_whose_answer_was_lost_is_done_when_the_retry_is_refused(
    name: str, fault: str, fresh_root: Path
) -> None:
    exchange = TARGETS_BY_NAME[name].exchange
    with order_standin(exchange) as standin:
        broker = order_broker(name, standin, ROOT, fresh_root)
        broker.connect()
        try:
            order = broker.create_order(SYMBOL, "limit", "buy", AMOUNT, price=RESTING_PRICE)
            method, path = CANCEL_PATH[exchange]
            standin.inject(fault, method=method, path=path)
            cancelled = broker.cancel_order(order["id"], SYMBOL)
        finally:
            broker.disconnect()
        assert cancelled["id"] == order["id"]
        assert cancelled["status"] == "canceled"
        assert cancelled_on_exchange(standin, exchange, order["id"])
        assert standin.orders_created == 1


@pytest.mark.parametrize("name", ["binance", "spotrest", "binance-fresh"])
def test_cancelling_an_order_that_does_not_exist_is_still_refused(
    name: str, fresh_root: Path
) -> None:
    with order_standin("binance") as standin:
        broker = order_broker(name, standin, ROOT, fresh_root)
        broker.connect()
        try:
            with pytest.raises(OrderNotFoundError):
                broker.cancel_order("999999", SYMBOL)
        finally:
            broker.disconnect()
