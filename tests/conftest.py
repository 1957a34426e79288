"""Fixtures shared by the project's tests: config documents and a canary environment."""

from __future__ import annotations

import copy
import fcntl
import hashlib
import importlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"

#: Where the test run and every interpreter it starts keep their bytecode; kept between runs.
PYC_PREFIX = Path(
    os.environ.get("PYTHONPYCACHEPREFIX")
    or Path(tempfile.gettempdir()) / f"broker-scaffolder-test-pyc-{os.getuid()}"
)


def cache_bytecode_outside_the_tree() -> None:
    """Compile each module once per run, not once per process, and write nothing beside sources.

    Some sandboxes and coding tools set PYTHONDONTWRITEBYTECODE: every xdist worker and every
    interpreter a test starts (a generated project's pytest, ``scaffolder record``) then
    recompiles the project and pytest re-rewrites every test module's asserts, about a second
    of CPU each time. Bytecode goes to :data:`PYC_PREFIX` instead (Python and pytest write it
    atomically, so workers share it), for this process and, through the environment, for every
    process started after this conftest: the workers and the tests' subprocesses. Nothing lands
    in the repository or in a test's throwaway project, whatever the machine's setting."""
    installed = installed_bytecode() if sys.pycache_prefix != str(PYC_PREFIX) else []
    sys.dont_write_bytecode = False
    sys.pycache_prefix = str(PYC_PREFIX)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(PYC_PREFIX)
    seed_prefix(installed)


#: Imported by the tests; their installed bytecode seeds :data:`PYC_PREFIX` (see seed_prefix).
SEEDED_PACKAGES = ("ccxt", "copier", "hypothesis", "jinja2", "requests", "vcr", "yaml")
#: Present once :data:`PYC_PREFIX` holds the installed bytecode of this environment.
SEEDED = PYC_PREFIX / f".seeded-{hashlib.sha256(sys.prefix.encode()).hexdigest()[:16]}"


def installed_bytecode() -> list[tuple[str, str]]:
    """(source, pyc) of every module loaded from bytecode beside its source: the standard
    library's, :data:`SEEDED_PACKAGES` and what they import (pip compiled them at install)."""
    if SEEDED.exists():
        return []
    for name in SEEDED_PACKAGES:
        importlib.import_module(name)
    pairs = []
    for module in list(sys.modules.values()):
        source, cached = getattr(module, "__file__", None), getattr(module, "__cached__", None)
        if source and cached and source.endswith(".py") and os.path.isfile(cached):
            pairs.append((source, cached))
    return pairs


def seed_prefix(installed: list[tuple[str, str]]) -> None:
    """Copy ``installed`` bytecode into :data:`PYC_PREFIX`: with a prefix Python reads only
    there, so on a new machine every worker would otherwise first compile ccxt and the rest
    again (about 8 s of CPU each). A pyc checks its source's mtime and size, so a copy stays
    valid exactly as long as the one it came from. Each file is written atomically."""
    for source, cached in installed:
        target = Path(importlib.util.cache_from_source(source))
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            scratch = target.with_name(f"{target.name}.{os.getpid()}")
            shutil.copy2(cached, scratch)
            os.replace(scratch, target)
    if installed:
        SEEDED.write_text(sys.prefix, encoding="utf-8")


cache_bytecode_outside_the_tree()


def prune_stale_bytecode(runs: Path) -> None:
    """Drop the bytecode cached for ``runs/pytest-N`` directories that are gone: pytest keeps
    the last three runs' temporary directories, and :data:`PYC_PREFIX` follows, so it does not
    grow with every throwaway project of every run."""
    mirror = PYC_PREFIX / Path(*runs.parts[1:])
    for cached in mirror.glob("pytest-*") if mirror.is_dir() else ():
        if not (runs / cached.name).exists():
            shutil.rmtree(cached, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def stale_bytecode_pruned(tmp_path_factory: pytest.TempPathFactory) -> None:
    """:func:`prune_stale_bytecode` on the directory that holds this run's temporary root."""
    basetemp = tmp_path_factory.getbasetemp().resolve()
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # its basetemp is the run's popen-gwN
    prune_stale_bytecode(basetemp.parent.parent if worker else basetemp.parent)


def run_directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The temporary directory of this whole run: shared by the xdist workers (whose own
    basetemp is a ``popen-gwN`` inside it), the basetemp itself without xdist."""
    basetemp = tmp_path_factory.getbasetemp()
    return basetemp.parent if os.environ.get("PYTEST_XDIST_WORKER") else basetemp


def built_once_per_run(
    tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], object]
) -> Path:
    """``build(path)`` once per run, whichever xdist worker asks first; the others wait for it
    and get the same directory (the pattern pytest-xdist documents for session fixtures).

    A lock file in :func:`run_directory` orders the workers; ``done`` is written only after a
    build returned, so one that failed or was killed half-way is started again from scratch.
    What is built must be read-only for the tests that share it."""
    shared = run_directory(tmp_path_factory) / f"once-{name}"
    with open(f"{shared}.lock", "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (shared / "done").is_file():
            shutil.rmtree(shared, ignore_errors=True)
            shared.mkdir()
            build(shared / "built")
            (shared / "done").write_text(os.environ.get("PYTEST_XDIST_WORKER", "main"))
    return shared / "built"


def own_copy(built: Path, into: Path) -> Path:
    """``built`` (a project several tests share and never change) copied to ``into`` for one
    test to change as it likes; ``into`` may exist and be empty (a test's ``tmp_path``).
    Symlinks stay links, and a git repository comes along and keeps working."""
    shutil.copytree(built, into, symlinks=True, dirs_exist_ok=True)
    return into


def computed_once_per_run(
    tmp_path_factory: pytest.TempPathFactory, name: str, compute: Callable[[], Any]
) -> Any:
    """``compute()`` once per run for every xdist worker (:func:`built_once_per_run`); each
    caller, the one that computed it too, gets the value read back from JSON, which must hold
    it unchanged."""

    def build(path: Path) -> None:
        path.mkdir()
        value = compute()
        text = json.dumps(value)
        if json.loads(text) != value:
            raise TypeError(f"{name}: the value does not survive JSON unchanged")
        (path / "value.json").write_text(text, encoding="utf-8")

    built = built_once_per_run(tmp_path_factory, name, build)
    return json.loads((built / "value.json").read_text(encoding="utf-8"))


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto`` for this suite: one worker more than xdist would start (one per core).

    About a third of the suite's test time is spent waiting, not computing: real socket
    timeouts against the stand-ins (the faults under test), child interpreters starting, the
    no-duplicates campaign's threads. With one worker per core a core idles through every such
    wait; one worker more fills it. On the 2-core machine: 79 s with 2 workers, 66 s with 3,
    65 s with 4 (more CPU for nothing); with one core busy with something else, 104 s against
    90 s. ``PYTEST_XDIST_AUTO_NUM_WORKERS`` and ``-n logical`` keep xdist's own meaning."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS") or config.option.numprocesses == "logical":
        return None  # xdist's own hook answers
    from xdist.plugin import pytest_xdist_auto_num_workers as cores  # xdist's count of them

    return cores(config) + 1


def in_worker_order(names: list[str]) -> list[str]:
    """``names`` as they are, reversed on every other xdist worker (gw1, gw3...): workers that
    need all the parts of something shared (:func:`computed_once_per_run`) start on different
    parts, each computing one while the other computes another, instead of one waiting."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return list(reversed(names)) if int(worker.removeprefix("gw") or 0) % 2 else list(names)


#: Obvious canaries: never anything that looks like a real key.
CANARY_ENV = {
    "TESTEX_API_KEY": "CANARY-API-KEY-0000",
    "TESTEX_API_SECRET": "CANARY-SECRET-0000",
}

VALID_CONFIG: dict[str, Any] = {
    "$schema": "../../schemas/broker-config.schema.json",
    "name": "binance",
    "type": "crypto",
    "enabled": True,
    "description": "Binance spot",
    "api_credentials": {"api_key": "${TESTEX_API_KEY}", "api_secret": "${TESTEX_API_SECRET}"},
    # the canaries are not named for the broker: listed, as a shared variable must be
    "allowed_env": sorted(CANARY_ENV),
    "settings": {"testnet": True, "rate_limit": 50, "enable_rate_limit": True, "timeout": 10000},
    "supported_pairs": ["BTC/USDT", "ETH/USDT"],
    "trading_settings": {
        "default_order_type": "limit",
        "time_in_force": "GTC",
        "max_slippage": 0.01,
    },
    "risk_management": {"max_position_size": 1000, "max_open_orders": 10},
    "custom_settings": {},
}


@pytest.fixture
def config_doc() -> dict[str, Any]:
    """A valid config document to mutate."""
    return copy.deepcopy(VALID_CONFIG)


@pytest.fixture
def write_config(tmp_path: Path):
    """Write a document (or raw text) as a config file and return its path."""

    def write(document: Any, name: str = "broker.json") -> Path:
        path = tmp_path / name
        text = document if isinstance(document, str) else json.dumps(document, indent=2)
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def canary_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The canary credentials exported in the environment."""
    for key, value in CANARY_ENV.items():
        monkeypatch.setenv(key, value)
    return dict(CANARY_ENV)


#: What every pytest a test starts (a generated project's tests, the replay of ``scaffolder
#: record``) is given through ``PYTEST_ADDOPTS``: no hypothesis plugin (see below).
CHILD_PYTEST_OPTIONS = "-p no:hypothesispytest"


@pytest.fixture(scope="session", autouse=True)
def child_pytest_without_hypothesis() -> Iterator[None]:
    """The pytest runs the tests start do not load hypothesis's pytest plugin.

    hypothesis is here for this suite's own fuzz tests (the dev extra); a generated project's
    tests never use it, and a user's project need not have it installed. Its plugin imports
    hypothesis whole in its terminal summary, at the end of every pytest process: 130 ms of the
    0.5 s a generated broker's tests take, in about a hundred such processes a run. Set from a
    fixture, so only in the process running the tests (each xdist worker, or pytest without
    xdist), never in the xdist controller whose workers run the fuzz tests."""
    with pytest.MonkeyPatch.context() as patch:
        given = os.environ.get("PYTEST_ADDOPTS", "")
        patch.setenv("PYTEST_ADDOPTS", f"{given} {CHILD_PYTEST_OPTIONS}".strip())
        yield


#: The longest ccxt's client-side throttle waits between two requests in these tests (ms).
THROTTLE_CAP_MS = 5


@pytest.fixture(scope="session", autouse=True)
def short_client_throttle() -> Iterator[None]:
    """ccxt's own throttle waits ``rateLimit`` ms (50 to 200) before each request of a broker
    with ``enable_rate_limit``; against a stand-in or a cassette there is no limit to honour,
    so it waits at most ``THROTTLE_CAP_MS``: still a gap, so a nonce in milliseconds (Gemini's)
    keeps increasing. Only the wait is shortened; ``rateLimit`` and ``enableRateLimit`` stay as
    configured, and our own pacing (``RestBroker``, retry backoff) is not touched. Session-wide,
    so module-scoped recordings get it too."""
    from ccxt.base.exchange import Exchange

    throttle = Exchange.throttle

    def capped(self: Exchange, cost: float | None = None) -> None:
        configured = self.rateLimit
        self.rateLimit = min(configured, THROTTLE_CAP_MS)
        try:
            throttle(self, cost)
        finally:
            self.rateLimit = configured

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Exchange, "throttle", capped)
        yield
