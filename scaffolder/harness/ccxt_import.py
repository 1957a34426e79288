"""Turn ccxt's offline static fixtures into vcrpy cassettes.

ccxt keeps offline test data in ``ts/src/test/static/{markets,response}/<id>.json``.  A
*response case* is ``{"description", "method", "input", "httpResponse" | "httpResponseByUrl",
"parsedResponse", ["options"], ["disabled"], ["forceCheckKeys"]}``; the file adds ``skipKeys``
and ``options`` for all its cases.  ccxt's runner (``ccxt/test/tests_sync.py``) swaps
``exchange.fetch`` so that *every* HTTP call of the method gets the same ``httpResponse``, then
compares the unified result with ``parsedResponse``.

:func:`import_ccxt` runs the real ccxt exchange that way, offline, with canary credentials:
each intercepted ``fetch(url, method, headers, body)`` becomes one cassette interaction answered
with the recorded body; the result is checked against ``parsedResponse`` as ccxt does; it writes
``markets.json``, ``ccxt/<method>-<index>.yaml`` and ``ccxt/cases.json``.

The parts, one home each: reading the fixtures (:mod:`~scaffolder.harness.ccxt_fixtures`),
canary credentials (:mod:`~scaffolder.harness.ccxt_canaries`), the offline exchange, capture
and :func:`replay_case` (:mod:`~scaffolder.harness.ccxt_offline`), what a captured request
becomes in a cassette (:mod:`~scaffolder.harness.ccxt_requests`); this module records the cases
and writes them, and re-exports what callers use from the others.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ccxt

from scaffolder.harness import provenance
from scaffolder.harness.ccxt_canaries import (
    CREDENTIAL_FIELDS,
    canarized,
    canary_credentials,
    canary_like,
    file_credentials,
)
from scaffolder.harness.ccxt_fixtures import (
    CcxtImportError,
    ccxt_ancestors,
    load_static_fixtures,
    usable_markets,
)
from scaffolder.harness.ccxt_offline import (
    CLOCK_MS,
    MATCH_ON,
    capture,
    freeze_clock,
    harness_options,
    make_offline_exchange,
    replay_case,
)
from scaffolder.harness.ccxt_requests import Sanitize, cassette_text, sanitize_request
from scaffolder.harness.parsed_check import compare_parsed

__all__ = [
    "CLOCK_MS", "CREDENTIAL_FIELDS", "MATCH_ON", "SUPPORTED_METHODS", "CcxtImportError",
    "ImportReport", "SkippedCase", "canarized", "canary_credentials", "canary_like",
    "ccxt_ancestors", "compare_parsed", "file_credentials", "freeze_clock", "harness_options",
    "import_ccxt", "load_static_fixtures", "make_offline_exchange", "replay_case",
]  # fmt: skip

#: Unified methods the broker uses; cases of other methods are reported as skipped.
SUPPORTED_METHODS: tuple[str, ...] = (
    "fetchBalance", "fetchTicker", "fetchTickers", "fetchOHLCV", "createOrder",
    "cancelOrder", "fetchOrder", "fetchOpenOrders", "fetchPositions", "fetchTime",
)  # fmt: skip
#: ccxt options that pick the market type a call defaults to.
_TYPE_OPTIONS = ("defaultType", "defaultSubType")
Pending = list[tuple[str, int, dict[str, Any]]]  # (method, index in the fixture, case)


@dataclass(frozen=True)
class SkippedCase:
    method: str
    index: int
    description: str
    reason: str


@dataclass
class ImportReport:
    exchange_id: str
    imported: list[str] = field(default_factory=list)  # cassette file names
    skipped: list[SkippedCase] = field(default_factory=list)
    bytes_written: int = 0
    files: list[Path] = field(default_factory=list)
    #: Markets of the fixture left out, with why (:func:`~.ccxt_fixtures.unusable_markets`).
    markets_dropped: dict[str, str] = field(default_factory=dict)


def _processed_markets(exchange_id: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """``exchange.markets`` after ``set_markets(raw)``, JSON-clean.  Every unified key is
    present, so ccxt's by-id lookups (which return the stored dicts) never miss one."""
    exchange = getattr(ccxt, exchange_id)({"enableRateLimit": False})
    exchange.set_markets(copy.deepcopy(dict(raw)))
    return json.loads(json.dumps({s: exchange.markets[s] for s in raw}))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, (dict, list)):
        for item in value.values() if isinstance(value, dict) else value:
            yield from _strings(item)


def _skip_reason(method: str, case: Mapping[str, Any], wanted: set[str]) -> str | None:
    if method not in wanted:
        return "method not used by the broker"
    disabled = case.get("disabled", False)
    if disabled is True or (isinstance(disabled, str) and disabled):
        return "disabled in the ccxt fixture"
    if "httpResponse" not in case and not case.get("httpResponseByUrl"):
        return "case has no httpResponse"
    return None


def _secrets_of(exchange: Any) -> Iterator[str]:
    """Credential strings on *exchange* (and a PEM's body lines) that must never be written."""
    for attr in ("apiKey", "secret", "password", "uid", "token", "privateKey"):
        value = getattr(exchange, attr, None)
        if isinstance(value, str) and value:
            yield value
            yield from (ln for ln in value.splitlines() if len(ln) >= 16 and "---" not in ln)
    yield harness_options()["accessToken"]


def import_ccxt(
    exchange_id: str,
    static_dir: Path,
    out_dir: Path,
    *,
    symbols: list[str] | None = None,
    sanitize: Sanitize | None = None,
    methods: Iterable[str] = SUPPORTED_METHODS,
) -> ImportReport:
    """Import *exchange_id*'s ccxt response cases as cassettes under *out_dir*.

    Writes ``markets.json`` (symbol -> market as ``exchange.markets`` holds it; pass it to
    ``set_markets``), ``ccxt/<method>-<index>.yaml`` (one interaction per HTTP call ccxt made)
    and ``ccxt/cases.json``.  Markets are trimmed to the symbols the imported cases mention plus
    *symbols*.  *sanitize* gets and returns each request's headers; without it auth headers are
    dropped.  Signature params are always dropped from uri and body, and a credential or
    signature still present afterwards raises.  Markets the installed ccxt cannot round an
    order for are left out (``report.markets_dropped``), so a case that needs one fails.  Cases
    that are disabled, of another method, raising in ccxt, or whose result no longer equals
    ``parsedResponse`` are skipped with a reason.  Files are staged in a temp dir and moved
    into place.
    """
    markets, doc = load_static_fixtures(exchange_id, Path(static_dir))
    unknown = [s for s in symbols or [] if s not in markets]
    if unknown:
        raise CcxtImportError(f"symbols not in the {exchange_id} markets fixture: {unknown}")
    markets, dropped = usable_markets(exchange_id, markets)
    report, wanted = ImportReport(exchange_id, markets_dropped=dropped), set(methods)
    pending: Pending = []
    for method, cases in doc["methods"].items():
        for index, case in enumerate(cases):
            reason = _skip_reason(method, case, wanted)
            if reason:
                report.skipped.append(
                    SkippedCase(method, index, case.get("description", ""), reason)
                )
            else:
                pending.append((method, index, case))
    # record against the markets of every selected case, then, if some were skipped, once more
    # against only the markets the imported cases mention: what markets.json will hold
    extra = set(symbols or [])
    snapshot = _snapshot(exchange_id, markets, pending, extra)
    files, entries, done, skipped = _record(exchange_id, doc, snapshot, pending, sanitize)
    final = _snapshot(exchange_id, markets, done, extra)
    if final.keys() != snapshot.keys():
        snapshot = final
        files, entries, _, again = _record(exchange_id, doc, snapshot, done, sanitize)
        skipped += again
    report.skipped += skipped
    report.imported = [entry["cassette"] for entry in entries]
    index_doc = {"exchange": exchange_id, "ccxtVersion": ccxt.__version__}
    credentials = file_credentials(doc)
    if credentials:  # canaries: replays set them again, as the cases were recorded
        index_doc["credentials"] = credentials
    index_doc.update(markets="../markets.json", cases=entries)
    files["cases.json"] = json.dumps(index_doc, indent=2, ensure_ascii=False) + "\n"
    origin = provenance.for_import(Path(static_dir), exchange_id)
    files[provenance.FILE] = json.dumps(origin, indent=2) + "\n"
    _write_atomically(Path(out_dir), json.dumps(snapshot, indent=2) + "\n", files, report)
    return report


def _snapshot(
    exchange_id: str, markets: Mapping[str, Any], cases: Pending, extra: set[str]
) -> dict[str, Any]:
    """Processed markets of the symbols *cases* mention (in input or result) plus *extra*."""
    found = {s for _, _, c in cases for s in _strings([c.get("input"), c.get("parsedResponse")])}
    raw = {s: m for s, m in markets.items() if s in found or s in extra}
    return _processed_markets(exchange_id, raw)


def _record(
    exchange_id: str,
    doc: Mapping[str, Any],
    snapshot: Mapping[str, Any],
    cases: Pending,
    sanitize: Sanitize | None,
) -> tuple[dict[str, str], list[dict[str, Any]], Pending, list[SkippedCase]]:
    """Record *cases*: cassette texts by name, index entries, cases done, cases skipped."""
    files: dict[str, str] = {}
    entries, done, skipped = [], [], []
    for method, index, case in cases:
        entry = _record_case(exchange_id, doc, snapshot, (method, index, case), sanitize)
        if isinstance(entry, str):
            skipped.append(SkippedCase(method, index, case.get("description", ""), entry))
        else:
            files[entry["cassette"]] = entry.pop("_yaml")
            entries.append(entry)
            done.append((method, index, case))
    return files, entries, done, skipped


def _record_case(
    exchange_id: str,
    doc: Mapping[str, Any],
    snapshot: Mapping[str, Any],
    item: tuple[str, int, dict[str, Any]],
    sanitize: Sanitize | None,
) -> dict[str, Any] | str:
    """One case's index entry (its cassette text under ``_yaml``), or why it is skipped."""
    method, index, case = item
    force = set(case.get("forceCheckKeys") or [])
    skip_keys = [k for k in doc.get("skipKeys") or [] if k not in force]
    options = ccxt.Exchange.deep_extend(doc.get("options") or {}, case.get("options") or {})
    credentials = {**canary_credentials(exchange_id), **file_credentials(doc)}
    exchange = make_offline_exchange(
        exchange_id, snapshot, options=options, credentials=credentials
    )
    freeze_clock(exchange, CLOCK_MS)
    # the market type ccxt defaulted to: a broker's config may set another, the case needs this
    defaults = {k: exchange.options[k] for k in _TYPE_OPTIONS if k in exchange.options}
    try:
        result, calls = capture(exchange, case)
    except Exception as exc:  # as in ccxt's runner, a raising case fails
        first_line = (str(exc).splitlines() or [""])[0][:200]
        return f"ccxt raised {type(exc).__name__}: {first_line}"
    mismatches = compare_parsed(result, case.get("parsedResponse"), skip_keys)
    if mismatches:
        return f"ccxt {ccxt.__version__} output differs from parsedResponse: {mismatches[0]}"
    if not calls:
        return "ccxt made no HTTP request"
    interactions, secrets = [], list(_secrets_of(exchange))
    for request, answer in calls:
        clean, removed = sanitize_request(request, sanitize)
        interactions.append((clean, answer))
        secrets += removed
    dumped = json.dumps([req for req, _ in interactions], ensure_ascii=False)
    if any(len(s) >= 6 and s in dumped for s in secrets):
        raise CcxtImportError(f"{exchange_id} {method}[{index}]: a secret survived sanitize")
    return {
        "method": method, "index": index, "description": case.get("description", ""),
        "input": case.get("input") or [], "options": options, "typeOptions": defaults,
        "parsedResponse": case.get("parsedResponse"), "skipKeys": skip_keys,
        "cassette": f"{method}-{index}.yaml", "interactions": len(interactions),
        "clock": CLOCK_MS,
        "_yaml": cassette_text(interactions),
    }  # fmt: skip


def _write_atomically(
    out_dir: Path, markets: str, files: Mapping[str, str], report: ImportReport
) -> None:
    """Stage everything in a temp dir under *out_dir*, then swap ``ccxt/`` and markets in."""
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".ccxt-import-", dir=out_dir))
    try:
        (staging / "ccxt").mkdir()
        for name, text in files.items():
            (staging / "ccxt" / name).write_text(text, encoding="utf-8")
        (staging / "markets.json").write_text(markets, encoding="utf-8")
        if (out_dir / "ccxt").exists():
            os.replace(out_dir / "ccxt", staging / "ccxt.old")
        os.replace(staging / "ccxt", out_dir / "ccxt")
        os.replace(staging / "markets.json", out_dir / "markets.json")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    report.files = [out_dir / "markets.json", *(out_dir / "ccxt" / n for n in files)]
    report.bytes_written = sum(p.stat().st_size for p in report.files)
