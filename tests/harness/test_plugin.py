"""The harness pytest plugin: CI never reaches out unless asked to.

Each test runs a small pytest session (pytester) with the plugin loaded through its ``pytest11``
entry point, as in any project that installs the scaffolder.
"""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

NETWORK_TESTS = """
import _socket
import socket

import pytest


def test_remote_host():
    # TEST-NET-3 (RFC 5737). Prints how the attempt ended: "os" when the operating system tried
    # (refused, unreachable, timed out: the network was open), "blocked" when the connect call
    # was stopped before reaching the OS (socket.socket.connect replaced and an error that is not
    # an OSError), "connected" if something answered.
    patched = socket.socket.connect is not _socket.socket.connect
    try:
        socket.create_connection(("203.0.113.1", 80), timeout=0.2).close()
    except OSError:
        outcome = "os"
    except Exception:
        outcome = "blocked" if patched else "error"
    else:
        outcome = "connected"
    print(f"REMOTE={outcome}")
    assert outcome != "blocked"


def test_loopback():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    try:
        socket.create_connection(server.getsockname(), timeout=2).close()
    finally:
        server.close()


def test_record_mode(record_mode):
    print(f"RECORD_MODE={record_mode}")
"""


@pytest.fixture
def run(pytester: pytest.Pytester):
    """Run the network tests in a fresh pytest process.

    Not in-process: this very session blocks the network already, and its patched socket
    functions would leak into an in-process run and prove nothing about the inner session.
    """
    pytester.makepyfile(test_network=NETWORK_TESTS)

    def run(*args: str) -> pytest.RunResult:
        return pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider", *args)

    return run


def test_by_default_the_network_is_blocked_loopback_open_and_record_mode_none(run):
    result = run("--trace-config")
    # loaded through the pytest11 entry point of the installed distribution
    result.stdout.fnmatch_lines(["*broker_harness*scaffolder*harness*plugin.py*"])
    result.stdout.fnmatch_lines(["broker harness: record mode none, network blocked"])
    result.stdout.fnmatch_lines(["*RECORD_MODE=none*"])
    # the remote connection was stopped by the block, before the operating system saw it
    result.stdout.fnmatch_lines(["*REMOTE=blocked*"])
    result.stdout.fnmatch_lines(["FAILED test_network.py::test_remote_host*"])
    result.assert_outcomes(passed=2, failed=1)  # loopback and record mode passed


@pytest.mark.parametrize("option", ["--allow-network", "--record-mode=once"])
def test_recording_or_allow_network_lifts_the_block(run, option):
    result = run(option)
    result.stdout.fnmatch_lines(["broker harness: record mode *, network allowed"])
    assert "REMOTE=blocked" not in result.stdout.str()
    result.assert_outcomes(passed=3)
