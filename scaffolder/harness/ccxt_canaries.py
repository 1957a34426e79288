"""Canary credentials for ccxt's offline cases, and the fixtures' own keys made canaries.

A case is recorded and replayed with obviously fake credentials (:func:`canary_credentials`),
in the form the exchange's ccxt client signs with; the form is read from the harness's table
(:mod:`scaffolder.harness.signed_requests`), never from an exchange name here.  ccxt's test
data carries sample keys for exchanges that need a key of some form; what the project stores
in their place is a canary of that form (:func:`canary_like`, :func:`canarized`).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any

from brokers.redaction import is_auth_name
from scaffolder.harness.session import account_key
from scaffolder.harness.signed_requests import scheme_for

__all__ = [
    "CREDENTIAL_FIELDS", "canarized", "canary_credentials", "canary_like", "file_credentials",
]  # fmt: skip

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
#: Key material whatever an option calls it: a PEM key, or hex of a private key's length or
#: more (apex's zk ``seeds``); addresses (20 bytes) and short ids are not.
_KEY_MATERIAL = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*|0x[0-9a-fA-F]{64,}", re.S)


def _throwaway_ec_pem() -> str:
    """A P-256 private key in PEM, made in memory now and never stored."""
    from cryptography.hazmat.primitives import serialization as ser
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        ser.Encoding.PEM, ser.PrivateFormat.TraditionalOpenSSL, ser.NoEncryption()
    )
    return pem.decode()


def canary_credentials(exchange_id: str) -> dict[str, str]:
    """Obviously fake credentials, in the form ``exchange_id``'s ccxt client signs with.

    Most exchanges sign with any string and get the plain canaries.  Where the harness's table
    says the client signs with an EC key (:attr:`~.signed_requests.AuthScheme.ec_keys`), the key
    is an ``organizations/.../apiKeys/...`` name and the secret a fresh P-256 key in PEM, made
    in memory on each call; where it signs only with ``account-`` session keys
    (:attr:`~.signed_requests.AuthScheme.account_keys`), the key is named so.
    """
    creds = dict(_CANARY)
    scheme = scheme_for(exchange_id)
    if scheme.ec_keys:
        creds.update(
            apiKey="organizations/canary/apiKeys/CANARY-API-KEY", secret=_throwaway_ec_pem()
        )
    elif scheme.account_keys:
        creds["apiKey"] = account_key(creds["apiKey"])
    return creds


def canary_like(name: str, value: str) -> str | None:
    """A canary in the form of a fixture's credential ``value`` (ccxt's test data carries
    sample keys for exchanges that need a key of some form), or None where the form is a key
    that cannot be faked (PEM).  What the project stores in place of the sample."""
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
            return _base64_canary(size)
    if len(value) >= 16 and value.isalnum():  # base58 and the like: letters and digits
        return ("CANARYx" * len(value))[: len(value)]
    return _CANARY.get(name, f"CANARY-{name.upper()}")


def _base64_canary(size: int) -> str:
    """Base64 of ``size`` bytes that reads as a canary: ``CANARYCANARY...``, its last character
    before the padding ``A`` (no stray low bits), so it decodes to exactly ``size`` bytes."""
    length, padding = 4 * -(-size // 3), -size % 3
    text = ("CANARY" * length)[: length - padding]
    return (text[:-1] + "A" if padding else text) + "=" * padding


def _canarized_fields(fields: Mapping[str, Any], *, options: bool = False) -> dict[str, Any]:
    """``fields`` with its credentials as canaries: the named credential fields, and in ccxt
    ``options`` also every value that is key material (:data:`_KEY_MATERIAL`) or held under a
    name that carries credentials (:func:`brokers.redaction.is_auth_name`: grvt's
    ``AuthCookieValue``)."""
    out = dict(fields)
    for name, value in fields.items():
        if not isinstance(value, str):
            continue
        if name in CREDENTIAL_FIELDS or (
            options and (_KEY_MATERIAL.fullmatch(value) or is_auth_name(name))
        ):
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
