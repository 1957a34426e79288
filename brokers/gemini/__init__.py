"""Gemini broker (ccxt)."""

from brokers.gemini.broker import GeminiBroker

__all__ = ["GeminiBroker"]
