"""What ``scaffolder doctor`` reports: one :class:`Check` a line, the :class:`DoctorReport` of
a run as text or JSON, and the :class:`Redactor` every detail goes through before it is kept.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from brokers.redaction import Redactor as _Redactor
from brokers.redaction import redact
from scaffolder.validate import one_line

OK, WARN, FAIL = "ok", "warn", "fail"
#: Credentials whose masked tail may be shown (identifiers); the others show only a length.
KEY_LIKE = frozenset({"api_key", "uid", "account_id", "login", "wallet_address"})


@dataclass
class Check:
    """One line of the report."""

    name: str
    status: str
    detail: str
    data: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        return f"{self.status:<4}  {self.name}: {self.detail}"

    def as_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"check": self.name, "status": self.status, "detail": self.detail}
        if self.data:
            entry["data"] = self.data
        return entry


@dataclass
class DoctorReport:
    """Every check run for one broker."""

    broker: str
    config: str
    via: str | None
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.status != FAIL for c in self.checks)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def check(self, name: str) -> Check | None:
        """The check called ``name``, if it ran."""
        return next((c for c in self.checks if c.name == name), None)

    def text(self) -> str:
        return "\n".join(c.line() for c in self.checks)

    def as_json(self) -> str:
        return json.dumps(
            {
                "broker": self.broker,
                "config": self.config,
                "via": redact(self.via) if self.via else None,
                "ok": self.ok,
                "exit_code": self.exit_code,
                "checks": [c.as_dict() for c in self.checks],
            },
            indent=2,
        )


class Redactor(_Redactor):
    """The shared :class:`brokers.redaction.Redactor` (credential values in every encoding,
    signed-URL parameters, URL passwords), with identifiers' tails shown, as one line."""

    def __init__(self, credentials: Mapping[str, str], extra_secrets: Iterable[str] = ()) -> None:
        super().__init__(credentials, extra_secrets, key_like=KEY_LIKE)

    def __call__(self, text: str) -> str:
        return one_line(super().__call__(text))


def redact_data(data: dict[str, Any], redact: Callable[[str], str]) -> dict[str, Any]:
    """``data`` (a check's details for JSON) with every string, key included, redacted."""

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            return redact(value)
        if isinstance(value, dict):
            return {redact(str(k)): clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        return value

    return {k: clean(v) for k, v in data.items()}
