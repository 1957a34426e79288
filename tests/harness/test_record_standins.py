"""``scaffolder record`` against the Gemini and Coinbase stand-ins, with canary credentials.

The same promises as the Binance recording (``test_record.py``), for exchanges that sign
differently: Gemini puts every parameter in a base64 JSON payload header signed with
HMAC-SHA384 and refuses a nonce that does not increase; Coinbase signs timestamp, method, path
and body with HMAC-SHA256 in ``CB-ACCESS-*`` headers. The cassettes replay with the stand-in
stopped; no canary value and no signature reaches them, in any encoding; they name the
exchange's URLs; recording again gives cassettes the same tests accept.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from scaffolder.harness.audit import audit
from scaffolder.harness.record import RecordReport, record, replay_contract
from scaffolder.standin.coinbase import CoinbaseStandIn
from scaffolder.standin.gemini import GeminiStandIn
from tests.conftest import own_copy
from tests.harness.test_record import (
    CALLS,
    FILES,
    assert_same_requests,
    base64_fragments,
    files_under,
    interactions,
)

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Exchange:
    """How to record one exchange against its stand-in."""

    name: str
    standin: Callable[[], Any]  # a started stand-in has .signatures
    env: dict[str, str]
    api_url: str  # what the recorded URIs must start with
    signature_header: str
    #: Live-only exchanges (no sandbox in ccxt) are recorded with ``allow_mainnet``.
    live: bool = False


GEMINI = Exchange(
    "gemini",
    lambda: GeminiStandIn("account-CANARY-RECORD-GEMINI-KEY", "CANARY-RECORD-GEMINI-SECRET"),
    {
        "GEMINI_API_KEY": "account-CANARY-RECORD-GEMINI-KEY",
        "GEMINI_API_SECRET": "CANARY-RECORD-GEMINI-SECRET",
    },
    "https://api.sandbox.gemini.com/v",
    "X-GEMINI-SIGNATURE",
)
COINBASE = Exchange(
    "coinbase",
    lambda: CoinbaseStandIn("CANARY-RECORD-COINBASE-KEY", "CANARY-RECORD-COINBASE-SECRET"),
    {
        "COINBASE_API_KEY": "CANARY-RECORD-COINBASE-KEY",
        "COINBASE_API_SECRET": "CANARY-RECORD-COINBASE-SECRET",
    },
    "https://api.coinbase.com/",
    "CB-ACCESS-SIGN",
    live=True,
)
EXCHANGES = [GEMINI, COINBASE]


def new_project(root: Path, name: str) -> Path:
    """A minimal project: the broker's config, its generated test file, an empty cassettes dir."""
    (root / "config" / "brokers").mkdir(parents=True)
    (root / "tests" / "brokers").mkdir(parents=True)
    (root / "cassettes" / name).mkdir(parents=True)
    config = json.loads((ROOT / "config" / "brokers" / f"{name}.json").read_text("utf-8"))
    config.pop("$schema", None)
    (root / "config" / "brokers" / f"{name}.json").write_text(json.dumps(config), "utf-8")
    shutil.copy(ROOT / "tests" / "brokers" / f"test_{name}.py", root / "tests" / "brokers")
    return root


@dataclass
class Recording:
    exchange: Exchange
    root: Path
    report: RecordReport
    signatures: list[str]
    port: int

    @property
    def cassettes(self) -> Path:
        return self.root / "cassettes" / self.exchange.name


def record_against_standin(exchange: Exchange, root: Path) -> Recording:
    """Record ``root``'s cassettes against a fresh stand-in, which is stopped after."""
    with pytest.MonkeyPatch.context() as mp, exchange.standin() as standin:
        for variable, value in exchange.env.items():
            mp.setenv(variable, value)
        report = record(exchange.name, root, via=standin.url, allow_mainnet=exchange.live)
        signatures = list(standin.signatures)
        assert standin.errors == []
    return Recording(exchange, root, report, signatures, standin.port)


@pytest.fixture(scope="module", params=EXCHANGES, ids=[e.name for e in EXCHANGES])
def first(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Recording:
    exchange: Exchange = request.param
    root = new_project(tmp_path_factory.mktemp(f"{exchange.name}-first"), exchange.name)
    return record_against_standin(exchange, root)


@pytest.fixture(scope="module")
def second(tmp_path_factory: pytest.TempPathFactory, first: Recording) -> Recording:
    """A second recording into a copy of the first project: the re-recording path."""
    root = tmp_path_factory.mktemp(f"{first.exchange.name}-second") / "project"
    own_copy(first.root, root)
    return record_against_standin(first.exchange, root)


# -- the recording -------------------------------------------------------------------------------


def test_recording_writes_every_contract_call_and_replays(first: Recording) -> None:
    assert first.report.calls == CALLS
    assert first.report.files == FILES
    assert first.report.replay_exit_code == 0
    scenario = json.loads((first.cassettes / "contract.json").read_text())
    assert list(scenario["calls"]) == CALLS and scenario["source"] == "recorded"
    markets = json.loads((first.cassettes / "markets.json").read_text())
    config = json.loads((first.root / "config/brokers" / f"{first.exchange.name}.json").read_text())
    assert sorted(markets) == sorted(config["supported_pairs"])
    assert all(m["precision"]["price"] and m["precision"]["amount"] for m in markets.values())


def test_cassettes_replay_with_the_exchange_stopped(
    first: Recording, capfd: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", first.port), timeout=1).close()
    capfd.readouterr()
    assert replay_contract(first.root, first.exchange.name) == 0
    summary = capfd.readouterr().out.strip().splitlines()[-1]
    counts = {w: int(n) for n, w in re.findall(r"(\d+) (passed|skipped|failed|error)", summary)}
    assert counts.get("passed", 0) >= len(CALLS) + 3, summary
    assert counts.get("failed", 0) == 0, summary


def test_no_credential_and_no_signature_is_written_in_any_encoding(first: Recording) -> None:
    assert len(first.signatures) >= 7, "the recording made signed calls"
    forbidden = set(first.signatures)
    for value in first.exchange.env.values():
        forbidden |= {value, quote(value, safe=""), quote_plus(value)} | base64_fragments(value)
    written = list(files_under(first.root / "cassettes"))
    assert len(written) == len(FILES), written  # nothing else (no scratch directory left)
    for path in written:
        text = path.read_text(encoding="utf-8")
        for value in forbidden:
            assert value not in text, f"{value!r} leaked into {path.name}"
    scanned, findings = audit([first.root / "cassettes"], first.root, env=first.exchange.env)
    assert (scanned, findings) == (len(FILES), [])


def test_auth_headers_are_masked_and_the_exchanges_urls_kept(first: Recording) -> None:
    for path in first.cassettes.glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        assert "127.0.0.1" not in text and str(first.port) not in text, path.name
        for interaction in interactions(path):
            request = interaction["request"]
            assert request["uri"].startswith(first.exchange.api_url), request["uri"]
            signature = request["headers"].get(first.exchange.signature_header)
            assert signature in (None, ["SCRUBBED"]), (path.name, signature)


def test_the_order_request_keeps_its_meaning_without_secrets(first: Recording) -> None:
    (order,) = interactions(first.cassettes / "create_order.yaml")
    request = order["request"]
    if first.exchange is GEMINI:  # every parameter rides in the base64 payload header
        assert request["headers"]["X-GEMINI-APIKEY"] == ["SCRUBBED"]
        fields = json.loads(base64.b64decode(request["headers"]["X-GEMINI-PAYLOAD"][0]))
        assert fields["request"] == "/v1/order/new"
        assert (fields["symbol"], fields["side"], fields["type"]) == (
            "btcusdt",
            "buy",
            "exchange limit",
        )
    else:
        for header in ("CB-ACCESS-KEY", "CB-ACCESS-SIGN", "CB-ACCESS-TIMESTAMP"):
            assert request["headers"][header] == ["SCRUBBED"], header
        fields = json.loads(request["body"])
        assert (fields["product_id"], fields["side"]) == ("BTC-USDT", "BUY")
        assert set(fields["order_configuration"]) == {"limit_limit_gtc"}


# -- recording twice -----------------------------------------------------------------------------


def test_recording_again_gives_cassettes_the_same_tests_accept(
    first: Recording, second: Recording
) -> None:
    assert second.report.replay_exit_code == 0
    assert first.report.files == second.report.files == FILES
    old, new = first.cassettes, second.cassettes
    # a new recording (new client order id), not the copied files left in place
    assert (old / "contract.json").read_text() != (new / "contract.json").read_text()
    assert_same_requests(old, new, first.exchange.name)
