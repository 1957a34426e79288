"""Where a cassette folder's traffic came from: ``provenance.json`` next to the cassettes.

``scaffolder record`` writes one for a recording (the testnet or live host, whether the answers
came from an exchange stand-in, the date, the ccxt version), ``scaffolder cassettes
import-ccxt`` one for ccxt's fixtures (the ccxt version and the fixtures' source commits).
``scaffolder list`` shows the age, and the contract names the provenance when a test skips or
fails on the cassettes, so a stale or synthetic recording is visible where it matters.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from scaffolder.ccxt_metadata import ccxt_version
from scaffolder.fs import load_yaml, write_text_atomic

FILE = "provenance.json"
#: The ``Server`` header every stand-in answers with ends in this (``BinanceStandIn/1.0``).
STANDIN_SERVER = re.compile(r"StandIn/")


def now() -> str:
    """The current UTC time, to the second, ISO 8601 with a ``Z``."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _first_interaction(directory: Path) -> dict[str, Any] | None:
    for path in sorted(directory.glob("*.yaml")):
        try:
            document = load_yaml(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError:
            continue
        interactions = document.get("interactions") or []
        if interactions:
            first: dict[str, Any] = interactions[0]
            return first
    return None


def for_recording(directory: Path, *, testnet: bool, via: str | None) -> dict[str, Any]:
    """The provenance of a recording just written to ``directory``: the host its cassettes
    name, and ``stand-in`` when the answers came from one (its ``Server`` header says so)."""
    first = _first_interaction(directory)
    host = urlsplit(first["request"]["uri"]).hostname if first else None
    server = (first or {}).get("response", {}).get("headers", {}).get("Server") or [""]
    standin = bool(STANDIN_SERVER.search(str(server[0] if isinstance(server, list) else server)))
    return {
        "source": "stand-in" if standin else ("testnet" if testnet else "mainnet"),
        "host": host,
        # where --via sent the traffic is not kept: a local address, or a proxy URL that
        # may carry credentials, has no place next to the cassettes
        "via_proxy": bool(via) and not standin,
        "recorded_at": now(),
        "ccxt_version": ccxt_version(),
        "made_by": "scaffolder record",
    }


def source_commits(
    static_dir: Path, exchange_id: str, entry: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """The ccxt commits the fixtures of ``exchange_id`` came from: from the bundled corpus's
    manifest (``entry``, its entry for the exchange, when the caller has read it already), a
    trimmed copy's README table (``| response/x.json | <sha> |``), else the HEAD of a ccxt
    checkout."""
    commits: dict[str, str] = {}
    listed = static_dir / "manifest.json"  # the bundled corpus's (scaffolder/harness/corpus.py)
    if entry is None and listed.is_file():
        try:
            entry = json.loads(listed.read_text(encoding="utf-8"))["exchanges"][exchange_id]
        except (OSError, ValueError, KeyError, TypeError):
            entry = {}
    for sources in ((entry or {}).get("sources") or {}).values():
        for source in sources:
            commits[source["path"].removeprefix("ts/src/test/static/")] = source["commit"]
    if commits:
        return commits
    readme = static_dir / "README.md"
    if readme.is_file():
        row = re.compile(
            r"^\|\s*((?:markets|response|request)/"
            + re.escape(exchange_id)
            + r"\.json)\s*\|\s*([0-9a-f]{40})\s*\|"
        )
        for line in readme.read_text(encoding="utf-8").splitlines():
            match = row.match(line)
            if match:
                commits[match.group(1)] = match.group(2)
    if commits:
        return commits
    try:
        top = subprocess.run(
            ["git", "-C", str(static_dir), "rev-parse", "--show-toplevel", "HEAD"],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout.split()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return {}
    if len(top) == 2 and (Path(top[0]) / "ts" / "src" / "test" / "static").resolve() == (
        static_dir.resolve()
    ):
        return {"ts/src/test/static": top[1]}
    return {}


#: The corpus bundled with the package (scaffolder/corpus/).
BUNDLED_CORPUS = Path(__file__).resolve().parents[1] / "corpus"


def for_import(
    static_dir: Path, exchange_id: str, entry: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The provenance of cassettes imported from ccxt's static fixtures in ``static_dir``
    (``entry``: see :func:`source_commits`).

    From the bundled corpus it names the corpus, not this machine's path, and carries no
    import time: the same data gives the same files whenever and wherever a broker is made.
    """
    bundled = Path(static_dir).resolve() == BUNDLED_CORPUS
    origin: dict[str, Any] = {
        "source": "ccxt-static",
        "static_dir": "scaffolder/corpus (bundled)" if bundled else str(static_dir),
        "source_commits": source_commits(static_dir, exchange_id, entry) or "unknown",
    }
    if not bundled:
        origin["recorded_at"] = now()
    origin["ccxt_version"] = ccxt_version()
    origin["made_by"] = (
        "scaffolder new (bundled corpus)" if bundled else ("scaffolder cassettes import-ccxt")
    )
    return origin


def write(directory: Path, provenance: dict[str, Any]) -> None:
    write_text_atomic(directory / FILE, json.dumps(provenance, indent=2) + "\n")


def read(directory: Path) -> dict[str, Any] | None:
    """A folder's provenance, or None when it has none (or it is unreadable)."""
    try:
        loaded = json.loads((directory / FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return loaded if isinstance(loaded, dict) else None


def age_days(provenance: dict[str, Any] | None, today: datetime | None = None) -> int | None:
    """Whole days since the traffic was recorded, or None when the date is unknown."""
    stamp = (provenance or {}).get("recorded_at")
    try:
        when = datetime.strptime(str(stamp), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    return ((today or datetime.now(timezone.utc)) - when).days


def describe(directory: Path) -> str:
    """One phrase saying where the folder's traffic came from, for messages."""
    provenance = read(directory)
    if provenance is None:
        return f"{directory.name}'s cassettes have no {FILE}: their origin is unknown"
    source = provenance.get("source", "unknown")
    where = {
        "stand-in": f"recorded against an exchange stand-in, as {provenance.get('host')}",
        "testnet": f"recorded on the testnet {provenance.get('host')}",
        "mainnet": f"recorded on the live exchange {provenance.get('host')}",
        "ccxt-static": "imported from ccxt's static fixtures",
    }.get(source, f"from {source}")
    version = f"with ccxt {provenance.get('ccxt_version', '?')}"
    if "recorded_at" not in provenance:  # the bundled corpus: ccxt's commits say when
        return f"{where} (the corpus bundled with broker-scaffolder) {version}"
    date = str(provenance["recorded_at"])[:10]
    age = age_days(provenance)
    ago = f", {age} days ago" if age is not None else ""
    return f"{where} on {date}{ago} {version}"
