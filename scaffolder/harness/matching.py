"""Matching signed exchange requests for replay.

A request matches a recorded one when method, host, path and every meaningful query/body
parameter agree. Timestamps, nonces, signatures, recvWindow, client order ids and auth headers
never decide a match (see :mod:`scaffolder.harness.signed_requests`).
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from brokers.redaction import MASK, high_entropy, is_auth_name
from scaffolder.harness.signed_requests import AuthScheme, scheme_for


def _body_text(body: Any) -> str:
    if body is None:
        return ""
    if isinstance(body, bytes):
        return body.decode("utf-8", errors="replace")
    return str(body)


def _masked(key: str, value: Any) -> Any:
    """``value`` as the scrubber writes it when it masks by look (a key-like value under an
    auth-like name): the mask, which matches anything (see :func:`same`)."""
    if isinstance(value, str) and is_auth_name(key) and high_entropy(value):
        return MASK
    return value


def _without_secrets(value: Any, ignored: frozenset[str]) -> Any:
    """A JSON body with its volatile and secret members removed and key-like values masked,
    at any depth (a batch body is a list of signed objects)."""
    if isinstance(value, dict):
        return {
            k: _masked(str(k), _without_secrets(v, ignored))
            for k, v in value.items()
            if str(k).lower() not in ignored
        }
    if isinstance(value, list):
        return [_without_secrets(v, ignored) for v in value]
    return value


def same(a: Any, b: Any) -> bool:
    """Whether two parameter values match: equal, with the scrub mask on either side matching
    anything (the scrubber masked what the live request carries, a key or a signature whose
    name only that broker's scheme knows)."""
    if a == MASK or b == MASK:
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return set(a) == set(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def meaningful_params(request: Any, scheme: AuthScheme) -> dict[str, Any]:
    """Query and body parameters that decide a match: names lower-cased, volatile ones gone."""
    ignored = scheme.volatile_params | scheme.secret_params
    params: dict[str, Any] = {}
    for key, value in parse_qsl(urlsplit(request.uri).query, keep_blank_values=True):
        if key.lower() not in ignored:
            params[f"q:{key}"] = _masked(key, value)
    text = _body_text(request.body).strip()
    if text.startswith(("{", "[")):
        try:
            document = json.loads(text)
        except ValueError:
            document = text
        document = _without_secrets(document, ignored)
        if isinstance(document, dict):
            params.update({f"b:{k}": v for k, v in document.items()})
        else:
            params["b:"] = document
    elif text:
        for key, value in parse_qsl(text, keep_blank_values=True):
            if key.lower() not in ignored:
                params[f"b:{key}"] = _masked(key, value)
    for header in scheme.payload_headers:
        payload = _header(request, header)
        if payload:
            params.update(_decoded_payload(payload, ignored))
    return params


def _header(request: Any, name: str) -> str | None:
    for key, value in (request.headers or {}).items():
        if key.lower() == name:
            return value[0] if isinstance(value, list) else value
    return None


def _decoded_payload(payload: str, ignored: frozenset[str]) -> dict[str, Any]:
    try:
        document = json.loads(base64.b64decode(payload))
    except (ValueError, TypeError):
        return {}
    if not isinstance(document, dict):
        return {}
    return {f"p:{k}": v for k, v in document.items() if k.lower() not in ignored}


def describe(request: Any, scheme: AuthScheme) -> str:
    """One line naming a request by what matters for matching."""
    parts = urlsplit(request.uri)
    params = meaningful_params(request, scheme)
    shown = ", ".join(f"{k[2:] or 'body'}={v}" for k, v in sorted(params.items()))
    return f"{request.method} {parts.netloc}{parts.path}" + (f" [{shown}]" if shown else "")


_ABSENT = object()


def make_matcher(exchange: str | None) -> Any:
    """A vcrpy matcher for ``exchange``: raises AssertionError saying what differs."""
    scheme = scheme_for(exchange)

    def exchange_request(r1: Any, r2: Any) -> None:
        a, b = urlsplit(r1.uri), urlsplit(r2.uri)
        if r1.method != r2.method:
            raise AssertionError(f"method {r1.method} != {r2.method}")
        if (a.hostname, a.port, a.path) != (b.hostname, b.port, b.path):
            raise AssertionError(f"{a.netloc}{a.path} != {b.netloc}{b.path}")
        pa, pb = meaningful_params(r1, scheme), meaningful_params(r2, scheme)
        diff = sorted(
            k for k in set(pa) | set(pb) if not same(pa.get(k, _ABSENT), pb.get(k, _ABSENT))
        )
        if diff:
            raise AssertionError(
                "parameters differ: "
                + ", ".join(f"{k[2:]}: {pa.get(k)!r} != {pb.get(k)!r}" for k in diff)
            )

    exchange_request.__name__ = "exchange_request"
    return exchange_request
