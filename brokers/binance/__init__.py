"""Binance broker (ccxt)."""

from brokers.binance.broker import BinanceBroker

__all__ = ["BinanceBroker"]
