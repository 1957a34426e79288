"""A contract scenario from imported ccxt cases: which recorded case answers which contract call.

ccxt's recorded responses are independent cases (a ticker here, an order there), not one
session, so each contract call takes the first case of its ccxt method and replays that case's
cassette with that case's arguments (and the ccxt ``options`` and clock it was recorded with).
Calls without a case are left out; the contract then skips them and says they were not in
ccxt's data.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from scaffolder.fs import write_text_atomic

#: How many of ccxt's positional arguments each call takes (the rest are ccxt ``params``).
_ARITY = {
    "get_balance": 0, "get_positions": 0, "get_ticker": 1, "get_ohlcv": 4, "create_order": 5,
    "get_order": 2, "cancel_order": 2, "get_open_orders": 3,
}  # fmt: skip


def _kwargs(call: str, args: list[Any]) -> dict[str, Any] | None:
    """Our method's keyword arguments for a ccxt case's positional input, or None if unusable:
    ccxt ``params`` (extra arguments past ours) would change the request, and the broker
    refuses a non-positive amount before sending anything."""
    if len(args) > _ARITY.get(call, 0) and any(a not in (None, {}) for a in args[_ARITY[call] :]):
        return None
    args = list(args) + [None] * 6
    if call == "get_ticker":
        return {"symbol": args[0]}
    if call == "get_ohlcv":
        kwargs: dict[str, Any] = {"symbol": args[0], "timeframe": args[1] or "1m"}
        if args[3] is not None:
            kwargs["limit"] = args[3]
        if args[2] is not None:
            kwargs["since"] = args[2]
        return kwargs
    if call == "create_order":
        if (args[4] is None and args[1] == "limit") or not (args[3] or 0) > 0:
            return None
        kwargs = {"symbol": args[0], "order_type": args[1], "side": args[2], "amount": args[3]}
        if args[4] is not None:
            kwargs["price"] = args[4]
        return kwargs
    if call in ("get_order", "cancel_order"):
        return {"order_id": args[0], "symbol": args[1]}
    if call == "get_open_orders":
        return {"symbol": args[0]} if args[0] else {}
    return {}


def _answers_the_call(exchange_id: str, call: str, kwargs: dict[str, Any], parsed: Any) -> bool:
    """Whether ccxt's recorded answer is one the contract can hold our call to: an order
    looked up by id that names another order, a cancel answered "still open" (accepted, not
    done), or one naming no side on an exchange where it cannot be looked up, is not."""
    if not isinstance(parsed, dict):
        return True
    if call == "get_order" and parsed.get("id") not in (None, str(kwargs.get("order_id"))):
        return False
    if call == "cancel_order":
        if parsed.get("status") not in (None, "", "canceled", "cancelled"):
            return False
        if not parsed.get("side"):
            import ccxt

            exchange = getattr(ccxt, exchange_id, None)
            return bool(exchange and exchange().has.get("fetchOrder"))
    return True


CALLS = (
    ("get_balance", "fetchBalance"),
    ("get_positions", "fetchBalance"),
    ("get_ticker", "fetchTicker"),
    ("get_ohlcv", "fetchOHLCV"),
    ("create_order", "createOrder"),
    ("get_order", "fetchOrder"),
    ("get_open_orders", "fetchOpenOrders"),
    ("cancel_order", "cancelOrder"),
)


def scenario_from_import(broker: str, out_dir: Path) -> dict[str, Any]:
    """Write ``contract.json`` and one ``<call>.yaml`` per usable case into ``out_dir``."""
    index = json.loads((out_dir / "ccxt" / "cases.json").read_text(encoding="utf-8"))
    cases, exchange_id = index["cases"], index.get("exchange", broker)
    scenario: dict[str, Any] = {"broker": broker, "source": "ccxt-static", "calls": {}}
    for call, method in CALLS:
        for case in (c for c in cases if c["method"] == method):
            kwargs = _kwargs(call, case.get("input") or [])
            if kwargs is None or (method == "fetchBalance" and case.get("input")):
                continue
            if not _answers_the_call(exchange_id, call, kwargs, case.get("parsedResponse")):
                continue
            shutil.copyfile(out_dir / "ccxt" / case["cassette"], out_dir / f"{call}.yaml")
            scenario["calls"][call] = {"kwargs": kwargs, "case": case["cassette"]}
            if case.get("clock"):  # the time ccxt saw at import, set again for the replay
                scenario["calls"][call]["clock"] = case["clock"]
            if case.get("options"):  # the contract sets them on the exchange for this call
                scenario["calls"][call]["options"] = case["options"]
            if case.get("parsedResponse") is not None:  # the contract compares our answer
                scenario["calls"][call]["parsed"] = case["parsedResponse"]
                scenario["calls"][call]["skipKeys"] = case.get("skipKeys") or []
            break
    for call, _ in CALLS:
        if call not in scenario["calls"]:
            (out_dir / f"{call}.yaml").unlink(missing_ok=True)
    symbols = [
        c["kwargs"]["symbol"] for c in scenario["calls"].values() if c["kwargs"].get("symbol")
    ]
    scenario["symbol"] = symbols[0] if symbols else None
    write_text_atomic(out_dir / "contract.json", json.dumps(scenario, indent=2) + "\n")
    origin = out_dir / "ccxt" / "provenance.json"
    if origin.is_file():  # the scenario's traffic is the imported cases'
        write_text_atomic(out_dir / "provenance.json", origin.read_text(encoding="utf-8"))
    return scenario
