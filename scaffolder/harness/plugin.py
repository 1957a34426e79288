"""The broker harness as a pytest plugin (entry point ``pytest11``), on top of pytest-recording.

pytest-recording provides the ``vcr`` marker, ``vcr_config``, ``--record-mode`` (default
``none``) and network blocking. This plugin adds what exchanges need: cassettes live in
``cassettes/<broker>/``, signed requests are matched without their signatures, everything is
scrubbed before it is written, and transport faults can be injected (the ``faults`` marker and
fixtures, whose module is imported only when a test asks for them).

The plugin is loaded into every pytest session of a project that installs broker-scaffolder,
so, like pytest-recording's ``--block-network``, blocking the network is opt-in: a project
turns it on with the ini option ``broker_scaffolder_block_network = true`` (this repository's
``pyproject.toml`` does, and so does every project the scaffolder generates in). Then the
network is blocked (loopback stays open for the local exchange stand-in) unless recording was
asked for or ``--allow-network`` given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from scaffolder.harness.faults.mechanism import FaultInjector

LOOPBACK_HOSTS = "127.0.0.1,localhost,::1"
#: The ini option that turns the network block on.
BLOCK_NETWORK_INI = "broker_scaffolder_block_network"
#: The ini file a generated project's tests opt in with (where it has none of its own).
OPT_IN_INI = f"[pytest]\n{BLOCK_NETWORK_INI} = true\n"
FAULTS_MARKER = (
    "faults(*faults, broker='broker', method=None, path=None, ordinal=None, times=1): "
    "inject transport faults into the broker fixture's session (see the `faults` fixture of "
    "scaffolder.harness.faults; the faults are scaffolder.harness.faults.FAULTS)"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("broker harness")
    group.addoption(
        "--allow-network",
        action="store_true",
        default=False,
        help="Do not block network access (recording against a real testnet).",
    )
    parser.addini(
        BLOCK_NETWORK_INI,
        type="bool",
        default=False,
        help="Block network access (loopback stays open) unless recording or --allow-network.",
    )


def write_opt_in(project: Path) -> None:
    """Give ``project`` the ini file that opts its tests into the network block."""
    (project / "pytest.ini").write_text(OPT_IN_INI, encoding="utf-8")


def register_faults_marker(config: pytest.Config) -> None:
    """Register the ``faults`` marker (once, whichever of the plugins asks first)."""
    if not any(line.startswith("faults(") for line in config.getini("markers")):
        config.addinivalue_line("markers", FAULTS_MARKER)


def pytest_configure(config: pytest.Config) -> None:
    """Where the project opted in: block the network unless recording was asked for or
    ``--allow-network`` given."""
    register_faults_marker(config)
    if not config.getini(BLOCK_NETWORK_INI):
        return
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
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """A cassette test runs with the HTTP clients that are not installed marked absent, from
    its setup to its teardown, so vcrpy's imports of them fail at once (see vcr_loader)."""
    if item.get_closest_marker("vcr") is None:
        yield
        return
    from scaffolder.harness import vcr_loader

    with vcr_loader.clients_absent():
        yield


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
    from scaffolder.harness.contract import project_root_of
    from scaffolder.harness.session import replay_config

    root = project_root_of(Path(request.path))
    return lambda name: replay_config(root, name)


@pytest.fixture(name="inject_faults")
def inject_faults_fixture() -> Iterator[Callable[[Any, Any], FaultInjector]]:
    """``inject_faults(broker, plan)``: install a fault plan until the test ends."""
    from scaffolder.harness.faults.mechanism import installer

    yield from installer()


@pytest.fixture
def faults(request: pytest.FixtureRequest) -> Iterator[FaultInjector]:
    """The plan of the test's ``@pytest.mark.faults(...)``, installed on its broker fixture."""
    from scaffolder.harness.faults.mechanism import marked_plan

    yield from marked_plan(request)


def pytest_report_header(config: pytest.Config) -> list[str]:
    blocked = bool(getattr(config.option, "block_network", False))
    mode = config.getoption("--record-mode", default=None) or "none"
    return [f"broker harness: record mode {mode}, network {'blocked' if blocked else 'allowed'}"]
