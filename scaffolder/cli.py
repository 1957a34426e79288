"""The ``scaffolder`` command line: click wiring only; the work is done in the modules it calls.

Exit codes: 0 success, 1 the checked thing is wrong (invalid config, failing test, finding),
2 usage error (bad name, missing file, bad option). A user's mistake is one line on stderr,
never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click

from brokers.errors import BrokerError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def fail(message: str, code: int = EXIT_FAIL) -> None:
    """Print ``message`` as one line on stderr and exit with ``code``."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def user_errors(fn: F) -> F:
    """Turn our errors into one line and an exit code instead of a traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from scaffolder.errors import ScaffolderError

        try:
            return fn(*args, **kwargs)
        except ScaffolderError as exc:
            fail(str(exc), exc.exit_code)
        except BrokerError as exc:
            fail(str(exc), EXIT_FAIL)
        except KeyboardInterrupt:
            fail("interrupted; nothing was left half-written", 130)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="broker-scaffolder")
def main() -> None:
    """Generate exchange brokers for the trading bot, and prove them with recorded cassettes."""


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output for people (text) or machines (json).",
)
@click.option(
    "--no-ccxt-checks",
    is_flag=True,
    help="Only the schema: skip checks against ccxt's metadata (exchange, sandbox, credentials).",
)
@user_errors
def validate(paths: tuple[str, ...], output_format: str, no_ccxt_checks: bool) -> None:
    """Validate broker configs (files, directories or globs) against the schema.

    Exit 0 when all are valid, 1 when any is invalid, 2 when PATHS name nothing to check.
    """
    from scaffolder.validate import check_file, expand, render_json, render_text

    files = expand(paths)
    reports = [check_file(f, semantic=not no_ccxt_checks) for f in files]
    output = render_json(reports) if output_format == "json" else render_text(reports)
    click.echo(output)
    sys.exit(EXIT_OK if all(r.ok for r in reports) else EXIT_FAIL)


if __name__ == "__main__":  # pragma: no cover
    main()
