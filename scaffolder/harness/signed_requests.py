"""What in an exchange request is volatile or secret, per auth scheme: the harness's one table
of what it knows about particular exchanges' signing.

The matcher ignores these names (a replayed request has a new timestamp, nonce, signature and
client order id, and must still match), and the scrubber removes or masks them before anything
is written; the canary credentials take the shape the exchange's client accepts. Names are
compared case-insensitively.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class AuthScheme:
    """Volatile and secret names of one exchange's requests."""

    #: Query/body parameters that change on every request and never decide a match.
    volatile_params: frozenset[str] = frozenset()
    #: Parameters that carry secrets or signatures: scrubbed and never matched.
    secret_params: frozenset[str] = frozenset()
    #: Headers that carry keys, signatures, timestamps or payloads: scrubbed, never matched.
    secret_headers: frozenset[str] = frozenset()
    #: Headers whose value is base64 JSON with a payload (Gemini): scrubbed, never matched.
    payload_headers: frozenset[str] = field(default_factory=frozenset)
    #: Whether ccxt's client signs only with session keys named ``account-...`` (Gemini: it
    #: refuses any other key before sending), so a canary key must be named so too.
    account_keys: bool = False
    #: Whether ccxt's client signs with an EC (P-256) private key in PEM under a key named
    #: ``organizations/.../apiKeys/...`` (Coinbase's CDP keys), so a canary secret must be
    #: such a key: one is made in memory for each import, never stored.
    ec_keys: bool = False


GENERIC = AuthScheme(
    volatile_params=frozenset(
        {
            "timestamp",
            "nonce",
            "recvwindow",
            "recv_window",
            "clientorderid",
            "client_order_id",
            "newclientorderid",
            "origclientorderid",
            "clordid",
            "cl_ord_id",
            "client_oid",
            "clientoid",
            "text",
            "ts",
        }
    ),
    secret_params=frozenset(
        {
            "signature",
            "sign",
            "sig",
            "apikey",
            "api_key",
            "key",
            "secret",
            "passphrase",
            "token",
            "otp",
        }
    ),
    secret_headers=frozenset(
        {
            "authorization",
            "cookie",
            "x-api-key",
            "x-api-signature",
            "x-signature",
            "x-timestamp",
            "x-nonce",
            "x-api-timestamp",
            "x-api-nonce",
        }
    ),
)

#: Per-exchange additions (the auth schemes differ).
SCHEMES: dict[str, AuthScheme] = {
    "binance": AuthScheme(secret_headers=frozenset({"x-mbx-apikey"})),
    "coinbase": AuthScheme(
        secret_headers=frozenset(
            {"cb-access-key", "cb-access-sign", "cb-access-timestamp", "cb-access-passphrase"}
        ),
        # ccxt computes the candle window from the clock when no ``since`` is given
        volatile_params=frozenset({"start", "end"}),
        ec_keys=True,
    ),
    "gemini": AuthScheme(
        volatile_params=frozenset({"nonce"}),
        secret_headers=frozenset({"x-gemini-apikey", "x-gemini-signature", "x-gemini-payload"}),
        payload_headers=frozenset({"x-gemini-payload"}),
        account_keys=True,
    ),
    "kraken": AuthScheme(
        secret_headers=frozenset({"api-key", "api-sign"}), volatile_params=frozenset({"otp"})
    ),
    "okx": AuthScheme(
        secret_headers=frozenset(
            {"ok-access-key", "ok-access-sign", "ok-access-timestamp", "ok-access-passphrase"}
        )
    ),
    "bybit": AuthScheme(
        secret_headers=frozenset(
            {"x-bapi-api-key", "x-bapi-sign", "x-bapi-timestamp", "x-bapi-recv-window"}
        ),
        volatile_params=frozenset({"orderlinkid"}),
    ),
    "kucoin": AuthScheme(
        secret_headers=frozenset(
            {
                "kc-api-key",
                "kc-api-sign",
                "kc-api-timestamp",
                "kc-api-passphrase",
                "kc-api-key-version",
            }
        )
    ),
}
SCHEMES["binanceus"] = SCHEMES["binance"]


def scheme_for(exchange: str | None) -> AuthScheme:
    """The generic scheme merged with the exchange's additions."""
    extra = SCHEMES.get(exchange or "", AuthScheme())
    return AuthScheme(
        volatile_params=GENERIC.volatile_params | extra.volatile_params,
        secret_params=GENERIC.secret_params | extra.secret_params,
        secret_headers=GENERIC.secret_headers | extra.secret_headers,
        payload_headers=GENERIC.payload_headers | extra.payload_headers,
        account_keys=extra.account_keys,
        ec_keys=extra.ec_keys,
    )


def scheme_for_broker(broker: str | None) -> AuthScheme:
    """The scheme of broker ``broker``: the table's entry for its exchange, merged with what
    the broker's class declares it signs (:meth:`brokers.base.BaseBroker.auth_names`: a REST
    broker's own header names, what ccxt's ``sign()`` adds for a ccxt broker). A name that is
    not a registered broker gets the table's entry alone."""
    from brokers.errors import BrokerError
    from brokers.registry import broker_class

    if not broker:
        return scheme_for(None)
    try:
        klass = broker_class(broker)
    except (BrokerError, ImportError, AttributeError):
        return scheme_for(broker)
    exchange = getattr(klass, "exchange_id", "") or broker
    table = scheme_for(exchange if exchange in SCHEMES else broker)
    declared = klass.auth_names()
    return AuthScheme(
        volatile_params=table.volatile_params | declared.volatile_params,
        secret_params=table.secret_params | declared.params,
        secret_headers=table.secret_headers | declared.headers,
        payload_headers=table.payload_headers,
        account_keys=table.account_keys,
        ec_keys=table.ec_keys,
    )
