"""How one exchange carries and finds a client order id: the broker's exchange profile.

A generated ccxt broker states its exchange's profile as a capability dict (freqtrade's
``_ft_has`` style), derived from the installed ccxt by ``scaffolder.exchange_profile`` and
checked against ccxt's own request building by the wire check. The shared
:class:`~brokers.ccxt_broker.CcxtBroker` reads only this dict to decide which ``params`` key
carries the id, what id to generate, how a lost order is looked up and whether an unknown
outcome may ever be re-sent.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Literal, TypedDict

#: How an order is found by its client id after its answer was lost:
#: ``open_closed_order``: ccxt's ``fetch_open_order`` then ``fetch_closed_order``, given the id;
#: ``fetch_order``: ccxt's ``fetch_order(None, symbol, {lookup_param: id})``;
#: ``scan``: open orders, then closed orders since just before the send, matched by the id the
#: exchange echoes; ``none``: no look-up can prove an order absent (never re-sent).
Lookup = Literal["open_closed_order", "fetch_order", "scan", "none"]
#: What a client order id may be made of: lowercase letters and digits, or digits only.
Alphabet = Literal["alnum", "digits"]


class ExchangeProfile(TypedDict, total=False):
    """One exchange's client-order-id capabilities (every key optional; see DEFAULT_PROFILE)."""

    #: The ``params`` key that puts a client order id into ccxt's create request; None: ccxt
    #: cannot carry one (nothing is sent, and an unknown outcome is never re-sent).
    client_id_param: str | None
    #: The longest id ccxt lets through (None: ccxt enforces no limit; ids are 32 long).
    client_id_max_length: int | None
    client_id_alphabet: Alphabet
    #: Whether ccxt's parsed order carries the id back (``clientOrderId``).
    echoes_client_id: bool
    lookup: Lookup
    #: The ``params`` key the look-up passes the id under.
    lookup_param: str
    #: Whether cancelling a cancelled order answers success. ccxt does not say, so profiles
    #: say False, and a cancel refused as "not found" after a lost answer is looked up.
    cancel_idempotent: bool
    #: Why the wire check could not build this exchange's requests offline ("" when it could).
    offline_note: str


#: The profile of a broker that states none: ccxt's unified key, looked up by a scan.
DEFAULT_PROFILE: ExchangeProfile = {
    "client_id_param": "clientOrderId",
    "client_id_max_length": None,
    "client_id_alphabet": "alnum",
    "echoes_client_id": True,
    "lookup": "scan",
    "lookup_param": "clientOrderId",
    "cancel_idempotent": False,
    "offline_note": "",
}

#: Length of a generated id where the exchange sets no lower limit.
CLIENT_ID_LENGTH = 32
#: Digits of a digits-only id: fits a signed 64-bit integer.
DIGITS_LENGTH = 18


def merged_profile(*layers: ExchangeProfile) -> ExchangeProfile:
    """``DEFAULT_PROFILE`` with each layer laid over it, in order."""
    merged: ExchangeProfile = {**DEFAULT_PROFILE}
    for layer in layers:
        merged.update(layer)
    return merged


def new_client_order_id(prefix: str = "bs", profile: ExchangeProfile | None = None) -> str:
    """A fresh client order id that fits ``profile``: by default 32 lowercase alphanumerics,
    accepted by every major exchange; shorter, or digits only, where the profile says so."""
    profile = merged_profile(profile or {})
    limit = profile.get("client_id_max_length") or CLIENT_ID_LENGTH
    if profile.get("client_id_alphabet") == "digits":
        length = min(limit, DIGITS_LENGTH)
        return str(secrets.randbelow(9 * 10 ** (length - 1)) + 10 ** (length - 1))
    return (prefix + uuid.uuid4().hex + uuid.uuid4().hex)[: min(limit, CLIENT_ID_LENGTH)]


def same_client_id(echoed: object, ours: str) -> bool:
    """Whether the id an exchange echoes is ours (some put a fixed prefix in front of it)."""
    return isinstance(echoed, str) and bool(ours) and (echoed == ours or echoed.endswith(ours))
