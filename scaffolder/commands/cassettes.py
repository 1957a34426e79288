"""``scaffolder cassettes ...``: audit, import ccxt's recorded responses, diff, export."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from scaffolder.commands.common import (
    EXIT_FAIL,
    EXIT_OK,
    EXIT_USAGE,
    FORMAT_OPTION,
    complete_broker,
    complete_exchange,
    fail,
    project_root,
    user_errors,
)


@click.group()
def cassettes() -> None:
    """Work with recorded cassettes: audit them, import ccxt's recorded responses."""


@cassettes.command(name="audit")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@FORMAT_OPTION
@user_errors
def cassettes_audit(paths: tuple[Path, ...], output_format: str) -> None:
    """Scan cassettes (default: cassettes/) for secrets; exit 1 on any finding."""
    from scaffolder.harness.audit import audit

    root = project_root()
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
@click.argument("name", shell_complete=complete_exchange)
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

    root = project_root()
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
    for symbol, why in report.markets_dropped.items():
        click.echo(f"  market {symbol} left out: {why}", err=True)
    for skipped in report.skipped:
        click.echo(f"  skipped {skipped}", err=True)


@cassettes.command(name="diff")
@click.argument("name", shell_complete=complete_broker)
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

    root = project_root()
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
@click.argument("name", shell_complete=complete_broker)
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

    root = project_root()
    report = export_ccxt(root, name, out or root / "build" / "ccxt-static", force=force)
    click.echo(f"exported {len(report.cases)} case(s) of {report.exchange_id}:")
    for case in report.cases:
        click.echo(f"  {case}")
    for call, reason in report.skipped.items():
        click.echo(f"  left out {call}: {reason}", err=True)
    from scaffolder.harness.drift import shown

    for path in report.files:
        click.echo(f"wrote {shown(Path(path), root)}")
