"""Write a broker's recordings as ccxt static fixtures, to give an exchange's test data back.

ccxt tests every exchange offline against ``ts/src/test/static/{markets,response}/<id>.json``
(the format :mod:`scaffolder.harness.ccxt_import` reads). :func:`export_ccxt` replays each
recorded contract call through the broker with its cassette, watching the ccxt method the
broker calls: the arguments it passed become the case's ``input``, what ccxt returned its
``parsedResponse``, the recorded answers its ``httpResponse`` (``httpResponseByUrl`` when the
call made several requests). The markets snapshot becomes the markets file. Error answers
(the unknown-order calls) have no place in ccxt's response tests and are left out, as is
``get_positions`` (the same ``fetchBalance`` as ``get_balance``).
"""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scaffolder.errors import UsageError
from scaffolder.fs import load_yaml, write_text_atomic

#: Contract call -> the ccxt method (python name, unified name) the broker calls for it.
EXPORTED: dict[str, tuple[str, str]] = {
    "get_balance": ("fetch_balance", "fetchBalance"),
    "get_ticker": ("fetch_ticker", "fetchTicker"),
    "get_ohlcv": ("fetch_ohlcv", "fetchOHLCV"),
    "create_order": ("create_order", "createOrder"),
    "get_order": ("fetch_order", "fetchOrder"),
    "get_open_orders": ("fetch_open_orders", "fetchOpenOrders"),
    "cancel_order": ("cancel_order", "cancelOrder"),
}


@dataclass
class ExportReport:
    """What an export wrote, and the calls it left out with the reason."""

    exchange_id: str
    cases: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)


def _positional(exchange: Any, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list:
    """The call's arguments as ccxt's positional ``input``, trailing defaults dropped."""
    signature = inspect.signature(getattr(type(exchange), method))
    bound = signature.bind(exchange, *args, **kwargs)
    bound.apply_defaults()
    values = list(bound.arguments.values())[1:]
    defaults = [p.default for p in list(signature.parameters.values())[1:]]
    while values and values[-1] in (defaults[len(values) - 1], None, {}):
        values.pop()
    return json.loads(json.dumps(values))


def _answers(cassette: Path) -> list[tuple[str, int, Any]]:
    """``(url, status, body)`` of each recorded interaction; bodies parsed as JSON."""
    document = load_yaml(cassette.read_text(encoding="utf-8")) or {}
    answers = []
    for interaction in document.get("interactions") or []:
        text = (interaction["response"].get("body") or {}).get("string") or ""
        try:
            body = json.loads(text)
        except ValueError:
            body = text
        status = interaction["response"]["status"]["code"]
        answers.append((interaction["request"]["uri"], status, body))
    return answers


def _http_response(answers: list[tuple[str, int, Any]]) -> dict[str, Any] | str:
    """The case's ``httpResponse`` or ``httpResponseByUrl``, or why the call is left out."""
    if any(status >= 400 for _, status, _ in answers):
        return "the exchange answered with an error status"
    bodies = {json.dumps(body, sort_keys=True) for _, _, body in answers}
    if len(bodies) == 1:
        return {"httpResponse": answers[0][2]}
    by_url: dict[str, Any] = {}
    for url, _, body in answers:
        path = urlsplit(url).path
        if path in by_url and by_url[path] != body:
            return f"two requests to {path} were answered differently"
        by_url[path] = body
    return {"httpResponseByUrl": by_url}


def export_ccxt(root: Path, name: str, out: Path, *, force: bool = False) -> ExportReport:
    """Write ``out/markets/<id>.json`` and ``out/response/<id>.json`` from ``cassettes/<name>/``."""
    import vcr as vcrpy

    from brokers.ccxt_broker import CcxtBroker
    from scaffolder.harness.contract import load_scenario
    from scaffolder.harness.session import broker_for_replay, harness_vcr_config, register_matchers

    scenario = load_scenario(root, name)
    if scenario is None:
        raise UsageError(f"no recording of {name}: cassettes/{name}/contract.json is missing")
    testnet = False if scenario.get("source") == "ccxt-static" else None
    broker: Any = broker_for_replay(root, name, testnet=testnet)
    if not isinstance(broker, CcxtBroker):
        raise UsageError(f"{name} is not a ccxt broker: ccxt has no fixtures format for it")
    exchange = broker.exchange
    exchange_id = str(exchange.id)
    targets = [out / "markets" / f"{exchange_id}.json", out / "response" / f"{exchange_id}.json"]
    existing = [str(p) for p in targets if p.exists()]
    if existing and not force:
        raise UsageError(f"{', '.join(existing)} exists: pass --force to replace it")
    recorder = vcrpy.VCR(record_mode="none")
    register_matchers(recorder)
    config = harness_vcr_config(name)
    report = ExportReport(exchange_id)
    methods: dict[str, list[dict[str, Any]]] = {}
    broker.connect()
    try:
        for call, (method, unified) in EXPORTED.items():
            spec = scenario["calls"].get(call)
            cassette = root / "cassettes" / name / f"{call}.yaml"
            if spec is None or not cassette.exists():
                continue
            response = _http_response(_answers(cassette))
            if isinstance(response, str):
                report.skipped[call] = response
                continue
            seen: list[tuple[tuple[Any, ...], dict[str, Any], Any]] = []
            original = getattr(exchange, method)

            def watch(
                *args: Any, _original: Any = original, _seen: list = seen, **kwargs: Any
            ) -> Any:
                result = _original(*args, **kwargs)
                _seen.append((args, kwargs, result))
                return result

            setattr(exchange, method, watch)
            try:
                with recorder.use_cassette(str(cassette), **config):
                    getattr(broker, call)(**spec.get("kwargs", {}))
            except Exception as exc:  # the call does not replay: nothing to give ccxt
                report.skipped[call] = f"does not replay ({type(exc).__name__})"
                continue
            finally:
                delattr(exchange, method)
            if len(seen) != 1:
                report.skipped[call] = f"the broker called {method} {len(seen)} times"
                continue
            args, kwargs, result = seen[0]
            case = {
                "description": f"{call} recorded by scaffolder ({scenario.get('source')})",
                "method": unified,
                "input": _positional(exchange, method, args, kwargs),
                **response,
                "parsedResponse": json.loads(json.dumps(result)),
            }
            methods.setdefault(unified, []).append(case)
            report.cases.append(f"{unified}: {call}")
    finally:
        broker.disconnect()
    if not methods:
        raise UsageError(f"none of {name}'s recorded calls could be exported")
    markets = json.loads((root / "cassettes" / name / "markets.json").read_text(encoding="utf-8"))
    document = {"exchange": exchange_id, "skipKeys": [], "methods": methods}
    for path, value in zip(targets, (markets, document), strict=True):
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, json.dumps(value, indent=2, ensure_ascii=False) + "\n")
    report.files = [str(p) for p in targets]
    return report
