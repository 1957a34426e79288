"""JSON pointer -> line and column, so errors point where an editor should go."""

from brokers.json_positions import locate, pointer_of

TEXT = """{
  "a": {"b/c": [10, {"d~e": true}]},
  "list": [
    "x",
    "y"
  ]
}"""


def test_member_positions_point_at_the_key():
    assert locate(TEXT, "/a") == (2, 3)
    assert locate(TEXT, "/list") == (3, 3)


def test_array_items_and_escaped_tokens_are_found():
    assert locate(TEXT, "/list/1") == (5, 5)
    assert locate(TEXT, "/a/b~1c/1/d~0e") == (2, 22)


def test_missing_pointer_falls_back_to_nearest_parent():
    assert locate(TEXT, "/a/missing") == (2, 3)
    assert locate(TEXT, "") == (1, 1)


def test_pointer_of_escapes_tokens():
    assert pointer_of(["a/b", "c~d", 0]) == "/a~1b/c~0d/0"
    assert pointer_of([]) == ""


def test_scanning_a_long_string_takes_memory_in_proportion_to_the_text():
    """A config that is one 2 MB string: the old string pattern (an alternation repeated per
    character) kept a backtracking frame per character, ~120 bytes each: 5.9 GB for 48 MB
    (``benchmarks/large_config.py`` prints the figures). The scan now allocates next to nothing
    beyond the text."""
    import tracemalloc

    from brokers.json_positions import first_outside_strings, nesting_offset

    text = '{"description": "' + "x" * 2_000_000 + '", "a": [[1]]}'
    tracemalloc.start()
    try:
        assert nesting_offset(text, 2) == text.index("[[") + 1
        assert first_outside_strings(text, r"NaN") is None
        assert locate(text, "/a/0") == (1, text.index("[1]") + 1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000
