"""The form of a canary credential comes from the harness's auth table, not from the tool's code.

:data:`scaffolder.harness.signed_requests.SCHEMES` says which exchanges' ccxt clients sign with
an EC key (Coinbase's CDP keys) or only with ``account-`` session keys (Gemini); the canaries
an import records with follow it, and nothing else in the import modules names an exchange.
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import ccxt
import pytest

from scaffolder.harness import signed_requests
from scaffolder.harness.ccxt_canaries import canary_credentials
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
