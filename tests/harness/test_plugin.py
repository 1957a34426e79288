"""The harness pytest plugin: CI never reaches out unless asked to, where a project opts in.

Each test runs a small pytest session (pytester) with the plugin loaded through its ``pytest11``
entry point, as in any project that installs the scaffolder. A project that does not opt in
(``broker_scaffolder_block_network = true``) is left as pytest-recording leaves it: open.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from scaffolder.harness.plugin import BLOCK_NETWORK_INI, OPT_IN_INI, write_opt_in

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


def test_what_is_imported():
    import sys

    loaded = sorted(m for m in sys.modules if m.startswith("scaffolder.harness.faults"))
    print(f"FAULTS_MODULES={loaded}")
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


@pytest.fixture(params=["pytest.ini", "pyproject.toml"])
def opted_in(request: pytest.FixtureRequest, pytester: pytest.Pytester) -> None:
    """The project opts in: its own ``pyproject.toml`` section, or the ini file a generated
    project is given."""
    if request.param == "pyproject.toml":
        pytester.makepyprojecttoml(f"[tool.pytest.ini_options]\n{BLOCK_NETWORK_INI} = true\n")
    else:
        write_opt_in(pytester.path)
        assert (pytester.path / "pytest.ini").read_text() == OPT_IN_INI


def test_without_the_opt_in_the_project_is_not_affected(run):
    result = run("--trace-config")
    # the plugin is loaded (pytest11 entry point), yet blocks nothing and imports no faults
    result.stdout.fnmatch_lines(["*broker_harness*scaffolder*harness*plugin.py*"])
    result.stdout.fnmatch_lines(["broker harness: record mode none, network allowed"])
    result.stdout.fnmatch_lines(["*FAULTS_MODULES=[[]]*"])
    assert "REMOTE=blocked" not in result.stdout.str()
    result.assert_outcomes(passed=4)  # the loopback connect to a listening port among them


def test_an_opted_in_project_has_the_network_blocked_loopback_open_and_record_mode_none(
    run, opted_in
):
    result = run("--trace-config")
    # loaded through the pytest11 entry point of the installed distribution
    result.stdout.fnmatch_lines(["*broker_harness*scaffolder*harness*plugin.py*"])
    result.stdout.fnmatch_lines(["broker harness: record mode none, network blocked"])
    result.stdout.fnmatch_lines(["*RECORD_MODE=none*"])
    # the remote connection was stopped by the block, before the operating system saw it
    result.stdout.fnmatch_lines(["*REMOTE=blocked*"])
    result.stdout.fnmatch_lines(["FAILED test_network.py::test_remote_host*"])
    result.stdout.fnmatch_lines(["*FAULTS_MODULES=[[]]*"])
    result.assert_outcomes(passed=3, failed=1)  # loopback, record mode and imports passed


@pytest.mark.parametrize("option", ["--allow-network", "--record-mode=once"])
def test_recording_or_allow_network_lifts_the_block(run, opted_in, option):
    result = run(option)
    result.stdout.fnmatch_lines(["broker harness: record mode *, network allowed"])
    assert "REMOTE=blocked" not in result.stdout.str()
    result.assert_outcomes(passed=4)


def test_importing_the_plugin_imports_no_faults():
    code = (
        "import json, sys; import scaffolder.harness.plugin; "
        "print(json.dumps([m for m in sys.modules if m.startswith('scaffolder.harness.')]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(result.stdout) == ["scaffolder.harness.plugin"]


def test_this_projects_own_suite_is_opted_in(pytestconfig: pytest.Config):
    assert pytestconfig.getini(BLOCK_NETWORK_INI) is True
