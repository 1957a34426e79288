"""The wire check: for every ccxt exchange, the id a broker generates is in the request ccxt
signs (offline, HTTP intercepted), within the exchange's limits; or the profile says ccxt
cannot carry one, and such a broker never re-sends an order whose answer was lost."""

from __future__ import annotations

import ccxt
import pytest

from brokers.ccxt_broker import CcxtBroker
from brokers.profile import merged_profile, new_client_order_id
from brokers.registry import broker_class
from brokers.retry import OrderStateUnknownError
from scaffolder import ccxt_metadata
from scaffolder.exchange_profile import probe_create
from scaffolder.generate import template_meta
from scaffolder.standin import BinanceStandIn
from scaffolder.wire_check import check
from tests.brokers.test_ccxt_broker import KEY, SECRET, SPOT, make_config
from tests.conftest import ROOT


@pytest.mark.parametrize("exchange_id", ccxt.exchanges)
def test_the_generated_client_id_reaches_ccxts_request_or_the_profile_says_it_cannot(
    exchange_id: str,
) -> None:
    profile = template_meta(exchange_id, ROOT)["profile"]  # what the template renders
    result = check(exchange_id, profile)
    assert result.outcome in ("carried", "no id"), result
    if result.outcome == "carried":
        assert result.client_id.isalnum() and len(result.client_id) <= 32
        if result.max_length is not None:
            assert len(result.client_id) <= result.max_length
    else:
        assert profile["lookup"] == "none" and profile["offline_note"], profile


def test_every_exchange_has_a_profile_and_most_carry_an_id() -> None:
    results = [check(e, ccxt_metadata.profile(e)) for e in ccxt.exchanges]
    assert len(results) == len(ccxt.exchanges)
    assert sum(r.outcome == "carried" for r in results) >= 50


def test_coinbase_sends_the_id_as_client_order_id_which_ccxt_keeps() -> None:
    profile = ccxt_metadata.profile("coinbase")
    assert profile["client_id_param"] == "client_order_id"
    client_id = new_client_order_id(profile=profile)
    assert check("coinbase", profile).outcome == "carried"
    # ccxt's unified key is dropped by ccxt's coinbase: it would send its own id instead.
    assert not probe_create("coinbase", "clientOrderId", client_id).carries(client_id)


def test_gate_ids_fit_its_28_characters() -> None:
    profile = ccxt_metadata.profile("gate")
    assert profile["client_id_max_length"] == 28
    client_id = new_client_order_id(profile=profile)
    assert len(client_id) == 28
    assert probe_create("gate", "clientOrderId", client_id).carries(client_id)
    # The 32-character id every broker used to send is refused before the order is sent.
    old_id = new_client_order_id()
    assert len(old_id) == 32
    assert not probe_create("gate", "clientOrderId", old_id).carries(old_id)


def test_bybit_does_not_look_orders_up_with_fetch_order() -> None:
    """ccxt's bybit.fetch_order raises on unified accounts unless acknowledged, and its
    fetch_open_order/fetch_closed_order send ``orderId=None`` beside a client id: a look-up
    that proves absence is open and closed orders matched by the echoed id."""
    for exchange_id in [e for e in ("bybit", "bybiteu", "bybitid") if e in ccxt.exchanges]:
        profile = ccxt_metadata.profile(exchange_id)
        assert profile["lookup"] != "fetch_order", exchange_id
        assert profile["lookup"] in ("scan", "open_closed_order", "none"), exchange_id


@pytest.mark.parametrize("name", ["binance", "coinbase", "gemini"])
def test_the_committed_brokers_state_the_profile_ccxt_gives_today(name: str) -> None:
    derived = {k: v for k, v in ccxt_metadata.profile(name).items() if v != ""}
    assert broker_class(name).profile == derived


def test_a_broker_whose_exchange_cannot_carry_an_id_never_resends_after_a_lost_answer() -> None:
    class NoClientId(CcxtBroker):
        name = "binance"
        exchange_id = "binance"
        ccxt_options = {"defaultType": "spot", **SPOT}
        profile = {"client_id_param": None, "lookup": "none"}

    with BinanceStandIn(KEY, SECRET, fault_delay=3.0) as standin:
        broker = NoClientId(make_config(standin), sleep=lambda s: None)
        broker.connect()
        standin.inject("timeout_after_accept", method="POST", path="/api/v3/order")
        with pytest.raises(OrderStateUnknownError) as info:
            broker.create_order("BTC/USDT", "limit", "buy", 0.001, price=20000)
        broker.disconnect()
        assert standin.orders_created == 1
        assert "open and recent orders of BTC/USDT" in str(info.value)
        assert merged_profile(NoClientId.profile)["client_id_param"] is None
