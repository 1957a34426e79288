"""The ``signed read`` check (the balance: a signed request) and, when the exchange refused the
key or the signature, the ``signed string`` line: what was signed, secrets masked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from brokers.errors import AuthenticationError, BrokerError, InvalidNonceError, map_exception
from scaffolder.doctor.capture import CcxtCapture, auth_headers
from scaffolder.doctor.report import FAIL, OK, WARN, Check

if TYPE_CHECKING:
    from scaffolder.doctor.checkup import Checkup


def check_signed_read(doctor: Checkup, clock: Check) -> None:
    """Fetch the balance with the credentials; on an auth refusal, show what was signed."""
    if doctor.broker is None:
        doctor.add("signed read", WARN, "not tried: the broker could not be built")
        return
    if doctor.missing:
        doctor.add("signed read", WARN, f"not tried: {', '.join(doctor.missing)} not set")
        return
    if doctor.integration == "ccxt":
        exchange = doctor.broker.exchange
        if not exchange.has.get("fetchBalance"):
            doctor.add("signed read", WARN, f"not tried: ccxt's {exchange.id} has no fetchBalance")
            return
        capture = CcxtCapture(exchange)
        try:
            raw = exchange.fetch_balance()
        except Exception as exc:
            _signed_failure(doctor, doctor.broker._to_error(exc), clock, ccxt=capture)
            return
        total = raw.get("total") if isinstance(raw, dict) else None
        signed = capture.last_signed(list(doctor.credentials.values()))
        where = f"{signed.method} {signed.url.split('?')[0]}" if signed else "fetch_balance"
    else:
        rest: list[tuple[str, str, Any]] = []
        original = doctor.broker.signer.sign

        def spy(method: str, path: str, params: Any, body: str | None = None) -> Any:
            signed_request = original(method, path, params, body)
            rest.append((method, path, signed_request))
            return signed_request

        doctor.broker.signer.sign = spy
        try:
            total = doctor.broker.parse_balance(
                doctor.broker.request("GET", "balance", signed=True)
            )
        except Exception as exc:
            _signed_failure(doctor, map_exception(exc, broker=doctor.name), clock, rest=rest)
            return
        where = f"GET {doctor.broker.url}{doctor.broker.endpoints.get('balance', 'balance')}"
    count = len(total) if isinstance(total, Mapping) else 0
    doctor.add(
        "signed read",
        OK,
        f"{where} was signed and accepted: the balance lists {count} currencies",
    )


def _signed_failure(
    doctor: Checkup,
    error: BrokerError,
    clock: Check,
    *,
    ccxt: CcxtCapture | None = None,
    rest: list[tuple[str, str, Any]] | None = None,
) -> None:
    kind = type(error).__name__
    if not isinstance(error, (AuthenticationError, InvalidNonceError)):
        doctor.add("signed read", FAIL, f"{kind}: {error}", error=kind)
        return
    doctor.add(
        "signed read",
        FAIL,
        f"{doctor.name} refused the request ({kind}: {error}); {_hint(doctor, error, clock)}",
        error=kind,
    )
    if ccxt is not None:
        signed = ccxt.last_signed(list(doctor.credentials.values()))
        if signed is None:
            return
        parts = [f"{signed.method} {signed.url}"]
        if signed.body:
            parts.append(f"body {signed.body}")
        parts += [f"HMAC-{algorithm} of {message!r}" for algorithm, message in signed.signed]
        headers = auth_headers(signed.headers)
        parts += [f"{k}: {v}" for k, v in headers.items()]
        canonical = [message for _, message in signed.signed]
        doctor.add(
            "signed string",
            FAIL,
            "; ".join(parts),
            method=signed.method,
            url=signed.url,
            body=signed.body,
            canonical=canonical,
            headers=headers,
        )
    elif rest:
        method, path, signed_request = rest[-1]
        headers = auth_headers(dict(signed_request.headers))
        scheme = doctor.broker.signer.scheme
        doctor.add(
            "signed string",
            FAIL,
            f"{method} {doctor.broker.url}{path}: {scheme} of {signed_request.canonical!r}; "
            + "; ".join(f"{k}: {v}" for k, v in headers.items()),
            method=method,
            url=f"{doctor.broker.url}{path}",
            canonical=[signed_request.canonical],
            headers=headers,
        )


def _hint(doctor: Checkup, error: BrokerError, clock: Check) -> str:
    text = str(error).lower()
    key_var, secret_var = doctor.var_for("api_key"), doctor.var_for("api_secret")
    if clock.status != OK and "skew_ms" in clock.data:
        return "the clock skew above is the likely cause: synchronise the clock (NTP)"
    if any(word in text for word in ("timestamp", "recvwindow", "nonce")):
        return "the exchange refused the request's timestamp: check the clock"
    if "signature" in text:
        return (
            f"the exchange computed another signature: {secret_var} does not belong to the "
            f"key in {key_var}, or was copied wrongly (what was signed is below)"
        )
    if "key" in text:
        where = "testnet" if doctor.config and doctor.config.settings.testnet else "live"
        return (
            f"the exchange does not accept the key in {key_var}: it must be a {where} key "
            "with read permission (and this IP allowed)"
        )
    return f"check {key_var}, {secret_var} and the key's permissions"
