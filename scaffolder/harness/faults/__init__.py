"""Fault injection for broker tests, and the two reliability runs built on it.

- :mod:`.mechanism`: :func:`inject_faults`, :class:`Fault`, :class:`FaultInjector`, the
  transport adapter and the pytest fixtures (``-p scaffolder.harness.faults``). A user's own
  tests need only this, and importing this package imports only this.
- :mod:`.matrix`: the replay fault matrix (:func:`run_matrix`): every committed broker x every
  contract call x every fault, replayed from cassettes and judged.
- :mod:`.campaign` (on :mod:`.targets`): ``create_order`` under the stand-ins' faults, counting
  the orders the exchange holds (:func:`run_no_duplicates`).

The names of the matrix and the campaign are importable from here too; they are loaded on
first use (a module ``__getattr__``), so a test that injects faults never imports them.
"""

from __future__ import annotations

import importlib
from typing import Any

from scaffolder.harness.faults.mechanism import (
    AFTER_ACCEPT,
    FAULTS,
    Exchange,
    Fault,
    FaultInjector,
    Plan,
    PlanItem,
    as_plan,
    faults,
    inject_faults,
    inject_faults_fixture,
    installer,
    marked_plan,
    pytest_configure,
    session_of,
)

#: Names loaded on first use, by the module that defines them.
_LAZY: dict[str, str] = {
    **dict.fromkeys(
        (
            "EXPECTED_ERROR",
            "MATRIX_CLIENT_ORDER_ID",
            "MODES",
            "REFUSED_BEFORE_EXECUTION",
            "CaseResult",
            "MatrixCase",
            "ReplayRun",
            "committed_brokers",
            "matrix_calls",
            "matrix_cases",
            "replay_call",
            "replay_vcr",
            "run_case",
            "run_matrix",
        ),
        "matrix",
    ),
    **dict.fromkeys(
        (
            "FRESH_TARGETS",
            "ORDER_FAULTS",
            "ORDER_KINDS",
            "ORDER_REPEATS",
            "ORDER_SIDES",
            "ORDER_STYLES",
            "ORDER_TARGETS",
            "SERVER_AFTER_ACCEPT",
            "STANDIN_FAULT_DELAY",
            "STANDIN_KEY",
            "STANDIN_SECRET",
            "STANDIN_TIMEOUT_MS",
            "TABLE",
            "TABLE_PATH",
            "TARGETS_BY_NAME",
            "OrderCase",
            "OrderTarget",
            "committed_standin_broker",
            "fresh_exchanges",
            "order_broker",
            "order_cases",
            "order_standin",
            "project_root",
            "standin_broker",
            "standin_credentials",
        ),
        "targets",
    ),
    **dict.fromkeys(
        (
            "AMOUNT",
            "RESTING_PRICE",
            "SYMBOL",
            "OrderResult",
            "marketable_price",
            "run_no_duplicates",
            "run_order_case",
            "unexpressible_faults",
        ),
        "campaign",
    ),
}

__all__ = [
    "AFTER_ACCEPT",
    "FAULTS",
    "Exchange",
    "Fault",
    "FaultInjector",
    "Plan",
    "PlanItem",
    "as_plan",
    "faults",
    "inject_faults",
    "inject_faults_fixture",
    "installer",
    "marked_plan",
    "pytest_configure",
    "session_of",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
