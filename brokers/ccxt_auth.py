"""Where a ccxt exchange puts its credentials and signature, learnt from ccxt's own ``sign()``.

ccxt builds every request of an exchange in one ``sign(path, api, method, params)`` method.
Signing one private and one public endpoint of the exchange's implicit API with canary
credentials, offline, shows what signing adds: the auth headers (``bfx-signature``,
``API-Sign``...), the query or body parameters (``signature``, ``AccessKeyId``...) and any
parameter holding a canary value. :meth:`brokers.ccxt_broker.CcxtBroker.auth_names` answers
with that, so the harness scrubs a freshly generated ccxt broker by what ccxt sends, not by a
table of known exchanges.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import importlib
import importlib.util
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from brokers.config import cache_dir, write_cache_file
from brokers.signing import AuthNames

#: Canary credentials every ccxt exchange accepts for signing: base64 (Kraken decodes its
#: secret), hex where a private key is needed, alphanumerics elsewhere.
_CANARY = "CANARYxAUTHxPROBExKEYx00"
_CANARY_SECRET = base64.b64encode(b"CANARY-AUTH-PROBE-SECRET-0000").decode()
_CANARY_CREDENTIALS = {
    "apiKey": _CANARY,
    "secret": _CANARY_SECRET,
    "password": "CANARYxPASSWORDx00",
    "uid": "CANARYxUIDx00",
    "login": "CANARYxLOGINx00",
    "token": "CANARYxTOKENx00",
    "accountId": "CANARYxACCOUNTx00",
    "walletAddress": "0x" + "00" * 20,
    "privateKey": "0x" + "11" * 32,
}

#: Headers a signed request may add that carry nothing secret.
_PLAIN_HEADERS = frozenset({"content-type", "content-length", "accept", "user-agent"})
#: Added parameters that change with every request (the rest, like a JSON-RPC ``method``,
#: still decide a match).
_VOLATILE = re.compile(r"(?i)time|nonce|recv|expire")


@functools.cache
def ccxt_auth_names(exchange_id: str) -> AuthNames:
    """The auth headers and parameters ccxt's ``exchange_id`` adds when it signs a request;
    empty when the exchange cannot be probed offline (the harness then falls back to its
    generic names and the audit's value rules).

    Answers are cached under :func:`brokers.config.cache_dir`, keyed by the installed ccxt and
    this module, so the cassette audit (a pre-commit hook) does not import ccxt once it knows.
    """
    path = _cache_path()
    cached = _read_cache(path) if path else {}
    if exchange_id in cached:
        entry = cached[exchange_id]
        return AuthNames.of(entry["headers"], entry["params"], entry["volatile_params"])
    names = _probe_any(exchange_id)
    if path is not None:
        cached[exchange_id] = {
            "headers": sorted(names.headers),
            "params": sorted(names.params),
            "volatile_params": sorted(names.volatile_params),
        }
        write_cache_file(path, json.dumps(cached, indent=1, sort_keys=True))
    return names


def _cache_path() -> Path | None:
    """The cache file for the installed ccxt (found, not imported) and this module's code."""
    spec = importlib.util.find_spec("ccxt")
    if spec is None or not spec.origin:
        return None
    try:
        stat = Path(spec.origin).stat()
        code = Path(__file__).read_bytes()
    except OSError:
        return None
    key = hashlib.sha256(f"{spec.origin}:{stat.st_size}:{stat.st_mtime_ns}:".encode() + code)
    return cache_dir() / f"ccxt-auth-{key.hexdigest()[:16]}.json"


def _read_cache(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return document if isinstance(document, dict) else {}


def _probe_any(exchange_id: str) -> AuthNames:
    for key in (_CANARY, f"account-{_CANARY}"):  # Gemini signs only with account-... keys
        try:
            return _probe(exchange_id, {**_CANARY_CREDENTIALS, "apiKey": key})
        except Exception:  # any exchange that cannot sign offline: try the next key
            continue
    return AuthNames()


def _probe(exchange_id: str, credentials: dict[str, str]) -> AuthNames:
    ccxt = importlib.import_module("ccxt")
    exchange = getattr(ccxt, exchange_id)({**credentials, "enableRateLimit": False})
    private, public = _endpoints(type(exchange))
    if private is None:
        return AuthNames()
    signed = exchange.sign(private.path, private.api, private.method, {})
    plain = exchange.sign(public.path, public.api, public.method, {}) if public else {}
    headers = {
        h
        for h in set(signed.get("headers") or {}) - set(plain.get("headers") or {})
        if h.lower() not in _PLAIN_HEADERS
    }
    plain_params = {k for k, _ in _params(plain)}
    added = [(k, v) for k, v in _params(signed) if k not in plain_params]
    canaries = set(credentials.values())
    secret_params = [k for k, v in added if v in canaries or _signature_like(k)]
    volatile = [k for k, _ in added if k not in secret_params and _VOLATILE.search(k)]
    return AuthNames.of(headers, secret_params, volatile)


def _endpoints(klass: type) -> tuple[Any, Any]:
    """The first private (GET preferred) and the first public endpoint of the implicit API."""
    from ccxt.base.types import Entry

    entries = [
        value
        for cls in klass.__mro__
        for value in vars(cls).values()
        if isinstance(value, Entry) and "{" not in str(value.path)
    ]

    def private(entry: Any) -> bool:
        return any("private" in str(part).lower() for part in entry.api)

    def public(entry: Any) -> bool:
        return any("public" in str(part).lower() for part in entry.api)

    privates = sorted(
        (e for e in entries if private(e)), key=lambda e: (e.method != "GET", str(e.path))
    )
    publics = [e for e in entries if public(e) and e.method == "GET"]
    return (privates[0] if privates else None), (publics[0] if publics else None)


def _params(request: dict[str, Any]) -> list[tuple[str, str]]:
    """The query and body parameters of a signed request (form or JSON object body)."""
    pairs = parse_qsl(urlsplit(str(request.get("url") or "")).query, keep_blank_values=True)
    body = request.get("body")
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    if isinstance(body, str) and body.strip():
        text = body.strip()
        if text.startswith("{"):
            try:
                document = json.loads(text)
            except ValueError:
                document = {}
            if isinstance(document, dict):
                pairs += [(str(k), str(v)) for k, v in document.items()]
        else:
            pairs += parse_qsl(text, keep_blank_values=True)
    return pairs


def _signature_like(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in ("sign", "sig", "hmac", "key", "token", "auth"))
