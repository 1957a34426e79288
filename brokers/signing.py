"""Request signing for REST brokers: HMAC over the query string or over a canonical header string.

One :class:`Signer` per broker. It returns the request to send and the canonical string that
was signed, so ``scaffolder doctor`` can show a person what was signed (with secrets masked)
when the exchange rejects a signature.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlencode

from brokers.redaction import mask_tail

Scheme = Literal[
    "hmac_sha256_query", "hmac_sha512_query", "hmac_sha256_header", "hmac_sha512_header"
]
SCHEMES: tuple[str, ...] = (
    "hmac_sha256_query",
    "hmac_sha512_query",
    "hmac_sha256_header",
    "hmac_sha512_header",
)


@dataclass(frozen=True)
class AuthNames:
    """Where a broker's signed requests carry credentials, signatures and timestamps.

    Each broker class declares these (:meth:`brokers.base.BaseBroker.auth_names`); the
    harness scrubs them from cassettes and keeps them out of request matching, so a broker
    with its own header names is scrubbed by what it sends, not by a table of exchanges.
    Names are lower-case.
    """

    #: Headers holding the key, the signature, a timestamp or a nonce.
    headers: frozenset[str] = frozenset()
    #: Query or body parameters holding the key or the signature.
    params: frozenset[str] = frozenset()
    #: Query or body parameters that change on every request (timestamps, nonces).
    volatile_params: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls,
        headers: Iterable[str] = (),
        params: Iterable[str] = (),
        volatile_params: Iterable[str] = (),
    ) -> AuthNames:
        """Names as given, lower-cased, empty ones dropped."""
        return cls(
            frozenset(h.lower() for h in headers if h),
            frozenset(p.lower() for p in params if p),
            frozenset(p.lower() for p in volatile_params if p),
        )


@dataclass
class SignedRequest:
    """What to send: query params, headers, body; and ``canonical``, the signed string."""

    params: list[tuple[str, Any]]
    headers: dict[str, str]
    body: str | None
    canonical: str


@dataclass
class Signer:
    """Signs requests with an API key and secret.

    ``*_query`` schemes (Binance style): params sorted, ``timestamp`` (and ``recvWindow``)
    added, hex HMAC of the urlencoded query appended as ``signature_param``; the key goes in
    ``key_header``. ``*_header`` schemes: HMAC of ``timestamp + METHOD + path + query + body``
    in ``signature_header``, the timestamp in ``timestamp_header``.
    """

    api_key: str
    secret: str
    scheme: Scheme = "hmac_sha256_query"
    key_header: str = "X-API-KEY"
    signature_header: str = "X-SIGNATURE"
    timestamp_header: str = "X-TIMESTAMP"
    signature_param: str = "signature"
    recv_window: int | None = None
    clock: Callable[[], int] = field(default=lambda: int(time.time() * 1000))

    @property
    def _digest(self) -> Any:
        return hashlib.sha512 if "sha512" in self.scheme else hashlib.sha256

    def auth_names(self) -> AuthNames:
        """The headers and parameters :meth:`sign` fills with the key, signature and time."""
        if self.scheme.endswith("_query"):
            return AuthNames.of(
                [self.key_header], [self.signature_param], ["timestamp", "recvWindow"]
            )
        return AuthNames.of([self.key_header, self.signature_header, self.timestamp_header])

    def hmac_hex(self, message: str) -> str:
        """Hex HMAC of ``message`` with the secret."""
        return hmac.new(self.secret.encode(), message.encode(), self._digest).hexdigest()

    def sign(
        self, method: str, path: str, params: dict[str, Any] | None, body: str | None = None
    ) -> SignedRequest:
        """Sign one request."""
        timestamp = self.clock()
        items = sorted((params or {}).items())
        headers = {self.key_header: self.api_key}
        if self.scheme.endswith("_query"):
            items.append(("timestamp", timestamp))
            if self.recv_window is not None:
                items.append(("recvWindow", self.recv_window))
            canonical = urlencode(items)
            items.append((self.signature_param, self.hmac_hex(canonical)))
            return SignedRequest(items, headers, body, canonical)
        query = urlencode(items)
        canonical = f"{timestamp}{method.upper()}{path}{'?' + query if query else ''}{body or ''}"
        headers[self.timestamp_header] = str(timestamp)
        headers[self.signature_header] = self.hmac_hex(canonical)
        return SignedRequest(items, headers, body, canonical)


#: Kept under its old name: how a key is shown (see :mod:`brokers.redaction`).
mask = mask_tail
