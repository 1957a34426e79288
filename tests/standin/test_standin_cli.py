"""``python -m scaffolder.standin --exchange NAME``: each stand-in serves from the command line
with its canary credentials until interrupted."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("exchange", "path"), [("gemini", "/v1/symbols"), ("coinbase", "/v2/time")]
)
def test_the_command_line_serves_each_exchange_with_canary_credentials(
    exchange: str, path: str
) -> None:
    command = [sys.executable, "-m", "scaffolder.standin", "--exchange", exchange, "--port", "0"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", process.stdout.readline())
        assert match, "no URL printed"
        assert match.group(1) in process.stdout.readline()  # the ccxt urls['api'] entries
        assert requests.get(f"{match.group(1)}{path}", timeout=5).status_code == 200
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=5) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_binance_still_needs_explicit_credentials() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "scaffolder.standin", "--port", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode == 2 and "--api-key and --secret are required" in run.stderr
