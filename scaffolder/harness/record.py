"""``scaffolder record NAME``: run the contract against the exchange's testnet and keep the traffic.

Credentials come from the environment (a missing one is named). Anything but the testnet is
refused unless ``allow_mainnet``. Only safe orders are placed: one limit buy far below the
market, cancelled at once. Cassettes, the scenario and the markets snapshot are written to a
scratch directory and audited; :mod:`scaffolder.harness.rerecord` prints their drift, replays
the contract on them and only then moves them into ``cassettes/<name>/`` together (a failed
replay or an interrupted run leaves the committed cassettes untouched and keeps the new ones).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import vcr as vcrpy

from brokers.config import load_config
from brokers.errors import (
    BadResponseError,
    BrokerConnectionError,
    BrokerError,
    OrderNotFoundError,
)
from brokers.registry import broker_class
from brokers.retry import new_client_order_id
from scaffolder.errors import ScaffolderError, UsageError
from scaffolder.fs import write_text_atomic
from scaffolder.harness import provenance, rerecord
from scaffolder.harness.audit import audit
from scaffolder.harness.record_target import (
    markets_snapshot,
    move_url,
    redirect,
    redirect_exchange,
    safe_limit,
    timeframe,
)
from scaffolder.harness.session import harness_vcr_config, register_matchers

__all__ = [
    "RecordReport",
    "check_via",
    "move_url",
    "record",
    "redirect_exchange",
    "replay_contract",
]

UNKNOWN_ORDER_ID = "999999999"
Progress = Callable[[str], None]


@dataclass
class RecordReport:
    """What a recording produced."""

    name: str
    calls: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    replay_exit_code: int | None = None


def check_via(via: str) -> str:
    """``via`` if it is an http(s) URL with a host (an optional path prefix); else UsageError.

    Nothing is silently changed: an empty value, a missing scheme, a query or a fragment are
    refused rather than ignored.
    """
    example = "like http://127.0.0.1:8765 (a path prefix is kept: http://proxy:8080/binance)"
    try:
        parts = urlsplit(via)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.query
        or parts.fragment
        or via != via.strip()
    ):
        raise UsageError(f"--via {via!r} is not an http(s) URL {example}")
    return via


def record(
    name: str,
    root: Path,
    *,
    allow_mainnet: bool = False,
    via: str | None = None,
    env: Mapping[str, str] | None = None,
    progress: Progress = lambda message: None,
    replay: bool = True,
    only: list[str] | None = None,
) -> RecordReport:
    """Record ``name``'s contract traffic (see the module docstring); with ``only``, only
    those calls' cassettes are replaced (the session is recorded whole, as the calls depend
    on each other)."""
    env = os.environ if env is None else env
    only = rerecord.check_only(only)
    if via is not None:
        check_via(via)
    config_path = root / "config" / "brokers" / f"{name}.json"
    if not config_path.exists():
        raise UsageError(
            f"no config for {name!r} at {config_path}; generate it with `scaffolder new {name}`"
        )
    config = load_config(config_path, env=env)
    if not config.settings.testnet and not allow_mainnet:
        raise UsageError(
            f"{name}'s config trades on the live exchange (settings.testnet is false); recording "
            "places and cancels a real order: pass --allow-mainnet if you really mean it"
        )
    klass = broker_class(name)
    broker: Any = klass(config)
    if not allow_mainnet:
        _refuse_off_testnet(name, broker, via)
    aliases = redirect(broker, via) if via else {}
    progress(f"connecting to {name} and loading its markets" + (f" via {via}" if via else ""))
    broker.connect()
    pairs = list(config.supported_pairs)
    symbol = pairs[0]
    secrets = list(config.credentials.values())
    vcr_config = harness_vcr_config(name, secrets=secrets, url_aliases=aliases)
    recorder = vcrpy.VCR(record_mode="all")
    register_matchers(recorder)
    report = RecordReport(name)
    with rerecord.scratch(root, name, progress) as scratch:
        scenario: dict[str, Any] = {
            "broker": name,
            "symbol": symbol,
            "source": "recorded",
            "calls": {},
        }

        def run(
            call: str,
            method: str,
            kwargs: dict[str, Any],
            *,
            expect: type[BrokerError] | None = None,
        ) -> Any:
            progress(f"recording {call}")
            with recorder.use_cassette(str(scratch / f"{call}.yaml"), **vcr_config):
                try:
                    result = getattr(broker, method)(**kwargs)
                except BrokerError as exc:
                    if expect is None or not answered(exc):
                        raise ScaffolderError(f"{call} failed while recording: {exc}") from exc
                    if not isinstance(exc, expect):
                        progress(
                            f"{call}: {name} answered, but the broker raised "
                            f"{type(exc).__name__}, not {expect.__name__}; recorded as it "
                            "is, the contract's test of it will fail until the broker maps it"
                        )
                    result = None
            scenario["calls"][call] = {"kwargs": kwargs}
            report.calls.append(call)
            return result

        open_order: dict[str, Any] | None = None
        try:
            for call, method, needed, kwargs in (
                ("get_balance", "get_balance", "fetchBalance", {}),
                ("get_ticker", "get_ticker", "fetchTicker", {"symbol": symbol}),
                (
                    "get_ohlcv",
                    "get_ohlcv",
                    "fetchOHLCV",
                    {"symbol": symbol, "timeframe": timeframe(broker), "limit": 5},
                ),
            ):
                if broker.has(needed):
                    result = run(call, method, kwargs)
                    if call == "get_ticker":
                        last = result["last"]
            if broker.has("createOrder"):
                price, amount = safe_limit(broker, symbol, last)
                order = run(
                    "create_order",
                    "create_order",
                    {
                        "symbol": symbol,
                        "order_type": "limit",
                        "side": "buy",
                        "amount": amount,
                        "price": price,
                        "client_order_id": new_client_order_id("rec"),
                    },
                )
                order_ref = {"order_id": order["id"], "symbol": symbol}
                open_order = order_ref
                if broker.has("fetchOrder"):
                    run("get_order", "get_order", order_ref)
                if broker.has("fetchOpenOrders"):
                    run("get_open_orders", "get_open_orders", {"symbol": symbol})
                if broker.has("cancelOrder"):
                    run("cancel_order", "cancel_order", order_ref)
                    open_order = None
            run("get_positions", "get_positions", {})
            unknown = {"order_id": UNKNOWN_ORDER_ID, "symbol": symbol}
            if broker.has("fetchOrder"):
                run("get_order_unknown", "get_order", unknown, expect=OrderNotFoundError)
            if broker.has("cancelOrder"):
                run("cancel_order_unknown", "cancel_order", unknown, expect=OrderNotFoundError)
            markets = markets_snapshot(broker, pairs)
        except BaseException:
            if open_order is not None:
                _cancel_quietly(broker, open_order, progress)
            raise
        finally:
            broker.disconnect()
        write_text_atomic(
            scratch / "markets.json", json.dumps(markets, indent=1, sort_keys=True) + "\n"
        )
        write_text_atomic(scratch / "contract.json", json.dumps(scenario, indent=2) + "\n")
        testnet = config.settings.testnet
        provenance.write(scratch, provenance.for_recording(scratch, testnet=testnet, via=via))
        progress("auditing the cassettes for secrets")
        _, findings = audit([scratch], root, env={**env}, broker=name)
        if findings:
            raise ScaffolderError(
                "the recording was not written: the audit found secrets:\n"
                + "\n".join(str(f) for f in findings)
            )
        report.files, report.replay_exit_code = rerecord.install(
            root, name, scratch, progress=progress, replay=replay, only=only
        )
    from scaffolder.answers import note_cassettes

    note_cassettes(root, name)  # from now on, missing cassettes fail its tests
    progress(f"wrote {len(report.files)} files to cassettes/{name}/")
    return report


def _refuse_off_testnet(name: str, broker: Any, via: str | None) -> None:
    """Refuse when the URLs the recording would use (overrides and ``via`` applied) are not
    the exchange's testnet: ``settings.testnet`` alone does not prove where orders go."""
    from scaffolder import testnet_guard

    stray, hosts = testnet_guard.stray_urls(broker, via)
    if stray:
        raise UsageError(
            testnet_guard.describe(name, stray, hosts)
            + "; recording places and cancels a real order: pass --allow-mainnet if you "
            "really mean it"
        )


def answered(exc: BrokerError) -> bool:
    """Whether the exchange answered (with an error) rather than the request failing on the
    way: a timeout, a dropped connection, an outage or a garbled answer records nothing
    worth replaying."""
    return not isinstance(exc, (BrokerConnectionError, BadResponseError))


def _cancel_quietly(broker: Any, order_ref: dict[str, Any], progress: Progress) -> None:
    """Cancel the recording's order after a failure (not recorded); say so if that fails too."""
    try:
        broker.cancel_order(**order_ref)
        progress(f"cancelled order {order_ref['order_id']} after the failure")
    except BrokerError as exc:
        progress(f"could NOT cancel order {order_ref['order_id']} ({exc}); cancel it by hand")


def replay_contract(root: Path, name: str) -> int:
    """Run the broker's generated tests offline (network blocked); returns pytest's exit code."""
    root = root.resolve()  # the test path must not be relative to ``cwd=root`` as well
    test_file = root / "tests" / "brokers" / f"test_{name}.py"
    return subprocess.call(
        [
            sys.executable,
            "-m",
            "pytest",
            str(test_file),
            "-q",
            "-p",
            "no:cacheprovider",
            "--block-network",
        ],
        cwd=root,
    )
