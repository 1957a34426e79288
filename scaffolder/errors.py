"""Errors of the scaffolder tool (not of brokers): each carries the CLI exit code it maps to."""

from __future__ import annotations


class ScaffolderError(Exception):
    """A problem the user can fix; the CLI prints the message and exits with ``exit_code``."""

    exit_code = 1


class UsageError(ScaffolderError):
    """Bad command-line input: a bad name, a missing file, a refused option."""

    exit_code = 2


def describe_syntax_error(exc: SyntaxError) -> str:
    """``file:line: message`` for a project's Python file that does not parse, and what to do
    when the line is a merge conflict marker (a merge, or ``scaffolder update``, left it)."""
    where = f"{exc.filename}:{exc.lineno}" if exc.filename else "a Python file"
    line = (exc.text or "").lstrip()
    conflict = line.startswith(("<<<<<<<", "=======", ">>>>>>>"))
    hint = ": a merge conflict marker; resolve the conflict" if conflict else ""
    return f"{where}: {exc.msg}{hint}"
