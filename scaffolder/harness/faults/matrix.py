"""The replay fault matrix: every committed broker x every contract call x every fault, judged.

Each cell replays one recorded contract call (``cassettes/<name>/<call>.yaml``) with one fault
of :data:`~.mechanism.FAULTS` injected on the first attempt or on every attempt, and judges how
the call ended (:func:`run_case`); :func:`run_matrix` runs them all and returns the figures the
README quotes (through ``scripts/reliability.py``).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
from scaffolder.harness.faults.mechanism import FAULTS, Fault, FaultInjector, inject_faults

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

#: ``first``: the first request fails, then the fault is gone; ``every``: a persistent outage.
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
    from scaffolder.harness.contract_calls import CCXT_METHOD

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
    from scaffolder.harness.vcr_loader import clients_absent

    scenario = _scenario(root, name)
    kwargs = dict(scenario["calls"][call].get("kwargs", {}))
    if call == "create_order":
        # Imported scenarios carry no client order id; a fixed one lets the baseline and the
        # faulted run agree on which order an OrderStateUnknownError must name.
        kwargs.setdefault("client_order_id", MATRIX_CLIENT_ORDER_ID)
    cassette = root / "cassettes" / name / f"{call}.yaml"
    run = ReplayRun()
    with clients_absent(), vcr.use_cassette(str(cassette), **harness_vcr_config(name)):
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
    # The order endpoint is the first request of the run; look-ups may be POSTs too (on some exchanges).
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
