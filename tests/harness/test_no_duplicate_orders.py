"""``create_order`` never leaves two orders: every broker against its exchange's stand-in.

The brokers: Binance's ccxt broker and a Binance-style REST broker on the Binance stand-in, the
committed Gemini and Coinbase ccxt brokers on theirs, and the Binance, Gemini and Coinbase
brokers generated fresh from the template (``<name>-fresh``: no hand edits, their derived
exchange profile only). The stand-in counts the orders it
creates. Each case places one limit order while requests to the order endpoint and its
look-ups fail: from the stand-in (real socket timeouts, resets, 5xx, garbled bodies) or from
the client-side injector, once, twice in a row (the order, then its look-up or re-send) or
always. The caller gets the one order that exists, or ``OrderStateUnknownError`` naming the
client order id (at most one order on the exchange), or, for a rate limit that never ends, a
``RateLimitError`` with nothing placed.

Besides that matrix (an order that rests), each broker places an order that fills at once
under every after-accept fault: a look-up that reads only open orders cannot find it (this
found Gemini's broker re-sending such orders; it now asks ``/v1/order/status`` by client id).

The runs are shared with ``scripts/reliability.py`` through
:func:`scaffolder.harness.faults.campaign.run_no_duplicates`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scaffolder.fresh_project import fresh_projects
from scaffolder.harness.faults.campaign import run_no_duplicates
from scaffolder.harness.faults.mechanism import AFTER_ACCEPT, FAULTS
from scaffolder.harness.faults.targets import (
    ORDER_FAULTS,
    ORDER_REPEATS,
    ORDER_TARGETS,
    SERVER_AFTER_ACCEPT,
    STANDIN_FAULT_DELAY,
    STANDIN_TIMEOUT_MS,
    OrderCase,
    fresh_exchanges,
    order_cases,
)
from scaffolder.harness.fresh import FRESH_SUFFIX
from tests.conftest import computed_once_per_run, in_worker_order

ROOT = Path(__file__).resolve().parents[2]

CASES = order_cases()


#: The campaign in two parts, each run once per run under its own name: the committed
#: brokers, and the fresh ones (which need their project generated first).
PARTS = {
    "committed": [c for c in CASES if not c.broker.endswith(FRESH_SUFFIX)],
    "fresh": [c for c in CASES if c.broker.endswith(FRESH_SUFFIX)],
}


def campaign(cases: list[OrderCase]) -> dict[str, Any]:
    with fresh_projects(fresh_exchanges(cases), ROOT) as fresh_root:
        return run_no_duplicates(cases, fresh_root=fresh_root)


def merged(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures :func:`run_no_duplicates` gives for all the cases of ``parts`` (campaigns
    of disjoint brokers), ``seconds`` summed."""
    per_broker = {name: f for part in parts for name, f in part["per_broker"].items()}
    brokers = [t.broker for t in ORDER_TARGETS if t.broker in per_broker]
    outcomes = parts[0]["outcomes"]
    return {
        **parts[0],
        "brokers": brokers,
        "per_broker": {name: per_broker[name] for name in brokers},
        "runs": sum(part["runs"] for part in parts),
        "outcomes": {key: sum(part["outcomes"][key] for part in parts) for key in outcomes},
        "orders_duplicated": sum(part["orders_duplicated"] for part in parts),
        "violations": [v for part in parts for v in part["violations"]],
        "results": {k: v for part in parts for k, v in part["results"].items()},
        "seconds": round(sum(part["seconds"] for part in parts), 2),
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The campaign, each part run once for every xdist worker. The workers ask for the parts
    in opposite orders, so two of them run one part each instead of one waiting for both."""
    parts = {
        name: computed_once_per_run(
            tmp_path_factory, f"no-duplicates-{name}", lambda name=name: campaign(PARTS[name])
        )
        for name in in_worker_order(list(PARTS))
    }
    return merged([parts[name] for name in PARTS])


def test_the_campaign_of_its_parts_merged_is_the_campaign_of_the_whole() -> None:
    """What :func:`merged` gives is what one :func:`run_no_duplicates` over the same cases
    gives (results and timings aside, which a real stand-in does not repeat exactly)."""
    cases = [
        OrderCase(broker, "client", fault, 1)
        for broker in ("binance", "spotrest", "gemini")
        for fault in ("http_500", "http_429")
    ]
    parts = [run_no_duplicates(cases[:2]), run_no_duplicates(cases[2:])]
    whole, together = run_no_duplicates(cases), merged(parts)
    assert list(together.pop("results")) == list(whole.pop("results"))
    assert together.pop("seconds") >= 0 and whole.pop("seconds") >= 0
    assert together == whole


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_create_order_under_fault(runs: dict[str, Any], case: OrderCase) -> None:
    result = runs["results"][case.id]
    assert result["outcome"] != "violation", result["detail"]
    assert result["duplicated"] == 0
    assert result["orders_created"] <= 1
    if result["outcome"] == "order":
        assert result["orders_created"] == 1
    if result["outcome"] == "refused":
        assert result["orders_created"] == 0


def test_every_broker_runs_the_whole_matrix(runs: dict[str, Any]) -> None:
    per_resting = len(ORDER_REPEATS) * (len(ORDER_FAULTS) + len(FAULTS))
    per_filled = len(SERVER_AFTER_ACCEPT) + len(AFTER_ACCEPT)
    assert runs["brokers"] == [t.broker for t in ORDER_TARGETS]
    assert set(runs["brokers"]) == {
        "binance",
        "spotrest",
        "gemini",
        "coinbase",
        "binance-fresh",
        "gemini-fresh",
        "coinbase-fresh",
    }
    assert runs["runs"] == len(ORDER_TARGETS) * (per_resting + per_filled)
    for name, figures in runs["per_broker"].items():
        # Every stand-in fault is expressible on every stand-in (one shared server).
        assert figures["faults_not_expressible"] == [], name
        assert figures["runs"] == per_resting + per_filled, name
        assert figures["styles"]["resting"]["runs"] == per_resting, name
        assert sum(figures["outcomes"].values()) == figures["runs"], name
    for key in ("order", "unknown", "refused", "violation"):
        assert runs["outcomes"][key] == sum(f["outcomes"][key] for f in runs["per_broker"].values())
    assert runs["orders_duplicated"] == sum(
        f["orders_duplicated"] for f in runs["per_broker"].values()
    )


def test_no_resting_order_is_ever_duplicated(runs: dict[str, Any]) -> None:
    resting = [r for r in runs["results"].values() if r["case"]["style"] == "resting"]
    assert [r["case"] for r in resting if r["duplicated"] or r["outcome"] == "violation"] == []
    for figures in runs["per_broker"].values():
        assert figures["styles"]["resting"]["orders_duplicated"] == 0
    # A fault once or twice in a row is survived by a broker that can look orders up: the
    # caller gets its order. (A real socket timeout on a loaded machine may add one more
    # timeout: those may end unknown.) One that cannot never re-sends: it reports unknown.
    blind = {n for n, f in runs["per_broker"].items() if f["lookup"].startswith("none")}
    assert blind == {"gemini-fresh"}
    survived = [
        r
        for r in resting
        if r["case"]["times"] is not None
        and r["case"]["broker"] not in blind
        and not (r["case"]["side"] == "server" and r["case"]["fault"].startswith("timeout"))
    ]
    assert {r["outcome"] for r in survived} == {"order"}
    for r in resting:
        if r["case"]["broker"] in blind and r["case"]["fault"] not in (
            "http_429",
            "http_429_no_retry_after",
        ):
            assert r["outcome"] == "unknown", r["case"]


def test_no_order_is_ever_duplicated(runs: dict[str, Any]) -> None:
    assert runs["orders_duplicated"] == 0
    assert runs["violations"] == []


def test_timeouts_are_short() -> None:
    assert STANDIN_TIMEOUT_MS / 1000 < STANDIN_FAULT_DELAY <= 2.0


def test_cases_of_fresh_brokers_need_the_project_they_were_generated_in() -> None:
    with pytest.raises(ValueError, match="binance fresh brokers need the project"):
        run_no_duplicates([OrderCase("binance-fresh", "client", "http_500", 1)])
