"""Scrubbing before anything is written: keys, secrets, signatures and auth headers never reach
a cassette, in the URL, the headers or the body, in any encoding the exchange uses.

Three layers, all judged by :mod:`brokers.redaction`:

- names: the secret parameters and headers of the broker's auth scheme (what its class
  declares it signs, merged with the harness's table; see
  :func:`scaffolder.harness.signed_requests.scheme_for_broker`);
- values under auth-like names that look like keys or signatures (``X-MYEX-SIGN: <64 hex>``,
  ``?hmac=...``, ``"apiKey": ...`` at any depth), whatever the broker declared;
- the actual credential values in use, wherever they appear, in all their encoded forms
  (URL-, path-, hex- and base64-encoded); values shorter than six characters only where they
  stand whole (a header or an auth-named field), never as a substring of other text.

Bodies are decoded before they are scrubbed: gzip, JSON objects and arrays (so a
``\\u``-escaped key is seen as the key), forms.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from brokers.redaction import (
    MASK,
    SUBSTRING_MIN,
    base64_forms,
    encoded_forms,
    high_entropy,
    is_auth_name,
    replace_values,
)
from scaffolder.harness.signed_requests import AuthScheme, scheme_for_broker

__all__ = ["MASK", "RESPONSE_SECRET_HEADERS", "Scrubber", "base64_forms", "body_kind"]

#: Response headers that may carry session secrets.
RESPONSE_SECRET_HEADERS = frozenset({"set-cookie", "x-mbx-apikey", "authorization"})
_GZIP_MAGIC = b"\x1f\x8b"


def body_kind(text: str) -> str:
    """How a request body is encoded: ``json`` (an object or an array), ``form`` or ``text``.

    A JSON array of strings holding ``=`` (``["a=b"]``) is JSON, not a form: it must not be
    re-encoded as one.
    """
    stripped = text.strip()
    if stripped.startswith(("{", "[")):
        try:
            json.loads(stripped)
        except ValueError:
            return "text"
        return "json"
    if "=" in stripped and " " not in stripped:
        return "form"
    return "text"


class Scrubber:
    """Scrubs vcrpy requests and responses for one broker and a set of secret values."""

    def __init__(
        self, exchange: str | None, secrets: Iterable[str] = (), scheme: AuthScheme | None = None
    ) -> None:
        self.scheme: AuthScheme = scheme or scheme_for_broker(exchange)
        values = {s for s in secrets if s}
        #: The credentials themselves, and every spelling of them, longest first.
        self.values = frozenset(form for value in values for form in encoded_forms(value))
        #: The forms masked inside any text: those of credentials long enough not to occur in
        #: ordinary text by chance (the hex of a 3-character secret could be part of a price);
        #: short credentials are masked only in whole fields (:meth:`mask_field`).
        self.secrets = sorted(
            {
                form
                for value in values
                if len(value) >= SUBSTRING_MIN
                for form in encoded_forms(value)
                if len(form) >= SUBSTRING_MIN
            },
            key=len,
            reverse=True,
        )

    # -- values ----------------------------------------------------------------------------
    def mask_text(self, text: str) -> str:
        """``text`` with every known secret value (in any of its encodings) masked; values
        shorter than :data:`~brokers.redaction.SUBSTRING_MIN` are left to :meth:`mask_field`."""
        return replace_values(text, ((form, MASK) for form in self.secrets))

    def mask_field(
        self, name: str, value: str, *, header: bool = False, by_name: bool = True
    ) -> str:
        """One named value (parameter, header, JSON field): masked whole when its name is a
        secret one, when an auth-like name holds a key-like value, or when it is a credential
        (a short one only in a header or under an auth-like name: ``symbol=BTC`` must stay)."""
        auth_name = is_auth_name(name)
        if by_name and name.lower() in self.scheme.secret_params:
            return MASK
        if auth_name and high_entropy(value):
            return MASK
        if value in self.values and (len(value) >= SUBSTRING_MIN or header or auth_name):
            return MASK
        return self.mask_text(value)

    def _mask_params(self, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return [(k, self.mask_field(k, v)) for k, v in pairs]

    # -- requests --------------------------------------------------------------------------
    def request(self, request: Any) -> Any:
        """Scrub a vcrpy request in place (``before_record_request``) and return it."""
        # the URI as sent first: a secret holding "+" or "=" spelled raw in a query does not
        # survive parsing as itself ("+" reads as a space), but is still there in the text
        parts = urlsplit(self.mask_text(request.uri))
        query = urlencode(
            self._mask_params(parse_qsl(parts.query, keep_blank_values=True)), safe=":/"
        )
        request.uri = self.mask_text(urlunsplit(parts._replace(query=query)))
        for name in list(request.headers):
            lowered = name.lower()
            value = str(request.headers[name])
            if lowered in self.scheme.payload_headers:
                request.headers[name] = self._scrub_payload(value)
            elif lowered in self.scheme.secret_headers:
                request.headers[name] = MASK
            else:
                request.headers[name] = self.mask_field(name, value, header=True)
        if request.body:
            request.body = self._scrub_body(request.body)
        return request

    def _scrub_body(self, body: Any) -> Any:
        if isinstance(body, bytes) and body.startswith(_GZIP_MAGIC):
            try:
                inner = gzip.decompress(body)
            except (OSError, EOFError):
                return MASK.encode()
            return gzip.compress(self._scrub_body(inner), mtime=0)
        raw = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else str(body)
        text = raw.strip()
        kind = body_kind(text)
        if kind == "json":
            text = json.dumps(self._scrub_json(json.loads(text)), separators=(",", ":"))
        elif kind == "form":
            text = urlencode(self._mask_params(parse_qsl(text, keep_blank_values=True)))
        text = self.mask_text(text)
        return text.encode() if isinstance(body, bytes) else text

    def _scrub_json(self, value: Any, name: str = "") -> Any:
        if isinstance(value, dict):
            return {
                k: MASK if str(k).lower() in self.scheme.secret_params else self._scrub_json(v, k)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self._scrub_json(v, name) for v in value]
        if isinstance(value, str):
            return self.mask_field(name, value) if name else self.mask_text(value)
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
                    [self.mask_field(name, str(v), header=True) for v in values]
                    if isinstance(values, list)
                    else self.mask_field(name, str(values), header=True)
                )
        body = response.get("body") or {}
        content = body.get("string")
        if isinstance(content, bytes):
            body["string"] = self._scrub_response_text(
                content.decode("utf-8", errors="replace")
            ).encode()
        elif isinstance(content, str):
            body["string"] = self._scrub_response_text(content)
        return response

    def _scrub_response_text(self, text: str) -> str:
        """A response body: JSON fields under auth-like names holding key-like values (a
        session token, a listen key) masked, the layout kept; known values masked anywhere."""
        if body_kind(text) == "json":
            document = json.loads(text)
            scrubbed = self._scrub_response_json(document)
            if scrubbed != document:
                text = json.dumps(scrubbed, separators=(",", ":"))
        return self.mask_text(text)

    def _scrub_response_json(self, value: Any, name: str = "") -> Any:
        if isinstance(value, dict):
            return {k: self._scrub_response_json(v, str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self._scrub_response_json(v, name) for v in value]
        if isinstance(value, str) and name:
            return self.mask_field(name, value, by_name=False)
        return value
