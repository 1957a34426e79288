"""Scrubbing before anything is written: keys, secrets, signatures and auth headers never reach
a cassette, in the URL, the headers or the body, in any encoding the exchange uses.

Two layers: names (secret parameters and headers of the exchange's auth scheme) and values (the
actual credential values in use, wherever they appear, also base64- and URL-encoded).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

from scaffolder.harness.signed_requests import AuthScheme, scheme_for

MASK = "SCRUBBED"
#: Response headers that may carry session secrets.
RESPONSE_SECRET_HEADERS = frozenset({"set-cookie", "x-mbx-apikey", "authorization"})
#: Standard base64 alphabet -> URL-safe alphabet.
URLSAFE = str.maketrans("+/", "-_")


def base64_forms(value: str) -> set[str]:
    """What of ``value``'s base64 encoding shows whatever bytes surround it in a larger blob.

    Base64 turns 3 bytes into 4 characters, so a secret inside a longer encoded text (a JSON
    payload, ``key:secret``) is spelled one of three ways depending on its offset modulo 3;
    the characters at either end also carry bits of the neighbouring bytes. For each offset
    this keeps the characters made of the secret's bits only, in the standard and the
    URL-safe alphabet. A stand-alone encoding of ``value`` contains the offset-0 form.
    """
    data = value.encode()
    forms: set[str] = set()
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + data).decode()
        core = encoded[-(-8 * shift // 6) : 8 * (shift + len(data)) // 6]
        forms |= {core, core.translate(URLSAFE)}
    return forms


class Scrubber:
    """Scrubs vcrpy requests and responses for one exchange and a set of secret values."""

    def __init__(self, exchange: str | None, secrets: Iterable[str] = ()) -> None:
        self.scheme: AuthScheme = scheme_for(exchange)
        values = {s for s in secrets if s and len(s) >= 6}
        variants: set[str] = set()
        for value in values:
            variants |= {value, quote(value, safe=""), quote_plus(value)} | base64_forms(value)
        self.secrets = sorted(variants, key=len, reverse=True)

    # -- values ----------------------------------------------------------------------------
    def mask_text(self, text: str) -> str:
        """``text`` with every known secret value (in any of its encodings) masked."""
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def _mask_params(self, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return [
            (k, MASK if k.lower() in self.scheme.secret_params else self.mask_text(v))
            for k, v in pairs
        ]

    # -- requests --------------------------------------------------------------------------
    def request(self, request: Any) -> Any:
        """Scrub a vcrpy request in place (``before_record_request``) and return it."""
        parts = urlsplit(request.uri)
        query = urlencode(
            self._mask_params(parse_qsl(parts.query, keep_blank_values=True)), safe=":/"
        )
        request.uri = self.mask_text(urlunsplit(parts._replace(query=query)))
        for name in list(request.headers):
            lowered = name.lower()
            if lowered in self.scheme.payload_headers:
                request.headers[name] = self._scrub_payload(request.headers[name])
            elif lowered in self.scheme.secret_headers:
                request.headers[name] = MASK
            else:
                request.headers[name] = self.mask_text(str(request.headers[name]))
        if request.body:
            request.body = self._scrub_body(request.body)
        return request

    def _scrub_body(self, body: Any) -> Any:
        raw = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else str(body)
        text = raw.strip()
        if text.startswith("{"):
            try:
                document = json.loads(text)
            except ValueError:
                document = None
            if isinstance(document, dict):
                text = json.dumps(self._scrub_json(document), separators=(",", ":"))
        elif "=" in text and " " not in text:
            text = urlencode(self._mask_params(parse_qsl(text, keep_blank_values=True)))
        text = self.mask_text(text)
        return text.encode() if isinstance(body, bytes) else text

    def _scrub_json(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: MASK if k.lower() in self.scheme.secret_params else self._scrub_json(v)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self._scrub_json(v) for v in value]
        if isinstance(value, str):
            return self.mask_text(value)
        return value

    def _scrub_payload(self, value: str) -> str:
        try:
            document = json.loads(base64.b64decode(value))
        except (ValueError, TypeError):
            return MASK
        scrubbed = json.dumps(self._scrub_json(document), separators=(",", ":"))
        return base64.b64encode(scrubbed.encode()).decode()

    # -- responses -------------------------------------------------------------------------
    def response(self, response: dict[str, Any]) -> dict[str, Any]:
        """Scrub a vcrpy response dict (``before_record_response``) and return it."""
        headers = response.get("headers") or {}
        for name in list(headers):
            if name.lower() in RESPONSE_SECRET_HEADERS:
                headers[name] = [MASK]
            else:
                values = headers[name]
                headers[name] = (
                    [self.mask_text(str(v)) for v in values]
                    if isinstance(values, list)
                    else self.mask_text(str(values))
                )
        body = response.get("body") or {}
        content = body.get("string")
        if isinstance(content, bytes):
            body["string"] = self.mask_text(content.decode("utf-8", errors="replace")).encode()
        elif isinstance(content, str):
            body["string"] = self.mask_text(content)
        return response
