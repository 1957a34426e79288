"""The template's ``websocket`` answer for signed-REST brokers: what it renders, and that it streams.

Brokers are rendered into a throwaway project (see ``test_generate``); code that imports them
runs in a fresh interpreter whose ``brokers`` package is that project's. The streaming broker is
rendered with the URLs of a Binance stand-in (REST) and a WebSocket server on 127.0.0.1, so the
class the template wrote is the one that connects, without overrides.
"""

from __future__ import annotations

import json

import pytest

from scaffolder.errors import UsageError
from scaffolder.generate import generate
from scaffolder.standin import BinanceStandIn
from tests.brokers.test_rest_stream import KEY, SECRET, TickerServer
from tests.scaffolder.test_generate import answers_of, make_project, run_python
from tests.scaffolder.test_template_all_exchanges import (
    test_the_generated_code_is_formatted_and_lint_clean as assert_lint_clean,
)

#: Connects the generated broker, subscribes, and prints the first ticker it is given.
STREAM_ONE_TICKER = """
import json, os, queue, sys
from brokers import create_broker

broker = create_broker(sys.argv[1], f"config/brokers/{sys.argv[1]}.json")
print(json.dumps({"class": type(broker).__name__, "stream_url": broker.stream_url}))
ticks, errors = queue.Queue(), queue.Queue()
with broker:
    broker.subscribe_ticker("BTC/USDT", ticks.put, on_error=errors.put)
    print(json.dumps(ticks.get(timeout=10)))
    broker.unsubscribe("BTC/USDT")
assert errors.empty(), errors.get()
"""


@pytest.fixture
def project(tmp_path):
    return make_project(tmp_path / "project")


def broker_source(project, name: str) -> str:
    return (project / "brokers" / name / "broker.py").read_text()


def test_rest_websocket_renders_the_stream_urls_and_lint_clean_code(project):
    generate("streamy", project, data={"integration": "rest", "websocket": True})
    source = broker_source(project, "streamy")
    assert '    ws_url = "wss://api.streamy.com/ws"\n' in source
    assert '    testnet_ws_url = "wss://testnet.streamy.com/ws"\n' in source
    assert "    websocket = True\n" in source
    answers = answers_of(project, "streamy")
    assert answers["ws_url"] == "wss://api.streamy.com/ws"
    assert answers["testnet_ws_url"] == "wss://testnet.streamy.com/ws"
    test_source = (project / "tests" / "brokers" / "test_streamy.py").read_text()
    assert 'assert broker.stream_url == "wss://testnet.streamy.com/ws"' in test_source
    assert_lint_clean(project)


def test_the_stream_urls_default_from_the_rest_urls(project):
    generate(
        "derived",
        project,
        data={
            "integration": "rest",
            "websocket": True,
            "base_url": "https://api.example.invalid/v2/",
            "testnet_url": "http://127.0.0.1:8765",
        },
    )
    source = broker_source(project, "derived")
    assert '    ws_url = "wss://api.example.invalid/v2/ws"\n' in source
    assert '    testnet_ws_url = "ws://127.0.0.1:8765/ws"\n' in source


def test_without_a_testnet_only_the_live_stream_url_is_asked(project):
    generate("livews", project, data={"integration": "rest", "websocket": True, "testnet": False})
    assert '    testnet_ws_url = ""\n' in broker_source(project, "livews")
    assert "testnet_ws_url" not in answers_of(project, "livews")


def test_rest_without_websocket_renders_no_stream(project):
    generate("quiet", project, data={"integration": "rest", "websocket": False})
    source = broker_source(project, "quiet")
    assert "ws_url" not in source and "websocket" not in source and "WebSocket" not in source
    assert "stream" not in (project / "tests" / "brokers" / "test_quiet.py").read_text()
    assert not {"ws_url", "testnet_ws_url"} & set(answers_of(project, "quiet"))


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"ws_url": "https://api.x.com/ws"}, "must be a wss:// URL"),
        ({"testnet_ws_url": "stream.x.com"}, "must be a wss:// URL"),
    ],
)
def test_stream_urls_that_are_not_websocket_urls_are_refused(project, answers, message):
    with pytest.raises(UsageError, match=message):
        generate("badws", project, data={"integration": "rest", "websocket": True, **answers})
    assert not (project / "brokers" / "badws").exists()


def test_a_generated_rest_broker_with_websocket_streams_from_its_own_urls(project):
    with (
        BinanceStandIn(KEY, SECRET) as standin,
        TickerServer(tick_on_subscribe=65000.5) as server,
    ):
        generate(
            "localws",
            project,
            data={
                "integration": "rest",
                "websocket": True,
                "testnet": False,  # the live URLs are the local servers
                "base_url": standin.url,
                "ws_url": server.url,
            },
        )
        out = run_python(
            project,
            STREAM_ONE_TICKER,
            "localws",
            env={"LOCALWS_API_KEY": KEY, "LOCALWS_API_SECRET": SECRET},
        )
        first, ticker = (json.loads(line) for line in out.splitlines())
        assert first == {"class": "LocalwsBroker", "stream_url": server.url}
        assert ticker["symbol"] == "BTC/USDT" and ticker["last"] == 65000.5
        assert server.next_request("SUBSCRIBE")[1]["params"] == ["btcusdt@ticker"]
        assert server.next_request("UNSUBSCRIBE")[1]["params"] == ["btcusdt@ticker"]
        assert server.ended.get(timeout=10) == 1
