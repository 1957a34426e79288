"""Canary credentials in the shape an exchange's client insists on, and the replay broker.

The harness replays with canary credentials (:func:`scaffolder.harness.session.canary`: an
obvious fake per variable). Most ccxt clients sign with any string, but some check the shape
of a key before signing and refuse the request without sending it: ccxt's ``gemini`` only
signs with session keys, whose name starts with ``account-`` (master keys are refused). A
canary for such an exchange keeps its fake value and gains the shape.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from brokers.base import BaseBroker
from scaffolder.harness.session import broker_for_replay

#: Exchanges whose ccxt client signs only with "account-..." API keys (session keys).
ACCOUNT_KEY_EXCHANGES = frozenset({"gemini"})


def account_key(value: str) -> str:
    """``value`` as a session key name: ``account-`` in front unless it already says so."""
    return value if "account" in value else f"account-{value}"


def shaped_credentials(exchange_id: str, credentials: Mapping[str, str]) -> dict[str, str]:
    """Our credential names -> values, reshaped where ``exchange_id``'s client needs it."""
    shaped = dict(credentials)
    if exchange_id in ACCOUNT_KEY_EXCHANGES and shaped.get("api_key"):
        shaped["api_key"] = account_key(shaped["api_key"])
    return shaped


def replay_broker(root: Path, name: str, *, testnet: bool | None = None) -> BaseBroker:
    """:func:`~scaffolder.harness.session.broker_for_replay` with canaries the exchange's
    client accepts (the broker is not connected; its client is built on first use)."""
    broker: Any = broker_for_replay(root, name, testnet=testnet)
    exchange_id = getattr(broker, "exchange_id", "") or name
    shaped = shaped_credentials(exchange_id, broker.config.credentials)
    if shaped != broker.config.credentials:
        broker.config = dataclasses.replace(broker.config, credentials=shaped)
    result: BaseBroker = broker
    return result
