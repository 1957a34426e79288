"""SIGTERM during ``scaffolder record`` (a CI timeout, ``docker stop``) cleans up as Ctrl-C does:
the order it placed is cancelled, ``cassettes/<name>/`` is untouched, and what was recorded is
kept in one ``.record-*`` folder that the message names (issue 12: kept for inspection)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from scaffolder.standin import BinanceStandIn
from tests.harness.test_record import API_KEY, ENV, SECRET, new_project


class HoldingStandIn(BinanceStandIn):
    """Holds the first order look-up (the order is open then) until released."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.holding = threading.Event()
        self.release = threading.Event()

    def request_params(self, request):
        if (
            request.method == "GET"
            and request.path == "/api/v3/order"
            and not self.holding.is_set()
        ):
            self.holding.set()
            self.release.wait(60)
        return super().request_params(request)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_a_signal_mid_recording_cancels_the_order_and_keeps_the_committed_cassettes(
    tmp_path, signum
):
    root = new_project(tmp_path)
    scaffolder = Path(sys.executable).parent / "scaffolder"
    with HoldingStandIn(API_KEY, SECRET) as standin:
        process = subprocess.Popen(
            [str(scaffolder), "record", "binance", "--via", standin.url, "--no-replay"],
            cwd=root,
            env={**os.environ, **ENV},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert standin.holding.wait(120), "the recording never looked its order up"
            assert [o["status"] for o in standin.orders()] == ["NEW"]
            process.send_signal(signum)
            _, stderr = process.communicate(timeout=120)
        finally:
            standin.release.set()
            if process.poll() is None:
                process.kill()
        statuses = [o["status"] for o in standin.orders()]
    assert process.returncode == 128 + signum, stderr
    assert statuses == ["CANCELED"], stderr
    assert "cancelled order" in stderr and "Traceback" not in stderr
    assert list((root / "cassettes" / "binance").iterdir()) == []
    (kept,) = [p for p in (root / "cassettes").iterdir() if p.name != "binance"]
    assert kept.name.startswith(".record-binance-") and f"kept in cassettes/{kept.name}" in stderr
