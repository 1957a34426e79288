"""The trading bot's broker runtime: ``create_broker(name, config)`` and the ``BaseBroker`` API.

Importing this package is cheap: it does not import ccxt or any broker until one is created.
"""

from brokers.base import BaseBroker
from brokers.config import BrokerConfig, load_config
from brokers.errors import (
    AuthenticationError,
    BadResponseError,
    BrokerConnectionError,
    BrokerError,
    ConfigError,
    DuplicateOrderError,
    ExchangeError,
    ExchangeUnavailableError,
    InsufficientFundsError,
    InvalidOrderError,
    InvalidRequestError,
    InvalidSymbolError,
    NotConnectedError,
    NotSupportedError,
    OrderNotFoundError,
    RateLimitError,
    RequestTimeoutError,
    UnknownBrokerError,
)
from brokers.registry import available, broker_class, create_broker

__all__ = [
    "AuthenticationError",
    "BadResponseError",
    "BaseBroker",
    "BrokerConfig",
    "BrokerConnectionError",
    "BrokerError",
    "ConfigError",
    "DuplicateOrderError",
    "ExchangeError",
    "ExchangeUnavailableError",
    "InsufficientFundsError",
    "InvalidOrderError",
    "InvalidRequestError",
    "InvalidSymbolError",
    "NotConnectedError",
    "NotSupportedError",
    "OrderNotFoundError",
    "RateLimitError",
    "RequestTimeoutError",
    "UnknownBrokerError",
    "available",
    "broker_class",
    "create_broker",
    "load_config",
]
