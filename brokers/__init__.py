"""The trading bot's broker runtime: ``create_broker(name, config)`` and the ``BaseBroker`` API.

Importing this package is cheap: the names below are imported on first use (PEP 562), so
``import brokers`` imports neither ccxt nor a broker, and ``brokers.errors`` alone does not
pull in the config loader or the registry.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # typing's, without importing typing (mypy reads it as True)

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
    "InvalidNonceError",
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

#: Public name -> the module that defines it (every ``...Error`` comes from brokers.errors).
_EXPORTS: dict[str, str] = {
    "BaseBroker": "brokers.base",
    "BrokerConfig": "brokers.config",
    "load_config": "brokers.config",
    "available": "brokers.registry",
    "broker_class": "brokers.registry",
    "create_broker": "brokers.registry",
    **{name: "brokers.errors" for name in __all__ if name.endswith("Error")},
}


def _lazy_exports(
    package: str, namespace: dict[str, Any], exports: dict[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's ``__getattr__`` and ``__dir__`` (PEP 562) for ``exports`` (public name -> the
    module defining it): each module is imported when one of its names is first used."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value  # later lookups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__


__getattr__, __dir__ = _lazy_exports(__name__, globals(), _EXPORTS)


if TYPE_CHECKING:  # for type checkers and editors; not executed at run time
    from collections.abc import Callable
    from typing import Any

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
        InvalidNonceError,
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
