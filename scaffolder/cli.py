"""The ``scaffolder`` command line: click wiring only; the work is done in the modules it calls.

Exit codes: 0 success, 1 the checked thing is wrong (invalid config, failing test, finding),
2 usage error (bad name, missing file, bad option). A user's mistake is one line on stderr,
never a traceback.
"""

from __future__ import annotations

import json
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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="broker-scaffolder")
def main() -> None:
    """Generate exchange brokers for the trading bot, and prove them with recorded cassettes."""


@main.command()
@click.argument("paths", nargs=-1, required=True)
@FORMAT_OPTION
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


def _root() -> Path:
    """The project root: the nearest directory upwards holding ``templates/broker``."""
    here = Path.cwd().resolve()
    for candidate in (here, *here.parents):
        if (candidate / "templates" / "broker" / "copier.yml").exists():
            return candidate
    return here


def _complete_exchange(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    from scaffolder import ccxt_metadata

    return [e for e in ccxt_metadata.exchanges() if e.startswith(incomplete)]


def _complete_broker(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    from scaffolder.wiring import broker_dirs

    return [d.name for d in broker_dirs(_root()) if d.name.startswith(incomplete)]


def _parse_data(pairs: tuple[str, ...]) -> dict[str, Any]:
    import yaml

    data: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not key=value", param_hint="--data")
        try:
            data[key] = yaml.safe_load(value) if value else ""
        except yaml.YAMLError:
            data[key] = value
    return data


@main.command()
@click.argument(
    "names", nargs=-1, required=True, metavar="NAME...", shell_complete=_complete_exchange
)
@click.option("--defaults", is_flag=True, help="Take every default without asking.")
@click.option(
    "--data", "data", multiple=True, metavar="KEY=VALUE", help="Answer a question (repeatable)."
)
@click.option("--force", is_flag=True, help="Replace an existing broker of that name.")
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@user_errors
def new(
    names: tuple[str, ...], defaults: bool, data: tuple[str, ...], force: bool, as_json: bool
) -> None:
    """Generate the broker NAME (a ccxt exchange id, or a new name with integration=rest).

    Asks copier's questions (defaults read from ccxt's metadata) unless --defaults; writes the
    broker package, its config, its tests and its cassette directory, then rewires the
    registry and .env.example. Several names are generated as one step (--data applies to
    each). Nothing is written if anything fails.
    """
    from scaffolder.generate import generate_many

    interactive = not defaults and sys.stdin.isatty()
    if not defaults and not interactive:
        click.echo("stdin is not a terminal: taking the defaults", err=True)
    root = _root()
    answers = _parse_data(data)
    unique = list(dict.fromkeys(names))

    def progress(done: int, total: int, name: str) -> None:
        if total > 1:  # on stderr: stdout stays the report (or the JSON)
            click.echo(f"[{done + 1}/{total}] {name}", err=True)

    results = generate_many(
        {name: dict(answers) for name in unique},
        root,
        defaults=not interactive,
        force=force,
        quiet=not interactive,
        progress=progress,
    )
    rewired = sorted({str(p.relative_to(root)) for r in results for p in r.rewired})
    generated = [
        {"name": result.name, "files": [str(p.relative_to(root)) for p in result.files]}
        for result in results
    ]
    if as_json:
        click.echo(json.dumps({"brokers": generated, "rewired": rewired}))
        return
    for broker in generated:
        click.echo(f"generated broker {broker['name']}:")
        for file in broker["files"]:
            click.echo(f"  {file}")
    tests = " ".join(f"tests/brokers/test_{b['name']}.py" for b in generated)
    click.echo(f"next: pytest {tests}")


@main.command()
@click.argument("name", shell_complete=_complete_broker)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@user_errors
def update(name: str, as_json: bool) -> None:
    """Bring broker NAME to the current template (copier update with its own answers file).

    Hand edits are merged in; where they clash with a template change, copier's inline
    conflict markers are left in the file and the command exits 1.
    """
    from scaffolder.update import update as run_update

    report = run_update(name, _root())
    if as_json:
        click.echo(json.dumps({**report.__dict__, "up_to_date": report.up_to_date}))
    elif report.up_to_date:
        click.echo(f"{name} is already at the current template ({report.to_version[:12]})")
    else:
        click.echo(
            f"updated {name}: template {report.from_version[:12]} -> {report.to_version[:12]}"
        )
        for path in report.changed:
            click.echo(f"  changed {path}")
        for path in report.conflicts:
            click.echo(f"  CONFLICT {path}: resolve the <<<<<<< markers", err=True)
    if report.conflicts:
        click.echo(
            f"{name} stays at template {report.from_version[:12]} until then: resolve, then run "
            f"`scaffolder update {name}` again",
            err=True,
        )
        sys.exit(EXIT_FAIL)


@main.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@user_errors
def list_brokers(as_json: bool) -> None:
    """The brokers in this project: integration, sandbox, cassettes recorded, template version,
    where the cassettes' traffic came from and its age in days (their provenance.json)."""
    from scaffolder.inventory import inventory

    rows = inventory(_root())
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in rows], indent=2))
        return
    headers = ("name", "integration", "sandbox", "cassettes", "template", "source", "age")
    table = [headers] + [r.as_row() for r in rows]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(headers))]
    for row in table:
        click.echo(
            "  ".join(
                str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)
            ).rstrip()
        )


@main.command(name="coverage")
@click.argument("name", required=False, shell_complete=_complete_broker)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@user_errors
def coverage_command(name: str | None, as_json: bool) -> None:
    """Per broker and contract call, what proves it: recorded, ccxt-data, stand-in or none.

    With NAME, also the command that would fill each call not proven by a cassette.
    """
    from scaffolder.coverage import as_json as coverage_json
    from scaffolder.coverage import as_text, coverage
    from scaffolder.generate import exists

    root = _root()
    if name and not exists(root, name):
        fail(f"no broker {name!r} in {root}", EXIT_USAGE)
    table = coverage(root, name)
    if as_json:
        click.echo(json.dumps(coverage_json(table), indent=2))
        return
    for line in as_text(table):
        click.echo(line)
    for proof in (p for p in table.get(name or "", []) if p.fill):
        click.echo(f"  {proof.call}: {proof.detail}; fill: {proof.fill}")


@main.command()
@click.argument("name", shell_complete=_complete_broker)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@user_errors
def remove(name: str, yes: bool) -> None:
    """Delete the broker NAME (package, config, tests, cassettes) and rewire."""
    from scaffolder.generate import broker_paths, exists
    from scaffolder.generate import remove as remove_broker

    root = _root()
    if exists(root, name) and not yes:
        listing = "\n".join(
            f"  {p.relative_to(root)}" for p in broker_paths(root, name) if p.exists()
        )
        click.confirm(f"delete broker {name}:\n{listing}\n", abort=True)
    for path in remove_broker(name, root):
        click.echo(f"removed {path.relative_to(root)}")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--sandbox-only", is_flag=True, help="Only exchanges with a testnet/sandbox.")
@user_errors
def exchanges(as_json: bool, sandbox_only: bool) -> None:
    """What ccxt offers: id, sandbox, required credentials, unified methods present."""
    from dataclasses import asdict

    from scaffolder import ccxt_metadata

    infos = [i for i in ccxt_metadata.exchanges().values() if i.sandbox or not sandbox_only]
    if as_json:
        click.echo(json.dumps([asdict(i) for i in infos], indent=2))
        return
    short = {
        "fetchBalance": "bal",
        "fetchTicker": "tick",
        "fetchOHLCV": "ohlcv",
        "createOrder": "create",
        "cancelOrder": "cancel",
        "fetchOrder": "order",
        "fetchOpenOrders": "open",
        "fetchClosedOrders": "closed",
        "fetchPositions": "pos",
        "watchTicker": "ws",
    }
    width = max(len(i.id) for i in infos)
    click.echo(f"{'id'.ljust(width)}  sandbox  {'credentials'.ljust(34)}  methods")
    for info in infos:
        methods = ",".join(short[m] for m, ok in info.has.items() if ok)
        creds = ",".join(info.credentials)
        click.echo(
            f"{info.id.ljust(width)}  {'yes' if info.sandbox else 'no ':<7}  {creds.ljust(34)}  {methods}"
        )
    click.echo(f"{len(infos)} exchanges (ccxt {ccxt_metadata.ccxt_version()})")


@main.command()
@click.argument("name", shell_complete=_complete_broker)
@click.option("--allow-mainnet", is_flag=True, help="Allow recording against the live exchange.")
@click.option(
    "--via",
    metavar="URL",
    help="Send the traffic to URL instead (a proxy, or the local stand-in); cassettes keep the real URLs.",
)
@click.option("--no-replay", is_flag=True, help="Do not replay the contract after recording.")
@click.option(
    "--only",
    "only",
    multiple=True,
    metavar="CALL",
    help="Replace only this contract call's cassette (repeatable), e.g. get_ticker.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@user_errors
def record(
    name: str,
    allow_mainnet: bool,
    via: str | None,
    no_replay: bool,
    only: tuple[str, ...],
    as_json: bool,
) -> None:
    """Record NAME's contract traffic against its testnet (keys from the environment).

    Places one limit buy far below the market and cancels it. The new cassettes are audited
    for secrets, compared with the committed ones (the drift report), replayed, and only then
    moved into cassettes/NAME/ all at once; after a failed replay or an interrupt the committed
    ones are untouched and the command says where the new ones are kept.
    """
    from scaffolder.harness.record import record as run_record

    def progress(message: str) -> None:
        from brokers.redaction import redact

        click.echo(f"[{name}] {redact(message)}", err=True)

    report = run_record(
        name,
        _root(),
        allow_mainnet=allow_mainnet,
        via=via,
        progress=progress,
        replay=not no_replay,
        only=list(only),
    )
    if as_json:
        click.echo(json.dumps(report.__dict__))
    else:
        click.echo(f"recorded {len(report.calls)} calls for {name}: {', '.join(report.calls)}")
    if report.replay_exit_code not in (None, 0):
        fail(f"the new cassettes did not replay (pytest exit {report.replay_exit_code})")


@main.group()
def cassettes() -> None:
    """Work with recorded cassettes: audit them, import ccxt's recorded responses."""


@cassettes.command(name="audit")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@FORMAT_OPTION
@user_errors
def cassettes_audit(paths: tuple[Path, ...], output_format: str) -> None:
    """Scan cassettes (default: cassettes/) for secrets; exit 1 on any finding."""
    from scaffolder.harness.audit import audit

    root = _root()
    targets = list(paths) or [root / "cassettes"]
    missing = [str(p) for p in targets if not p.exists()]
    if missing:
        fail(f"no such path: {', '.join(missing)}", EXIT_USAGE)
    scanned, findings = audit(targets, root)
    if output_format == "json":
        click.echo(
            json.dumps({"scanned": scanned, "findings": [f.as_dict() for f in findings]}, indent=2)
        )
    else:
        for finding in findings:
            click.echo(str(finding))
        click.echo(f"{len(findings)} finding(s) in {scanned} file(s)")
    sys.exit(EXIT_FAIL if findings else EXIT_OK)


@cassettes.command(name="import-ccxt")
@click.argument("name", shell_complete=_complete_exchange)
@click.option(
    "--static-dir",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="ccxt's offline test data (the layout of ts/src/test/static/).",
)
@click.option(
    "--out", type=click.Path(path_type=Path, file_okay=False), help="Default: cassettes/NAME/."
)
@user_errors
def cassettes_import_ccxt(name: str, static_dir: Path, out: Path | None) -> None:
    """Turn ccxt's recorded responses for NAME into cassettes and a markets snapshot."""
    from scaffolder.harness.ccxt_import import CcxtImportError, import_ccxt

    root = _root()
    target = out or root / "cassettes" / name
    config = root / "config" / "brokers" / f"{name}.json"
    pairs = (
        json.loads(config.read_text(encoding="utf-8")).get("supported_pairs", [])
        if config.exists()
        else []
    )
    available = static_dir / "markets" / f"{name}.json"
    known = set(json.loads(available.read_text(encoding="utf-8"))) if available.exists() else set()
    try:
        report = import_ccxt(name, static_dir, target, symbols=[p for p in pairs if p in known])
    except CcxtImportError as exc:
        fail(str(exc), EXIT_USAGE)
        return
    from scaffolder.harness.scenario import scenario_from_import

    scenario = scenario_from_import(name, target)
    if target.resolve() == (root / "cassettes" / name).resolve():
        from scaffolder.generate import note_cassettes

        note_cassettes(root, name)
    click.echo(f"imported {len(report.imported)} case(s) for {name} into {target}")
    click.echo(f"contract calls covered: {', '.join(scenario['calls']) or 'none'}")
    for skipped in report.skipped:
        click.echo(f"  skipped {skipped}", err=True)


@main.command()
@click.option(
    "--exchange",
    type=click.Choice(["binance", "coinbase", "gemini"]),
    default="binance",
    show_default=True,
    help="Which exchange's API to stand in for.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="TCP port on 127.0.0.1 (0: any free port).",
)
@click.option("--api-key", default=None, help="The accepted API key (default: the canary).")
@click.option("--secret", default=None, help="The signing secret (default: the canary).")
def standin(exchange: str, port: int, api_key: str | None, secret: str | None) -> None:
    """Serve a local exchange stand-in on 127.0.0.1 until Ctrl-C.

    It checks signatures as the exchange does and keeps order state; record against it with
    `scaffolder record NAME --via URL` and its canary credentials.
    """
    from scaffolder.standin.__main__ import main as serve

    argv = ["--exchange", exchange, "--port", str(port)]
    argv += ["--api-key", api_key] if api_key else []
    argv += ["--secret", secret] if secret else []
    try:
        code = serve(argv)
    except OSError as exc:  # the port is taken, or not ours to bind
        fail(
            f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}; pick another --port "
            "(0: any free port)"
        )
    sys.exit(code)


@main.command()
@click.argument("name", shell_complete=_complete_broker)
@click.option(
    "--via",
    metavar="URL",
    help="Send the traffic to URL instead (a proxy, or the local stand-in), as `record` does.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@user_errors
def doctor(name: str, via: str | None, as_json: bool) -> None:
    """Check broker NAME: config, credentials, TLS, clock skew, a signed read.

    One line per check, `ok|warn|fail  <check>: <detail>`; when the exchange refuses the
    signature, what was signed is shown with the key, the secret and the signature masked.
    Exit 0 when no check failed, 1 otherwise, 2 for a usage error.
    """
    from scaffolder.doctor import run as run_doctor

    report = run_doctor(name, _root(), via=via)
    click.echo(report.as_json() if as_json else report.text())
    sys.exit(report.exit_code)


# -- cassettes that stay true: drift, export, smoke (issue 12) --------------------------------


@cassettes.command(name="diff")
@click.argument("name", shell_complete=_complete_broker)
@click.option(
    "--against",
    type=click.Path(path_type=Path, file_okay=False),
    help="The new recording (default: the newest one a re-record kept aside).",
)
@click.option(
    "--base",
    type=click.Path(path_type=Path, file_okay=False),
    help="The old recording (default: cassettes/NAME/).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@user_errors
def cassettes_diff(name: str, against: Path | None, base: Path | None, as_json: bool) -> None:
    """How the exchange's answers changed between two recordings of NAME (API drift).

    Per contract call: status codes, keys added, removed or of another type, and whether the
    broker's parsed result changed. Exit 1 when a parsed result changed, 0 when only
    ignorable fields (prices, ids, timestamps) or absorbed changes differ.
    """
    from scaffolder.harness.drift import drift
    from scaffolder.harness.rerecord import kept as kept_recordings

    root = _root()
    old = base or root / "cassettes" / name
    if against is None:
        kept = [p for p in kept_recordings(root, name) if (p / "contract.json").is_file()]
        if not kept:
            fail(f"no recording of {name} kept aside to compare with: pass --against DIR", 2)
        against = kept[0]
    for directory in (old, against):
        if not directory.is_dir():
            fail(f"no such recording: {directory}", EXIT_USAGE)
    report = drift(root, name, old, against)
    click.echo(json.dumps(report.as_dict(), indent=2) if as_json else report.text())
    sys.exit(report.exit_code)


@cassettes.command(name="export-ccxt")
@click.argument("name", shell_complete=_complete_broker)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    help="Where to write markets/ID.json and response/ID.json (default: build/ccxt-static/).",
)
@click.option("--force", is_flag=True, help="Replace fixtures already there.")
@user_errors
def cassettes_export_ccxt(name: str, out: Path | None, force: bool) -> None:
    """Write NAME's recordings as ccxt static fixtures (ccxt's ts/src/test/static/ format).

    Each recorded call becomes a response case (input, httpResponse, parsedResponse); the
    markets snapshot the markets file. `cassettes import-ccxt` reads them back.
    """
    from scaffolder.harness.ccxt_export import export_ccxt

    root = _root()
    report = export_ccxt(root, name, out or root / "build" / "ccxt-static", force=force)
    click.echo(f"exported {len(report.cases)} case(s) of {report.exchange_id}:")
    for case in report.cases:
        click.echo(f"  {case}")
    for call, reason in report.skipped.items():
        click.echo(f"  left out {call}: {reason}", err=True)
    from scaffolder.harness.drift import shown

    for path in report.files:
        click.echo(f"wrote {shown(Path(path), root)}")


@main.command()
@click.argument("name", shell_complete=_complete_broker)
@click.option(
    "--via",
    metavar="URL",
    help="Send the traffic to URL instead (a proxy, or the local stand-in), as `record` does.",
)
@click.option(
    "--with-order",
    is_flag=True,
    help="Also place one limit buy at half the market price and cancel it (asks first).",
)
@click.option("--yes", is_flag=True, help="Do not ask before placing the order.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@user_errors
def smoke(name: str, via: str | None, with_order: bool, yes: bool, as_json: bool) -> None:
    """The manual smoke run of NAME: connect, balance, ticker, OHLCV, disconnect.

    One line per step with its result and time; keys from the environment. Read-only unless
    --with-order. Exit 0 when every step passed, 1 otherwise.
    """
    from scaffolder.smoke import smoke as run_smoke

    if with_order and not yes:
        question = f"place and cancel one limit buy on {name}" + (f" via {via}" if via else "")
        if not click.confirm(question + "?", default=False, err=True):
            fail("not confirmed: no order placed", EXIT_FAIL)
    report = run_smoke(name, _root(), via=via, with_order=with_order)
    click.echo(report.as_json() if as_json else report.text())
    sys.exit(report.exit_code)


if __name__ == "__main__":  # pragma: no cover
    main()
