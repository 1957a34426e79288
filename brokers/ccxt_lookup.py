"""Finding a ccxt order again by its client order id, the way the exchange profile says.

After an order's answer was lost, :func:`brokers.retry.place_order_once` asks whether the
exchange has the order; :class:`~brokers.ccxt_broker.CcxtBroker` answers with
:func:`find_by_client_id`, and only re-sends where :func:`profile_can_find` says a look-up can
prove an order absent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from brokers.errors import BrokerError, OrderNotFoundError
from brokers.profile import ExchangeProfile, same_client_id
from brokers.shapes import Order, order_from_ccxt

#: The ccxt methods each ``lookup`` calls, in order, with the id in the params.
LOOKUP_METHODS: dict[str, tuple[str, ...]] = {
    "fetch_order": ("fetch_order",),
    "open_closed_order": ("fetch_open_order", "fetch_closed_order"),
}


def profile_can_find(profile: ExchangeProfile, has: Callable[[str], bool]) -> bool:
    """Whether the profile's look-up, with the unified methods ccxt ``has``, can prove an order
    absent. A scan of open orders alone cannot: it would miss an order that filled at once, and
    re-sending that one would place it twice."""
    lookup = profile.get("lookup")
    if lookup == "fetch_order":
        return has("fetchOrder")
    if lookup == "open_closed_order":
        return has("fetchOpenOrder") and has("fetchClosedOrder")
    if lookup == "scan":
        return bool(profile.get("echoes_client_id")) and (
            has("fetchOpenOrders") and has("fetchClosedOrders")
        )
    return False


def find_by_client_id(
    exchange: Any,
    profile: ExchangeProfile,
    client_id: str,
    symbol: str,
    *,
    to_error: Callable[[BaseException], BrokerError],
    broker: str,
) -> Order | None:
    """The order carrying ``client_id``, or None when the exchange proves it has none
    (the way the profile's ``lookup`` says)."""
    query = {profile.get("lookup_param") or "clientOrderId": client_id}
    methods = LOOKUP_METHODS.get(str(profile.get("lookup")))
    if methods:
        for method in methods:
            try:
                raw = getattr(exchange, method)(None, symbol, query)
            except Exception as exc:
                if isinstance(to_error(exc), OrderNotFoundError):
                    continue
                raise
            return ours(order_from_ccxt(raw), client_id, broker=broker)
        return None
    for fetch in ("fetch_open_orders", "fetch_closed_orders"):
        for raw in getattr(exchange, fetch)(symbol):
            if same_client_id(raw.get("clientOrderId"), client_id):
                return order_from_ccxt(raw)
    return None


def ours(order: Order, client_id: str, *, broker: str) -> Order:
    """``order`` when it is the one carrying ``client_id`` (or the exchange echoes none)."""
    echoed = order["client_order_id"]
    if echoed and not same_client_id(echoed, client_id):
        raise BrokerError(
            f"{broker}: looking up client order id {client_id} returned order "
            f"{order['id']} of client id {echoed}",
            broker=broker,
        )
    order["client_order_id"] = echoed or client_id
    return order
