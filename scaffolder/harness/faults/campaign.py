"""The no-duplicates campaign: ``create_order`` under every fault, counting the orders placed.

Each case (:mod:`.targets`) starts its exchange's stand-in, builds the broker on it and places
one limit order while the stand-in (real timeouts and resets on the socket) or the client-side
injector fails the order endpoint and its look-ups; the stand-in then says how many orders it
holds. :func:`run_no_duplicates` runs every case and returns the figures the README quotes
(through ``scripts/reliability.py``): orders duplicated must be 0.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import fnmatch
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from brokers.base import BaseBroker
from brokers.errors import BrokerError
from brokers.retry import OrderStateUnknownError
from scaffolder.harness.faults.mechanism import FAULTS, Fault, inject_faults
from scaffolder.harness.faults.targets import (
    ORDER_FAULTS,
    ORDER_REPEATS,
    ORDER_SIDES,
    ORDER_STYLES,
    ORDER_TARGETS,
    STANDIN_FAULT_DELAY,
    TARGETS_BY_NAME,
    OrderCase,
    fresh_exchanges,
    order_broker,
    order_cases,
    order_standin,
)
from scaffolder.harness.fresh import FRESH_SUFFIX, exchange_of, fresh_broker_class


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
    cases: Sequence[OrderCase] | None = None,
    *,
    workers: int = 16,
    root: Path | None = None,
    fresh_root: Path | None = None,
) -> dict[str, Any]:
    """Run ``create_order`` under every fault (the stand-in's and the client-side injector's),
    once, twice in a row and always, for every broker of :data:`ORDER_TARGETS` against its
    exchange's stand-in; count the orders duplicated (must be 0), per broker and in total.

    ``fresh_root`` is the project the fresh brokers were generated in (needed when ``cases``
    hold any: ``scaffolder.fresh_project.fresh_projects(fresh_exchanges(cases), root)``).
    """
    started = time.perf_counter()
    selected = list(cases) if cases is not None else order_cases()
    brokers = [t.broker for t in ORDER_TARGETS if any(c.broker == t.broker for c in selected)]
    if fresh_root is None and fresh_exchanges(selected):
        raise ValueError(
            f"the cases of {', '.join(fresh_exchanges(selected))} fresh brokers need the "
            "project they were generated in (fresh_root)"
        )
    # Each case has its own stand-in and broker; running them side by side overlaps the
    # seconds the timeout faults hold a connection.
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = list(
            pool.map(lambda case: run_order_case(case, root=root, fresh_root=fresh_root), selected)
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
