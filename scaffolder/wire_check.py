"""ccxt's own request building and signing, run offline: what would go on the wire.

:func:`offline_exchange` builds a ccxt exchange with canary credentials and one synthetic market
(BTC/USDT spot, or a USDT-settled swap where the exchange has no spot), and replaces its HTTP
layer (``exchange.fetch``): every request ccxt would send is recorded as a :class:`Wire`
(URL, method, headers, body) and answered with an empty JSON object, so ccxt's preliminary
requests (an account look-up, a server time) do not stop it, and nothing leaves the process.

:func:`capture` runs one unified call that way. :func:`carries` says whether a value reached a
request: in the URL (decoded), the body, a header, or a base64 or JWT payload inside a header.
The exchange profiles (``scaffolder.exchange_profile``) are derived with these, and the wire
check (``scripts/wire_check.py``, ``tests/scaffolder/test_wire_check.py``) uses them to prove
that the id a generated broker sends is in the request ccxt signs.
"""

from __future__ import annotations

import base64
import binascii
import functools
import importlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlsplit

#: Canary values of ccxt's credential attributes. Several shapes of secret (and of API key) are
#: tried in order, because clients decode theirs differently (base64, hex, PEM keys, a key
#: name with an ``account-`` prefix).
CANARY_CREDENTIALS: dict[str, str] = {
    "apiKey": "CANARYAPIKEY0000",
    "uid": "1234567",
    "accountId": "1234567",
    "password": "CANARYPASSPHRASE0",
    "login": "canary",
    "token": "CANARYTOKEN0000",
    "privateKey": "0x" + "ca" * 32,
    "walletAddress": "0x" + "ca" * 20,
}
#: At most this many requests per call: a call that keeps asking is stopped.
MAX_REQUESTS = 6
SYMBOL = "BTC/USDT"
SWAP_SYMBOL = "BTC/USDT:USDT"


class StopCapture(Exception):
    """Raised into ccxt once a call has sent :data:`MAX_REQUESTS` requests."""


@dataclass(frozen=True)
class Wire:
    """One request ccxt built and signed."""

    url: str
    method: str
    headers: dict[str, str]
    body: str

    def texts(self) -> Iterator[str]:
        """Every readable form of the request: URL, body, headers and the payloads in them."""
        yield unquote_plus(self.url)
        yield self.body
        yield unquote_plus(self.body)
        for value in self.headers.values():
            yield value
            yield from _decoded(value)

    def values(self) -> list[Any]:
        """The parameter values sent: query string, form or JSON body, JSON header payloads."""
        found: list[Any] = [v for _, v in parse_qsl(urlsplit(self.url).query)]
        for text in [self.body, *(d for v in self.headers.values() for d in _decoded(v))]:
            document = _json(text)
            if isinstance(document, dict):
                found += list(document.values())
            elif text and "=" in text and not text.lstrip().startswith(("{", "[")):
                found += [v for _, v in parse_qsl(text, keep_blank_values=True)]
        return found


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _decoded(value: str) -> Iterator[str]:
    """base64 payloads of a header value (a whole value, or the parts of a JWT)."""
    for part in [value, *value.replace("Bearer ", "").split(".")]:
        if len(part) < 8 or not re.fullmatch(r"[A-Za-z0-9+/_=-]+", part):
            continue
        try:
            decoded = base64.urlsafe_b64decode(part.replace("+", "-").replace("/", "_") + "==")
        except (binascii.Error, ValueError):
            continue
        text = decoded.decode("utf-8", "replace")
        if text.isprintable():
            yield text


@dataclass
class Capture:
    """What one call sent, and how it ended (``error``: None when it returned)."""

    wires: list[Wire] = field(default_factory=list)
    error: BaseException | None = None

    def carries(self, value: str) -> bool:
        """Whether ``value`` is in any request."""
        return any(value in text for wire in self.wires for text in wire.texts())

    def carrying(self, value: str) -> list[Wire]:
        """The requests that carry ``value``."""
        return [w for w in self.wires if any(value in t for t in w.texts())]


@functools.cache
def _secret_shapes() -> tuple[str, ...]:
    """Canary secrets: base64 text, then PEM keys (EC P-256, Ed25519), then 32 hex bytes."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    seed = int.from_bytes(b"CANARY-SECRET-0000", "big")
    pem = serialization.Encoding.PEM
    ec_key = ec.derive_private_key(seed, ec.SECP256R1()).private_bytes(
        pem, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    ed_key = ed25519.Ed25519PrivateKey.from_private_bytes(b"CANARY-SECRET-0000".ljust(32, b"0"))
    ed_pem = ed_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return (
        base64.b64encode(b"CANARY-SECRET-0000-CANARY-SECRET").decode(),
        ec_key.decode(),
        ed_pem.decode(),
        base64.b64encode(b"CANARY-SECRET-0000".ljust(32, b"0")).decode(),
        "ca" * 32,
    )


#: API key shapes, tried with each secret shape.
API_KEYS: tuple[str, ...] = ("CANARYAPIKEY0000", "account-CANARYAPIKEY0000")


@functools.cache
def _class_facts(exchange_id: str) -> tuple[tuple[str, ...], dict[str, Any]]:
    """(required credentials, ``has``) of ccxt's ``exchange_id`` (one instance, cached)."""
    ccxt = importlib.import_module("ccxt")
    instance = getattr(ccxt, exchange_id)()
    required = tuple(k for k, v in instance.requiredCredentials.items() if v)
    return required, dict(instance.has)


def has(exchange_id: str) -> dict[str, Any]:
    """ccxt's ``has`` of ``exchange_id``."""
    return _class_facts(exchange_id)[1]


#: The (api key, secret) shape that got past each exchange's signing, once found.
_WORKING_SHAPE: dict[str, tuple[str, str]] = {}


def synthetic_market(exchange: Any, kind: str) -> dict[str, Any]:
    """One market in ccxt's unified shape: BTC/USDT ``spot``, or a linear USDT ``swap``."""
    ccxt = importlib.import_module("ccxt")
    tick = exchange.precisionMode == ccxt.TICK_SIZE
    swap = kind == "swap"
    return {
        "id": "BTCUSDT",
        "symbol": SWAP_SYMBOL if swap else SYMBOL,
        "base": "BTC",
        "quote": "USDT",
        "settle": "USDT" if swap else None,
        "baseId": "BTC",
        "quoteId": "USDT",
        "settleId": "USDT" if swap else None,
        "type": kind,
        "spot": not swap,
        "margin": False,
        "swap": swap,
        "future": False,
        "option": False,
        "contract": swap,
        "linear": True if swap else None,
        "inverse": False if swap else None,
        "contractSize": 1 if swap else None,
        "active": True,
        "precision": {"amount": 0.00001 if tick else 5, "price": 0.01 if tick else 2},
        "limits": {
            "amount": {"min": None, "max": None},
            "price": {"min": None, "max": None},
            "cost": {"min": None, "max": None},
            "leverage": {"min": None, "max": None},
        },
        # Fields some clients read from the exchange's own listing before building an order.
        "info": {"orderTypes": ["LIMIT", "MARKET"], "symbol": "BTCUSDT"},
    }


def market_kind(exchange: Any) -> str:
    """``spot`` where the exchange trades spot, else ``swap``."""
    return "spot" if exchange.has.get("spot") is not False else "swap"


def order_amount(symbol: str) -> float:
    """An amount ccxt accepts on the synthetic market: a whole contract on the swap."""
    return 1.0 if symbol == SWAP_SYMBOL else 0.01


def offline_exchange(
    exchange_id: str, shape: tuple[str, str], answer: Callable[[], Any], sink: list[Wire]
) -> Any:
    """ccxt's ``exchange_id`` with canary credentials (``shape``: api key, secret), one
    synthetic market, and ``fetch`` replaced: each request is appended to ``sink`` and
    answered with ``answer()``."""
    ccxt = importlib.import_module("ccxt")
    klass = getattr(ccxt, exchange_id)
    required, _ = _class_facts(exchange_id)
    credentials = {name: CANARY_CREDENTIALS.get(name, "CANARY0000") for name in required}
    credentials["apiKey"], credentials["secret"] = shape
    exchange = klass({**credentials, "options": {"adjustForTimeDifference": False}})
    exchange.set_markets([synthetic_market(exchange, market_kind(exchange))])

    def fetch(url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        if len(sink) >= MAX_REQUESTS:
            raise StopCapture(f"{exchange_id} sent more than {MAX_REQUESTS} requests")
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")
        sink.append(
            Wire(str(url), method, {str(k): str(v) for k, v in (headers or {}).items()}, text)
        )
        return answer()

    exchange.fetch = fetch
    return exchange


def symbol_of(exchange: Any) -> str:
    """The synthetic market's symbol on ``exchange``."""
    return next(iter(exchange.markets))


def capture(
    exchange_id: str, call: Callable[[Any, str], Any], *, answer: Callable[[], Any] = dict
) -> Capture:
    """Run ``call(exchange, symbol)`` offline; the requests it sent and how it ended.

    Each shape of canary secret is tried until one gets past ccxt's signing (a client that
    cannot read a secret raises before sending anything).
    """
    known = _WORKING_SHAPE.get(exchange_id)
    shapes = [known] if known else [(k, s) for s in _secret_shapes() for k in API_KEYS]
    result = Capture()
    for shape in shapes:
        result = Capture()
        try:
            exchange = offline_exchange(exchange_id, shape, answer, result.wires)
            call(exchange, symbol_of(exchange))
        except StopCapture:
            pass
        except Exception as exc:
            result.error = exc
            if not result.wires and _bad_secret(exc):
                continue
        if result.wires:
            _WORKING_SHAPE[exchange_id] = shape
        return result
    _WORKING_SHAPE[exchange_id] = shapes[0]  # none gets further: do not try them all again
    return result


def _bad_secret(exc: BaseException) -> bool:
    """Whether ``exc`` may be a client refusing a canary credential's format (try the next)."""
    text = str(exc).lower()
    return isinstance(exc, (ValueError, TypeError, binascii.Error)) or "key" in text


def describe_error(exc: BaseException | None) -> str:
    """A one-line account of how a call ended, for reports."""
    if exc is None:
        return ""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:160]}"


@dataclass(frozen=True)
class WireResult:
    """The wire check of one exchange: does the id a broker generates reach ccxt's request?"""

    exchange: str
    param: str | None
    max_length: int | None
    lookup: str
    client_id: str
    #: ``carried`` (in the request, within the limits), ``no id`` (the profile says ccxt
    #: cannot carry one: the broker never re-sends), or ``FAILED``.
    outcome: str
    where: str = ""
    note: str = ""


def check(exchange_id: str, profile: dict[str, Any]) -> WireResult:
    """Build ``create_order`` offline with the id the broker would generate from ``profile``
    and say where the id went (URL, body or a header)."""
    from brokers.profile import merged_profile, new_client_order_id
    from scaffolder.exchange_profile import create_call

    merged = merged_profile(profile)  # type: ignore[arg-type]
    param = merged.get("client_id_param")
    client_id = new_client_order_id(profile=merged)
    base = {
        "exchange": exchange_id,
        "param": param,
        "max_length": merged.get("client_id_max_length"),
        "lookup": str(merged.get("lookup")),
        "client_id": client_id,
        "note": str(merged.get("offline_note") or ""),
    }
    if param is None:
        return WireResult(**base, outcome="no id")
    result = capture(exchange_id, create_call(param, client_id))
    limit = merged.get("client_id_max_length")
    for wire in result.carrying(client_id):
        parts = [("url", unquote_plus(wire.url)), ("body", wire.body)]
        parts += [(f"header {k}", v) for k, v in wire.headers.items()]
        where = next((name for name, text in parts if client_id in text), "a header payload")
        if limit is not None and len(client_id) > limit:
            break
        return WireResult(**base, outcome="carried", where=f"{wire.method} {where}")
    return WireResult(
        **{**base, "note": describe_error(result.error) or "the id is not in any request"},
        outcome="FAILED",
    )
