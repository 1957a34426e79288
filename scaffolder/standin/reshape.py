"""Make a stand-in answer in a changed shape, as an exchange does when its API drifts.

``StandInServer.change_shape(rename={"lastPrice": "last_price"})`` renames a field wherever it
appears in a JSON answer; ``stringify={"openTime"}`` sends that field's number as a string
(``{"*"}``: every number, in lists too). The drift report and the safe re-record are proven
against answers changed this way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class ShapeChange:
    """How JSON answers are changed: keys renamed, numbers sent as strings; ``path`` (a
    request path prefix) limits the change to some endpoints."""

    rename: Mapping[str, str] = field(default_factory=dict)
    stringify: frozenset[str] = frozenset()
    path: str | None = None

    @classmethod
    def of(
        cls,
        rename: Mapping[str, str] | None = None,
        stringify: Iterable[str] = (),
        path: str | None = None,
    ) -> ShapeChange:
        return cls(dict(rename or {}), frozenset(stringify), path)

    def applies(self, request_path: str) -> bool:
        return self.path is None or request_path.startswith(self.path)

    def value(self, value: Any, key: str | None = None) -> Any:
        """``value`` changed (recursively)."""
        if isinstance(value, dict):
            return {self.rename.get(k, k): self.value(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v, "*" if key is None else key) for v in value]
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if number and ("*" in self.stringify or key in self.stringify):
            return str(value)
        return value


def reshape(body: bytes, change: ShapeChange) -> bytes:
    """A JSON body in the changed shape (anything not JSON is left as it is)."""
    try:
        document = json.loads(body)
    except ValueError:
        return body
    return json.dumps(change.value(document), separators=(",", ":")).encode()


def reshaped(reply: Any, path: str, change: ShapeChange | None) -> Any:
    """``reply`` with its body reshaped when ``change`` applies to ``path``."""
    if change is None or not change.applies(path) or "json" not in reply.content_type:
        return reply
    return replace(reply, body=reshape(reply.body, change))
