"""ccxt static fixtures -> vcrpy cassettes, replayed offline through real ccxt."""

from __future__ import annotations

import copy
import ipaddress
import json
import re
import shutil
import socket
from pathlib import Path
from typing import Any

import ccxt
import pytest
import yaml
from vcr.persisters.filesystem import FilesystemPersister
from vcr.serializers import yamlserializer

from scaffolder.harness import ccxt_import as ci
from scaffolder.harness.ccxt_offline import response_for
from scaffolder.harness.ccxt_requests import scrub_body

STATIC = Path(__file__).resolve().parents[1] / "data" / "ccxt_static"
EXCHANGES = ("binance", "coinbase", "gemini", "kraken")
AUTH_HEADER = re.compile(r"key|sign|auth|token|secret|pass|payload", re.I)


class NetworkBlocked(RuntimeError):
    pass


@pytest.fixture(scope="module", autouse=True)
def no_network() -> Any:
    """Any socket connect to a non-loopback address fails for the whole module."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            raise NetworkBlocked(f"network access attempted: {address!r}")
        return real_connect(self, address)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", guarded)
        yield


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[ci.ImportReport, Path]]:
    root = tmp_path_factory.mktemp("ccxt-import")
    return {ex: (ci.import_ccxt(ex, STATIC, root / ex), root / ex) for ex in EXCHANGES}


def _cases(out: Path) -> list[dict[str, Any]]:
    return json.loads((out / "ccxt" / "cases.json").read_text())["cases"]


def test_network_is_blocked() -> None:
    # our guard, or pytest-recording's block_network when that is switched on: either stops the
    # connect before the operating system sees it (an OSError would mean the OS tried)
    with pytest.raises(RuntimeError):
        socket.create_connection(("192.0.2.1", 443), timeout=1)


@pytest.mark.parametrize("exchange_id", EXCHANGES)
def test_import_writes_cases_and_reports(
    imported: dict[str, tuple[ci.ImportReport, Path]], exchange_id: str
) -> None:
    report, out = imported[exchange_id]
    cases = _cases(out)
    assert report.imported, report.skipped
    assert sorted(report.imported) == sorted(c["cassette"] for c in cases)
    assert all(c["method"] in ci.SUPPORTED_METHODS for c in cases)
    assert {"method", "input", "parsedResponse", "skipKeys", "cassette", "description"} <= set(
        cases[0]
    )
    assert all(s.reason for s in report.skipped)
    assert report.bytes_written == sum(p.stat().st_size for p in report.files)
    assert not list(out.glob(".ccxt-import-*")), "staging dir left behind"


def test_known_skips_are_reported(
    imported: dict[str, tuple[ci.ImportReport, Path]], tmp_path: Path
) -> None:
    def reasons(ex: str) -> dict[str, str]:
        return {f"{s.method}-{s.index}": s.reason for s in imported[ex][0].skipped}

    assert reasons("kraken")["fetchOpenOrders-2"] == "disabled in the ccxt fixture"
    assert "parsedResponse" in reasons("gemini")["fetchTicker-1"]  # the fixture predates ccxt
    assert "BadSymbol" in reasons("binance")["createOrder-0"]  # SOL/USDT not in the snapshot
    only_ohlcv = ci.import_ccxt("kraken", STATIC, tmp_path, methods=["fetchOHLCV"])
    assert only_ohlcv.imported == ["fetchOHLCV-0.yaml"]
    assert {s.reason for s in only_ohlcv.skipped if s.method == "createOrder"} == {
        "method not used by the broker"
    }


@pytest.mark.parametrize("exchange_id", EXCHANGES)
def test_cassettes_load_with_vcrpy(
    imported: dict[str, tuple[ci.ImportReport, Path]], exchange_id: str
) -> None:
    _, out = imported[exchange_id]
    for case in _cases(out):
        path = out / "ccxt" / case["cassette"]
        requests, responses = FilesystemPersister.load_cassette(path, yamlserializer)
        assert len(requests) == len(responses) == case["interactions"] >= 1
        assert yaml.safe_load(path.read_text())["version"] == 1
        for request, response in zip(requests, responses, strict=True):
            assert request.uri.startswith("https://")
            assert response["status"]["code"] == 200
            json.loads(response["body"]["string"])


@pytest.mark.parametrize("exchange_id", EXCHANGES)
def test_every_case_replays_to_parsed_response(
    imported: dict[str, tuple[ci.ImportReport, Path]], exchange_id: str
) -> None:
    _, out = imported[exchange_id]
    markets = json.loads((out / "markets.json").read_text())
    for case in _cases(out):
        exchange = ci.make_offline_exchange(exchange_id, markets, options=case["options"])
        result = ci.replay_case(exchange, case, out / "ccxt" / case["cassette"])
        assert ci.compare_parsed(result, case["parsedResponse"], case["skipKeys"]) == [], case


@pytest.mark.parametrize("exchange_id", EXCHANGES)
def test_markets_snapshot_restores_without_http(
    imported: dict[str, tuple[ci.ImportReport, Path]], exchange_id: str
) -> None:
    _, out = imported[exchange_id]
    snapshot = json.loads((out / "markets.json").read_text())
    exchange = getattr(ccxt, exchange_id)()
    exchange.fetch = lambda *a, **k: pytest.fail("HTTP while restoring markets")
    exchange.set_markets(snapshot)
    assert sorted(exchange.markets) == sorted(snapshot)
    source = json.loads((STATIC / "markets" / f"{exchange_id}.json").read_text())
    assert set(snapshot) <= set(source)
    for symbol in snapshot:
        assert exchange.market(symbol)["id"] == source[symbol]["id"]
    mentioned = json.dumps([[c["input"], c["parsedResponse"]] for c in _cases(out)])
    assert all(json.dumps(s) in mentioned for s in snapshot), "markets not trimmed to the cases"


def test_no_credentials_or_signatures_written(
    imported: dict[str, tuple[ci.ImportReport, Path]],
) -> None:
    for _, out in imported.values():
        for path in out.rglob("*"):
            if not path.is_file():
                continue
            text = path.read_text()
            assert "CANARY" not in text, path
            assert "BEGIN EC PRIVATE KEY" not in text, path
            if path.suffix == ".yaml":
                for request in FilesystemPersister.load_cassette(path, yamlserializer)[0]:
                    assert not [h for h in request.headers if AUTH_HEADER.search(h)], path
                    assert "signature=" not in request.uri, path
                    assert "signature=" not in (request.body or b"").decode(), path


def test_raw_signatures_do_not_reach_cassettes(tmp_path: Path) -> None:
    seen: list[dict[str, Any]] = []

    def scrubber(headers: dict[str, Any]) -> dict[str, Any]:
        seen.append(dict(headers))
        return {k: v for k, v in headers.items() if k not in ("API-Key", "API-Sign")}

    report = ci.import_ccxt("kraken", STATIC, tmp_path, sanitize=scrubber)
    signatures = [h["API-Sign"] for h in seen if "API-Sign" in h]
    assert signatures, "kraken private calls should have been signed"
    written = "".join(p.read_text() for p in report.files)
    assert not [s for s in signatures if s in written]


def test_sanitize_that_keeps_auth_headers_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ci.CcxtImportError, match="secret survived sanitize"):
        ci.import_ccxt("kraken", STATIC, tmp_path, sanitize=lambda headers: headers)


def test_multi_endpoint_case_gets_one_interaction_per_call(tmp_path: Path) -> None:
    """binance fetchPositions without cached leverage brackets calls two endpoints."""
    static = tmp_path / "static"
    (static / "markets").mkdir(parents=True)
    (static / "response").mkdir()
    shutil.copy(STATIC / "markets" / "binance.json", static / "markets" / "binance.json")
    stored = json.loads((STATIC / "response" / "binance.json").read_text())
    position = stored["methods"]["fetchPositions"][1]
    bracket = {"bracket": 1, "initialLeverage": 125, "notionalCap": 50000, "notionalFloor": 0}
    bracket.update(maintMarginRatio=0.004, cum=0)
    case = {
        "description": "positions loading leverage brackets first",
        "method": "fetchPositions",
        "input": position["input"],
        "options": {"leverageBrackets": None},
        "httpResponseByUrl": {
            "leverageBracket": [{"symbol": "BTCUSDT", "brackets": [bracket]}],
            "positionRisk": position["httpResponse"],
        },
    }
    markets = json.loads((STATIC / "markets" / "binance.json").read_text())
    probe = ci.make_offline_exchange("binance", markets, options=case["options"])
    probe.fetch = lambda url, *a, **k: copy.deepcopy(response_for(case, url))
    case["parsedResponse"] = json.loads(json.dumps(probe.fetch_positions(*case["input"])))
    doc = {"exchange": "binance", "skipKeys": [], "methods": {"fetchPositions": [case]}}
    (static / "response" / "binance.json").write_text(json.dumps(doc))

    report = ci.import_ccxt("binance", static, tmp_path / "out")
    assert report.imported == ["fetchPositions-0.yaml"], report.skipped
    cassette = tmp_path / "out" / "ccxt" / "fetchPositions-0.yaml"
    requests, responses = FilesystemPersister.load_cassette(cassette, yamlserializer)
    assert [r.path for r in requests] == ["/fapi/v1/leverageBracket", "/fapi/v3/positionRisk"]
    assert json.loads(responses[0]["body"]["string"])[0]["symbol"] == "BTCUSDT"
    (entry,) = _cases(tmp_path / "out")
    snapshot = json.loads((tmp_path / "out" / "markets.json").read_text())
    exchange = ci.make_offline_exchange("binance", snapshot, options=entry["options"])
    result = ci.replay_case(exchange, entry, cassette)
    assert ci.compare_parsed(result, entry["parsedResponse"], []) == []
    assert result[0]["maintenanceMarginPercentage"] == 0.004


def _static_copy(tmp_path: Path) -> Path:
    target = tmp_path / "static"
    shutil.copytree(STATIC, target)
    return target


def test_bad_inputs_raise_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ci.CcxtImportError, match="static dir not found"):
        ci.import_ccxt("kraken", tmp_path / "nope", tmp_path / "out")
    with pytest.raises(ValueError, match="unknown ccxt exchange id: 'krakenn'"):
        ci.import_ccxt("krakenn", STATIC, tmp_path / "out")
    with pytest.raises(ci.CcxtImportError, match="not in the kraken markets fixture"):
        ci.import_ccxt("kraken", STATIC, tmp_path / "out", symbols=["DOGE/EUR"])
    static = _static_copy(tmp_path)
    response = static / "response" / "kraken.json"
    response.write_text('{"exchange": "kraken", "methods": {')
    with pytest.raises(ci.CcxtImportError, match=re.escape(f"malformed JSON in {response}")):
        ci.import_ccxt("kraken", static, tmp_path / "out")
    response.write_text('{"exchange": "kraken", "methods": {"fetchTicker": {}}}')
    with pytest.raises(ci.CcxtImportError, match=r"methods\.fetchTicker must be a list"):
        ci.import_ccxt("kraken", static, tmp_path / "out")
    (static / "markets" / "gemini.json").unlink()
    with pytest.raises(ci.CcxtImportError, match=r"missing ccxt static file: .*gemini\.json"):
        ci.import_ccxt("gemini", static, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_reimport_is_atomic_and_replaces_stale_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    ci.import_ccxt("gemini", STATIC, out, symbols=["BTC/USD"])
    (out / "ccxt" / "stale.yaml").write_text("old")
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    static = _static_copy(tmp_path)
    (static / "response" / "gemini.json").write_text("not json")
    with pytest.raises(ci.CcxtImportError):
        ci.import_ccxt("gemini", static, out)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    report = ci.import_ccxt("gemini", STATIC, out)
    assert not (out / "ccxt" / "stale.yaml").exists()
    assert "BTC/USD" not in json.loads((out / "markets.json").read_text())
    assert sorted(p.name for p in (out / "ccxt").iterdir()) == sorted(
        ["cases.json", "provenance.json", *report.imported]
    )


@pytest.mark.parametrize(
    ("actual", "expected", "skip", "ok"),
    [
        ({"a": 1, "b": "x"}, {"a": 1.0, "b": "x"}, [], True),
        ({"cost": "0.018475"}, {"cost": 0.018475}, [], True),  # numeric string vs number
        ({"fee": None}, {"fee": 0}, [], True),  # falsy values are equal
        ({"id": "1", "ts": 5}, {"id": "1", "ts": 6}, ["ts"], True),  # skipped value
        ({"id": "1"}, {"id": "1", "ts": 6}, ["ts"], False),  # skipped key must still exist
        ([[1, 2.5]], [[1, 2.5, 3]], [], False),
        ({"side": "buy"}, {"side": "sell"}, [], False),
        ({"price": 1.5}, {"price": "abc"}, [], False),
        ({"flag": True}, {"flag": "true"}, [], False),
        ({"n": {"deep": 1}}, {"n": {"deep": 2}}, ["deep"], True),  # skip applies at any depth
    ],
)
def test_compare_parsed_follows_ccxt(actual: Any, expected: Any, skip: list[str], ok: bool) -> None:
    assert (ci.compare_parsed(actual, expected, skip) == []) is ok


def test_credentials_in_a_json_body_do_not_reach_cassettes() -> None:
    """Some exchanges sign inside a JSON body (api_key, sig next to the params)."""
    body = json.dumps({"id": 1, "api_key": "CANARY-API-KEY", "params": {"sig": "ab12cd34ef"}})
    scrubbed, removed = scrub_body(body)
    assert scrubbed is not None and json.loads(scrubbed) == {"id": 1, "params": {}}
    assert set(removed) == {"CANARY-API-KEY", "ab12cd34ef"}
    plain = json.dumps({"symbol": "BTC/USDT"})
    assert scrub_body(plain) == (plain, [])  # untouched, byte for byte


@pytest.mark.parametrize(
    ("value", "fake"),
    [
        ("0x" + "1f" * 32, "0x" + "ca" * 32),  # an EVM key: hex of the same length
        ("AF4Edn4Qf3/QH0pCYGaaagg+I2DhgL5YyjvlWlMx4iE=", "CANARY" * 7 + "A="),  # 32 bytes
        ("secretsecretsecretsecre", "CANARYxCANARYxCANARYxCA"),  # base58-like: alphanumeric
        ("sample123", "0x" + "ca" * 32),  # no form to keep: the harness's own canary
        ("-----BEGIN PRIVATE KEY-----\nMC4C\n-----END PRIVATE KEY-----", None),
    ],
)
def test_a_fixtures_sample_key_is_stored_as_a_canary_of_its_form(value: str, fake: Any) -> None:
    assert ci.canary_like("privateKey", value) == fake
    case = {"input": [], "options": {"secret": value, "type": "swap"}}
    doc = ci.canarized(
        {"privateKey": value, "options": {"privateKey": value}, "methods": {"fetchBalance": [case]},
         "skipKeys": ["x"]}
    )  # fmt: skip
    assert doc.get("privateKey") == fake and doc["skipKeys"] == ["x"]
    assert doc["options"].get("privateKey") == fake
    assert doc["methods"]["fetchBalance"][0]["options"]["type"] == "swap"
    assert value not in json.dumps(doc)


def test_key_material_in_a_fixtures_options_is_stored_as_a_canary_whatever_its_name() -> None:
    """apex's ccxt data carries its zk key as ``options.seeds``: long hex is key material."""
    seeds, address = "0x" + "a2" * 65, "0x" + "12" * 20
    doc = ci.canarized({"options": {"seeds": seeds, "walletAddressOfBuilder": address}})
    assert doc["options"]["seeds"] == "0x" + "ca" * 65
    assert doc["options"]["walletAddressOfBuilder"] == address  # an address is no secret
    market = ci.canarized({"seeds": seeds})  # outside options only named fields are credentials
    assert market["seeds"] == seeds


def test_a_fixtures_credential_fields_reach_the_exchange(tmp_path: Path) -> None:
    """A file-level ``accountId`` (as ccxt's data has for exchanges that need one) is set on the
    exchange the cases replay through, over the harness's canaries."""
    seen: list[Any] = []
    real = ci.make_offline_exchange

    def spy(*args: Any, **kwargs: Any) -> Any:
        exchange = real(*args, **kwargs)
        seen.append((exchange.accountId, exchange.walletAddress))
        return exchange

    static = tmp_path / "static"
    shutil.copytree(STATIC, static, ignore=shutil.ignore_patterns("request", "*.md"))
    doc = json.loads((static / "response" / "kraken.json").read_text())
    doc["accountId"] = "7" * 16  # a form of its own: stored and replayed as a canary of it
    (static / "response" / "kraken.json").write_text(json.dumps(doc))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ci, "make_offline_exchange", spy)
        ci.import_ccxt("kraken", static, tmp_path / "out")
    fake = ci.canary_like("accountId", "7" * 16)
    assert fake == "CANARYxCANARYxCA"
    assert seen and all(s == (fake, "0x" + "ca11ab1e" * 5) for s in seen)
