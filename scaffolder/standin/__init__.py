"""Local stand-ins for exchange REST APIs, for recording cassettes and fault testing.

Each stand-in runs on the shared server (:mod:`scaffolder.standin.server`: lifecycle, request
log, injected faults) and checks requests the way its exchange does; the command lines find
them by name in :mod:`scaffolder.standin.registry`. The names below are imported when first
used, so that importing the registry (as the ``scaffolder`` command does) loads no server.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scaffolder.standin.binance import CCXT_OPTIONS, BinanceStandIn
    from scaffolder.standin.binance_market import BinanceError, SymbolSpec
    from scaffolder.standin.coinbase import CoinbaseStandIn
    from scaffolder.standin.coinbase_market import CoinbaseError, Product
    from scaffolder.standin.gemini import GeminiStandIn
    from scaffolder.standin.gemini_market import GeminiError, GeminiSymbol
    from scaffolder.standin.server import (
        FAULTS,
        FAULTS_AFTER,
        FAULTS_BEFORE,
        RecordedRequest,
        StandInServer,
    )

#: Exported name -> the module that defines it.
_EXPORTS: dict[str, str] = {
    "CCXT_OPTIONS": "binance",
    "FAULTS": "server",
    "FAULTS_AFTER": "server",
    "FAULTS_BEFORE": "server",
    "BinanceError": "binance_market",
    "BinanceStandIn": "binance",
    "CoinbaseError": "coinbase_market",
    "CoinbaseStandIn": "coinbase",
    "GeminiError": "gemini_market",
    "GeminiStandIn": "gemini",
    "GeminiSymbol": "gemini_market",
    "Product": "coinbase_market",
    "RecordedRequest": "server",
    "StandInServer": "server",
    "SymbolSpec": "binance_market",
}

__all__ = [
    "CCXT_OPTIONS",
    "FAULTS",
    "FAULTS_AFTER",
    "FAULTS_BEFORE",
    "BinanceError",
    "BinanceStandIn",
    "CoinbaseError",
    "CoinbaseStandIn",
    "GeminiError",
    "GeminiStandIn",
    "GeminiSymbol",
    "Product",
    "RecordedRequest",
    "StandInServer",
    "SymbolSpec",
]


def __getattr__(name: str) -> Any:
    """An exported name, imported from its module on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later lookups skip this function
    return value
