"""``python -m scaffolder.standin --exchange NAME``: each stand-in serves from the command line
with its canary credentials until interrupted."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]


SCAFFOLDER = str(Path(sys.executable).parent / "scaffolder")


@contextlib.contextmanager
def serving(command: list[str]) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Start ``command``, yield it and the URL it prints; then interrupt it: it exits 0."""
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", process.stdout.readline())
        assert match, "no URL printed"
        yield process, match.group(1)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=5) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize(
    ("exchange", "path"),
    [("binance", "/api/v3/time"), ("gemini", "/v1/symbols"), ("coinbase", "/v2/time")],
)
@pytest.mark.parametrize(
    "program",
    [[sys.executable, "-m", "scaffolder.standin"], [SCAFFOLDER, "standin"]],
    ids=["module", "scaffolder"],
)
def test_the_command_line_serves_each_exchange_with_canary_credentials(
    program: list[str], exchange: str, path: str
) -> None:
    with serving([*program, "--exchange", exchange, "--port", "0"]) as (process, url):
        assert process.stdout is not None
        assert url in process.stdout.readline()  # the ccxt urls['api'] entries
        assert requests.get(f"{url}{path}", timeout=5).status_code == 200


def test_without_an_exchange_it_serves_binance_with_the_given_credentials() -> None:
    command = [sys.executable, "-m", "scaffolder.standin", "--port", "0"]
    with serving([*command, "--api-key", "KEY-1", "--secret", "SECRET-1"]) as (_, url):
        assert requests.get(f"{url}/api/v3/ping", timeout=5).json() == {}
        query = f"timestamp={int(time.time() * 1000)}"
        signature = hmac.new(b"SECRET-1", query.encode(), hashlib.sha256).hexdigest()
        signed = f"{url}/api/v3/account?{query}&signature={signature}"
        assert requests.get(signed, headers={"X-MBX-APIKEY": "KEY-1"}, timeout=5).ok
        canary = {"X-MBX-APIKEY": "CANARY-API-KEY-0000"}
        assert requests.get(signed, headers=canary, timeout=5).status_code == 401


def test_an_interrupt_while_the_banner_is_printed_stops_the_stand_in_cleanly(monkeypatch):
    """A client may read the URL and send Ctrl-C before the last banner line is out (as the test
    above does on a loaded machine): the stand-in stops with exit 0, not an abort."""
    import scaffolder.standin.__main__ as standin_main

    lines: list[str] = []

    def interrupted_print(*args: object, **kwargs: object) -> None:
        lines.append(" ".join(map(str, args)))
        if len(lines) == 3:  # SIGINT arrives during the third banner line
            raise KeyboardInterrupt

    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    monkeypatch.setattr(standin_main, "print", interrupted_print, raising=False)
    try:
        code = standin_main.main(["--exchange", "binance", "--port", "0"])
    except KeyboardInterrupt:
        pytest.fail("the interrupt escaped the stand-in (the command aborts with exit 1)")
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    assert code == 0 and lines[-1].strip() == "stopping"


def test_a_standin_told_to_drift_answers_in_the_changed_shape():
    """API drift on demand: a renamed field and a number sent as a string, then back."""
    import requests

    from scaffolder.standin import BinanceStandIn

    with BinanceStandIn("CANARY-API-KEY-0000", "CANARY-SECRET-0000") as standin:
        url = f"{standin.url}/api/v3/ticker/24hr?symbol=BTCUSDT"
        plain = requests.get(url, timeout=5).json()
        standin.change_shape({"lastPrice": "last_price"}, {"closeTime"})
        drifted = requests.get(url, timeout=5).json()
        standin.change_shape()
        again = requests.get(url, timeout=5).json()
    assert "lastPrice" in plain and isinstance(plain["closeTime"], int)
    assert "lastPrice" not in drifted and drifted["last_price"] == plain["lastPrice"]
    assert drifted["closeTime"] == str(drifted["closeTime"]) and drifted["closeTime"].isdigit()
    assert "lastPrice" in again and isinstance(again["closeTime"], int)
