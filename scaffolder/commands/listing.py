"""What is here, read-only: ``scaffolder list``, ``coverage`` and ``exchanges``."""

from __future__ import annotations

import json

import click

from scaffolder.commands.common import (
    EXIT_USAGE,
    complete_broker,
    fail,
    project_root,
    user_errors,
)


@click.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@user_errors
def list_brokers(as_json: bool) -> None:
    """The brokers in this project: integration, sandbox, cassettes recorded, template version,
    where the cassettes' traffic came from and its age in days (their provenance.json)."""
    from scaffolder.inventory import inventory

    rows = inventory(project_root())
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


@click.command(name="coverage")
@click.argument("name", required=False, shell_complete=complete_broker)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@user_errors
def coverage_command(name: str | None, as_json: bool) -> None:
    """Per broker and contract call, what proves it: recorded, ccxt-data, stand-in or none.

    With NAME, also the command that would fill each call not proven by a cassette.
    """
    from scaffolder.coverage import as_json as coverage_json
    from scaffolder.coverage import as_text, coverage
    from scaffolder.generate import exists

    root = project_root()
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


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--sandbox-only", is_flag=True, help="Only exchanges with a testnet/sandbox.")
@user_errors
def exchanges(as_json: bool, sandbox_only: bool) -> None:
    """What ccxt offers: id, sandbox, required credentials, unified methods present."""
    from scaffolder import ccxt_metadata

    infos = [i for i in ccxt_metadata.exchanges().values() if i.sandbox or not sandbox_only]
    if as_json:
        click.echo(json.dumps([i._asdict() for i in infos], indent=2))
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
