"""Coinbase Advanced broker (ccxt)."""

from brokers.coinbase.broker import CoinbaseBroker

__all__ = ["CoinbaseBroker"]
