"""``scaffolder smoke NAME``: the manual smoke run, one line per step with its result and time.

connect, balance, ticker, OHLCV, disconnect, against the exchange the config names (testnet
or live, keys from the environment) or ``via`` a proxy or stand-in. Read-only unless
``with_order``: then one limit buy at half the market price, of the smallest amount the market
accepts, is placed and cancelled at once (the caller asks for confirmation first). A failed
step is reported and the run goes on where it can; an order that could not be cancelled is
named so it can be cancelled by hand.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from brokers.config import load_config
from brokers.errors import BrokerError
from brokers.registry import broker_class
from scaffolder.errors import UsageError
from scaffolder.harness.record_target import redirect, safe_limit, timeframe


@dataclass
class Step:
    """One step of the smoke run."""

    step: str
    ok: bool
    ms: float
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.step:<12} {self.ms:8.1f} ms  {self.detail}"


@dataclass
class SmokeReport:
    """Every step, in order."""

    name: str
    target: str
    steps: list[Step] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 0 if all(step.ok for step in self.steps) else 1

    def text(self) -> str:
        lines = [f"smoke run of {self.name} against {self.target}"]
        lines += [step.line() for step in self.steps]
        failed = [s.step for s in self.steps if not s.ok]
        lines.append(f"{len(failed)} step(s) failed: {', '.join(failed)}" if failed else "all ok")
        return "\n".join(lines)

    def as_json(self) -> str:
        steps = [asdict(s) for s in self.steps]
        return json.dumps({"broker": self.name, "target": self.target, "steps": steps}, indent=2)


def _timed(
    report: SmokeReport, step: str, action: Callable[[], Any], describe: Callable[[Any], str]
) -> Any:
    """Run ``action`` as ``step``: its result, or None when it failed (the failure reported)."""
    started = time.perf_counter()
    try:
        result = action()
    except BrokerError as exc:
        elapsed = (time.perf_counter() - started) * 1000
        report.steps.append(Step(step, False, elapsed, f"{type(exc).__name__}: {exc}"))
        return None
    elapsed = (time.perf_counter() - started) * 1000
    report.steps.append(Step(step, True, elapsed, describe(result)))
    return result


def _balance(balance: Mapping[str, Any]) -> str:
    shown = ", ".join(f"{c} {e['total']}" for c, e in list(balance.items())[:4])
    return f"{len(balance)} currencies" + (f": {shown}" if shown else "")


def _order(order: Mapping[str, Any]) -> str:
    return (
        f"{order['type']} {order['side']} {order['amount']} {order['symbol']} @ "
        f"{order['price']}: id {order['id']} ({order['status']})"
    )


def smoke(
    name: str,
    root: Path,
    *,
    via: str | None = None,
    with_order: bool = False,
    env: Mapping[str, str] | None = None,
) -> SmokeReport:
    """Run the smoke steps (see the module docstring)."""
    config_path = root / "config" / "brokers" / f"{name}.json"
    if not config_path.exists():
        raise UsageError(f"no config for {name!r} at {config_path}")
    config = load_config(config_path, env=os.environ if env is None else env)
    broker: Any = broker_class(name)(config)
    if via:
        redirect(broker, via)
    where = "testnet" if config.settings.testnet else "LIVE exchange"
    report = SmokeReport(name, where + (f" via {via}" if via else ""))
    symbol = next(iter(config.supported_pairs))
    markets = lambda _: f"{len(broker.get_supported_symbols())} pairs"  # noqa: E731
    if _timed(report, "connect", lambda: broker.connect() or True, markets) is None:
        return report
    try:
        _timed(report, "balance", broker.get_balance, _balance)
        ticker = _timed(
            report,
            "ticker",
            lambda: broker.get_ticker(symbol),
            lambda t: f"{symbol} last {t['last']} bid {t['bid']} ask {t['ask']}",
        )
        _timed(
            report,
            "ohlcv",
            lambda: broker.get_ohlcv(symbol, timeframe(broker), limit=5),
            lambda rows: f"{len(rows)} candles, last close {rows[-1][4] if rows else None}",
        )
        if with_order and ticker is not None and ticker.get("last"):
            price, amount = safe_limit(broker, symbol, ticker["last"])
            order = _timed(
                report,
                "create_order",
                lambda: broker.create_order(symbol, "limit", "buy", amount, price=price),
                _order,
            )
            if order is not None:
                cancelled = _timed(
                    report,
                    "cancel_order",
                    lambda: broker.cancel_order(order["id"], symbol),
                    lambda o: f"id {o['id']} ({o['status']})",
                )
                if cancelled is None:
                    report.steps[-1].detail += f"; cancel order {order['id']} by hand"
        elif with_order:
            report.steps.append(Step("create_order", False, 0.0, "no market price to place at"))
    finally:
        _timed(report, "disconnect", lambda: broker.disconnect() or True, lambda _: "")
    return report
