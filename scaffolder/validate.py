"""``scaffolder validate``: check broker configs against the schema and against ccxt's metadata.

Findings are grouped per file and carry ``file:line:col /pointer: message``. The schema rules
come from :mod:`brokers.config`; this module adds the checks that need ccxt's knowledge of the
exchange (does it exist, does it have a sandbox, which credentials does it require).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from brokers.config import Problem, read_document, schema_problems
from brokers.json_positions import locate
from scaffolder.config_checks import content_problems
from scaffolder.errors import UsageError

TYPE_CHECKING = False  # typing's, without importing typing (mypy reads it as True)
if TYPE_CHECKING:
    from typing import Any


class FileReport:
    """What was found in one file (a plain class: no dataclasses import for a valid file)."""

    __slots__ = ("path", "problems", "warnings")

    def __init__(
        self,
        path: str,
        problems: list[Problem] | None = None,
        warnings: list[Problem] | None = None,
    ) -> None:
        self.path = path
        self.problems: list[Problem] = [] if problems is None else problems
        #: Worth a look but not invalid (the exit code ignores them), e.g. a testnet config
        #: whose URLs point elsewhere.
        self.warnings: list[Problem] = [] if warnings is None else warnings

    def __repr__(self) -> str:
        return f"FileReport(path={self.path!r}, problems={self.problems!r}, warnings={self.warnings!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FileReport):
            return NotImplemented
        return (self.path, self.problems, self.warnings) == (
            other.path,
            other.problems,
            other.warnings,
        )

    @property
    def ok(self) -> bool:
        return not self.problems


def expand(paths: Iterable[str]) -> list[Path]:
    """Files named by ``paths``: files as given, ``*.json`` under directories, globs expanded."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if any(c in raw for c in "*?["):
            import glob  # only a pattern needs it

            matches = sorted(Path(p) for p in glob.glob(raw, recursive=True))
            if not matches:
                raise UsageError(f"{raw}: the pattern matches no file")
            found.extend(m for m in matches if m.is_file())
        elif path.is_dir():
            found.extend(sorted(path.rglob("*.json")))
        elif path.exists():
            found.append(path)
        else:
            raise UsageError(f"{raw}: no such file or directory")
    unique = list(dict.fromkeys(found))
    if not unique:
        raise UsageError("no config files to check")
    return unique


def semantic_problems(document: Any, text: str) -> list[Problem]:
    """What ccxt's metadata says is wrong: unknown exchange, no sandbox, missing credentials."""
    if not isinstance(document, dict) or document.get("integration", "ccxt") != "ccxt":
        return []
    name = document.get("name")
    if not isinstance(name, str):
        return []
    from scaffolder import ccxt_metadata

    info = ccxt_metadata.lookup(name)
    problems: list[Problem] = []
    if info is None:
        close = ccxt_metadata.close_matches(name)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        problems.append(
            Problem(
                "/name",
                f"ccxt has no exchange {name!r}{hint}; for an exchange ccxt lacks set "
                '"integration": "rest"',
                "ccxt-exchange",
            )
        )
        return _located(problems, text)
    settings = document.get("settings")
    if isinstance(settings, dict) and settings.get("testnet") is True and not info.sandbox:
        problems.append(
            Problem(
                "/settings/testnet",
                f"{name} has no sandbox/testnet in ccxt, so testnet cannot be true; set it to "
                "false only if you mean to trade on the live exchange",
                "ccxt-sandbox",
            )
        )
    credentials = document.get("api_credentials")
    if isinstance(credentials, dict):
        for credential in info.credentials:
            if not credentials.get(credential):
                problems.append(
                    Problem(
                        f"/api_credentials/{credential}"
                        if credential in credentials
                        else "/api_credentials",
                        f"{name} requires {credential}: add "
                        f'"{credential}": "${{{name.upper()}_{credential.upper()}}}"',
                        "ccxt-credentials",
                    )
                )
    return _located(problems, text)


def _located(problems: list[Problem], text: str) -> list[Problem]:
    return [Problem(p.pointer, p.message, p.rule, *locate(text, p.pointer)) for p in problems]


def check_file(path: Path, *, semantic: bool = True, content: bool = True) -> FileReport:
    """Every problem in one config file (syntax, schema, the content rules of
    :mod:`scaffolder.config_checks`, then ccxt's metadata)."""
    report = FileReport(str(path))
    try:
        text, document = read_document(path)
    except Exception as exc:
        # The error tree is imported once a file is refused (brokers.config does so lazily).
        from brokers.errors import ConfigError

        if not isinstance(exc, ConfigError):
            raise
        report.problems.append(
            Problem(exc.pointer or "", exc.message, "json", exc.line, exc.column)
        )
        return report
    report.problems.extend(schema_problems(document, text))
    if content:
        report.problems.extend(content_problems(document, text))
    if semantic:
        report.problems.extend(semantic_problems(document, text))
        report.warnings.extend(testnet_warnings(path, document, text))
    return report


def testnet_warnings(path: Path, document: Any, text: str) -> list[Problem]:
    """A testnet config whose ``custom_settings`` URLs leave the testnet (``record`` refuses
    it without ``--allow-mainnet``; the bot would trade wherever they point)."""
    from scaffolder import testnet_guard

    answers = None
    name = document.get("name") if isinstance(document, dict) else None
    if isinstance(name, str) and document.get("integration") == "rest":
        answers = _answers_beside(path, name)
    stray = testnet_guard.config_stray_urls(document, answers)
    if not stray:
        return []
    pointer = "/custom_settings/testnet_url" if answers is not None else "/custom_settings/urls"
    return _located(
        [
            Problem(
                pointer,
                f"settings.testnet is true, but {', '.join(stray)} is not a testnet host of "
                f"{name}: the broker would reach the live exchange there",
                "testnet-urls",
            )
        ],
        text,
    )


def _answers_beside(path: Path, name: str) -> dict[str, Any] | None:
    """The broker's ``.copier-answers.yml`` when ``path`` is ``config/brokers/<name>.json``."""
    import yaml

    from scaffolder.fs import load_yaml

    answers = path.resolve().parents[2] / "brokers" / name / ".copier-answers.yml"
    try:
        loaded = load_yaml(answers.read_text(encoding="utf-8"))
    except (OSError, IndexError, yaml.YAMLError):
        return None
    return loaded if isinstance(loaded, dict) else None


def render_text(reports: list[FileReport]) -> str:
    """``file:line:col /pointer: message`` lines, then a summary line."""
    lines = []
    for report in reports:
        for p in report.problems:
            lines.append(
                one_line(
                    f"{report.path}:{p.line or 1}:{p.column or 1} {p.pointer or '/'}: {p.message}"
                )
            )
        for w in report.warnings:
            lines.append(
                one_line(
                    f"{report.path}:{w.line or 1}:{w.column or 1} {w.pointer or '/'}: "
                    f"warning: {w.message}"
                )
            )
    bad = sum(1 for r in reports if not r.ok)
    problems = sum(len(r.problems) for r in reports)
    if bad:
        lines.append(f"{problems} problem(s) in {bad} of {len(reports)} file(s)")
    else:
        lines.append(f"ok: {len(reports)} file(s) valid")
    return "\n".join(lines)


def one_line(text: str) -> str:
    """``text`` safe to print as one line: control, format and separator characters and lone
    surrogates (keys in a config may hold any of them) are shown as escapes."""
    import unicodedata  # only a problem's line needs it

    return "".join(
        char.encode("unicode_escape").decode("ascii")
        if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp")
        else char
        for char in text
    )


def render_json(reports: list[FileReport]) -> str:
    """Machine-readable report (stable keys: status, checked, invalid, errors[])."""
    errors = [{"filename": r.path, **p._asdict()} for r in reports for p in r.problems]
    return json.dumps(
        {
            "status": "ok" if not errors else "fail",
            "checked": len(reports),
            "invalid": sum(1 for r in reports if not r.ok),
            "errors": errors,
            "warnings": [{"filename": r.path, **w._asdict()} for r in reports for w in r.warnings],
        },
        indent=2,
    )
