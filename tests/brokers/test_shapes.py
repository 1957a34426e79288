"""The number conversions every return shape goes through."""

from __future__ import annotations

import pytest

from brokers.shapes import to_float, to_int


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
