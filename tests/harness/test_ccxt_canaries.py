"""The form of a canary credential comes from the harness's auth table, not from the tool's code.

:data:`scaffolder.harness.signed_requests.SCHEMES` says which exchanges' ccxt clients sign with
an EC key (Coinbase's CDP keys) or only with ``account-`` session keys (Gemini); the canaries
an import records with follow it, and nothing else in the import modules names an exchange.
"""

from __future__ import annotations

import ast
import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import ccxt
import pytest

from brokers.redaction import is_auth_name
from scaffolder.harness import signed_requests
from scaffolder.harness.ccxt_canaries import (
    CREDENTIAL_FIELDS,
    canarized,
    canary_credentials,
    canary_like,
)
from scaffolder.harness.signed_requests import scheme_for

HARNESS = Path(__file__).resolve().parents[2] / "scaffolder" / "harness"
IMPORT_MODULES = ("ccxt_import", "ccxt_fixtures", "ccxt_canaries", "ccxt_offline", "ccxt_requests")
PLAIN = {
    "apiKey": "CANARY-API-KEY", "secret": "CANARY-SECRET", "password": "CANARY-PASSWORD",
    "uid": "CANARY-UID", "walletAddress": "0x" + "ca11ab1e" * 5, "privateKey": "0x" + "ca" * 32,
    "token": "CANARY-TOKEN", "login": "CANARY-LOGIN", "accountId": "CANARY-ACCOUNT-ID",
}  # fmt: skip


def _is_ec_pem(secret: str) -> bool:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key = load_pem_private_key(secret.encode(), password=None)
    return isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"


def test_the_known_exchanges_get_the_canaries_they_always_got() -> None:
    coinbase = canary_credentials("coinbase")
    assert coinbase["apiKey"] == "organizations/canary/apiKeys/CANARY-API-KEY"
    assert _is_ec_pem(coinbase["secret"])
    assert canary_credentials("coinbase")["secret"] != coinbase["secret"]  # made fresh, each call
    assert {k: v for k, v in coinbase.items() if k not in ("apiKey", "secret")} == {
        k: v for k, v in PLAIN.items() if k not in ("apiKey", "secret")
    }
    assert canary_credentials("gemini") == {**PLAIN, "apiKey": "account-CANARY-API-KEY"}
    for plain in ("binance", "binanceus", "kraken", "coinbaseexchange", "coinbaseinternational"):
        assert canary_credentials(plain) == PLAIN, plain


def test_every_ccxt_exchange_gets_the_form_its_table_entry_says() -> None:
    for exchange_id in ccxt.exchanges:
        scheme, creds = scheme_for(exchange_id), canary_credentials(exchange_id)
        if scheme.ec_keys:
            assert creds["secret"].startswith("-----BEGIN EC PRIVATE KEY-----"), exchange_id
        elif scheme.account_keys:
            assert creds == {**PLAIN, "apiKey": "account-CANARY-API-KEY"}, exchange_id
        else:
            assert creds == PLAIN, exchange_id


@pytest.mark.parametrize(
    ("entry", "api_key"),
    [({"ec_keys": True}, "organizations/canary/apiKeys/CANARY-API-KEY"),
     ({"account_keys": True}, "account-CANARY-API-KEY")],
)  # fmt: skip
def test_a_new_table_entry_is_all_an_exchange_needs(monkeypatch, entry, api_key) -> None:
    """An exchange the code never heard of gets its key form from a table entry alone."""
    assert canary_credentials("kraken") == PLAIN
    schemes = dict(signed_requests.SCHEMES)
    schemes["kraken"] = dataclasses.replace(schemes["kraken"], **entry)
    monkeypatch.setattr(signed_requests, "SCHEMES", schemes)
    assert canary_credentials("kraken")["apiKey"] == api_key


def test_the_import_modules_branch_on_no_exchange_name() -> None:
    """No comparison or membership test against an exchange id literal in the import's code."""
    names = set(ccxt.exchanges)
    found = []
    for module in IMPORT_MODULES:
        tree = ast.parse((HARNESS / f"{module}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Compare):
                for part in (node.left, *node.comparators):
                    for const in ast.walk(part):
                        if isinstance(const, ast.Constant) and const.value in names:
                            found.append(f"{module}.py:{node.lineno}: {const.value!r}")
    assert not found, found


def test_a_credential_named_option_is_stored_as_a_canary() -> None:
    """grvt's ccxt data sets ``AuthCookieValue`` (a session cookie) in its options."""
    doc = canarized(
        {"options": {"AuthCookieValue": "sample123", "AuthAccountId": "kbAc34275283572",
                     "defaultType": "swap"}}
    )  # fmt: skip
    assert doc["options"]["AuthCookieValue"] == "CANARY-AUTHCOOKIEVALUE"
    assert doc["options"]["AuthAccountId"].startswith("CANARY")
    assert doc["options"]["defaultType"] == "swap"  # not a credential: kept as it is


CORPUS = HARNESS.parent / "corpus"


def _stored_options(value: object) -> Iterator[dict]:
    if isinstance(value, dict):
        if isinstance(value.get("options"), dict):
            yield value["options"]
        for item in value.values():
            yield from _stored_options(item)
    elif isinstance(value, list):
        for item in value:
            yield from _stored_options(item)


def test_the_bundled_corpus_holds_no_credential_but_a_canary() -> None:
    """Every credential a bundled fixture, case or contract sets (a credential field at its top,
    or a credential-named option) is already a canary: making it one again changes nothing."""
    found = []
    for path in sorted(CORPUS.glob("response/*.json")) + sorted(
        CORPUS.glob("prebuilt/*/**/*.json")
    ):
        doc = json.loads(path.read_text(encoding="utf-8"))
        places = (
            [{k: v for k, v in doc.items() if k in CREDENTIAL_FIELDS}]
            if isinstance(doc, dict)
            else []
        )
        for fields in places + list(_stored_options(doc)):
            for name, value in fields.items():
                credential = name in CREDENTIAL_FIELDS or is_auth_name(name)
                if isinstance(value, str) and credential and canary_like(name, value) != value:
                    found.append(f"{path.relative_to(CORPUS)}: {name}={value[:20]}")
    assert found == []
