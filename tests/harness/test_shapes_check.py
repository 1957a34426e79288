"""The contract's shape checks (scaffolder/harness/shapes_check.py) accept our shapes and refuse
anything else, however often they run (the types per shape are worked out once)."""

from __future__ import annotations

import pytest

from scaffolder.harness import shapes_check as check

ORDER = {
    "id": "42", "client_order_id": None, "symbol": "BTC/USDT", "type": "limit", "side": "buy",
    "price": 20000.0, "amount": 1, "filled": 0.0, "remaining": 1.0, "status": "open",
    "timestamp": 1700000000000,
}  # fmt: skip


@pytest.mark.parametrize("repeat", range(3))
def test_an_order_passes_and_every_wrong_field_is_refused_each_time(repeat):
    check.order(dict(ORDER))  # an int amount is a number too
    for key, wrong in [
        ("id", 42), ("price", "20000"), ("amount", True), ("timestamp", 1.5), ("status", "gone"),
    ]:  # fmt: skip
        with pytest.raises(AssertionError):
            check.order({**ORDER, key: wrong})
    with pytest.raises(AssertionError, match="keys"):
        check.order({k: v for k, v in ORDER.items() if k != "filled"})
    with pytest.raises(AssertionError, match="keys"):
        check.order({**ORDER, "extra": 1})


def test_a_balance_entry_must_add_up_and_hold_numbers():
    check.balance({"BTC": {"free": 1.0, "used": 0.5, "total": 1.5}})
    with pytest.raises(AssertionError):
        check.balance({"BTC": {"free": 1.0, "used": 0.5, "total": 2.0}})
    with pytest.raises(AssertionError, match="is not"):
        check.balance({"BTC": {"free": None, "used": 0.5, "total": 0.5}})
