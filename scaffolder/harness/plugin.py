"""The broker harness as a pytest plugin (entry point ``pytest11``), on top of pytest-recording.

pytest-recording provides the ``vcr`` marker, ``vcr_config``, ``--record-mode`` (default
``none``) and network blocking. This plugin adds what exchanges need: the network is blocked by
default (loopback stays open for the local exchange stand-in), cassettes live in
``cassettes/<broker>/``, signed requests are matched without their signatures, and everything is
scrubbed before it is written.
"""

from __future__ import annotations

from typing import Any

import pytest

LOOPBACK_HOSTS = "127.0.0.1,localhost,::1"

#: Fault injection: the ``faults`` marker and the ``faults`` / ``inject_faults`` fixtures.
pytest_plugins = ["scaffolder.harness.faults"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("broker harness")
    group.addoption(
        "--allow-network",
        action="store_true",
        default=False,
        help="Do not block network access by default (recording against a real testnet).",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Block the network unless recording was asked for or ``--allow-network`` given."""
    record_mode = config.getoption("--record-mode", default=None)
    if not config.getoption("--allow-network") and record_mode in (None, "none"):
        config.option.block_network = True
        if not config.getoption("--allowed-hosts", default=None):
            config.option.allowed_hosts = LOOPBACK_HOSTS


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before a cassette test's fixtures: import vcrpy without aiohttp (see vcr_loader)."""
    from scaffolder.harness import vcr_loader

    vcr_loader.capture_aiohttp_original()
    if item.get_closest_marker("vcr") is not None or "vcr" in getattr(item, "fixturenames", ()):
        vcr_loader.import_vcr()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """An unreadable cassette or replay file is reported as its one line (the file and what to
    run), not as a traceback through the harness."""
    outcome = yield
    report = outcome.get_result()
    if call.excinfo is not None and report.failed:
        from scaffolder.harness.session import CassetteReadError

        if call.excinfo.errisinstance(CassetteReadError):
            report.longrepr = str(call.excinfo.value)


def pytest_recording_configure(config: pytest.Config, vcr: Any) -> None:
    """Register the signed-request matchers on pytest-recording's VCR."""
    from scaffolder.harness import vcr_loader
    from scaffolder.harness.session import register_matchers

    register_matchers(vcr)
    skip = vcr_loader.skip_patchers()
    if skip and hasattr(vcr, "skip_patchers"):
        vcr.skip_patchers = tuple(dict.fromkeys((*vcr.skip_patchers, *skip)))


@pytest.fixture
def broker_config(request: pytest.FixtureRequest) -> Any:
    """``broker_config(name)``: the broker's config from config/brokers/, with canary credentials."""
    from pathlib import Path

    from scaffolder.harness.contract import project_root_of
    from scaffolder.harness.session import replay_config

    root = project_root_of(Path(request.path))
    return lambda name: replay_config(root, name)


def pytest_report_header(config: pytest.Config) -> list[str]:
    blocked = bool(getattr(config.option, "block_network", False))
    mode = config.getoption("--record-mode", default=None) or "none"
    return [f"broker harness: record mode {mode}, network {'blocked' if blocked else 'allowed'}"]
