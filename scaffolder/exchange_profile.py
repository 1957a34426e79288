"""Each exchange's client-order-id profile, derived from the installed ccxt's behaviour.

Nothing here names an exchange. For one ccxt exchange, :func:`derive` asks ccxt itself, with
its requests built and signed offline (:mod:`scaffolder.wire_check`):

- **the param**: ``clientOrderId`` (ccxt's unified key), else each string literal of the
  exchange's ccxt module that names a client id (``client_order_id``, ``text``, ``cid``...):
  the first whose value ``create_order`` puts into the request;
- **max length**: the longest id ccxt lets through, where it refuses :data:`PROBE_LENGTH`;
- **alphabet**: letters and digits, or digits only where ccxt carries only a number;
- **echo**: whether ccxt's ``parse_order`` reads a client id back at all;
- **look-up**: ``fetch_open_order`` + ``fetch_closed_order`` when ccxt has both and both carry
  the id; else ``fetch_order`` when it carries the id and no empty order id beside it; else a
  scan of open and closed orders when ccxt has both and echoes the id; else ``none``.

The wire check then proves the profile against ccxt (``tests/scaffolder/test_wire_check.py``).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from collections.abc import Callable
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from brokers.profile import ExchangeProfile, Lookup, merged_profile, new_client_order_id
from scaffolder.wire_check import Capture, capture, describe_error, has, order_amount

UNIFIED_PARAM = "clientOrderId"
#: The length of the ids probed first (and generated where ccxt sets no limit).
PROBE_LENGTH = 32
#: The shortest id worth generating (where ccxt refuses a PROBE_LENGTH one).
MIN_LENGTH = 8
PRICE = 20000
#: Literals of a ccxt module that may name a client order id param.
_CLIENT_ID_NAME = re.compile(
    r"^(?:new)?[-_]?(?:client|cl)[-_]?(?:order|ord)?[-_]?(?:link)?[-_]?id$"
    r"|^(?:client[-_]?oid|text|label|cid|cloid|userref|orderLinkId|custom[-_]?id)$",
    re.IGNORECASE,
)


def create_call(param: str | None, client_id: str) -> Callable[[Any, str], Any]:
    """``create_order`` of a limit buy, the id under ``param`` (no id when ``param`` is None)."""

    def call(exchange: Any, symbol: str) -> Any:
        params = {param: client_id} if param else {}
        return exchange.create_order(symbol, "limit", "buy", order_amount(symbol), PRICE, params)

    return call


def lookup_call(method: str, param: str, client_id: str) -> Callable[[Any, str], Any]:
    """A look-up by client id: ``method(None, symbol, {param: client_id})``."""

    def call(exchange: Any, symbol: str) -> Any:
        return getattr(exchange, method)(None, symbol, {param: client_id})

    return call


def probe_create(exchange_id: str, param: str | None, client_id: str) -> Capture:
    """The requests of one offline ``create_order`` carrying ``client_id`` under ``param``."""
    return capture(exchange_id, create_call(param, client_id))


@cache
def candidate_params(exchange_id: str) -> tuple[str, ...]:
    """The names ccxt's code of ``exchange_id`` uses that may carry a client order id:
    string literals outside its ``parse...``/``describe`` methods, ``clientOrderId`` first.

    A name must appear there: ccxt forwards unknown params to the exchange as they are, so a
    name merely forwarded would reach the request without the exchange knowing it.
    """
    module = importlib.import_module(f"ccxt.{exchange_id}")
    klass = getattr(module, exchange_id)
    found: set[str] = set()
    for name, function in inspect.getmembers(klass, inspect.isfunction):
        own = function.__module__.startswith("ccxt.") and ".base." not in function.__module__
        if not own or name.startswith(("parse", "describe")):
            continue
        try:
            tree = ast.parse(inspect.getsource(function).strip() + "\n")
        except (OSError, TypeError, SyntaxError):
            continue
        found |= {
            node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and _CLIENT_ID_NAME.match(node.value)
        }
    return tuple(sorted(found, key=lambda name: (name != UNIFIED_PARAM, name)))


def _probe_id(length: int, alphabet: str) -> str:
    return new_client_order_id(
        "bs", {"client_id_max_length": length, "client_id_alphabet": alphabet}
    )  # type: ignore[typeddict-item]


def find_param(exchange_id: str) -> tuple[str | None, str, int | None, str]:
    """(param, alphabet, max length, note): how ``create_order`` carries an id, if it does."""
    notes: list[str] = []
    for alphabet in ("alnum", "digits"):
        for param in candidate_params(exchange_id):
            client_id = _probe_id(PROBE_LENGTH, alphabet)
            result = probe_create(exchange_id, param, client_id)
            if result.carries(client_id):
                return param, alphabet, None, ""
            if result.error is not None:
                limit = _max_length(exchange_id, param, alphabet)
                if limit is not None:
                    return param, alphabet, limit, ""
                notes.append(describe_error(result.error))
    baseline = probe_create(exchange_id, None, "")
    if baseline.error is not None and not baseline.wires:
        return None, "alnum", None, "cannot build offline: " + describe_error(baseline.error)
    note = "no client order id of ours reaches ccxt's requests"
    if baseline.error is not None:
        note += f" (offline, the call then ended with {describe_error(baseline.error)})"
    return None, "alnum", None, note


def _max_length(exchange_id: str, param: str, alphabet: str) -> int | None:
    """The longest id (from :data:`MIN_LENGTH` up) ccxt carries under ``param``, when one
    shorter than :data:`PROBE_LENGTH` gets through (a binary search: ccxt's checks are a
    maximum length)."""

    def fits(length: int) -> bool:
        client_id = _probe_id(length, alphabet)
        return probe_create(exchange_id, param, client_id).carries(client_id)

    if not fits(MIN_LENGTH):
        return None
    low, high = MIN_LENGTH, PROBE_LENGTH - 1  # fits(low); PROBE_LENGTH does not
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low


def echoes(exchange_id: str) -> bool:
    """Whether ccxt's ``parse_order`` reads a client order id from the exchange's answer."""
    module = importlib.import_module(f"ccxt.{exchange_id}")
    klass = getattr(module, exchange_id)
    try:
        source = inspect.getsource(klass.parse_order)
    except (OSError, TypeError):
        return False
    assigned = re.findall(r"""['"]clientOrderId['"]\s*:\s*([^,\n]+)""", source)
    return any(value.strip() != "None" for value in assigned)


def _lookup_ok(exchange_id: str, method: str, param: str, client_id: str) -> bool:
    """Whether ``method`` sends ``client_id`` and no empty order id beside it."""
    result = capture(exchange_id, lookup_call(method, param, client_id))
    carrying = result.carrying(client_id)
    if not carrying:
        return False
    empty = ("None", "null", "undefined")
    for wire in carrying:
        if any(v is None or v in empty for v in wire.values()):
            return False
        if any(segment in empty for segment in urlsplit(wire.url).path.split("/")):
            return False
    return True


def find_lookup(
    exchange_id: str, has: dict[str, Any], param: str | None, echo: bool, client_id: str
) -> tuple[Lookup, str]:
    """(look-up, its param): the most exact way ccxt offers to find the order by id."""
    if param is None:
        return "none", UNIFIED_PARAM
    params = [param] + [p for p in (UNIFIED_PARAM,) if p != param]
    if has.get("fetchOpenOrder") and has.get("fetchClosedOrder"):
        for p in params:
            if all(
                _lookup_ok(exchange_id, m, p, client_id)
                for m in ("fetch_open_order", "fetch_closed_order")
            ):
                return "open_closed_order", p
    if has.get("fetchOrder"):
        for p in params:
            if _lookup_ok(exchange_id, "fetch_order", p, client_id):
                return "fetch_order", p
    if echo and has.get("fetchOpenOrders") and has.get("fetchClosedOrders"):
        return "scan", param
    return "none", param


def _plain(text: str) -> str:
    """``text`` reduced to characters any Python string literal or comment holds as they are."""
    return re.sub(r"[^A-Za-z0-9 .,:;()_/'-]", "", text)[:120].strip()


def derive(exchange_id: str) -> ExchangeProfile:
    """The profile of ccxt's ``exchange_id``, as the installed ccxt behaves."""
    param, alphabet, limit, note = find_param(exchange_id)
    echo = echoes(exchange_id)
    client_id = new_client_order_id(
        "bs",
        {"client_id_max_length": limit, "client_id_alphabet": alphabet},  # type: ignore[typeddict-item]
    )
    lookup, lookup_param = find_lookup(exchange_id, has(exchange_id), param, echo, client_id)
    return merged_profile(
        {
            "client_id_param": param,
            "client_id_max_length": limit,
            "client_id_alphabet": alphabet,  # type: ignore[typeddict-item]
            "echoes_client_id": echo,
            "lookup": lookup,
            "lookup_param": lookup_param,
            "cancel_idempotent": False,
            "offline_note": _plain(note),
        }
    )
