"""How a contract test replays one call of the broker's scenario, and says why it could not.

:class:`ScenarioCalls` is the part of :class:`~scaffolder.harness.contract.BrokerContract` that
runs a scenario call (``cassettes/<name>/contract.json``): a method the exchange lacks must be
refused with NotSupportedError before any request; one of ccxt's recorded cases is skipped,
naming what would fill it, where the config cannot replay it; a request no cassette holds fails
the test with the request, the closest recorded one and how they differ.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, ClassVar

import pytest

from brokers.base import BaseBroker
from brokers.errors import NotSupportedError

#: Contract call -> the ccxt unified method it needs.
CCXT_METHOD = {
    "get_balance": "fetchBalance",
    "get_ticker": "fetchTicker",
    "get_ohlcv": "fetchOHLCV",
    "create_order": "createOrder",
    "get_order": "fetchOrder",
    "get_open_orders": "fetchOpenOrders",
    "cancel_order": "cancelOrder",
    "get_positions": "fetchBalance",
    "get_order_unknown": "fetchOrder",
    "cancel_order_unknown": "cancelOrder",
}


def _unmatched_request(exc: BaseException, broker: str) -> str | None:
    """The request no cassette matched and the closest recorded one, if that is the cause."""
    seen: BaseException | None = exc
    while seen is not None and type(seen).__name__ != "CannotOverwriteExistingCassetteException":
        seen = seen.__cause__ or seen.__context__
    if seen is None:
        return None
    from scaffolder.harness.matching import describe, make_matcher
    from scaffolder.harness.signed_requests import scheme_for

    scheme = scheme_for(broker)
    failed = getattr(seen, "failed_request", None)
    cassette = getattr(seen, "cassette", None)
    lines = [f"request:  {describe(failed, scheme)}" if failed is not None else str(seen)]
    recorded = list(getattr(cassette, "requests", []) or [])
    if failed is not None and recorded:
        matcher = make_matcher(broker)
        closest = min(recorded, key=lambda r: _distance(matcher, failed, r))
        lines.append(f"closest:  {describe(closest, scheme)}")
        try:
            matcher(failed, closest)
        except AssertionError as difference:
            lines.append(f"differs:  {difference}")
    elif failed is not None:
        lines.append("closest:  the cassette holds no requests")
    return "\n".join(lines)


def _distance(matcher: Any, a: Any, b: Any) -> int:
    try:
        matcher(a, b)
    except AssertionError as difference:
        text = str(difference)
        return 0 if text.startswith("parameters") else (1 if "!=" in text and "/" in text else 2)
    return 0


class ScenarioCalls:
    """Replaying the scenario's calls of ``broker_name`` (a mixin of BrokerContract)."""

    broker_name: ClassVar[str] = ""

    def call(self, broker: BaseBroker, scenario: dict[str, Any], name: str) -> Any:
        """Run the scenario's call ``name`` on ``broker`` (or check it is refused as unsupported)."""
        method = CCXT_METHOD[name]
        has = getattr(broker, "has", None)
        if has is not None and not has(method):
            with pytest.raises(NotSupportedError):
                getattr(broker, name.replace("_unknown", ""))(
                    **self._refusal_kwargs(broker, scenario, name)
                )
            pytest.skip(
                f"{self.broker_name} lacks {method}: refused with NotSupportedError, as it must be"
            )
        spec = scenario["calls"].get(name)
        if spec is None and scenario.get("source") == "ccxt-static":
            pytest.skip(
                f"ccxt's recorded data for {self.broker_name} has no usable {method} case: record "
                f"it on a testnet with `scaffolder record {self.broker_name}` (cassettes "
                f"{scenario.get('_origin')})"
            )
        if spec is None:
            pytest.fail(
                f"{self.broker_name}'s scenario has no {name!r} call although the exchange has "
                f"{method}: re-record with `scaffolder record {self.broker_name}` (cassettes "
                f"{scenario.get('_origin')})"
            )
        self._prepare_imported_call(broker, name, spec)
        try:
            result = getattr(broker, name.replace("_unknown", ""))(**spec.get("kwargs", {}))
        except Exception as exc:
            unmatched = _unmatched_request(exc, self.broker_name)
            if unmatched is None:
                raise
            if scenario.get("source") == "ccxt-static":
                # ccxt's case is ccxt's own call; this broker asks otherwise (a client order id,
                # a follow-up look-up, a default limit), so the recorded answer does not apply
                pytest.skip(
                    f"{self.broker_name}.{name} asks the exchange otherwise than ccxt's recorded "
                    f"{method} case: record it on a testnet with `scaffolder record "
                    f"{self.broker_name}`\n{unmatched}"
                )
            pytest.fail(
                f"{self.broker_name}.{name} sent a request that cassettes/{self.broker_name}/"
                f"{name}.yaml does not hold.\n{unmatched}\nIf the request changed on purpose, "
                f"re-record: `scaffolder record {self.broker_name}` (testnet keys in the environment)"
                f"\nThe cassettes were {scenario.get('_origin')}.",
                pytrace=False,
            )
        self._check_parsed(name, result, spec)
        return result

    def _refusal_kwargs(
        self, broker: BaseBroker, scenario: dict[str, Any], name: str
    ) -> dict[str, Any]:
        """Arguments for a call the exchange lacks: the scenario's, else plain ones (the call
        must be refused before they matter)."""
        recorded = scenario["calls"].get(name, {}).get("kwargs")
        if recorded is not None:
            return dict(recorded)
        symbol = broker.get_supported_symbols()[0]
        plain: dict[str, dict[str, Any]] = {
            "get_ticker": {"symbol": symbol},
            "get_ohlcv": {"symbol": symbol},
            "create_order": {"symbol": symbol, "order_type": "limit", "side": "buy",
                             "amount": 1, "price": 1},
            "get_order": {"order_id": "1", "symbol": symbol},
            "cancel_order": {"order_id": "1", "symbol": symbol},
            "get_open_orders": {"symbol": symbol},
        }  # fmt: skip
        return plain.get(name.replace("_unknown", ""), {})

    def _use_import_credentials(self, project_root: Path, broker: Any) -> None:
        """Replay ccxt's recorded cases with the canaries they were imported with."""
        from scaffolder.harness.session import with_import_credentials

        index = project_root / "cassettes" / self.broker_name / "ccxt" / "cases.json"
        exchange = getattr(broker, "exchange", None)
        if exchange is not None and getattr(broker, "exchange_id", None):
            with_import_credentials(exchange, broker.exchange_id, index)

    def _skip_unlisted_pairs(self, project_root: Path, broker: BaseBroker) -> None:
        """ccxt's recorded data lists only the markets its cases use: a configured pair beyond
        them cannot be connected offline, so the test skips, naming what would fill it."""
        from scaffolder.harness.session import load_markets

        listed = load_markets(project_root, self.broker_name) or {}
        missing = [p for p in broker.get_supported_symbols() if p not in listed]
        if missing:
            pytest.skip(
                f"ccxt's recorded data for {self.broker_name} has no market {', '.join(missing)}: "
                f"record the pairs on a testnet with `scaffolder record {self.broker_name}`, or "
                f"keep to {', '.join(sorted(listed)) or 'none'} in supported_pairs"
            )

    def _prepare_imported_call(self, broker: BaseBroker, name: str, spec: dict[str, Any]) -> None:
        """Before replaying one of ccxt's recorded cases: skip it, saying why and what fills it,
        where this broker's config cannot replay it; else set the ccxt options it was recorded
        with on the exchange."""
        symbol = spec.get("kwargs", {}).get("symbol")
        fill = f"add it to supported_pairs in config/brokers/{self.broker_name}.json"
        if symbol and symbol not in broker.get_supported_symbols():
            pytest.skip(f"the recorded {name} case trades {symbol}, not a configured pair: {fill}")
        case = str(spec.get("case") or "")
        if name == "get_positions" and case and getattr(broker.config, "futures_enabled", False):
            pytest.skip(
                f"the recorded {name} case is a balance ({case}); with futures_enabled the broker "
                f"asks fetchPositions: record it with `scaffolder record {self.broker_name}`"
            )
        if name == "create_order":
            from scaffolder.harness.session import for_imported_case

            for_imported_case(broker, symbol if case else None)
        options = None
        if case:  # the options it was recorded with: ccxt's offline harness's, then the case's
            from scaffolder.harness.ccxt_offline import harness_options

            options = {**harness_options(), **(spec.get("options") or {})}
        exchange = getattr(broker, "exchange", None)
        if spec.get("clock") and exchange is not None:
            from scaffolder.harness.ccxt_offline import freeze_clock

            freeze_clock(exchange, int(spec["clock"]))
        if options and exchange is not None:
            exchange.extend_exchange_options(
                exchange.deep_extend(exchange.options, copy.deepcopy(options))
            )

    def _check_parsed(self, name: str, result: Any, spec: dict[str, Any]) -> None:
        """Where the call replayed a ccxt case, our answer must equal ccxt's parsed result."""
        if "parsed" not in spec:
            return
        from scaffolder.harness.parsed_check import differences

        found = differences(name, result, spec["parsed"], spec.get("skipKeys", []))
        assert not found, f"{self.broker_name}.{name} differs from ccxt's parsedResponse: " + (
            "; ".join(found[:5])
        )
