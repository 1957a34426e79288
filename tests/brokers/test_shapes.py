"""The number conversions every return shape goes through."""

from __future__ import annotations

import pytest

from brokers.shapes import balance_entry, to_float, to_int


def test_an_int_is_kept_exactly_even_beyond_a_floats_precision() -> None:
    assert to_int(1_700_000_000_123) == 1_700_000_000_123
    assert to_int(2**60 + 1) == 2**60 + 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1.7e12, 1_700_000_000_000), ("1700000000123", 1_700_000_000_123), ("12.9", 12), (True, 1)],
)
def test_floats_numeric_strings_and_bools_become_ints(value: object, expected: int) -> None:
    assert to_int(value) == expected


@pytest.mark.parametrize("value", [None, "", "n/a", [1], {}])
def test_missing_or_garbage_is_none(value: object) -> None:
    assert to_int(value) is None and to_float(value) is None


@pytest.mark.parametrize(
    ("free", "used", "total", "expected"),
    [
        (1.5, 0.5, 2.0, (1.5, 0.5, 2.0)),
        ("1.5", None, "2", (1.5, 0.5, 2.0)),
        (None, 0.5, 2.0, (1.5, 0.5, 2.0)),
        (1.5, 0.5, None, (1.5, 0.5, 2.0)),
        ("n/a", "", "2.0", (2.0, 0.0, 2.0)),
    ],
)
def test_a_balance_entry_takes_floats_as_they_are_and_derives_the_missing_one(
    free: object, used: object, total: object, expected: tuple[float, float, float]
) -> None:
    entry = balance_entry(free, used, total)
    assert (entry["free"], entry["used"], entry["total"]) == expected
    assert all(type(value) is float for value in entry.values())
