"""Where in a JSON text each value is: JSON pointer -> (line, column), both counted from 1.

``json`` tells us *that* a document is wrong; a person needs *where*. This scanner walks an
already-valid JSON text once and records the position of every value; for object members the
position of the member's key is recorded, which is where an editor should put the cursor.
"""

from __future__ import annotations

import functools
import json
import re

#: A JSON string, written as an unrolled loop: runs of plain characters, then one escape at a
#: time. The alternation ``(?:[^"\\]|\\.)*`` pushes a backtracking frame per character, which
#: made a 48 MB string take 20 s and 5.9 GB; this form is linear and flat.
_STRING_PATTERN = r'"[^"\\]*(?:\\.[^"\\]*)*"'


@functools.lru_cache(maxsize=1)
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """(whitespace, string, scalar), compiled on first use: positions are only needed for a
    problem, and compiling these on import cost a pre-commit run on valid files 1%."""
    return (
        re.compile(r"[ \t\n\r]*"),
        re.compile(_STRING_PATTERN, re.DOTALL),
        re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null"),
    )


def escape_pointer_token(token: str) -> str:
    """Escape one reference token as RFC 6901 requires (``~`` -> ``~0``, ``/`` -> ``~1``)."""
    return token.replace("~", "~0").replace("/", "~1")


def pointer_of(path: list[str | int] | tuple[str | int, ...]) -> str:
    """The JSON pointer for a path of keys and indexes (``[]`` -> ``""``)."""
    return "".join("/" + escape_pointer_token(str(part)) for part in path)


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.positions: dict[str, int] = {}
        #: Keys that repeat within one object: (pointer, offset of the repeat).
        self.duplicates: list[tuple[str, int]] = []
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self._ws, self._string, self._scalar = _patterns()

    def skip_ws(self, i: int) -> int:
        match = self._ws.match(self.text, i)
        return match.end() if match else i

    def value(self, i: int, pointer: str, record: bool = True) -> int:
        i = self.skip_ws(i)
        if record:
            self.positions.setdefault(pointer, i)
        char = self.text[i : i + 1]
        if char == "{":
            return self._object(i + 1, pointer)
        if char == "[":
            return self._array(i + 1, pointer)
        match = (self._string if char == '"' else self._scalar).match(self.text, i)
        if not match:
            raise ValueError(f"not JSON at offset {i}")
        return match.end()

    def _object(self, i: int, pointer: str) -> int:
        i = self.skip_ws(i)
        if self.text[i : i + 1] == "}":
            return i + 1
        seen: set[str] = set()
        while True:
            i = self.skip_ws(i)
            match = self._string.match(self.text, i)
            if not match:
                raise ValueError(f"expected a key at offset {i}")
            key = json.loads(match.group(0))
            child = pointer + "/" + escape_pointer_token(key)
            if key in seen:
                self.duplicates.append((child, i))
            seen.add(key)
            self.positions[child] = i
            i = self.skip_ws(match.end())
            i = self.value(i + 1, child, record=False)  # skip ':'
            i = self.skip_ws(i)
            if self.text[i : i + 1] == ",":
                i += 1
                continue
            return i + 1

    def _array(self, i: int, pointer: str) -> int:
        i = self.skip_ws(i)
        if self.text[i : i + 1] == "]":
            return i + 1
        index = 0
        while True:
            i = self.value(i, f"{pointer}/{index}")
            i = self.skip_ws(i)
            index += 1
            if self.text[i : i + 1] == ",":
                i += 1
                continue
            return i + 1

    def line_col(self, offset: int) -> tuple[int, int]:
        lo, hi = 0, len(self._line_starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self._line_starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1, offset - self._line_starts[lo] + 1


def locate(text: str, pointer: str) -> tuple[int, int]:
    """Line and column of ``pointer`` in ``text``; falls back to the nearest existing parent.

    ``text`` must be valid JSON. A pointer that does not exist (a missing required key) resolves
    to its parent object, so the report still points somewhere useful.
    """
    scanner = _Scanner(text)
    try:
        scanner.value(0, "")
    except (ValueError, IndexError, RecursionError):
        return 1, 1
    probe = pointer
    while probe not in scanner.positions and probe:
        probe = probe.rsplit("/", 1)[0]
    return scanner.line_col(scanner.positions.get(probe, 0))


def line_col(text: str, offset: int) -> tuple[int, int]:
    """Line and column (from 1) of ``offset`` in ``text``."""
    return text.count("\n", 0, offset) + 1, offset - (text.rfind("\n", 0, offset) + 1) + 1


def duplicate_keys(text: str) -> list[tuple[str, int, int]]:
    """Keys repeated within one object of a valid JSON text: (pointer, line, column) of each repeat.

    JSON parsers keep the last of two equal keys, so a repeat hides what comes before it.
    """
    scanner = _Scanner(text)
    try:
        scanner.value(0, "")
    except (ValueError, IndexError, RecursionError):
        return []
    return [(pointer, *scanner.line_col(offset)) for pointer, offset in scanner.duplicates]


def nesting_offset(text: str, limit: int) -> int | None:
    """Offset of the first ``[`` or ``{`` nested deeper than ``limit`` levels, or None.

    Iterative, so it works on texts too deep for the recursive scanner (and for ``json``).
    """
    depth = 0
    for match in re.finditer(_STRING_PATTERN + r"|[\[\]{}]", text, re.DOTALL):
        token = match.group(0)
        if token in ("[", "{"):
            depth += 1
            if depth > limit:
                return match.start()
        elif token in ("]", "}"):
            depth -= 1
    return None


def first_outside_strings(text: str, pattern: str) -> int | None:
    """Offset of the first match of ``pattern`` that is not inside a JSON string, or None."""
    for match in re.finditer(_STRING_PATTERN + f"|(?:{pattern})", text, re.DOTALL):
        if not match.group(0).startswith('"'):
            return match.start()
    return None
