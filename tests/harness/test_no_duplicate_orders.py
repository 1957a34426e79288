"""``create_order`` never leaves two orders: the ccxt and the REST broker against the stand-in.

The stand-in counts the orders it creates. Each case places one limit order while requests to
``/api/v3/order`` fail: from the stand-in (real socket timeouts, resets, 5xx, garbled bodies)
or from the client-side injector, once, twice in a row (the order, then its look-up or re-send)
or always. The caller gets the one order that exists, or ``OrderStateUnknownError`` naming the
client order id (at most one order on the exchange), or, for a rate limit that never ends, a
``RateLimitError`` with nothing placed. The runs are shared with ``scripts/reliability.py``
through :func:`scaffolder.harness.faults.run_no_duplicates`.
"""

from __future__ import annotations

from typing import Any

import pytest

from scaffolder.harness.faults import (
    FAULTS,
    ORDER_FAULTS,
    STANDIN_FAULT_DELAY,
    STANDIN_TIMEOUT_MS,
    OrderCase,
    order_cases,
    run_no_duplicates,
)

CASES = order_cases()


@pytest.fixture(scope="module")
def runs() -> dict[str, Any]:
    return run_no_duplicates(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_create_order_under_fault(runs: dict[str, Any], case: OrderCase) -> None:
    result = runs["results"][case.id]
    assert result["outcome"] != "violation", result["detail"]
    assert result["duplicated"] == 0
    assert result["orders_created"] <= 1
    if result["outcome"] == "order":
        assert result["orders_created"] == 1
    if result["outcome"] == "refused":
        assert result["orders_created"] == 0


def test_no_order_is_ever_duplicated(runs: dict[str, Any]) -> None:
    assert runs["orders_duplicated"] == 0
    assert runs["violations"] == []
    assert runs["runs"] == 2 * 3 * (len(ORDER_FAULTS) + len(FAULTS))
    # A fault once or twice in a row is survived: the caller gets its order. (A real socket
    # timeout on a loaded machine may add one more timeout: those may end unknown.)
    survived = [
        r
        for r in runs["results"].values()
        if r["case"]["times"] is not None
        and not (r["case"]["side"] == "server" and r["case"]["fault"].startswith("timeout"))
    ]
    assert {r["outcome"] for r in survived} == {"order"}


def test_timeouts_are_short() -> None:
    assert STANDIN_TIMEOUT_MS / 1000 < STANDIN_FAULT_DELAY <= 2.0
