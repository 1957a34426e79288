"""Where in a JSON text each value is: JSON pointer -> (line, column), both counted from 1.

``json`` tells us *that* a document is wrong; a person needs *where*. This scanner walks an
already-valid JSON text once and records the position of every value; for object members the
position of the member's key is recorded, which is where an editor should put the cursor.
"""

from __future__ import annotations

import json
import re

_WS = re.compile(r"[ \t\n\r]*")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_SCALAR = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null")


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
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def skip_ws(self, i: int) -> int:
        match = _WS.match(self.text, i)
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
        match = (_STRING if char == '"' else _SCALAR).match(self.text, i)
        if not match:
            raise ValueError(f"not JSON at offset {i}")
        return match.end()

    def _object(self, i: int, pointer: str) -> int:
        i = self.skip_ws(i)
        if self.text[i : i + 1] == "}":
            return i + 1
        while True:
            i = self.skip_ws(i)
            match = _STRING.match(self.text, i)
            if not match:
                raise ValueError(f"expected a key at offset {i}")
            key = json.loads(match.group(0))
            child = pointer + "/" + escape_pointer_token(key)
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
    except (ValueError, IndexError):
        return 1, 1
    probe = pointer
    while probe not in scanner.positions and probe:
        probe = probe.rsplit("/", 1)[0]
    return scanner.line_col(scanner.positions.get(probe, 0))
