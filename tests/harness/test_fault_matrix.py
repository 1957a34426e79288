"""Fault injection in replay: every committed broker x every contract call x every fault.

The matrix (:func:`scaffolder.harness.faults.matrix.run_matrix`) runs once per run, one part
per broker (the xdist workers share the parts); each cell is a test of its own so a failure
names the broker, the call, the fault and the mode. Below it, the injector's own behaviour (on a bare session and on the REST
broker against the stand-in) and the pytest marker and fixtures it provides.
"""

from __future__ import annotations

import functools
import json
import textwrap
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter

from brokers import errors as e
from brokers.retry import OrderStateUnknownError
from scaffolder.harness.faults.matrix import (
    EXPECTED_ERROR,
    MODES,
    MatrixCase,
    committed_brokers,
    matrix_calls,
    matrix_cases,
    replay_call,
    replay_vcr,
    run_matrix,
)
from scaffolder.harness.faults.mechanism import (
    AFTER_ACCEPT,
    FAULTS,
    Fault,
    as_plan,
    inject_faults,
    session_of,
)
from scaffolder.harness.faults.targets import standin_broker
from scaffolder.standin import FAULTS_AFTER, FAULTS_BEFORE, BinanceStandIn
from tests.conftest import computed_once_per_run, in_worker_order

# The faults marker and fixtures are tested in a pytester run of their own (below).
pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
CASES = matrix_cases(ROOT)


BROKERS = sorted({case.broker for case in CASES})


def merged(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures :func:`run_matrix` gives for all the cells of ``parts`` (matrices of
    disjoint cells, in :data:`CASES` order), ``seconds`` summed."""
    brokers = parts[0]["brokers"]
    with_calls = sorted({b for part in parts for b in part["brokers_with_calls"]})
    errors: Counter[str] = Counter()
    for part in parts:
        errors.update(part["errors"])
    return {
        "brokers": brokers,
        "brokers_with_calls": with_calls,
        "brokers_without_calls": sorted(set(brokers) - set(with_calls)),
        "methods": sorted({m for part in parts for m in part["methods"]}),
        "calls": sorted({c for part in parts for c in part["calls"]}),
        "faults": parts[0]["faults"],
        "modes": parts[0]["modes"],
        "faults_tried": sum(part["faults_tried"] for part in parts),
        "outcomes": {
            outcome: sum(part["outcomes"][outcome] for part in parts)
            for outcome in parts[0]["outcomes"]
        },
        "errors": dict(sorted(errors.items())),
        "violations": [v for part in parts for v in part["violations"]],
        "results": {k: v for part in parts for k, v in part["results"].items()},
        "seconds": round(sum(part["seconds"] for part in parts), 2),
    }


@pytest.fixture(scope="module")
def matrix_of(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], dict[str, Any]]:
    """One broker's part of the matrix, run once per run under its own name: the xdist
    workers share the parts, so each runs some of them instead of one waiting for all."""

    @functools.cache
    def of(broker: str) -> dict[str, Any]:
        cases = [case for case in CASES if case.broker == broker]
        return computed_once_per_run(
            tmp_path_factory, f"fault-matrix-{broker}", lambda: run_matrix(ROOT, cases=cases)
        )

    return of


@pytest.fixture(scope="module")
def matrix(matrix_of: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    parts = {broker: matrix_of(broker) for broker in in_worker_order(BROKERS)}
    return merged([parts[broker] for broker in BROKERS])


# -- the matrix --------------------------------------------------------------------------------
@pytest.mark.parametrize("case", [pytest.param(case, id=case.id) for case in CASES])
def test_matrix_cell(matrix_of: Callable[[str], dict[str, Any]], case: MatrixCase) -> None:
    result = matrix_of(case.broker)["results"][case.id]
    assert result["outcome"] in ("success_after_retry", "right_error"), result["detail"]


def test_the_matrix_of_its_parts_merged_is_the_matrix_of_the_whole() -> None:
    """What :func:`merged` gives is what one :func:`run_matrix` over the same cells gives."""
    cases = [
        case
        for case in CASES
        if case.call in ("get_ticker", "create_order")
        and case.fault in ("http_429", "timeout_after_accept")
    ]
    assert {case.broker for case in cases} == set(BROKERS)
    parts = [run_matrix(ROOT, cases=[c for c in cases if c.broker == b]) for b in BROKERS]
    whole = run_matrix(ROOT, cases=cases)
    together = merged(parts)
    assert together.pop("seconds") >= 0 and whole.pop("seconds") >= 0
    assert json.loads(json.dumps(together)) == json.loads(json.dumps(whole))
    assert list(together["results"]) == [case.id for case in cases]


def test_matrix_covers_every_committed_broker_call_and_fault(matrix: dict[str, Any]) -> None:
    brokers = committed_brokers(ROOT)
    assert "binance" in brokers
    calls = {name: matrix_calls(ROOT, name) for name in brokers}
    assert len(calls["binance"]) == 10  # the eight BaseBroker methods and two error paths
    assert matrix["faults_tried"] == sum(map(len, calls.values())) * len(FAULTS) * len(MODES)
    assert set(matrix["methods"]) == {
        "get_balance",
        "get_ticker",
        "get_ohlcv",
        "create_order",
        "get_order",
        "get_open_orders",
        "cancel_order",
        "get_positions",
    }
    assert matrix["violations"] == []
    outcomes = matrix["outcomes"]
    assert outcomes["success_after_retry"] + outcomes["right_error"] == matrix["faults_tried"]
    assert outcomes["success_after_retry"] > 0 and outcomes["right_error"] > 0


def test_a_lost_order_answer_in_replay_is_state_unknown_and_never_resent() -> None:
    """The order was accepted (the cassette answered), the answer lost: the broker looks it up
    by client id (not in the cassette) and reports the state unknown; one POST only."""
    run = replay_call(
        ROOT, "binance", "create_order", [Fault("timeout_after_accept")], replay_vcr()
    )
    assert isinstance(run.error, OrderStateUnknownError)
    assert run.error.client_order_id == "recdff47f0263d340e58159511cfabbe"
    assert "recdff47f0263d340e58159511cfabbe" in str(run.error)
    assert run.error.__cause__ is not None
    assert run.injector is not None
    assert run.injector.count("POST") == run.injector.count("POST", reached=True) == 1


def test_a_rate_limited_order_is_resent_and_replays() -> None:
    run = replay_call(ROOT, "binance", "create_order", [Fault("http_429")], replay_vcr())
    assert run.error is None and run.value["client_order_id"] == "recdff47f0263d340e58159511cfabbe"
    assert run.injector is not None
    assert (run.injector.count("POST"), run.injector.count("POST", reached=True)) == (2, 1)


@pytest.mark.parametrize("fault", ["truncated_json", "html_error_200"])
def test_a_garbled_success_is_a_bad_response_not_an_empty_answer(fault: str) -> None:
    """ccxt reads a 2xx body it cannot parse as an empty answer; the broker refuses it."""
    run = replay_call(ROOT, "binance", "get_balance", [Fault(fault, times=None)], replay_vcr())
    assert isinstance(run.error, e.BadResponseError)
    assert type(run.error.__cause__).__module__.startswith("ccxt")


def test_a_persistent_outage_ends_with_the_right_error_after_max_attempts() -> None:
    run = replay_call(ROOT, "binance", "get_ticker", [Fault("http_503", times=None)], replay_vcr())
    assert isinstance(run.error, e.ExchangeUnavailableError)
    assert run.injector is not None and run.injector.count() == 4  # RetryPolicy().max_attempts


# -- the injector on a bare session ------------------------------------------------------------
class CannedAdapter(BaseAdapter):
    """An inner adapter that answers every request with a fixed JSON body and counts them."""

    BODY = b'{"symbol":"BTCUSDT","price":"30000.00"}'

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[str] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.sent.append(f"{request.method} {request.path_url}")
        response = requests.Response()
        response.status_code = 200
        response.headers["Content-Type"] = "application/json"
        response._content = self.BODY
        response.request = request
        response.url = request.url or ""
        return response

    def close(self) -> None:
        pass


@pytest.fixture
def canned() -> tuple[requests.Session, CannedAdapter]:
    session = requests.Session()
    adapter = CannedAdapter()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session, adapter


URL = "https://api.example.invalid/api/v3/ticker/price"


@pytest.mark.parametrize("fault", FAULTS)
def test_each_fault_reaches_the_exchange_only_when_it_is_applied_after_accept(
    canned: tuple[requests.Session, CannedAdapter], fault: str
) -> None:
    session, inner = canned
    with inject_faults(session, fault) as injector:
        try:
            response: requests.Response | None = session.get(URL, timeout=1)
        except requests.RequestException as exc:
            response, error = None, exc
        else:
            error = None
    assert injector.fired == [fault]
    assert len(inner.sent) == (1 if fault in AFTER_ACCEPT else 0)
    if fault == "timeout_before":
        assert isinstance(error, requests.ConnectTimeout)
    elif fault == "timeout_after_accept":
        assert isinstance(error, requests.ReadTimeout)
    elif fault.startswith("reset"):
        assert isinstance(error, requests.ConnectionError)
        assert isinstance(error.__cause__, ConnectionResetError)
    else:
        assert error is None and response is not None
        if fault == "truncated_json":
            assert response.status_code == 200
            assert response.content == CannedAdapter.BODY[: len(CannedAdapter.BODY) // 2]
        elif fault.startswith("html_error"):
            assert response.headers["Content-Type"] == "text/html"
            assert response.status_code == (502 if fault == "html_error" else 200)
            assert response.text.startswith("<!DOCTYPE html>")
        else:
            assert response.status_code == int(fault.split("_")[1])
            assert response.headers.get("Retry-After") == ("1" if fault == "http_429" else None)


def test_rules_select_by_method_path_ordinal_and_times(
    canned: tuple[requests.Session, CannedAdapter],
) -> None:
    session, inner = canned
    plan = [
        Fault("http_500", method="POST"),
        Fault("http_502", path="/api/v3/ticker/*", ordinal=3),
        {"fault": "http_503", "path": "/api/v3/account", "times": 2},
    ]
    with inject_faults(session, plan) as injector:
        statuses = [
            session.get(URL).status_code,  # 1: no rule
            session.post(URL).status_code,  # 2: POST
            session.get(URL).status_code,  # 3: ordinal 3 and the path
            session.post(URL).status_code,  # 4: the POST rule is used up
            session.get(URL.replace("ticker/price", "account")).status_code,
            session.get(URL.replace("ticker/price", "account")).status_code,
            session.get(URL.replace("ticker/price", "account")).status_code,
        ]
    assert statuses == [200, 500, 502, 200, 503, 503, 200]
    assert injector.fired == ["http_500", "http_502", "http_503", "http_503"]
    assert injector.count("POST") == 2 and injector.count("POST", reached=True) == 1
    assert len(inner.sent) == 3
    # The original adapters are back.
    assert session.get_adapter(URL) is inner


def test_a_plan_refuses_unknown_faults() -> None:
    with pytest.raises(ValueError, match="unknown fault 'http_418'"):
        as_plan("http_418")
    with pytest.raises(ValueError, match="times"):
        Fault("reset", times=0)


def test_a_rest_broker_without_a_session_gets_one() -> None:
    with BinanceStandIn("CANARY-API-KEY-0000", "CANARY-SECRET-0000") as standin:
        broker: Any = standin_broker("rest", standin)
        assert broker._session is None
        assert session_of(broker) is broker._session is not None
        ccxt_broker: Any = standin_broker("ccxt", standin)
        assert session_of(ccxt_broker) is ccxt_broker.exchange.session


# -- both shared brokers against the stand-in (the REST broker has no committed cassettes) -----
@pytest.fixture(scope="module")
def standin() -> Any:
    with BinanceStandIn("CANARY-API-KEY-0000", "CANARY-SECRET-0000") as server:
        yield server


@pytest.fixture(scope="module", params=["ccxt", "rest"])
def live_broker(standin: BinanceStandIn, request: pytest.FixtureRequest) -> Any:
    broker = standin_broker(request.param, standin)
    broker.connect()
    yield broker
    broker.disconnect()


@pytest.mark.parametrize("fault", FAULTS)
def test_reads_recover_from_one_fault_and_fail_right_under_an_outage(
    live_broker: Any, fault: str
) -> None:
    broker = live_broker
    with inject_faults(broker, fault) as injector:
        assert broker.get_ticker("BTC/USDT")["last"] > 0
    assert injector.count() == 2
    outage = inject_faults(broker, Fault(fault, times=None))
    with outage as injector, pytest.raises(EXPECTED_ERROR[fault]) as info:
        broker.get_ticker("BTC/USDT")
    assert info.value.__cause__ is not None
    assert injector.count() == broker.config.settings.retry.max_attempts
    if fault.startswith("http_429"):
        # A 429 without a JSON body (a gateway's) keeps its Retry-After.
        assert info.value.retry_after == (1.0 if fault == "http_429" else None)


@pytest.mark.parametrize(
    "fault", [f for f in FAULTS_BEFORE + FAULTS_AFTER if not f.startswith("timeout")]
)
def test_reads_recover_from_the_standins_own_faults(
    live_broker: Any, standin: BinanceStandIn, fault: str
) -> None:
    """The exchange's own failure bodies: Binance's 503 ``-1008`` "overloaded" included, which
    ccxt maps to a bare ExchangeError (not retried) unless the broker sees the 5xx."""
    standin.inject(fault, path="/api/v3/ticker/24hr")
    assert live_broker.get_ticker("BTC/USDT")["last"] > 0
    assert standin.pending_faults() == []


# -- the pytest marker and fixtures ------------------------------------------------------------
MARKER_TEST = textwrap.dedent(
    """
    import pytest
    import requests
    from requests.adapters import BaseAdapter

    class Ok(BaseAdapter):
        def send(self, request, **kwargs):
            response = requests.Response()
            response.status_code = 200
            response._content = b"{}"
            response.request = request
            return response

        def close(self):
            pass

    @pytest.fixture
    def broker():
        session = requests.Session()
        session.mount("https://", Ok())
        return session

    @pytest.mark.faults("http_503", path="/api/v3/account", times=2)
    def test_marker(broker, faults):
        url = "https://x.invalid/api/v3/account"
        assert [broker.get(url).status_code for _ in range(3)] == [503, 503, 200]
        assert faults.fired == ["http_503", "http_503"]

    def test_fixture(broker, inject_faults):
        injector = inject_faults(broker, "reset")
        with pytest.raises(requests.ConnectionError):
            broker.get("https://x.invalid/")
        assert injector.fired == ["reset"]
    """
)


@pytest.mark.parametrize("how", ["-p", "pytest_plugins"])
def test_the_faults_marker_and_fixtures(pytester: pytest.Pytester, how: str) -> None:
    """Loaded with ``-p scaffolder.harness.faults``, or through ``pytest_plugins`` in another
    plugin (what the harness plugin would declare), the marker passes ``--strict-markers``."""
    pytester.makepyfile(test_marker=MARKER_TEST)
    if how == "-p":
        args = ["-p", "scaffolder.harness.faults"]
    else:
        pytester.makepyfile(shim='pytest_plugins = ["scaffolder.harness.faults"]\n')
        pytester.syspathinsert()
        args = ["-p", "shim"]
    result = pytester.runpytest("--strict-markers", *args)
    result.assert_outcomes(passed=2)
