"""Local stand-ins for exchange REST APIs, for recording cassettes and fault testing.

Each stand-in runs on the shared server (:mod:`scaffolder.standin.server`: lifecycle, request
log, injected faults) and checks requests the way its exchange does.
"""

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
