"""Fault injection at a broker's HTTP transport, for replay (no server) and for the stand-in.

:func:`inject_faults` wraps the ``requests`` adapters of a broker's session (ccxt brokers:
``broker.exchange.session``; REST brokers: ``broker._session``, created when missing) so that
chosen requests fail the way real exchanges fail::

    with inject_faults(broker, Fault("http_503", path="/api/v3/ticker/24hr")) as faults:
        broker.get_ticker("BTC/USDT")          # the first attempt gets a 503, the retry replays
    assert faults.fired == ["http_503"]

A fault either never reaches the exchange (the inner adapter, i.e. vcrpy's cassette or the
network, is not called) or is applied after the exchange answered (the inner adapter *is*
called, so in replay the cassette interaction is consumed and on a real server the order
exists): see :data:`FAULTS` and :data:`AFTER_ACCEPT`.

As a pytest plugin (``-p scaffolder.harness.faults``, or ``pytest_plugins`` in the harness
plugin) this module registers a ``faults`` marker and two fixtures:

- ``@pytest.mark.faults("http_500", path="/api/v3/account", times=2)`` with the ``faults``
  fixture: the marker's plan is installed on the test's ``broker`` fixture (``broker=`` names
  another fixture) and ``faults`` is the :class:`FaultInjector`, to inspect what fired;
- ``inject_faults``: a callable ``inject_faults(broker, plan)`` that installs a plan until the
  test ends.

The module also holds the two reliability runs the README's figures come from, shared by the
tests and ``scripts/reliability.py``: :func:`run_matrix` (every committed broker x every
contract call x every fault, replayed from cassettes) and :func:`run_no_duplicates`
(``create_order`` under the stand-in's faults, counting the orders the exchange holds).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import fnmatch
import http
import json
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import ConnectTimeoutError, ProtocolError, ReadTimeoutError

from brokers.base import BaseBroker
from brokers.errors import (
    BadResponseError,
    BrokerConnectionError,
    BrokerError,
    ExchangeUnavailableError,
    RateLimitError,
    RequestTimeoutError,
)
from brokers.retry import OrderStateUnknownError
from scaffolder.harness.fresh import FRESH_SUFFIX, exchange_of, fresh_broker_class, fresh_project

#: Every fault :func:`inject_faults` knows.
FAULTS: tuple[str, ...] = (
    "timeout_before",  # ConnectTimeout, nothing sent
    "timeout_after_accept",  # the exchange answered (order placed), the answer is lost: ReadTimeout
    "http_429",  # 429 with Retry-After: 1
    "http_429_no_retry_after",  # 429 without Retry-After
    "http_500",
    "http_502",
    "http_503",
    "reset",  # ConnectionError from ConnectionResetError, nothing sent
    "reset_after_accept",  # the exchange answered, then the connection was reset
    "truncated_json",  # the real body cut in half, status 200
    "html_error",  # a gateway's HTML error page, status 502
    "html_error_200",  # an HTML page with status 200 (a captive portal, a CDN challenge)
)
#: Faults applied after the inner adapter answered: the exchange did the work.
AFTER_ACCEPT: frozenset[str] = frozenset(
    {"timeout_after_accept", "reset_after_accept", "truncated_json"}
)

#: The error a read must end with when the fault never stops (every attempt faulted).
EXPECTED_ERROR: dict[str, type[BrokerError]] = {
    "timeout_before": RequestTimeoutError,
    "timeout_after_accept": RequestTimeoutError,
    "http_429": RateLimitError,
    "http_429_no_retry_after": RateLimitError,
    "http_500": ExchangeUnavailableError,
    "http_502": ExchangeUnavailableError,
    "http_503": ExchangeUnavailableError,
    "reset": BrokerConnectionError,
    "reset_after_accept": BrokerConnectionError,
    "truncated_json": BadResponseError,
    "html_error": ExchangeUnavailableError,
    "html_error_200": BadResponseError,
}
#: Faults the exchange answers before executing anything: an order may be re-sent at once.
REFUSED_BEFORE_EXECUTION: frozenset[str] = frozenset({"http_429", "http_429_no_retry_after"})


@dataclass
class Fault:
    """One rule of a plan: which requests fail, and how.

    ``method`` (``GET``...) and ``path`` (the URL path, exact or an ``fnmatch`` pattern such as
    ``/api/v3/*``) select requests; ``ordinal`` selects the n-th request through the session
    since the plan was installed (1-based). ``times`` is how many selected requests fail
    (``None``: every one). Rules are tried in order; a request takes the first that applies.
    """

    fault: str
    method: str | None = None
    path: str | None = None
    ordinal: int | None = None
    times: int | None = 1
    fired: int = 0

    def __post_init__(self) -> None:
        if self.fault not in FAULTS:
            raise ValueError(f"unknown fault {self.fault!r}; expected one of {', '.join(FAULTS)}")
        if self.times is not None and self.times < 1:
            raise ValueError(f"times must be at least 1 (or None for every request): {self.times}")

    def applies(self, ordinal: int, method: str, path: str) -> bool:
        if self.times is not None and self.fired >= self.times:
            return False
        if self.ordinal is not None and ordinal != self.ordinal:
            return False
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path is None or path == self.path or fnmatch.fnmatchcase(path, self.path)


PlanItem = str | Fault | Mapping[str, Any]
Plan = PlanItem | Iterable[PlanItem]


def as_plan(plan: Plan) -> list[Fault]:
    """Normalise a plan: a fault name, a :class:`Fault`, a mapping of its fields, or a list."""
    items: Iterable[PlanItem] = [plan] if isinstance(plan, (str, Fault, Mapping)) else plan
    rules: list[Fault] = []
    for item in items:
        if isinstance(item, Fault):
            rules.append(dataclasses.replace(item, fired=0))  # a plan of its own
        elif isinstance(item, str):
            rules.append(Fault(item))
        elif isinstance(item, Mapping):
            rules.append(Fault(**item))
        else:
            raise TypeError(f"a fault plan holds fault names, Fault or mappings, not {item!r}")
    return rules


@dataclass(frozen=True)
class Exchange:
    """One request that went through the injector."""

    ordinal: int
    method: str
    url: str
    fault: str | None
    #: Whether the inner adapter (the cassette, the server) was called.
    reached: bool

    @property
    def path(self) -> str:
        return urlsplit(self.url).path


@dataclass
class FaultInjector:
    """The state of one installed plan: its rules and every request seen."""

    rules: list[Fault]
    log: list[Exchange] = field(default_factory=list)

    @property
    def fired(self) -> list[str]:
        """The faults applied, in order."""
        return [e.fault for e in self.log if e.fault]

    def count(
        self, method: str | None = None, path: str | None = None, *, reached: bool | None = None
    ) -> int:
        """Requests seen (``reached=True``: that got to the exchange/cassette) by method/path."""
        return sum(
            1
            for e in self.log
            if (method is None or e.method == method.upper())
            and (path is None or e.path == path or fnmatch.fnmatchcase(e.path, path))
            and (reached is None or e.reached == reached)
        )

    def _rule_for(self, ordinal: int, method: str, path: str) -> Fault | None:
        for rule in self.rules:
            if rule.applies(ordinal, method, path):
                rule.fired += 1
                return rule
        return None

    def send(
        self, inner: BaseAdapter, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        method = (request.method or "GET").upper()
        url = request.url or ""
        ordinal = len(self.log) + 1
        rule = self._rule_for(ordinal, method, urlsplit(url).path)
        fault = rule.fault if rule else None
        reached = fault is None or fault in AFTER_ACCEPT
        self.log.append(Exchange(ordinal, method, url, fault, reached))
        if fault is None:
            return inner.send(request, **kwargs)
        if fault in AFTER_ACCEPT:
            return _after(fault, inner.send(request, **kwargs), request, kwargs.get("timeout"))
        return _before(fault, request, kwargs.get("timeout"))


class _FaultAdapter(BaseAdapter):
    """A transport adapter that lets the injector decide, then (maybe) calls the original."""

    def __init__(self, injector: FaultInjector, inner: BaseAdapter) -> None:
        super().__init__()
        self.injector = injector
        self.inner = inner

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        return self.injector.send(self.inner, request, **kwargs)

    def close(self) -> None:
        self.inner.close()


def _timeout_seconds(timeout: Any) -> Any:
    return timeout[-1] if isinstance(timeout, tuple) else timeout


def _before(fault: str, request: requests.PreparedRequest, timeout: Any) -> requests.Response:
    host = urlsplit(request.url or "").hostname
    if fault == "timeout_before":
        cause = ConnectTimeoutError(
            None, f"Connection to {host} timed out. (connect timeout={_timeout_seconds(timeout)})"
        )
        raise requests.exceptions.ConnectTimeout(cause, request=request) from cause
    if fault == "reset":
        _raise_reset(request)
    if fault in ("html_error", "html_error_200"):
        from scaffolder.standin.server import HTML_ERROR_PAGE  # the stand-ins' page, one copy

        status = 502 if fault == "html_error" else 200
        return _response(request, status, HTML_ERROR_PAGE.encode(), "text/html")
    status = int(fault.split("_")[1])
    headers = {"Retry-After": "1"} if fault == "http_429" else {}
    phrase = http.HTTPStatus(status).phrase
    return _response(request, status, f"{phrase}\n".encode(), "text/plain", headers)


def _after(
    fault: str, response: requests.Response, request: requests.PreparedRequest, timeout: Any
) -> requests.Response:
    body = response.content
    headers = {
        k: v
        for k, v in response.headers.items()
        if k.lower() not in ("content-length", "content-encoding", "transfer-encoding")
    }
    response.close()
    if fault == "timeout_after_accept":
        cause = ReadTimeoutError(
            None,  # type: ignore[arg-type]
            request.url or "",
            f"Read timed out. (read timeout={_timeout_seconds(timeout)})",
        )
        raise requests.exceptions.ReadTimeout(cause, request=request) from cause
    if fault == "reset_after_accept":
        _raise_reset(request)
    # truncated_json: the real body cut in half, answered as a success.
    content_type = headers.pop("Content-Type", "application/json")
    return _response(request, 200, body[: len(body) // 2], content_type, headers)


def _raise_reset(request: requests.PreparedRequest) -> None:
    reset = ConnectionResetError(104, "Connection reset by peer")
    cause = ProtocolError("Connection aborted.", reset)
    raise requests.exceptions.ConnectionError(cause, request=request) from reset


def _response(
    request: requests.PreparedRequest,
    status: int,
    body: bytes,
    content_type: str,
    headers: Mapping[str, str] | None = None,
) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.reason = http.HTTPStatus(status).phrase
    response.headers = CaseInsensitiveDict(
        {**(headers or {}), "Content-Type": content_type, "Content-Length": str(len(body))}
    )
    response._content = body
    response.url = request.url or ""
    response.request = request
    return response


def session_of(target: Any) -> requests.Session:
    """The ``requests`` session a broker sends through (a session is returned as it is)."""
    if isinstance(target, requests.Session):
        return target
    from brokers.ccxt_broker import CcxtBroker
    from brokers.rest_broker import RestBroker

    if isinstance(target, CcxtBroker) or hasattr(target, "exchange"):
        session = getattr(target.exchange, "session", None)
        if isinstance(session, requests.Session):
            return session
    if isinstance(target, RestBroker) or hasattr(target, "_session"):
        if target._session is None:
            target._session = requests.Session()
        session = target._session
        if isinstance(session, requests.Session):
            return session
    raise TypeError(f"{type(target).__name__} has no requests session to inject faults into")


@contextlib.contextmanager
def inject_faults(target: Any, plan: Plan) -> Iterator[FaultInjector]:
    """Fail the requests ``plan`` selects on ``target``'s session (a broker or a Session).

    Every adapter mounted on the session (``https://``, ``http://``...) is wrapped for the
    duration of the block and restored after it.
    """
    session = session_of(target)
    injector = FaultInjector(as_plan(plan))
    originals = dict(session.adapters)
    for prefix, adapter in originals.items():
        session.mount(prefix, _FaultAdapter(injector, adapter))
    try:
        yield injector
    finally:
        for prefix, adapter in originals.items():
            session.mount(prefix, adapter)


# -- pytest plugin ---------------------------------------------------------------------------
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "faults(*faults, broker='broker', method=None, path=None, ordinal=None, times=1): "
        "inject transport faults into the broker fixture's session (see the `faults` fixture "
        f"of scaffolder.harness.faults); faults: {', '.join(FAULTS)}",
    )


@pytest.fixture(name="inject_faults")
def inject_faults_fixture() -> Iterator[Callable[[Any, Plan], FaultInjector]]:
    """``inject_faults(broker, plan)``: install a fault plan until the test ends."""
    with contextlib.ExitStack() as stack:

        def install(target: Any, plan: Plan) -> FaultInjector:
            return stack.enter_context(inject_faults(target, plan))

        yield install


@pytest.fixture
def faults(request: pytest.FixtureRequest) -> Iterator[FaultInjector]:
    """The plan of the test's ``@pytest.mark.faults(...)``, installed on its broker fixture."""
    marker = request.node.get_closest_marker("faults")
    if marker is None:
        pytest.fail("the `faults` fixture needs a @pytest.mark.faults(...) marker", pytrace=False)
    where = dict(marker.kwargs)
    broker = request.getfixturevalue(where.pop("broker", "broker"))
    plan = [item if not isinstance(item, str) else Fault(item, **where) for item in marker.args]
    with inject_faults(broker, plan) as injector:
        yield injector


# -- the replay fault matrix -----------------------------------------------------------------
MODES: tuple[str, ...] = ("first", "every")


@dataclass(frozen=True)
class MatrixCase:
    """One cell: a broker's contract call replayed with one fault, on the first or every try."""

    broker: str
    call: str
    fault: str
    mode: str

    @property
    def method(self) -> str:
        """The BaseBroker method the call exercises."""
        return self.call.replace("_unknown", "")

    @property
    def id(self) -> str:
        return f"{self.broker}-{self.call}-{self.fault}-{self.mode}"


@dataclass
class CaseResult:
    case: MatrixCase
    #: ``success_after_retry``, ``right_error`` or ``violation``.
    outcome: str
    error: str | None = None
    attempts: int = 0
    detail: str = ""


MATRIX_CLIENT_ORDER_ID = "bsmatrix0000000000000000000000"


def committed_brokers(root: Path) -> list[str]:
    """Brokers with a recorded contract: ``cassettes/<name>/contract.json``."""
    return sorted(p.parent.name for p in (root / "cassettes").glob("*/contract.json"))


def _scenario(root: Path, name: str) -> dict[str, Any]:
    scenario: dict[str, Any] = json.loads(
        (root / "cassettes" / name / "contract.json").read_text(encoding="utf-8")
    )
    return scenario


def _replay_broker(root: Path, name: str, scenario: dict[str, Any]) -> BaseBroker:
    from scaffolder.harness.session import broker_for_replay, for_imported_case

    live = scenario.get("source") == "ccxt-static"
    broker = broker_for_replay(root, name, testnet=False if live else None)
    return for_imported_case(broker) if live else broker


def matrix_calls(root: Path, name: str) -> list[str]:
    """The scenario's calls of ``name`` that send a request (the exchange has the method)."""
    from scaffolder.harness.contract import CCXT_METHOD

    scenario = _scenario(root, name)
    calls = [c for c in scenario.get("calls", {}) if c in CCXT_METHOD]
    broker = _replay_broker(root, name, scenario)
    has = getattr(broker, "has", None)
    return [
        c
        for c in calls
        if (root / "cassettes" / name / f"{c}.yaml").exists()
        and (has is None or has(CCXT_METHOD[c]))
    ]


def matrix_cases(root: Path) -> list[MatrixCase]:
    """Every cell of the matrix, in a stable order."""
    return [
        MatrixCase(name, call, fault, mode)
        for name in committed_brokers(root)
        for call in matrix_calls(root, name)
        for fault in FAULTS
        for mode in MODES
    ]


def replay_vcr() -> Any:
    """A vcrpy ``VCR`` that only replays, with the harness's matchers registered."""
    from vcr import VCR

    from scaffolder.harness.session import register_matchers

    vcr = VCR(record_mode="none")
    register_matchers(vcr)
    return vcr


@dataclass
class ReplayRun:
    """What one replayed call returned or raised, and what its injector saw."""

    value: Any = None
    error: BaseException | None = None
    injector: FaultInjector | None = None


def replay_call(root: Path, name: str, call: str, plan: list[Fault], vcr: Any) -> ReplayRun:
    """Replay one contract call with ``plan`` installed, as BrokerContract replays it."""
    from scaffolder.harness.session import harness_vcr_config

    scenario = _scenario(root, name)
    kwargs = dict(scenario["calls"][call].get("kwargs", {}))
    if call == "create_order":
        # Imported scenarios carry no client order id; a fixed one lets the baseline and the
        # faulted run agree on which order an OrderStateUnknownError must name.
        kwargs.setdefault("client_order_id", MATRIX_CLIENT_ORDER_ID)
    cassette = root / "cassettes" / name / f"{call}.yaml"
    run = ReplayRun()
    with vcr.use_cassette(str(cassette), **harness_vcr_config(name)):
        broker = _replay_broker(root, name, scenario)
        broker.connect()
        try:
            with inject_faults(broker, plan) as injector:
                run.injector = injector
                try:
                    run.value = getattr(broker, call.replace("_unknown", ""))(**kwargs)
                except Exception as exc:
                    run.error = exc
        finally:
            broker.disconnect()
    return run


def _raw(exc: BaseException) -> bool:
    return not isinstance(exc, BrokerError)


def run_case(
    root: Path, case: MatrixCase, baseline: ReplayRun | None = None, vcr: Any = None
) -> CaseResult:
    """Run one cell and judge it (see :func:`run_matrix` for the rules)."""
    vcr = vcr or replay_vcr()
    if baseline is None:
        baseline = replay_call(root, case.broker, case.call, [], vcr)
    plan = [Fault(case.fault, times=1 if case.mode == "first" else None)]
    run = replay_call(root, case.broker, case.call, plan, vcr)
    assert run.injector is not None and baseline.injector is not None
    injector = run.injector
    attempts = injector.count()
    result = CaseResult(case, "violation", attempts=attempts)
    error = run.error
    result.error = type(error).__name__ if error is not None else None
    policy = _replay_broker(root, case.broker, _scenario(root, case.broker)).config.settings.retry
    problems: list[str] = []

    if error is not None and _raw(error):
        problems.append(f"a raw {type(error).__module__}.{type(error).__name__} escaped: {error}")
    elif error is not None and error.__cause__ is None:
        problems.append(f"{type(error).__name__} has no __cause__")
    if not injector.fired:
        problems.append("the fault never fired (no request was sent)")

    if case.method == "create_order":
        problems += _judge_order(case, run, baseline, policy.max_attempts)
    elif case.mode == "first":
        # A read recovers: the retry replays the cassette and ends as the recorded call ended.
        if baseline.error is None and error is None and run.value != baseline.value:
            problems.append("the retried call returned something else than the recorded one")
        elif baseline.error is None and error is not None:
            problems.append(f"did not recover: {type(error).__name__}: {error}")
        elif baseline.error is not None and type(error) is not type(baseline.error):
            problems.append(
                f"ended with {type(error).__name__}, the recorded call with "
                f"{type(baseline.error).__name__}"
            )
        expected = {baseline.injector.count() + 1}
        if case.method == "cancel_order" and isinstance(baseline.error, BrokerError):
            # A refusal after a lost answer is looked up once (the cancel may have been done).
            expected.add(baseline.injector.count() + 2)
        if attempts not in expected:
            problems.append(f"{attempts} requests, expected {min(expected)} (one retry)")
    else:
        expected_error = EXPECTED_ERROR[case.fault]
        if not isinstance(error, expected_error):
            problems.append(f"ended with {result.error}, expected {expected_error.__name__}")
        if attempts != policy.max_attempts:
            problems.append(
                f"{attempts} attempts, the policy's max_attempts is {policy.max_attempts}"
            )
        if isinstance(error, RateLimitError):
            hint = 1.0 if case.fault == "http_429" else None
            if error.retry_after != hint:
                problems.append(f"retry_after {error.retry_after}, the server said {hint}")

    if problems:
        result.detail = "; ".join(problems)
    elif error is None or (
        case.mode == "first" and baseline.error is not None and case.method != "create_order"
    ):
        result.outcome = "success_after_retry"
    else:
        result.outcome = "right_error"
    return result


def _judge_order(
    case: MatrixCase, run: ReplayRun, baseline: ReplayRun, max_attempts: int
) -> list[str]:
    """create_order: never two POSTs reaching the exchange; a lost answer is never re-sent."""
    assert run.injector is not None
    problems: list[str] = []
    # The order endpoint is the first request of the run; look-ups may be POSTs too (Kraken).
    order_path = run.injector.log[0].path if run.injector.log else None
    posts_sent = run.injector.count("POST", order_path)
    posts_reached = run.injector.count("POST", order_path, reached=True)
    if posts_reached > 1:
        problems.append(f"{posts_reached} orders reached the exchange")
    error = run.error
    refused = case.fault in REFUSED_BEFORE_EXECUTION
    if refused and case.mode == "first":
        # The exchange refused before executing: re-sending is safe and replays the order.
        if error is not None or run.value != baseline.value:
            problems.append(f"a rate-limited order was not re-sent: {error!r}")
        if posts_sent != 2:
            problems.append(f"{posts_sent} POSTs, expected 2 (refused, then re-sent)")
    elif refused:
        if not isinstance(error, RateLimitError):
            problems.append(f"ended with {type(error).__name__}, expected RateLimitError")
        if posts_sent != max_attempts:
            problems.append(f"{posts_sent} POSTs, the policy's max_attempts is {max_attempts}")
    else:
        # The answer is lost (or garbled): the order may exist. The look-up by client id is
        # not in the cassette, so the state stays unknown and nothing is re-sent.
        client_id = baseline.value["client_order_id"] if baseline.value else None
        if posts_sent != 1:
            problems.append(f"{posts_sent} POSTs: an order with a lost answer was re-sent")
        if error is None:
            if run.value != baseline.value:
                problems.append("returned an order other than the one placed")
        elif not isinstance(error, OrderStateUnknownError):
            problems.append(f"ended with {type(error).__name__}, expected OrderStateUnknownError")
        elif error.client_order_id != client_id or str(client_id) not in str(error):
            problems.append(f"OrderStateUnknownError does not name {client_id}: {error}")
    return problems


def run_matrix(root: Path, *, cases: Sequence[MatrixCase] | None = None) -> dict[str, Any]:
    """Run the replay fault matrix under ``root`` and return its figures.

    Cells: every broker with ``cassettes/<name>/contract.json`` x every call of its scenario the
    exchange has x every fault of :data:`FAULTS` x two modes: ``first`` (the first request
    fails, then the fault is gone) and ``every`` (every request fails: a persistent outage).

    A cell passes when the call ends as the recorded call ended, after retries (``first`` on a
    read), or with the right :class:`BrokerError` subclass, its cause chained (``every``: the
    fault's class in :data:`EXPECTED_ERROR` after exactly the policy's ``max_attempts``).
    ``create_order`` never sends an order twice when its answer may have been lost: it looks the
    order up by client id, which replay cannot answer, so it ends with
    :class:`~brokers.retry.OrderStateUnknownError`; a 429 (refused before execution) is re-sent.
    Anything else, and any raw ccxt/requests/vcr/json exception, is a violation.
    """
    started = time.perf_counter()
    root = Path(root)
    selected = list(cases) if cases is not None else matrix_cases(root)
    vcr = replay_vcr()
    baselines: dict[tuple[str, str], ReplayRun] = {}
    results: list[CaseResult] = []
    for case in selected:
        key = (case.broker, case.call)
        if key not in baselines:
            baselines[key] = replay_call(root, case.broker, case.call, [], vcr)
        results.append(run_case(root, case, baselines[key], vcr))
    brokers = committed_brokers(root)
    outcomes = Counter(r.outcome for r in results)
    return {
        "brokers": brokers,
        "brokers_with_calls": sorted({c.broker for c in selected}),
        "brokers_without_calls": sorted(set(brokers) - {c.broker for c in selected}),
        "methods": sorted({c.method for c in selected}),
        "calls": sorted({f"{c.broker}.{c.call}" for c in selected}),
        "faults": list(FAULTS),
        "modes": list(MODES),
        "faults_tried": len(results),
        "outcomes": {
            "success_after_retry": outcomes["success_after_retry"],
            "right_error": outcomes["right_error"],
            "violation": outcomes["violation"],
        },
        "errors": dict(
            sorted(Counter(r.error for r in results if r.outcome == "right_error").items())
        ),
        "violations": [f"{r.case.id}: {r.detail}" for r in results if r.outcome == "violation"],
        "results": {r.case.id: dataclasses.asdict(r) for r in results},
        "seconds": round(time.perf_counter() - started, 2),
    }


# -- create_order against the stand-in: no duplicate orders -----------------------------------
STANDIN_KEY, STANDIN_SECRET = "CANARY-API-KEY-0000", "CANARY-SECRET-0000"
#: Where a fault comes from: the stand-in (``server``: real timeouts and resets on the socket)
#: or :func:`inject_faults` on the broker's session (``client``: the order does reach the
#: stand-in for the after-accept faults, so the look-up by client id finds it).
ORDER_SIDES: tuple[str, ...] = ("server", "client")
#: Stand-in faults create_order is run under (the stand-in's names, see scaffolder.standin).
ORDER_FAULTS: tuple[str, ...] = (
    "timeout_before",
    "timeout_after_accept",
    "reset",
    "reset_after_accept",
    "http_429",
    "http_429_no_retry_after",
    "http_500",
    "http_502",
    "http_503",
    "http_503_after_accept",
    "truncated_json",
    "html_error",
    "html_error_200",
)
#: The two shared brokers on the Binance stand-in (``standin_broker``'s kinds).
ORDER_KINDS: tuple[str, ...] = ("ccxt", "rest")
#: How many requests in a row to the order endpoint and its look-ups fail: the order, then
#: its re-send or look-up; ``None``: all of them (an outage that outlasts the retries).
ORDER_REPEATS: tuple[int | None, ...] = (1, 2, None)
#: The order placed: a limit buy far below the market, which rests (the matrix), or one
#: above the ask, which fills at once (``filled``: run under the after-accept faults only,
#: once, to ask whether a look-up finds an order that is no longer open).
ORDER_STYLES: tuple[str, ...] = ("resting", "filled")
STANDIN_TIMEOUT_MS = 1000
STANDIN_FAULT_DELAY = 1.5


@dataclass(frozen=True)
class OrderTarget:
    """One broker against its exchange's stand-in.

    ``order_paths`` is an ``fnmatch`` pattern of the order endpoint and the endpoints its
    look-up by client id reads. ``server_path`` is what the stand-in's ``inject`` is given: the
    exact path when the order and its look-up share one (Binance's ``/api/v3/order``), else
    ``None``, which faults every request ``create_order`` makes; the run then checks that
    every such request matched ``order_paths``. ``client_id_field``/``order_id_field`` name the
    stand-in's rendering of an order. ``lookup`` says how the broker finds an order by client
    id, for the report.
    """

    broker: str
    exchange: str
    order_paths: str
    server_path: str | None
    client_id_field: str
    order_id_field: str
    lookup: str


#: Every broker the no-duplicates run covers, in report order.
ORDER_TARGETS: tuple[OrderTarget, ...] = (
    *(
        # Binance's ccxt broker and the Binance-style REST broker: one stand-in, one endpoint.
        OrderTarget(
            name,
            "binance",
            "/api/v3/order",
            "/api/v3/order",
            "clientOrderId",
            "orderId",
            "GET /api/v3/order?origClientOrderId= (any status)",
        )
        for name in ("binance", "spotrest")
    ),
    OrderTarget(
        "gemini",
        "gemini",
        "/v1/order*",
        None,
        "client_order_id",
        "order_id",
        "POST /v1/order/status {client_order_id} (any status)",
    ),
    OrderTarget(
        "coinbase",
        "coinbase",
        "/api/v3/brokerage/orders*",
        None,
        "client_order_id",
        "order_id",
        "GET orders/historical/batch, OPEN then closed statuses (and Coinbase answers a re-sent "
        "client_order_id with the order it names)",
    ),
)
#: The same three exchanges with brokers generated fresh from the template (no hand edits),
#: looking lost orders up as their derived profile says.
FRESH_TARGETS: tuple[OrderTarget, ...] = tuple(
    dataclasses.replace(t, broker=t.broker + FRESH_SUFFIX, lookup="")
    for t in ORDER_TARGETS
    if t.broker in ("binance", "gemini", "coinbase")
)
ORDER_TARGETS = ORDER_TARGETS + FRESH_TARGETS
TARGETS_BY_NAME: dict[str, OrderTarget] = {t.broker: t for t in ORDER_TARGETS}
#: ``standin_broker``'s kinds, by broker name.
_BINANCE_KINDS = {"binance": "ccxt", "spotrest": "rest"}


@dataclass(frozen=True)
class OrderCase:
    """``create_order`` on ``broker`` while ``times`` requests in a row to its order endpoint
    and look-ups (the order, then its look-up or re-send) fail with ``fault``."""

    broker: str
    side: str
    fault: str
    times: int | None
    style: str = "resting"

    @property
    def repeat(self) -> str:
        return "all" if self.times is None else str(self.times)

    @property
    def target(self) -> OrderTarget:
        return TARGETS_BY_NAME[self.broker]

    @property
    def id(self) -> str:
        suffix = "" if self.style == "resting" else f"-{self.style}"
        return f"{self.broker}-{self.side}-{self.fault}-x{self.repeat}{suffix}"


#: The stand-in's faults applied after the order was placed.
SERVER_AFTER_ACCEPT: frozenset[str] = frozenset(
    {"timeout_after_accept", "reset_after_accept", "truncated_json", "http_503_after_accept"}
)


def order_cases(brokers: Iterable[str] | None = None) -> list[OrderCase]:
    """Every broker x both fault sides x their faults x once, twice in a row, or always (a
    resting order); plus, once, an order that fills at once under each after-accept fault."""
    names = list(brokers) if brokers is not None else [t.broker for t in ORDER_TARGETS]
    cases: list[OrderCase] = []
    for broker in names:
        for side in ORDER_SIDES:
            faults = ORDER_FAULTS if side == "server" else FAULTS
            cases += [OrderCase(broker, side, f, t) for f in faults for t in ORDER_REPEATS]
        for side in ORDER_SIDES:
            after = SERVER_AFTER_ACCEPT if side == "server" else AFTER_ACCEPT
            faults = ORDER_FAULTS if side == "server" else FAULTS
            cases += [OrderCase(broker, side, f, 1, "filled") for f in faults if f in after]
    return cases


def standin_broker(kind: str, standin: Any) -> BaseBroker:
    """The project's Binance ccxt broker, or a Binance-style REST broker, on the stand-in.

    Timeout ``STANDIN_TIMEOUT_MS``, three attempts, no waits between them.
    """
    from brokers.config import build_config
    from brokers.registry import broker_class
    from brokers.rest_broker import RestBroker

    document: dict[str, Any] = {
        "name": "binance" if kind == "ccxt" else "spotrest",
        "integration": "ccxt" if kind == "ccxt" else "rest",
        "type": "crypto",
        "enabled": True,
        "api_credentials": {"api_key": "${K}", "api_secret": "${S}"},
        "settings": _standin_settings(testnet=True),
        "supported_pairs": ["BTC/USDT", "ETH/USDT"],
        "custom_settings": (
            {"urls": standin.ccxt_api_urls()} if kind == "ccxt" else {"testnet_url": standin.url}
        ),
    }
    config = build_config(document, env={"K": STANDIN_KEY, "S": STANDIN_SECRET})
    if kind == "ccxt":
        klass: Any = broker_class("binance")
    else:

        class SpotRest(RestBroker):
            name = "spotrest"
            base_url = "https://api.spotrest.invalid"

        klass = SpotRest
    broker: BaseBroker = klass(config, sleep=lambda seconds: None)
    return broker


def _standin_settings(*, testnet: bool) -> dict[str, Any]:
    return {
        "testnet": testnet,
        "timeout": STANDIN_TIMEOUT_MS,
        "enable_rate_limit": False,
        "retry": {"max_attempts": 3, "base_delay_ms": 0, "max_delay_ms": 0},
    }


def _root() -> Path:
    return Path(__file__).resolve().parents[2]


def standin_credentials(exchange: str) -> tuple[str, str]:
    """The canary key and secret, shaped as ``exchange``'s ccxt client accepts them (Gemini
    signs only with ``account-...`` session keys)."""
    from scaffolder.harness.session import shaped_credentials

    shaped = shaped_credentials(exchange, {"api_key": STANDIN_KEY, "api_secret": STANDIN_SECRET})
    return shaped["api_key"], shaped["api_secret"]


def order_standin(exchange: str, *, fault_delay: float = STANDIN_FAULT_DELAY) -> Any:
    """A (not yet started) stand-in of ``exchange`` with the canary credentials."""
    from scaffolder.standin import BinanceStandIn, CoinbaseStandIn, GeminiStandIn

    klass: Any = {"binance": BinanceStandIn, "gemini": GeminiStandIn, "coinbase": CoinbaseStandIn}
    key, secret = standin_credentials(exchange)
    return klass[exchange](key, secret, fault_delay=fault_delay)


def committed_standin_broker(
    name: str, standin: Any, root: Path | None = None, klass: Any = None
) -> BaseBroker:
    """The committed broker ``name`` (``config/brokers/<name>.json``) on its stand-in.

    ``klass`` replaces the registered class (a fresh broker, with ``root`` its project).
    The config's own ``testnet`` choice, pairs and the rest are kept; the credentials are the
    canaries, the settings those of :func:`standin_broker`, and ``custom_settings.urls``
    points the exchange's API (and Gemini's web pages, where ccxt reads market precision)
    at the stand-in.
    """
    from brokers.config import build_config, env_references
    from brokers.registry import broker_class

    path = (root or _root()) / "config" / "brokers" / f"{name}.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    document.pop("$schema", None)
    document["settings"] = {
        **_standin_settings(testnet=document.get("settings", {}).get("testnet", False))
    }
    urls = dict(standin.ccxt_api_urls())
    document["custom_settings"] = {**document.get("custom_settings", {}), "urls": urls}
    key, secret = standin_credentials(name)
    values = {"api_key": key, "api_secret": secret}
    env = {
        var: values.get(pointer.rsplit("/", 1)[-1], "CANARY")
        for pointer, var in env_references(document)
    }
    config = build_config(document, env=env)
    broker: BaseBroker = (klass or broker_class(name))(config, sleep=lambda seconds: None)
    return broker


def order_broker(
    broker: str, standin: Any, root: Path | None = None, fresh_root: Path | None = None
) -> BaseBroker:
    """``broker`` (a name of :data:`ORDER_TARGETS`) built on ``standin``; a fresh one from
    the project ``fresh_root``."""
    if broker in _BINANCE_KINDS:
        return standin_broker(_BINANCE_KINDS[broker], standin)
    if broker.endswith(FRESH_SUFFIX):
        if fresh_root is None:
            raise ValueError(f"{broker} needs the fresh project (fresh_root)")
        name = exchange_of(broker)
        return committed_standin_broker(
            name, standin, fresh_root, klass=fresh_broker_class(fresh_root, name)
        )
    return committed_standin_broker(broker, standin, root)


@dataclass
class OrderResult:
    case: OrderCase
    #: ``order`` (the one order there is, returned), ``unknown`` (OrderStateUnknownError naming
    #: the client id, at most one order on the exchange), ``refused`` (another BrokerError, and
    #: no order on the exchange) or ``violation``.
    outcome: str
    orders_created: int
    duplicated: int
    requests: int
    detail: str = ""
    seconds: float = 0.0
    #: The paths of the requests ``create_order`` sent, in order (as the stand-in saw them).
    paths: list[str] = field(default_factory=list)


SYMBOL = "BTC/USDT"
RESTING_PRICE = 20000
AMOUNT = 0.001


def marketable_price(broker: BaseBroker, symbol: str = SYMBOL) -> float:
    """A buy price 2 % above the ask, on a cent: the order fills at once."""
    from decimal import ROUND_UP, Decimal

    ask = broker.get_ticker(symbol)["ask"]
    if not ask:
        raise RuntimeError(f"{broker.name}: the stand-in's ticker has no ask")
    return float((Decimal(str(ask)) * Decimal("1.02")).quantize(Decimal("0.01"), ROUND_UP))


def run_order_case(
    case: OrderCase,
    *,
    fault_delay: float = STANDIN_FAULT_DELAY,
    root: Path | None = None,
    fresh_root: Path | None = None,
) -> OrderResult:
    """Place one limit order while ``case.times`` requests to the order endpoint (and its
    look-ups) fail."""
    started = time.perf_counter()
    target = case.target
    client_id = f"nd{case.broker}{case.side}{case.repeat}{case.fault.replace('_', '')}"[:32]
    problems: list[str] = []
    outcome = "violation"
    refused_with: BrokerError | None = None
    paths: list[str] = []
    with order_standin(target.exchange, fault_delay=fault_delay) as standin:
        broker = order_broker(case.broker, standin, root, fresh_root)
        broker.connect()
        price = RESTING_PRICE if case.style == "resting" else marketable_price(broker)
        before = len(standin.requests)
        plan: list[Fault] = []
        if case.side == "server":
            standin.inject(case.fault, path=target.server_path, times=case.times or 1000)
        else:
            plan = [Fault(case.fault, path=target.order_paths, times=case.times)]
        try:
            with inject_faults(broker, plan):
                order = broker.create_order(
                    SYMBOL, "limit", "buy", AMOUNT, price=price, client_order_id=client_id
                )
        except OrderStateUnknownError as exc:
            outcome = "unknown"
            if exc.client_order_id != client_id or client_id not in str(exc):
                problems.append(f"OrderStateUnknownError does not name {client_id}: {exc}")
            if exc.__cause__ is None:
                problems.append("OrderStateUnknownError has no __cause__")
        except BrokerError as exc:
            outcome = "refused"
            refused_with = exc
        except Exception as exc:  # a raw exception escaped the broker
            problems.append(f"a raw {type(exc).__module__}.{type(exc).__name__} escaped: {exc}")
        else:
            outcome = "order"
            on_server = [o for o in standin.orders() if o.get(target.client_id_field) == client_id]
            if order["client_order_id"] != client_id:
                problems.append(f"returned client id {order['client_order_id']}")
            if not on_server or str(on_server[0][target.order_id_field]) != order["id"]:
                problems.append(f"returned order {order['id']} is not the one on the exchange")
        finally:
            broker.disconnect()
        standin.clear_faults()
        created = standin.orders_created
        paths = [r.path for r in standin.requests[before:]]
        if standin.errors:
            problems.append(f"the stand-in failed: {standin.errors!r}")
    strays = sorted({p for p in paths if not fnmatch.fnmatchcase(p, target.order_paths)})
    if strays:
        # The stand-in faulted every request of create_order: say if any was not an order's.
        problems.append(f"requests outside {target.order_paths}: {', '.join(strays)}")
    if created > 1:
        problems.append(f"{created} orders on the exchange")
    if outcome == "order" and created != 1:
        problems.append(f"an order was returned but the exchange holds {created}")
    if refused_with is not None:
        if created:
            problems.append(
                f"ended with {type(refused_with).__name__} ({refused_with}) although the "
                "exchange holds the order"
            )
        if refused_with.__cause__ is None:
            problems.append(f"{type(refused_with).__name__} has no __cause__")
    return OrderResult(
        case,
        "violation" if problems else outcome,
        created,
        max(0, created - 1),
        len(paths),
        "; ".join(problems),
        round(time.perf_counter() - started, 2),
        paths,
    )


def _outcome_counts(results: Iterable[OrderResult]) -> dict[str, int]:
    outcomes = Counter(r.outcome for r in results)
    return {name: outcomes[name] for name in ("order", "unknown", "refused", "violation")}


def unexpressible_faults(exchange: str) -> list[str]:
    """The faults of :data:`ORDER_FAULTS` that ``exchange``'s stand-in cannot inject: those its
    server does not know, and the HTTP errors it has no answer of the exchange's for."""
    from scaffolder.standin.server import FAULTS as STANDIN_FAULTS

    standin = order_standin(exchange)  # not started: only its answers are read
    missing = []
    for fault in ORDER_FAULTS:
        if fault not in STANDIN_FAULTS:
            missing.append(fault)
        elif fault.startswith("http_"):
            try:
                standin.fault_response(fault)
            except (KeyError, NotImplementedError):
                missing.append(fault)
    return missing


def _profile_lookup(klass: Any) -> str:
    """How a broker class finds a lost order, from its profile (for the report)."""
    from brokers.profile import merged_profile

    profile = merged_profile(getattr(klass, "profile", {}))
    if profile.get("client_id_param") is None:
        return "none: ccxt carries no client order id (an unknown outcome is never re-sent)"
    if profile.get("lookup") == "none":
        return "none: no look-up proves absence (an unknown outcome is never re-sent)"
    return (
        f"profile: {profile.get('lookup')} by {profile.get('lookup_param')} "
        f"(id sent as {profile.get('client_id_param')})"
    )


def run_no_duplicates(
    cases: Sequence[OrderCase] | None = None, *, workers: int = 16, root: Path | None = None
) -> dict[str, Any]:
    """Run ``create_order`` under every fault (the stand-in's and the client-side injector's),
    once, twice in a row and always, for every broker of :data:`ORDER_TARGETS` against its
    exchange's stand-in; count the orders duplicated (must be 0), per broker and in total."""
    started = time.perf_counter()
    selected = list(cases) if cases is not None else order_cases()
    brokers = [t.broker for t in ORDER_TARGETS if any(c.broker == t.broker for c in selected)]
    fresh = sorted({exchange_of(b) for b in brokers if b.endswith(FRESH_SUFFIX)})
    with tempfile.TemporaryDirectory(prefix="fresh-brokers-") as work:
        fresh_root = fresh_project(fresh, Path(work), root or _root()) if fresh else None
        # Each case has its own stand-in and broker; running them side by side overlaps the
        # seconds the timeout faults hold a connection.
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            results = list(
                pool.map(
                    lambda case: run_order_case(case, root=root, fresh_root=fresh_root), selected
                )
            )
        lookups = {
            b: _profile_lookup(fresh_broker_class(fresh_root, exchange_of(b)))
            for b in brokers
            if fresh_root is not None and b.endswith(FRESH_SUFFIX)
        }
    per_broker: dict[str, Any] = {}
    for name in brokers:
        target = TARGETS_BY_NAME[name]
        mine = [r for r in results if r.case.broker == name]
        per_broker[name] = {
            "standin": target.exchange,
            "lookup": target.lookup or lookups.get(name, ""),
            "faults_not_expressible": unexpressible_faults(target.exchange),
            "runs": len(mine),
            "outcomes": _outcome_counts(mine),
            "orders_duplicated": sum(r.duplicated for r in mine),
            "styles": {
                style: {
                    "runs": sum(1 for r in mine if r.case.style == style),
                    "orders_duplicated": sum(r.duplicated for r in mine if r.case.style == style),
                }
                for style in ORDER_STYLES
            },
            "duplicated_in": [r.case.id for r in mine if r.duplicated],
        }
    return {
        "brokers": brokers,
        "per_broker": per_broker,
        "sides": list(ORDER_SIDES),
        "faults": {"server": list(ORDER_FAULTS), "client": list(FAULTS)},
        "repeats": ["all" if t is None else t for t in ORDER_REPEATS],
        "styles": list(ORDER_STYLES),
        "runs": len(results),
        "outcomes": _outcome_counts(results),
        "orders_duplicated": sum(r.duplicated for r in results),
        "violations": [f"{r.case.id}: {r.detail}" for r in results if r.outcome == "violation"],
        "results": {r.case.id: dataclasses.asdict(r) for r in results},
        "seconds": round(time.perf_counter() - started, 2),
    }
