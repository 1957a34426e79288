"""Local stand-ins for exchange REST APIs, for recording cassettes and fault testing."""

from scaffolder.standin.binance import (
    CCXT_OPTIONS,
    FAULTS,
    FAULTS_AFTER,
    FAULTS_BEFORE,
    BinanceStandIn,
    RecordedRequest,
)
from scaffolder.standin.binance_market import BinanceError, SymbolSpec

__all__ = [
    "CCXT_OPTIONS",
    "FAULTS",
    "FAULTS_AFTER",
    "FAULTS_BEFORE",
    "BinanceError",
    "BinanceStandIn",
    "RecordedRequest",
    "SymbolSpec",
]
