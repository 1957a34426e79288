"""How an exchange's answers changed between two recordings of a broker's contract (API drift).

Per contract call: the status codes, the JSON keys added, removed or of another type in the
answers (values are never compared: prices, ids and timestamps differ in every recording), and
whether *our* parsed result changed: both recordings are replayed through the broker, offline,
and its return values (the shapes of ``brokers/shapes.py``) compared by structure, by the type
of every field (a number that became ``None`` is a change) and by the value of the fields
that mean something (symbol, side, type, status); numbers, ids and timestamps are ignorable.
An API change that the parsing absorbs is reported but does not count; one that reaches the
parsed result does (``scaffolder cassettes diff`` exits 1), so a scheduled job can flag drift.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from scaffolder.errors import UsageError
from scaffolder.fs import load_yaml

#: Parsed fields whose values vary between recordings and never count as drift.
IGNORED_VALUES = frozenset({"id", "client_order_id", "timestamp", "datetime"})
#: Calls whose result maps data (currency codes) to entries: the keys are not structure.
MAPPING_CALLS = frozenset({"get_balance"})
Kinds = dict[str, set[str]]


@dataclass
class ExchangeChange:
    """How the answers of one HTTP request of a call changed."""

    request: str
    status: tuple[int | None, int | None]
    added: dict[str, str] = field(default_factory=dict)
    removed: dict[str, str] = field(default_factory=dict)
    changed_type: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return (
            self.status[0] != self.status[1]
            or bool(self.added)
            or bool(self.removed)
            or bool(self.changed_type)
        )


@dataclass
class CallDrift:
    """One contract call: what the exchange answered differently and whether our result did."""

    call: str
    exchange: list[ExchangeChange] = field(default_factory=list)
    parsed: list[str] = field(default_factory=list)

    @property
    def exchange_changed(self) -> bool:
        return any(change.changed for change in self.exchange)

    @property
    def parsed_changed(self) -> bool:
        return bool(self.parsed)


@dataclass
class DriftReport:
    """The drift of every contract call between recording ``old`` and recording ``new``."""

    name: str
    old: str
    new: str
    calls: list[CallDrift] = field(default_factory=list)

    @property
    def parsed_changed(self) -> list[str]:
        return [c.call for c in self.calls if c.parsed_changed]

    @property
    def exit_code(self) -> int:
        return 1 if self.parsed_changed else 0

    def as_dict(self) -> dict[str, Any]:
        calls = []
        for call in self.calls:
            entry = asdict(call)
            entry.update(exchange_changed=call.exchange_changed, parsed_changed=call.parsed_changed)
            entry["exchange"] = [
                {**asdict(c), "changed": c.changed} for c in call.exchange if c.changed
            ]
            calls.append(entry)
        return {
            "broker": self.name,
            "old": self.old,
            "new": self.new,
            "parsed_changed": self.parsed_changed,
            "calls": calls,
        }

    def text(self) -> str:
        lines = [f"drift of {self.name}: {self.old} -> {self.new}"]
        for call in self.calls:
            if not call.exchange_changed and not call.parsed_changed:
                lines.append(f"{call.call}: unchanged")
                continue
            what = "parsed result CHANGED" if call.parsed_changed else "parsed result unchanged"
            lines.append(f"{call.call}: exchange answer changed, {what}")
            for change in (c for c in call.exchange if c.changed):
                old, new = change.status
                lines.append(f"  {change.request}: status {old} -> {new}")
                lines += [f"    added    {p} ({k})" for p, k in change.added.items()]
                lines += [f"    removed  {p} ({k})" for p, k in change.removed.items()]
                lines += [
                    f"    type     {p}: {a} -> {b}" for p, (a, b) in change.changed_type.items()
                ]
            lines += [f"  parsed: {line}" for line in call.parsed]
        changed = self.parsed_changed
        lines.append(
            f"{len(changed)} call(s) with a changed parsed result: {', '.join(changed)}"
            if changed
            else "no parsed result changed (only ignorable fields, if anything, differ)"
        )
        return "\n".join(lines)


# -- structure of JSON values ----------------------------------------------------------------


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    return "object" if isinstance(value, dict) else type(value).__name__


def structure(value: Any, *, mapping: bool = False) -> tuple[Kinds, set[str]]:
    """``path -> kinds`` of every value (``$.a[].b``), and the paths of empty lists (whose
    items cannot be compared). With ``mapping`` the top-level keys are data (``$.*``)."""
    kinds: Kinds = {}
    empty: set[str] = set()

    def walk(item: Any, path: str, collapse: bool = False) -> None:
        kinds.setdefault(path, set()).add(_kind(item))
        if isinstance(item, dict):
            for key, child in item.items():
                walk(child, f"{path}.{'*' if collapse else key}")
        elif isinstance(item, list):
            if not item:
                empty.add(path)
            for child in item:
                walk(child, f"{path}[]")

    walk(value, "$", mapping)
    return kinds, empty


def _under(path: str, lists: set[str]) -> bool:
    return any(path.startswith(f"{prefix}[]") for prefix in lists)


def compare_structure(
    old: Any, new: Any, *, mapping: bool = False
) -> tuple[dict[str, str], dict[str, str], dict[str, tuple[str, str]]]:
    """Paths added, removed and of another type from ``old`` to ``new``."""
    (a, a_empty), (b, b_empty) = structure(old, mapping=mapping), structure(new, mapping=mapping)
    unknown = a_empty | b_empty
    show = lambda kinds: "|".join(sorted(kinds))  # noqa: E731
    added = {p: show(k) for p, k in b.items() if p not in a and not _under(p, unknown)}
    removed = {p: show(k) for p, k in a.items() if p not in b and not _under(p, unknown)}
    changed = {
        p: (show(a[p]), show(b[p]))
        for p in a.keys() & b.keys()
        if a[p] != b[p] and not _under(p, unknown)
    }
    return added, removed, dict(sorted(changed.items()))


def meaningful_values(value: Any, path: str = "$", key: str = "") -> Iterator[tuple[str, str]]:
    """``(path, value)`` of the parsed strings and booleans that are not ignorable."""
    if isinstance(value, dict):
        for child_key, child in value.items():
            yield from meaningful_values(child, f"{path}.{child_key}", child_key)
    elif isinstance(value, list):
        for child in value:
            yield from meaningful_values(child, f"{path}[]", key)
    elif isinstance(value, (str, bool)) and key not in IGNORED_VALUES:
        yield path, json.dumps(value)


# -- recordings ------------------------------------------------------------------------------


def _body(response: dict[str, Any]) -> Any:
    text = (response.get("body") or {}).get("string") or ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except ValueError:
        return text or None  # not JSON: compared as a string


def _interactions(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    try:
        document = load_yaml(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: cannot be read as a cassette ({exc})") from exc
    return list(document.get("interactions") or [])


def _label(interaction: dict[str, Any] | None) -> str:
    if interaction is None:
        return "(no request)"
    request = interaction["request"]
    return f"{request['method']} {urlsplit(request['uri']).path}"


def exchange_changes(old: Path, new: Path) -> list[ExchangeChange]:
    """Per HTTP request of one call's cassette (paired in order): status and key changes."""
    a, b = _interactions(old), _interactions(new)
    changes = []
    for index in range(max(len(a), len(b))):
        one = a[index] if index < len(a) else None
        other = b[index] if index < len(b) else None
        status = tuple(
            (i["response"]["status"]["code"] if i is not None else None) for i in (one, other)
        )
        change = ExchangeChange(_label(other or one), status)  # type: ignore[arg-type]
        if one is not None and other is not None:
            change.added, change.removed, change.changed_type = compare_structure(
                _body(one["response"]), _body(other["response"])
            )
            if _label(one) != _label(other):
                change.request = f"{_label(one)} -> {_label(other)}"
        changes.append(change)
    return changes


def load_recording(directory: Path) -> dict[str, Any]:
    """A recording's scenario (``contract.json``); a usage error when there is none."""
    scenario = directory / "contract.json"
    if not scenario.is_file():
        raise UsageError(f"{directory}: no contract.json, so no recording to compare")
    try:
        loaded: dict[str, Any] = json.loads(scenario.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise UsageError(f"{scenario}: not JSON ({exc})") from exc
    return loaded


# -- replaying a recording through the broker -------------------------------------------------


def replay_results(root: Path, name: str, directory: Path) -> dict[str, Any]:
    """Each recorded call replayed through the broker: its result, or ``{"error": class}``."""
    import vcr as vcrpy

    from brokers.registry import broker_class
    from scaffolder.harness.session import harness_vcr_config, register_matchers, replay_config

    scenario = load_recording(directory)
    testnet = False if scenario.get("source") == "ccxt-static" else None
    klass = broker_class(name)
    kwargs: dict[str, Any] = {"sleep": lambda seconds: None}
    markets = directory / "markets.json"
    if markets.exists() and "markets" in inspect.signature(klass.__init__).parameters:
        kwargs["markets"] = json.loads(markets.read_text(encoding="utf-8"))
    broker: Any = klass(replay_config(root, name, testnet=testnet), **kwargs)
    recorder = vcrpy.VCR(record_mode="none")
    register_matchers(recorder)
    config = harness_vcr_config(name)
    results: dict[str, Any] = {}
    broker.connect()
    try:
        for call, spec in scenario.get("calls", {}).items():
            cassette = directory / f"{call}.yaml"
            if not cassette.exists():
                continue
            with recorder.use_cassette(str(cassette), **config):
                try:
                    result = getattr(broker, call.removesuffix("_unknown"))(
                        **spec.get("kwargs", {})
                    )
                    results[call] = json.loads(json.dumps(result, default=str))
                except Exception as exc:  # the outcome to compare, whatever it is
                    results[call] = {"error": type(exc).__name__}
    finally:
        broker.disconnect()
    return results


def parsed_changes(call: str, old: Any, new: Any) -> list[str]:
    """How our parsed result of ``call`` changed, one line a difference (empty: unchanged)."""
    if isinstance(old, dict) and isinstance(new, dict) and ("error" in old or "error" in new):
        if old.get("error") != new.get("error"):
            return [f"outcome {old.get('error', 'a result')} -> {new.get('error', 'a result')}"]
        if "error" in old:
            return []
    added, removed, changed = compare_structure(old, new, mapping=call in MAPPING_CALLS)
    lines = [f"added {p} ({k})" for p, k in added.items()]
    lines += [f"removed {p} ({k})" for p, k in removed.items()]
    lines += [f"{p}: {a} -> {b}" for p, (a, b) in changed.items()]
    before, after = dict(meaningful_values(old)), dict(meaningful_values(new))
    lines += [
        f"{p}: {before[p]} -> {after[p]}"
        for p in sorted(before.keys() & after.keys())
        if before[p] != after[p]
    ]
    return lines


def shown(path: Path, root: Path) -> str:
    """``path`` relative to the project when it is inside it (as messages show paths)."""
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def drift(root: Path, name: str, old: Path, new: Path) -> DriftReport:
    """The drift report of broker ``name`` from recording ``old`` to recording ``new``."""
    old_calls = load_recording(old).get("calls", {})
    new_calls = load_recording(new).get("calls", {})
    old_results = replay_results(root, name, old)
    new_results = replay_results(root, name, new)
    report = DriftReport(name, shown(old, root), shown(new, root))
    for call in dict.fromkeys([*old_calls, *new_calls]):
        entry = CallDrift(call)
        if call not in old_calls or call not in new_calls:
            entry.parsed.append(
                "recorded only in the " + ("new" if call in new_calls else "old") + " recording"
            )
        else:
            entry.exchange = exchange_changes(old / f"{call}.yaml", new / f"{call}.yaml")
            entry.parsed = parsed_changes(call, old_results.get(call), new_results.get(call))
        report.calls.append(entry)
    return report
