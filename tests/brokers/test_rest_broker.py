"""The shared signed-REST broker against the stand-in: signing, normalisers, errors, place-once."""

from __future__ import annotations

import pytest
import requests

from brokers import errors as e
from brokers.config import build_config
from brokers.rest_broker import RestBroker
from brokers.signing import Signer, mask
from scaffolder.standin import BinanceStandIn

KEY, SECRET = "CANARY-API-KEY-0000", "CANARY-SECRET-0000"


class Spot(RestBroker):
    name = "spotrest"
    base_url = "https://api.spotrest.invalid"
    key_header = "X-MBX-APIKEY"


def make_config(standin, *, secret=SECRET, testnet=True, custom=None):
    return build_config(
        {
            "name": "spotrest",
            "integration": "rest",
            "type": "crypto",
            "enabled": True,
            "api_credentials": {"api_key": "${K}", "api_secret": "${S}"},
            "settings": {
                "testnet": testnet,
                "timeout": 1500,
                "recv_window": 5000,
                "retry": {"max_attempts": 3, "base_delay_ms": 0, "max_delay_ms": 0},
            },
            "supported_pairs": ["BTC/USDT", "ETH/USDT"],
            "custom_settings": {"testnet_url": standin.url, **(custom or {})},
        },
        env={"K": KEY, "S": secret},
    )


@pytest.fixture
def standin():
    with BinanceStandIn(KEY, SECRET, fault_delay=3.0) as server:
        yield server


@pytest.fixture
def broker(standin):
    broker = Spot(make_config(standin), sleep=lambda s: None)
    broker.connect()
    yield broker
    broker.disconnect()


def test_signed_reads_return_our_shapes(broker):
    assert broker.markets["BTC/USDT"]["id"] == "BTCUSDT"
    balance = broker.get_balance()
    assert balance["BTC"]["total"] > 0
    ticker = broker.get_ticker("BTC/USDT")
    assert ticker["symbol"] == "BTC/USDT" and ticker["last"] > 0
    assert len(broker.get_ohlcv("ETH/USDT", "1h", limit=3)) == 3


def test_order_lifecycle(broker, standin):
    order = broker.create_order(
        "BTC/USDT", "limit", "buy", 0.001, price=20000, client_order_id="rest1"
    )
    assert (order["symbol"], order["side"], order["status"]) == ("BTC/USDT", "buy", "open")
    assert order["client_order_id"] == "rest1"
    assert broker.get_order(order["id"], "BTC/USDT")["amount"] == pytest.approx(0.001)
    assert [o["id"] for o in broker.get_open_orders("BTC/USDT")] == [order["id"]]
    assert broker.cancel_order(order["id"], "BTC/USDT")["status"] == "canceled"
    assert standin.orders_created == 1


def test_exchange_error_codes_map_to_our_errors(broker):
    with pytest.raises(e.InsufficientFundsError):
        broker.create_order("BTC/USDT", "limit", "buy", 1, price=20000)
    with pytest.raises(e.OrderNotFoundError):
        broker.get_order("424242", "BTC/USDT")
    with pytest.raises(e.OrderNotFoundError):
        broker.cancel_order("424242", "BTC/USDT")


def test_a_bad_signature_is_an_authentication_error(standin):
    broker = Spot(make_config(standin, secret="CANARY-WRONG-SECRET"), sleep=lambda s: None)
    broker.connect()
    with pytest.raises(e.AuthenticationError, match="-1022"):
        broker.get_balance()


@pytest.mark.parametrize(
    "fault", ["timeout_after_accept", "reset", "http_502", "truncated_json", "html_error"]
)
def test_create_order_never_places_twice(broker, standin, fault):
    standin.inject(fault, method="POST", path="/api/v3/order")
    order = broker.create_order(
        "BTC/USDT", "limit", "buy", 0.001, price=20000, client_order_id=f"f{fault[:8]}"
    )
    assert standin.orders_created == 1
    assert order["client_order_id"] == f"f{fault[:8]}"


def test_malformed_answers_to_reads_are_retried_then_succeed(broker, standin):
    standin.inject("truncated_json", path="/api/v3/ticker/24hr")
    standin.inject("html_error", path="/api/v3/ticker/24hr")
    assert broker.get_ticker("BTC/USDT")["last"] > 0


def test_errors_keep_the_cause(broker, standin):
    standin.inject("reset", path="/api/v3/account", times=3)
    with pytest.raises(e.BrokerConnectionError) as info:
        broker.get_balance()
    assert isinstance(info.value.__cause__, requests.RequestException)


def test_live_url_unless_testnet(standin):
    assert Spot(make_config(standin, testnet=False)).url == "https://api.spotrest.invalid"
    assert Spot(make_config(standin)).url == standin.url


def test_query_signing_matches_binances_rule():
    signer = Signer(KEY, SECRET, recv_window=5000, clock=lambda: 1700000000000)
    signed = signer.sign("GET", "/api/v3/account", {"symbol": "BTCUSDT"})
    assert signed.canonical == "symbol=BTCUSDT&timestamp=1700000000000&recvWindow=5000"
    import hashlib
    import hmac

    expected = hmac.new(SECRET.encode(), signed.canonical.encode(), hashlib.sha256).hexdigest()
    assert dict(signed.params)["signature"] == expected
    assert signed.headers == {"X-API-KEY": KEY}


def test_header_signing_sha512_covers_method_path_and_body():
    signer = Signer(KEY, SECRET, scheme="hmac_sha512_header", clock=lambda: 1)
    signed = signer.sign("post", "/v1/order", {"b": 2, "a": 1}, body='{"x":1}')
    assert signed.canonical == '1POST/v1/order?a=1&b=2{"x":1}'
    assert len(signed.headers["X-SIGNATURE"]) == 128


def test_mask_keeps_only_the_tail():
    assert mask("CANARY-SECRET-0000") == "**************0000"
    assert mask("short") == "*****"


# -- the market id index -------------------------------------------------------------------


class _NoStandIn:
    url = "http://127.0.0.1:9"  # never contacted: these brokers load markets from a snapshot


def _listing(**ids: str) -> dict:
    return {symbol.replace("_", "/"): {"id": ident} for symbol, ident in ids.items()}


def test_reloading_markets_rebuilds_the_index_that_names_symbols_of_stream_messages_and_orders():
    broker = Spot(make_config(_NoStandIn()), markets=_listing(BTC_USDT="BTCUSDT"))
    broker.connect()
    assert broker.parse_order({"symbol": "BTCUSDT", "orderId": 1})["symbol"] == "BTC/USDT"

    # The exchange relists BTC/USDT under a new id and adds a pair; connecting again reloads.
    broker._markets_snapshot = _listing(BTC_USDT="XBTUSDT", ETH_USDT="ETHUSDT")
    broker.connect()
    event = {"e": "24hrTicker", "s": "XBTUSDT", "c": "60000.1", "E": 1}
    assert broker.parse_ws_message(event)["symbol"] == "BTC/USDT"
    assert broker.parse_order({"symbol": "ETHUSDT", "orderId": 2})["symbol"] == "ETH/USDT"
    assert broker.symbol_of("BTCUSDT") == "BTCUSDT"  # the old id names nothing any more


def test_a_listing_changed_in_place_is_indexed_again():
    broker = Spot(make_config(_NoStandIn()), markets=_listing(BTC_USDT="BTCUSDT"))
    broker.connect()
    broker.markets["DOGE/BTC"] = {"id": "DOGEBTC"}
    assert broker.symbol_of("DOGEBTC") == "DOGE/BTC"


class _CountedListing(dict):
    """A markets listing that counts how often it is walked."""

    walks = 0

    def items(self):
        type(self).walks += 1
        return super().items()

    def __iter__(self):
        type(self).walks += 1
        return super().__iter__()


def test_naming_the_symbol_of_a_market_id_does_not_walk_the_listing():
    broker = Spot(make_config(_NoStandIn()))
    broker.markets = _CountedListing({f"C{n}/USDT": {"id": f"C{n}USDT"} for n in range(500)})
    walked = _CountedListing.walks
    assert [broker.symbol_of(f"C{n}USDT") for n in (0, 250, 499)] == [
        "C0/USDT",
        "C250/USDT",
        "C499/USDT",
    ]
    assert _CountedListing.walks == walked
