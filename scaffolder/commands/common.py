"""What every ``scaffolder`` command shares: exit codes, shared options, the one-line errors.

Exit codes: 0 success, 1 the checked thing is wrong (invalid config, failing test, finding),
2 usage error (bad name, missing file, bad option). A user's mistake is one line on stderr,
never a traceback (:func:`user_errors`).
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from brokers.errors import BrokerError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2

#: ``--format text|json``, shared by the commands that report findings.
FORMAT_OPTION = click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output for people (text) or machines (json).",
)


def via_option(
    help: str = "Send the traffic to URL instead (a proxy, or the local stand-in), as `record` does.",
) -> Callable[[F], F]:
    """``--via URL``: where the traffic goes instead of the exchange (one definition for the
    commands that talk to an exchange)."""
    return click.option("--via", metavar="URL", help=help)


def fail(message: str, code: int = EXIT_FAIL) -> None:
    """Print ``message`` as one line on stderr and exit with ``code``."""
    from brokers.redaction import redact

    click.echo(f"error: {redact(message)}", err=True)
    sys.exit(code)


class Terminated(KeyboardInterrupt):
    """SIGTERM (a CI timeout, ``docker stop``), raised where the program is, as Ctrl-C is: the
    same clean-up runs (a recording cancels its order, scratch directories are removed)."""


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """While the block runs, SIGTERM raises :class:`Terminated` (once: a second TERM during the
    clean-up is ignored), and SIGINT raises KeyboardInterrupt even where the process was started
    with it ignored (a background job of a script). Only in the main thread, where Python runs
    signal handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Terminated

    previous = signal.signal(signal.SIGTERM, handler)
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)


def user_errors(fn: F) -> F:
    """Turn our errors into one line and an exit code instead of a traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from scaffolder.errors import ScaffolderError

        try:
            with terminate_as_interrupt():
                return fn(*args, **kwargs)
        except ScaffolderError as exc:
            fail(str(exc), exc.exit_code)
        except BrokerError as exc:
            fail(str(exc), EXIT_FAIL)
        except Terminated:
            fail("terminated (SIGTERM); nothing was left half-written", 128 + signal.SIGTERM)
        except KeyboardInterrupt:
            fail("interrupted; nothing was left half-written", 130)
        except SyntaxError as exc:  # a Python file of the project: conflict markers, say
            from scaffolder.errors import describe_syntax_error

            fail(describe_syntax_error(exc), EXIT_FAIL)
        except OSError as exc:  # a permission, a full disk: the file, not a traceback
            where = f"{exc.filename}: " if exc.filename else ""
            fail(f"{where}{exc.strerror or exc}", EXIT_FAIL)

    return wrapper  # type: ignore[return-value]


def project_root() -> Path:
    """The project root: the nearest directory upwards holding ``templates/broker``."""
    here = Path.cwd().resolve()
    for candidate in (here, *here.parents):
        if (candidate / "templates" / "broker" / "copier.yml").exists():
            return candidate
    return here


def complete_exchange(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    from scaffolder import ccxt_metadata

    return [e for e in ccxt_metadata.exchanges() if e.startswith(incomplete)]


def complete_broker(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    from scaffolder.wiring import broker_dirs

    return [d.name for d in broker_dirs(project_root()) if d.name.startswith(incomplete)]
