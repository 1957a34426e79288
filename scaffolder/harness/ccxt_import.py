"""Turn ccxt's offline static fixtures into vcrpy cassettes.

ccxt keeps offline test data in ``ts/src/test/static/{markets,response}/<id>.json``.  A
*response case* is ``{"description", "method", "input", "httpResponse" | "httpResponseByUrl",
"parsedResponse", ["options"], ["disabled"], ["forceCheckKeys"]}``; the file adds ``skipKeys``
and ``options`` for all its cases.  ccxt's runner (``ccxt/test/tests_sync.py``) swaps
``exchange.fetch`` so that *every* HTTP call of the method gets the same ``httpResponse`` (with
``httpResponseByUrl``: the body of the first url fragment found in the url, else the first
body), then compares the unified result with ``parsedResponse``.

:func:`import_ccxt` runs the real ccxt exchange that way, offline, with canary credentials:
each intercepted ``fetch(url, method, headers, body)`` becomes one cassette interaction answered
with the recorded body; the result is checked against ``parsedResponse`` as ccxt does; it writes
``markets.json``, ``ccxt/<method>-<index>.yaml`` and ``ccxt/cases.json``.  :func:`replay_case`
replays a case through vcrpy; :func:`compare_parsed` compares like ccxt's
``assert_static_response_output``.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import ccxt
import vcr
from vcr.request import Request as VcrRequest
from vcr.serialize import serialize
from vcr.serializers import yamlserializer

from scaffolder.harness import provenance
from scaffolder.harness.parsed_check import compare_parsed
from scaffolder.harness.session import ACCOUNT_KEY_EXCHANGES, account_key

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
#: vcrpy matchers for replay: query strings and bodies carry nonces and timestamps.
MATCH_ON: tuple[str, ...] = ("method", "scheme", "host", "port", "path")
_CANARY = {
    "apiKey": "CANARY-API-KEY", "secret": "CANARY-SECRET",
    "password": "CANARY-PASSWORD", "uid": "CANARY-UID",
    # what else ccxt's own offline harness sets (wallet-signing exchanges need them), as canaries
    "walletAddress": "0x" + "ca11ab1e" * 5, "privateKey": "0x" + "ca" * 32,
    "token": "CANARY-TOKEN", "login": "CANARY-LOGIN", "accountId": "CANARY-ACCOUNT-ID",
}  # fmt: skip
#: Credential fields a fixture file may set for its exchange (ccxt's test data does, for
#: exchanges whose keys must have a form); the project's copies hold canaries there.
CREDENTIAL_FIELDS = tuple(_CANARY)
# what ccxt's init_offline_exchange puts in options, with its token made a canary
_HARNESS_OPTIONS: dict[str, Any] = {
    "enableUnifiedAccount": True, "enableUnifiedMargin": False,
    "accessToken": "CANARY-ACCESS-TOKEN", "expires": 999999999999999, "leverageBrackets": {},
}  # fmt: skip
_AUTH_HEADER = re.compile(r"key|sign|auth|token|secret|pass|payload|cookie", re.I)
_AUTH_PARAM = re.compile(
    r"^(signature|sign|sig|hmac|api_?key|access_?key(id)?|token|access_?token|secret|passphrase)$",
    re.I,
)
#: ccxt options that pick the market type a call defaults to.
_TYPE_OPTIONS = ("defaultType", "defaultSubType")
Sanitize = Callable[[dict[str, Any]], dict[str, Any]]
Pending = list[tuple[str, int, dict[str, Any]]]  # (method, index in the fixture, case)


#: ccxt's clock (ms) while a case is recorded, and again when it is replayed through a broker:
#: requests that carry a time ccxt computes (candles "from now - limit", say) then match.
CLOCK_MS = 1710331200000


def harness_options() -> dict[str, Any]:
    """The ccxt options ccxt's offline harness sets (its token a canary): a recorded case is
    replayed with them, as it was recorded."""
    return copy.deepcopy(_HARNESS_OPTIONS)


def freeze_clock(exchange: Any, now_ms: int) -> None:
    """Make ``exchange``'s ``milliseconds``/``seconds``/``microseconds`` return ``now_ms``."""
    exchange.milliseconds = lambda: now_ms
    exchange.seconds = lambda: now_ms // 1000
    exchange.microseconds = lambda: now_ms * 1000


class CcxtImportError(ValueError):
    """A static fixture directory, file or exchange id cannot be imported."""


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


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise CcxtImportError(f"missing ccxt static file: {path}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CcxtImportError(f"malformed JSON in {path}: {exc}") from exc


def load_static_fixtures(
    exchange_id: str, static_dir: Path
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return ``(markets, response_doc)`` for *exchange_id* from *static_dir*, validated."""
    if exchange_id not in ccxt.exchanges:
        raise CcxtImportError(f"unknown ccxt exchange id: {exchange_id!r}")
    static_dir = Path(static_dir)
    if not static_dir.is_dir():
        raise CcxtImportError(f"ccxt static dir not found: {static_dir}")
    markets_path = static_dir / "markets" / f"{exchange_id}.json"
    response_path = static_dir / "response" / f"{exchange_id}.json"
    markets, doc = _read_json(markets_path), _read_json(response_path)
    if not isinstance(markets, dict) or not all(isinstance(m, dict) for m in markets.values()):
        raise CcxtImportError(f"{markets_path}: expected an object of symbol -> market")
    if not isinstance(doc, dict) or not isinstance(doc.get("methods"), dict):
        raise CcxtImportError(f"{response_path}: expected an object with a 'methods' object")
    named = doc.get("exchange", exchange_id)
    # another exchange ccxt has (not one this one derives from) is a mix-up; a name ccxt no
    # longer has is this file's exchange before a rename (coinbasepro, now coinbaseexchange)
    if named in ccxt.exchanges and named not in (exchange_id, *ccxt_ancestors(exchange_id)):
        raise CcxtImportError(f"{response_path}: is for exchange {named!r}")
    for method, cases in doc["methods"].items():
        if not isinstance(cases, list) or not all(isinstance(c, dict) for c in cases):
            raise CcxtImportError(f"{response_path}: methods.{method} must be a list of objects")
    return markets, doc


def ccxt_ancestors(exchange_id: str) -> list[str]:
    """The ccxt exchanges ``exchange_id``'s class derives from, nearest first: binanceusdm
    runs binance's API (``["binance"]``), so binance's recorded responses are its data too."""
    cls = getattr(ccxt, exchange_id)
    return [b.__name__ for b in cls.__mro__[1:] if b.__name__ in ccxt.exchanges]


def canary_credentials(exchange_id: str) -> dict[str, str]:
    """Obviously fake credentials; coinbase gets a throwaway EC key generated right now.

    Coinbase's current (CDP) keys are an ``organizations/.../apiKeys/...`` name and an EC
    private key in PEM.  A fresh P-256 key is made in memory on each call, so no key is ever
    stored.  The other exchanges sign with any string and get the plain canaries.
    """
    creds = dict(_CANARY)
    if exchange_id == "coinbase":
        from cryptography.hazmat.primitives import serialization as ser
        from cryptography.hazmat.primitives.asymmetric import ec

        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            ser.Encoding.PEM, ser.PrivateFormat.TraditionalOpenSSL, ser.NoEncryption()
        )
        creds.update(apiKey="organizations/canary/apiKeys/CANARY-API-KEY", secret=pem.decode())
    elif exchange_id in ACCOUNT_KEY_EXCHANGES:  # ccxt signs only with "account-" keys
        creds["apiKey"] = account_key(creds["apiKey"])
    return creds


def canary_like(name: str, value: str) -> str | None:
    """A canary in the form of a fixture's credential ``value`` (ccxt's test data carries
    sample keys for exchanges that need a key of some form), or None where the form is a key
    that cannot be faked (PEM).  What the project stores in place of the sample."""
    import base64

    if value.startswith("-----BEGIN"):
        return None
    if re.fullmatch(r"0x[0-9a-fA-F]+", value):
        return ("0x" + "ca" * len(value))[: len(value)]
    if len(value) >= 24 and len(value) % 4 == 0 and re.fullmatch(r"[A-Za-z0-9+/]+={0,2}", value):
        try:
            size = len(base64.b64decode(value, validate=True))
        except ValueError:
            size = 0
        if size:
            return base64.b64encode(b"\xca" * size).decode()
    if len(value) >= 16 and value.isalnum():  # base58 and the like: letters and digits
        return ("CANARYx" * len(value))[: len(value)]
    return _CANARY.get(name, f"CANARY-{name.upper()}")


#: Key material whatever an option calls it: a PEM key, or hex of a private key's length or
#: more (apex's zk ``seeds``); addresses (20 bytes) and short ids are not.
_KEY_MATERIAL = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*|0x[0-9a-fA-F]{64,}", re.S)


def _canarized_fields(fields: Mapping[str, Any], *, options: bool = False) -> dict[str, Any]:
    """``fields`` with its credentials as canaries: the named credential fields, and in ccxt
    ``options`` also every value that is key material (:data:`_KEY_MATERIAL`)."""
    out = dict(fields)
    for name, value in fields.items():
        if not isinstance(value, str):
            continue
        if name in CREDENTIAL_FIELDS or (options and _KEY_MATERIAL.fullmatch(value)):
            fake = canary_like(name, value)
            if fake is None:
                del out[name]
            else:
                out[name] = fake
    return out


def canarized(doc: Mapping[str, Any]) -> dict[str, Any]:
    """``doc`` with the credential fields it sets (at its top, in its ``options`` and in each
    case's ``options``) replaced by :func:`canary_like`."""
    out = _canarized_fields(doc)
    if isinstance(out.get("options"), dict):
        out["options"] = _canarized_fields(out["options"], options=True)
    if isinstance(out.get("methods"), dict):
        out["methods"] = {
            method: [
                {**case, "options": _canarized_fields(case["options"], options=True)}
                if isinstance(case, dict) and isinstance(case.get("options"), dict)
                else case
                for case in cases
            ]
            if isinstance(cases, list)
            else cases
            for method, cases in out["methods"].items()
        }
    return out


def file_credentials(doc: Mapping[str, Any]) -> dict[str, str]:
    """The credential fields a fixture file sets, as canaries of their form (``canarized``):
    what its cases are recorded with, over :func:`canary_credentials`, and replayed with."""
    safe = canarized({k: doc[k] for k in CREDENTIAL_FIELDS if isinstance(doc.get(k), str)})
    return {k: v for k, v in safe.items() if isinstance(v, str)}


def make_offline_exchange(
    exchange_id: str,
    markets: Mapping[str, Any],
    *,
    options: Mapping[str, Any] | None = None,
    credentials: Mapping[str, str] | None = None,
) -> Any:
    """A sync ccxt exchange with *markets* set (no HTTP), canary credentials and *options*."""
    creds = dict(credentials) if credentials is not None else canary_credentials(exchange_id)
    exchange = getattr(ccxt, exchange_id)({"enableRateLimit": False, **creds})
    exchange.extend_exchange_options(copy.deepcopy(_HARNESS_OPTIONS))
    exchange.set_markets(copy.deepcopy(dict(markets)))
    if options:
        merged = exchange.deep_extend(exchange.options, copy.deepcopy(dict(options)))
        exchange.extend_exchange_options(merged)
    return exchange


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


def _scrub_pairs(text: str) -> tuple[str, list[str]]:
    pairs = parse_qsl(text, keep_blank_values=True)
    removed = [v for k, v in pairs if _AUTH_PARAM.match(k)]
    if not removed:  # leave the encoding exactly as ccxt made it
        return text, []
    return urlencode([(k, v) for k, v in pairs if not _AUTH_PARAM.match(k)]), removed


def _scrub_json(value: Any, removed: list[str]) -> Any:
    if isinstance(value, dict):
        kept = {}
        for key, item in value.items():
            if isinstance(key, str) and _AUTH_PARAM.match(key):
                removed.append(item if isinstance(item, str) else json.dumps(item))
            else:
                kept[key] = _scrub_json(item, removed)
        return kept
    if isinstance(value, list):
        return [_scrub_json(item, removed) for item in value]
    return value


def _scrub_body(body: str | None) -> tuple[str | None, list[str]]:
    """A body without its signature params: a form's pairs, or a JSON object's keys (at any
    depth; the body is re-encoded only when one was dropped). Opaque bodies stay as they are."""
    if not body:
        return body, []
    if body.lstrip()[:1] in ("{", "["):
        try:
            parsed = json.loads(body)
        except ValueError:
            return body, []
        removed: list[str] = []
        scrubbed = _scrub_json(parsed, removed)
        return (json.dumps(scrubbed, separators=(",", ":")) if removed else body), removed
    if "=" not in body:
        return body, []
    return _scrub_pairs(body)


def _sanitize_request(request: dict[str, Any], sanitize: Sanitize | None) -> tuple[dict, list[str]]:
    """Drop signature params from uri and body; headers go through *sanitize*, or lose every
    auth-looking header by default.  Also returns the raw secret values seen."""
    parts = urlsplit(request["uri"])
    query, secrets = _scrub_pairs(parts.query)
    body, body_secrets = _scrub_body(request["body"])
    raw_headers = request["headers"]
    secrets += body_secrets + [v for k, v in raw_headers.items() if _AUTH_HEADER.search(k)]
    if sanitize is not None:
        headers = sanitize(dict(raw_headers))
    else:
        headers = {k: v for k, v in raw_headers.items() if not _AUTH_HEADER.search(k)}
    uri = urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
    return {**request, "uri": uri, "body": body, "headers": headers}, secrets


def _response_for(case: Mapping[str, Any], url: str) -> Any:
    by_url = case.get("httpResponseByUrl")
    if isinstance(by_url, dict) and by_url:
        first = next(iter(by_url.values()))
        return next((body for frag, body in by_url.items() if frag in url), first)
    return case["httpResponse"]


def _capture(exchange: Any, case: Mapping[str, Any]) -> tuple[Any, list[tuple[dict, Any]]]:
    """Run the case offline; every ``fetch`` is answered as ccxt's test runner answers it."""
    calls: list[tuple[dict, Any]] = []

    def fetch(url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        answer = _response_for(case, url)
        sent = exchange.prepare_request_headers(dict(headers or {}))
        request = {"method": method, "uri": url, "body": body}
        request["headers"] = {str(k): str(v) for k, v in sent.items()}
        calls.append((request, answer))
        return copy.deepcopy(answer)

    exchange.fetch = fetch
    result = getattr(exchange, case["method"])(*copy.deepcopy(case.get("input") or []))
    return json.loads(json.dumps(result)), calls


def _cassette_text(interactions: list[tuple[dict, Any]]) -> str:
    requests, responses = [], []
    for req, answer in interactions:
        requests.append(VcrRequest(req["method"], req["uri"], req["body"], req["headers"]))
        text = answer if isinstance(answer, str) else json.dumps(answer, ensure_ascii=False)
        ctype = "text/plain" if isinstance(answer, str) else "application/json"
        status, headers = {"code": 200, "message": "OK"}, {"Content-Type": [ctype]}
        responses.append({"status": status, "headers": headers, "body": {"string": text}})
    return serialize({"requests": requests, "responses": responses}, yamlserializer)


def _secrets_of(exchange: Any) -> Iterator[str]:
    """Credential strings on *exchange* (and a PEM's body lines) that must never be written."""
    for attr in ("apiKey", "secret", "password", "uid", "token", "privateKey"):
        value = getattr(exchange, attr, None)
        if isinstance(value, str) and value:
            yield value
            yield from (ln for ln in value.splitlines() if len(ln) >= 16 and "---" not in ln)
    yield _HARNESS_OPTIONS["accessToken"]


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
    signature still present afterwards raises.  Cases that are disabled, of another method,
    raising in ccxt, or whose result no longer equals ``parsedResponse`` are skipped with a
    reason.  Files are staged in a temp dir and moved into place.
    """
    markets, doc = load_static_fixtures(exchange_id, Path(static_dir))
    unknown = [s for s in symbols or [] if s not in markets]
    if unknown:
        raise CcxtImportError(f"symbols not in the {exchange_id} markets fixture: {unknown}")
    report, wanted = ImportReport(exchange_id), set(methods)
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
        result, calls = _capture(exchange, case)
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
        clean, removed = _sanitize_request(request, sanitize)
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
        "_yaml": _cassette_text(interactions),
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


def replay_case(exchange: Any, case: Mapping[str, Any], cassette_path: Path) -> Any:
    """Run *case* on *exchange* against its cassette only (``record_mode='none'``).

    Every recorded interaction must be played, so ccxt must make the calls it made at import.
    Returns the unified result as plain JSON data.
    """
    from scaffolder.harness.vcr_loader import vcr_options

    if case.get("clock"):
        freeze_clock(exchange, int(case["clock"]))
    # the options the case was recorded with (ccxt's harness ones, the fixture's own)
    options = exchange.deep_extend(
        _HARNESS_OPTIONS, case.get("typeOptions") or {}, case.get("options") or {}
    )
    exchange.extend_exchange_options(exchange.deep_extend(exchange.options, copy.deepcopy(options)))
    recorder = vcr.VCR(record_mode="none", match_on=MATCH_ON, **vcr_options())
    with recorder.use_cassette(str(cassette_path)) as cassette:
        result = getattr(exchange, case["method"])(*copy.deepcopy(case.get("input") or []))
        if not cassette.all_played:
            raise AssertionError(f"{cassette_path}: ccxt made fewer requests than recorded")
    return json.loads(json.dumps(result))
