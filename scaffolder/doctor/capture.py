"""What a broker signed, for the ``signed string`` line: the requests a ccxt exchange signs
(its ``sign()`` results and ``hmac()`` inputs) and the auth headers that may be shown.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from brokers.redaction import HIDDEN

#: Headers that carry a signature or a key: shown (masked) in the signed string.
_AUTH_HEADER = re.compile(r"(?i)(key|sign|auth|passphrase|token|timestamp|nonce|payload)")
#: Headers whose value is the signature itself (X-GEMINI-SIGNATURE, CB-ACCESS-SIGN...): never shown.
_SIGNATURE_HEADER = re.compile(r"(?i)sign")


def auth_headers(headers: Mapping[str, Any]) -> dict[str, Any]:
    """The auth headers of a signed request, signature values replaced by ``***``."""
    return {
        k: HIDDEN if _SIGNATURE_HEADER.search(k) else v
        for k, v in headers.items()
        if _AUTH_HEADER.search(k)
    }


@dataclass
class Signed:
    """One request the client signed: what was sent and the string(s) fed to the HMAC."""

    method: str
    url: str
    body: str | None
    headers: dict[str, str]
    signed: list[tuple[str, str]] = field(default_factory=list)  # (algorithm, message)


class CcxtCapture:
    """Records what a ccxt exchange signs: its ``sign()`` results and its ``hmac()`` inputs."""

    def __init__(self, exchange: Any) -> None:
        self.requests: list[Signed] = []
        self._current: list[tuple[str, str]] | None = None
        original_sign = exchange.sign
        original_hmac = type(exchange).hmac

        def hmac_spy(request: Any, secret: Any, algorithm: Any = None, digest: str = "hex") -> Any:
            if self._current is not None:
                self._current.append((_algorithm_name(algorithm), _text(request)))
            if algorithm is None:
                return original_hmac(request, secret, digest=digest)
            return original_hmac(request, secret, algorithm, digest)

        def sign_spy(*args: Any, **kwargs: Any) -> Any:
            messages: list[tuple[str, str]] = []
            self._current = messages
            try:
                result = original_sign(*args, **kwargs)
            finally:
                self._current = None
            if isinstance(result, dict):
                self.requests.append(
                    Signed(
                        str(result.get("method") or ""),
                        str(result.get("url") or ""),
                        _text(result.get("body")) if result.get("body") is not None else None,
                        {str(k): str(v) for k, v in (result.get("headers") or {}).items()},
                        messages,
                    )
                )
            return result

        exchange.sign = sign_spy
        exchange.hmac = hmac_spy

    def last_signed(self, secrets: list[str]) -> Signed | None:
        """The last request that was signed or carried a credential."""
        for request in reversed(self.requests):
            blob = request.url + (request.body or "") + " ".join(request.headers.values())
            if request.signed or any(s and s in blob for s in secrets):
                return request
        return None


def _algorithm_name(algorithm: Any) -> str:
    name = algorithm if isinstance(algorithm, str) else getattr(algorithm, "__name__", "")
    name = str(name or "sha256").removeprefix("openssl_")
    return name.upper()


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, (bytes, bytearray)) else str(value)
