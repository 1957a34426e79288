"""What a request ccxt made offline becomes in a cassette: signature params and auth headers
dropped (:func:`sanitize_request`), then the interactions as vcrpy's YAML
(:func:`cassette_text`)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from vcr.request import Request as VcrRequest
from vcr.serialize import serialize
from vcr.serializers import yamlserializer

__all__ = ["Sanitize", "cassette_text", "sanitize_request", "scrub_body"]

Sanitize = Callable[[dict[str, Any]], dict[str, Any]]
_AUTH_HEADER = re.compile(r"key|sign|auth|token|secret|pass|payload|cookie", re.I)
_AUTH_PARAM = re.compile(
    r"^(signature|sign|sig|hmac|api_?key|access_?key(id)?|token|access_?token|secret|passphrase)$",
    re.I,
)


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


def scrub_body(body: str | None) -> tuple[str | None, list[str]]:
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


def sanitize_request(request: dict[str, Any], sanitize: Sanitize | None) -> tuple[dict, list[str]]:
    """Drop signature params from uri and body; headers go through *sanitize*, or lose every
    auth-looking header by default.  Also returns the raw secret values seen."""
    parts = urlsplit(request["uri"])
    query, secrets = _scrub_pairs(parts.query)
    body, body_secrets = scrub_body(request["body"])
    raw_headers = request["headers"]
    secrets += body_secrets + [v for k, v in raw_headers.items() if _AUTH_HEADER.search(k)]
    if sanitize is not None:
        headers = sanitize(dict(raw_headers))
    else:
        headers = {k: v for k, v in raw_headers.items() if not _AUTH_HEADER.search(k)}
    uri = urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
    return {**request, "uri": uri, "body": body, "headers": headers}, secrets


def cassette_text(interactions: list[tuple[dict, Any]]) -> str:
    """vcrpy's YAML for ``(request, recorded body)`` pairs, each answered 200 OK."""
    requests, responses = [], []
    for req, answer in interactions:
        requests.append(VcrRequest(req["method"], req["uri"], req["body"], req["headers"]))
        text = answer if isinstance(answer, str) else json.dumps(answer, ensure_ascii=False)
        ctype = "text/plain" if isinstance(answer, str) else "application/json"
        status, headers = {"code": 200, "message": "OK"}, {"Content-Type": [ctype]}
        responses.append({"status": status, "headers": headers, "body": {"string": text}})
    return serialize({"requests": requests, "responses": responses}, yamlserializer)
