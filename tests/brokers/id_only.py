"""A broker whose exchange answers an order with its id alone, for tests of what
:class:`brokers.base.BaseBroker` does around a subclass (no HTTP: every call answers at once)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from brokers.base import BaseBroker
from brokers.config import BrokerConfig, build_config
from brokers.order_checks import MarketRules, OrderRequest
from brokers.shapes import Order


def id_only_config(pairs: Sequence[str] = ("BTC/USDT",), **sections: Any) -> BrokerConfig:
    """A valid config for :class:`IdOnlyBroker` with canary credentials, plus ``sections``."""
    return build_config(
        {
            "name": "idonly", "integration": "rest", "type": "crypto", "enabled": True,
            "api_credentials": {"api_key": "${K}", "api_secret": "${S}"},
            "settings": {"testnet": True, "timeout": 1500, "enable_rate_limit": False},
            "supported_pairs": list(pairs),
            "custom_settings": {"testnet_url": "https://idonly.invalid"},
            **sections,
        },
        env={"K": "CANARY-API-KEY", "S": "CANARY-SECRET"},
    )  # fmt: skip


class IdOnlyBroker(BaseBroker):
    """Answers an order with ``{"id": "answer-1"}`` and keeps what it was sent; ``kinds``
    gives a symbol's market kind (spot where not given)."""

    name = "idonly"

    def __init__(self, config: BrokerConfig, kinds: Mapping[str, str] | None = None) -> None:
        super().__init__(config)
        self.kinds = dict(kinds or {})
        self.sent: list[OrderRequest] = []

    def _open(self) -> None:
        """Nothing to load."""

    def _close_session(self) -> None:
        """No session to close."""

    def market_rules(self, symbol: str) -> MarketRules:
        return MarketRules(kind=self.kinds.get(symbol, "spot"))

    def get_balance(self) -> Any:
        return {}

    def get_ticker(self, symbol: str) -> Any:
        return {"symbol": symbol, "last": 30000.0}

    def get_ohlcv(
        self, symbol: str, timeframe: str = "1h", limit: int = 100, since: int | None = None
    ) -> list[Any]:
        return []

    def _place_order(self, order: OrderRequest) -> Order:
        self.sent.append(order)
        return {"id": "answer-1"}  # type: ignore[typeddict-item]

    def cancel_order(self, order_id: str, symbol: str | None = None) -> Any:
        return {}

    def get_order(self, order_id: str, symbol: str | None = None) -> Any:
        return {}

    def get_open_orders(self, symbol: str | None = None) -> list[Any]:
        return []

    def get_positions(self) -> list[Any]:
        return []
