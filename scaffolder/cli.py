"""The ``scaffolder`` command line: click wiring only; the work is done in the modules it calls.

This module is the entry point (``scaffolder.cli:main``) with the commands that make, move and
exercise brokers; the read-only listings and the ``cassettes`` group are in
:mod:`scaffolder.commands`, and what every command shares (exit codes, options, one-line
errors) in :mod:`scaffolder.commands.common`.

Exit codes: 0 success, 1 the checked thing is wrong (invalid config, failing test, finding),
2 usage error (bad name, missing file, bad option). A user's mistake is one line on stderr,
never a traceback.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from scaffolder.commands.cassettes import cassettes
from scaffolder.commands.common import (
    EXIT_FAIL,
    EXIT_OK,
    FORMAT_OPTION,
    complete_broker,
    complete_exchange,
    fail,
    project_root,
    user_errors,
    via_option,
)
from scaffolder.commands.listing import coverage_command, exchanges, list_brokers
from scaffolder.standin.registry import names as standin_names


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="broker-scaffolder")
def main() -> None:
    """Generate exchange brokers for the trading bot, and prove them with recorded cassettes."""


for command in (cassettes, coverage_command, exchanges, list_brokers):
    main.add_command(command)


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


def _parse_data(pairs: tuple[str, ...]) -> dict[str, Any]:
    import yaml

    from scaffolder.fs import load_yaml

    data: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not key=value", param_hint="--data")
        try:
            data[key] = load_yaml(value) if value else ""
        except yaml.YAMLError:
            data[key] = value
    return data


@main.command()
@click.argument(
    "names", nargs=-1, required=True, metavar="NAME...", shell_complete=complete_exchange
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
    root = project_root()
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
@click.argument("name", shell_complete=complete_broker)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@user_errors
def update(name: str, as_json: bool) -> None:
    """Bring broker NAME to the current template (copier update with its own answers file).

    Hand edits are merged in; where they clash with a template change, copier's inline
    conflict markers are left in the file and the command exits 1.
    """
    from scaffolder.update import update as run_update

    report = run_update(name, project_root())
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


@main.command()
@click.argument("name", shell_complete=complete_broker)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@user_errors
def remove(name: str, yes: bool) -> None:
    """Delete the broker NAME (package, config, tests, cassettes) and rewire."""
    from scaffolder.generate import broker_paths, exists
    from scaffolder.generate import remove as remove_broker

    root = project_root()
    if exists(root, name) and not yes:
        listing = "\n".join(
            f"  {p.relative_to(root)}" for p in broker_paths(root, name) if p.exists()
        )
        click.confirm(f"delete broker {name}:\n{listing}\n", abort=True)
    for path in remove_broker(name, root):
        click.echo(f"removed {path.relative_to(root)}")


@main.command()
@click.argument("name", shell_complete=complete_broker)
@click.option("--allow-mainnet", is_flag=True, help="Allow recording against the live exchange.")
@via_option(
    "Send the traffic to URL instead (a proxy, or the local stand-in); cassettes keep the real URLs."
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
        project_root(),
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


@main.command()
@click.option(
    "--exchange",
    type=click.Choice(standin_names()),
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
@click.argument("name", shell_complete=complete_broker)
@via_option()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@user_errors
def doctor(name: str, via: str | None, as_json: bool) -> None:
    """Check broker NAME: config, credentials, TLS, clock skew, a signed read.

    One line per check, `ok|warn|fail  <check>: <detail>`; when the exchange refuses the
    signature, what was signed is shown with the key, the secret and the signature masked.
    Exit 0 when no check failed, 1 otherwise, 2 for a usage error.
    """
    from scaffolder.doctor import run as run_doctor

    report = run_doctor(name, project_root(), via=via)
    click.echo(report.as_json() if as_json else report.text())
    sys.exit(report.exit_code)


# -- cassettes that stay true: drift, export, smoke (issue 12) --------------------------------
@main.command()
@click.argument("name", shell_complete=complete_broker)
@via_option()
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
    report = run_smoke(name, project_root(), via=via, with_order=with_order)
    click.echo(report.as_json() if as_json else report.text())
    sys.exit(report.exit_code)


if __name__ == "__main__":  # pragma: no cover
    main()
