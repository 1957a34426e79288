"""``--via``: an http(s) URL with a host, honoured as given (a path prefix too) or refused."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from scaffolder.cli import main
from scaffolder.errors import UsageError
from scaffolder.harness.record import check_via, move_url, record

ROOT = Path(__file__).resolve().parents[2]
BAD_VIAS = [
    "",
    " ",
    "127.0.0.1:8765",
    "localhost:8765",
    "ftp://127.0.0.1:8765",
    "http://",
    "http://127.0.0.1:99999",
    "http://127.0.0.1:8765/?x=1",
    "http://127.0.0.1:8765/#frag",
    " http://127.0.0.1:8765",
]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "templates" / "broker").mkdir(parents=True)
    (tmp_path / "templates" / "broker" / "copier.yml").write_text("")
    (tmp_path / "config" / "brokers").mkdir(parents=True)
    config = json.loads((ROOT / "config" / "brokers" / "binance.json").read_text())
    config.pop("$schema")
    (tmp_path / "config" / "brokers" / "binance.json").write_text(json.dumps(config))
    monkeypatch.setenv("BINANCE_API_KEY", "CANARY-API-KEY-0000")
    monkeypatch.setenv("BINANCE_API_SECRET", "CANARY-SECRET-0000")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def attempts(monkeypatch: pytest.MonkeyPatch) -> list:
    seen: list = []

    def refuse(*args, **kwargs):
        seen.append(args)
        raise OSError("no connection in this test")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    return seen


@pytest.mark.parametrize("via", BAD_VIAS)
def test_a_bad_via_is_refused(via):
    with pytest.raises(UsageError, match="--via"):
        check_via(via)


@pytest.mark.parametrize("command", ["record", "doctor"])
@pytest.mark.parametrize("via", BAD_VIAS)
def test_a_bad_via_is_exit_2_before_anything_is_sent(project, attempts, command, via):
    result = CliRunner().invoke(main, [command, "binance", "--via", via])
    assert result.exit_code == 2, result.output
    assert "--via" in result.output and "Traceback" not in result.output
    assert attempts == []
    assert not (project / "cassettes").exists() or not any((project / "cassettes").iterdir())


def test_a_via_path_prefix_is_kept():
    url = "https://testnet.binance.vision/api/v3/ticker?symbol=BTCUSDT"
    assert move_url(url, "http://127.0.0.1:9/proxy/binance/") == (
        "http://127.0.0.1:9/proxy/binance/api/v3/ticker?symbol=BTCUSDT"
    )
    assert move_url(url, "http://127.0.0.1:9") == "http://127.0.0.1:9/api/v3/ticker?symbol=BTCUSDT"


def test_record_through_a_path_prefix_reaches_the_prefix(project, monkeypatch):
    """The requests go to the prefixed URL (here: nothing listens, so the first one fails)."""
    import requests

    sent: list[str] = []

    def refuse(self, request, **kwargs):
        sent.append(request.url)
        raise requests.ConnectionError("nothing listens")

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", refuse)
    with pytest.raises(Exception):  # noqa: B017 - any failure: what matters is where it went
        record("binance", project, via="http://127.0.0.1:9/proxy", replay=False)
    assert sent and all(u.startswith("http://127.0.0.1:9/proxy/api/") for u in sent), sent
