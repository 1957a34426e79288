"""Errors of the scaffolder tool (not of brokers): each carries the CLI exit code it maps to."""

from __future__ import annotations


class ScaffolderError(Exception):
    """A problem the user can fix; the CLI prints the message and exits with ``exit_code``."""

    exit_code = 1


class UsageError(ScaffolderError):
    """Bad command-line input: a bad name, a missing file, a refused option."""

    exit_code = 2
