"""Reading a config file: strict JSON, with a line and column for every syntax problem.

Refused before or while parsing: a file over ``MAX_CONFIG_BYTES``, text that is not UTF-8, a
byte order mark, NaN or Infinity, a key twice in one object, nesting deeper than
``MAX_NESTING``, an integer longer than Python's digit limit.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from brokers.json_positions import (
    duplicate_keys,
    first_outside_strings,
    line_col,
    nesting_offset,
    pointer_of,
)

TYPE_CHECKING = False  # typing's, without importing typing (mypy reads it as True)
if TYPE_CHECKING:
    from typing import Any

    from brokers.errors import ConfigError

#: Deepest nesting of objects and lists accepted in a config (a config needs 4 or 5).
MAX_NESTING = 100
#: Largest config file read, in bytes (1 MiB). A broker config is a few kilobytes; anything
#: near this is the wrong file, and refusing it before reading keeps memory bounded.
MAX_CONFIG_BYTES = 1 << 20


def read_document(path: str | Path) -> tuple[str, Any]:
    """Read and parse a JSON file; syntax errors become a ConfigError with line and column.

    Strict JSON only: no NaN or Infinity, no key twice in one object (the last would silently
    win, and could hide a literal secret), no byte order mark, at most ``MAX_NESTING`` levels,
    at most ``MAX_CONFIG_BYTES`` bytes (checked before the file is read).
    """
    name = str(path)
    try:
        size = os.stat(path).st_size  # os, not pathlib: a tenth of the time of a valid file
        if size > MAX_CONFIG_BYTES:
            raise _refused(
                f"the file is {size} bytes; a broker config is at most {MAX_CONFIG_BYTES} "
                "bytes (1 MiB): is this the right file?",
                path=name,
            )
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except FileNotFoundError as exc:
        raise _refused("file not found", path=name) from exc
    except UnicodeDecodeError as exc:
        raise _refused(f"not UTF-8 text ({exc.reason})", path=name) from exc
    except OSError as exc:
        raise _refused(f"cannot read file: {exc.strerror}", path=name) from exc
    if text.startswith("\ufeff"):
        raise _refused(
            "the file starts with a byte order mark (BOM): save it as UTF-8 without one",
            path=name,
            line=1,
            column=1,
        )
    try:
        document = json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_pairs)
    except json.JSONDecodeError as exc:
        raise _refused(
            f"invalid JSON: {exc.msg}", path=name, line=exc.lineno, column=exc.colno
        ) from exc
    except _DuplicateKey as exc:
        pointer, line, column = next(iter(duplicate_keys(text)), ("", None, None))
        key = (
            pointer.rsplit("/", 1)[-1].replace("~1", "/").replace("~0", "~") if pointer else exc.key
        )
        raise _refused(
            f"the key {key!r} appears twice in one object: JSON keeps only the last one, "
            "so remove the other",
            path=name,
            pointer=pointer,
            line=line,
            column=column,
        ) from exc
    except _NotJson as exc:
        raise _syntax_error(name, text, exc.pattern, exc.message) from exc
    except ValueError as exc:  # an integer too long for int(): see sys.get_int_max_str_digits
        limit = getattr(sys, "get_int_max_str_digits", lambda: 4300)()
        raise _syntax_error(
            name, text, rf"-?\d{{{limit + 1},}}", f"a number longer than {limit} digits"
        ) from exc
    except RecursionError:
        document = None
    # No text with at most MAX_NESTING brackets can nest deeper: most configs skip the scan.
    if text.count("[") + text.count("{") <= MAX_NESTING:
        return text, document
    deep = nesting_offset(text, MAX_NESTING)
    if deep is not None:
        line, column = line_col(text, deep)
        raise _refused(
            f"invalid JSON: nested more than {MAX_NESTING} levels deep",
            path=name,
            line=line,
            column=column,
        )
    return text, document


class _NotJson(ValueError):
    def __init__(self, pattern: str, message: str) -> None:
        super().__init__(message)
        self.pattern = pattern
        self.message = message


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _refuse_constant(constant: str) -> Any:
    raise _NotJson(r"-?Infinity|NaN", f"{constant} is not a JSON number: write a number (or null)")


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return document


def _refused(
    message: str,
    *,
    path: str,
    pointer: str | None = None,
    line: int | None = None,
    column: int | None = None,
) -> ConfigError:
    """The ConfigError for a refused file. The error tree is imported here, not with this module:
    it compiles the redaction patterns, a twentieth of a pre-commit run over valid files."""
    from brokers.errors import ConfigError

    return ConfigError(message, path=path, pointer=pointer, line=line, column=column)


def _syntax_error(name: str, text: str, pattern: str, message: str) -> ConfigError:
    offset = first_outside_strings(text, pattern)
    line, column = line_col(text, offset) if offset is not None else (None, None)
    return _refused(f"invalid JSON: {message}", path=name, line=line, column=column)


def _nested_too_deep(document: Any) -> str | None:
    """The pointer of the first value nested deeper than ``MAX_NESTING`` (iterative), or None."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(document, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, (dict, list)):
            if len(path) >= MAX_NESTING:
                return pointer_of(path)
            items = value.items() if isinstance(value, dict) else enumerate(value)
            stack.extend((child, (*path, key)) for key, child in items)
    return None
