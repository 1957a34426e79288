"""Corrupted and truncated cassettes through ``scaffolder cassettes audit`` and through replay.

Every case starts from a committed ``cassettes/binance/*.yaml`` and breaks it: truncated at a
random byte, bits flipped, YAML punctuation sprinkled in, control characters, replaced by
binary or by nothing, a value swapped for one of the wrong YAML type (``interactions: 5``, a
header list instead of a mapping, an integer header name...), nested far too deep, a Python tag.

What must hold:

* ``cassettes audit`` exits 0 or 1 with a summary line, every finding names the file, and a file
  that is not YAML is a finding (exit 1), never a traceback. Crashes inside the audit on
  cassettes of the wrong shape used to crash the audit; a crash is now a failure (the
  ``known_bug`` counter must stay at zero).
* Replayed the way the contract replays (vcrpy, record mode ``none``, the harness's matchers and
  configuration), a corrupted cassette is never rewritten; the broker call itself raises only
  ``BrokerError``s; everything vcrpy or YAML cannot read fails when the cassette is loaded,
  before any request, which is where the harness should name the file (pinned by the strict
  xfail below).
"""

from __future__ import annotations

import copy
import json
import re
import traceback
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import vcr as vcrpy
import yaml
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from brokers.errors import BrokerError, OrderNotFoundError
from scaffolder.cli import main
from scaffolder.harness.audit import read_cassette_yaml
from scaffolder.harness.plugin import pytest_recording_configure
from scaffolder.harness.session import broker_for_replay, harness_vcr_config
from tests.fuzz import ROOT, fuzz_settings, record_stats, write_case

CASSETTES = ROOT / "cassettes" / "binance"
ORIGINALS = {p.name: p.read_bytes() for p in sorted(CASSETTES.glob("*.yaml"))}
SCENARIO = json.loads((CASSETTES / "contract.json").read_text(encoding="utf-8"))
WRONG_TYPES: list[Any] = [
    None,
    5,
    3.5,
    True,
    "abc",
    "http://[::1/x?a=b",
    [],
    [1, "x"],
    {},
    {"a": 1},
]
SUMMARY = re.compile(r"^(\d+) finding\(s\) in 1 file\(s\)$")


@dataclass
class Corrupted:
    name: str
    data: bytes
    labels: list[str]


def yaml_paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += yaml_paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += yaml_paths(child, (*prefix, index))
    return found


PARSED = {name: yaml.safe_load(data) for name, data in ORIGINALS.items()}
PATHS = {name: yaml_paths(document)[1:] for name, document in PARSED.items()}
# Strategies drawn from in every example, built once (a list argument is never cached for
# hypothesis, which validates each new strategy object when it is first drawn from).
ANY_CASSETTE = st.sampled_from(sorted(ORIGINALS))
# deep nesting is rare: pure-Python YAML is quadratic in the nesting depth
CORRUPTIONS = st.sampled_from(
    ["truncate", "flip", "punctuation", "control", "wrong_type"] * 3
    + ["binary", "empty", "header_key", "tag", "deep"]
)
PUNCTUATION = st.sampled_from(list(b":-[]{}!&*|>'\"#%@`\n ,?"))
EMPTY = st.sampled_from([b"", b"\n", b"   \n", b"---\n", b"~\n", b"[]\n", b"{}\n"])
ANY_PATH = {name: st.sampled_from(paths) for name, paths in PATHS.items()}
ANY_WRONG_TYPE = st.sampled_from(WRONG_TYPES)
HEADER_KEYS = st.sampled_from([1, None, True, 2.5])
TAGS = st.sampled_from(["!!python/object/apply:os.system ['true']", "!!binary AAAA"])


@st.composite
def corrupted(draw: st.DrawFn) -> Corrupted:
    name = draw(ANY_CASSETTE)
    data = ORIGINALS[name]
    kind = draw(CORRUPTIONS)
    if kind == "truncate":
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif kind in ("flip", "punctuation", "control"):
        buffer = bytearray(data)
        for _ in range(draw(st.integers(1, 10))):
            index = draw(st.integers(0, len(buffer) - 1))
            if kind == "flip":
                buffer[index] ^= 1 << draw(st.integers(0, 7))
            elif kind == "punctuation":
                buffer[index] = draw(PUNCTUATION)
            else:
                buffer[index] = draw(st.integers(0, 31))
        data = bytes(buffer)
    elif kind == "binary":
        data = draw(st.binary(max_size=400))
    elif kind == "empty":
        data = draw(EMPTY)
    elif kind in ("wrong_type", "header_key"):
        document = copy.deepcopy(PARSED[name])  # yaml.safe_load(data), without parsing again
        if kind == "wrong_type":
            path = draw(ANY_PATH[name])
            value = draw(ANY_WRONG_TYPE)
            target = document
            for part in path[:-1]:
                target = target[part]
            target[path[-1]] = value
        else:
            headers = document["interactions"][0]["request"]["headers"]
            headers[draw(HEADER_KEYS)] = ["x"]
        data = yaml.safe_dump(document).encode()
    elif kind == "deep":
        depth = draw(st.integers(20, 700))
        data = b"interactions: " + b"[" * depth + b"]" * depth + b"\nversion: 1\n"
    elif kind == "tag":
        tag = draw(TAGS)
        data = data.replace(b"version: 1", f"version: {tag}".encode(), 1)
    return Corrupted(name, data, [kind])


def passed_through_audit(exc: BaseException) -> bool:
    frames = traceback.extract_tb(exc.__traceback__)
    return any(f.filename.endswith("scaffolder/harness/audit.py") for f in frames)


def test_audit_of_corrupted_cassettes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no project here: the audit's root is this directory
    outcomes: Counter[str] = Counter()
    known: Counter[str] = Counter()
    target = tmp_path / "cassette.yaml"

    @fuzz_settings(max_examples=1000)
    @given(corrupted())
    def run(case: Corrupted) -> None:
        write_case(target, case.data)
        result = CliRunner().invoke(main, ["cassettes", "audit", str(target)])
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            exc = result.exception
            raise AssertionError(f"traceback {exc!r} for {case.labels}: {case.data[:200]!r}")
        assert result.exit_code in (0, 1), result.output
        *findings, summary = result.output.rstrip("\n").split("\n")
        match = SUMMARY.match(summary)
        assert match, summary
        assert int(match.group(1)) == len(findings)
        assert result.exit_code == (1 if findings else 0)
        for finding in findings:
            assert finding.startswith(f"{target}: "), finding
        try:
            # As vcrpy and the audit read it: libyaml where PyYAML has it, which accepts some
            # tab placements that PyYAML's pure-Python scanner refuses.
            read_cassette_yaml(case.data.decode("utf-8"))
        except (UnicodeDecodeError, yaml.YAMLError):
            assert result.exit_code == 1 and any(
                f.startswith(f"{target}: file: ") for f in findings
            )
        outcomes["finding" if findings else "clean"] += 1

    run()
    record_stats("cassettes.audit", outcomes, known_bug_types=dict(sorted(known.items())))
    # the cases were mutated copies: the parsed originals they start from are still as parsed
    assert {name: yaml.safe_load(data) for name, data in ORIGINALS.items()} == PARSED


@pytest.fixture(scope="module")
def broker():
    broker = broker_for_replay(ROOT, "binance")
    broker.connect()
    yield broker
    broker.disconnect()


def contract_vcr() -> Any:
    """A VCR configured as pytest-recording configures it for the contract (record mode none)."""
    recorder = vcrpy.VCR(record_mode="none")
    pytest_recording_configure(None, recorder)  # type: ignore[arg-type]
    return recorder


def replay(broker: Any, path: Path, call: str) -> tuple[str, BaseException | None]:
    """Replay ``call`` from the cassette at ``path``: (outcome, the exception if any)."""
    spec = SCENARIO["calls"][call]
    context = contract_vcr().use_cassette(str(path), **harness_vcr_config("binance"))
    try:
        context.__enter__()
    except Exception as exc:
        return "load_error", exc
    try:
        getattr(broker, call.replace("_unknown", ""))(**spec["kwargs"])
        return "replayed", None
    except OrderNotFoundError as exc:
        return ("replayed" if call.endswith("_unknown") else "broker_error"), exc
    except BrokerError as exc:
        return "broker_error", exc
    finally:
        context.__exit__(None, None, None)


def messages(exc: BaseException) -> str:
    seen, parts = exc, []
    while seen is not None and len(parts) < 10:
        parts.append(str(seen))
        seen = seen.__cause__ or seen.__context__
    return "\n".join(parts)


def test_replaying_corrupted_cassettes_the_contract_way(tmp_path: Path, broker: Any) -> None:
    outcomes: Counter[str] = Counter()
    load_errors: Counter[str] = Counter()
    naming_the_file = 0

    @fuzz_settings(max_examples=600)
    @given(corrupted())
    def run(case: Corrupted) -> None:
        nonlocal naming_the_file
        path = tmp_path / case.name
        write_case(path, case.data)
        outcome, exc = replay(broker, path, case.name.removesuffix(".yaml"))
        assert path.read_bytes() == case.data, "replay (record mode none) rewrote the cassette"
        outcomes[outcome] += 1
        if outcome == "load_error":
            assert exc is not None
            load_errors[f"{type(exc).__module__}.{type(exc).__name__}"] += 1
            naming_the_file += str(path) in messages(exc)

    run()
    record_stats(
        "cassettes.replay",
        outcomes,
        load_error_types=dict(sorted(load_errors.items())),
        load_errors_naming_the_file=naming_the_file,
    )
    assert outcomes["load_error"] and outcomes["broker_error"]


# -- known gaps, pinned: each turns into a failure (XPASS) once fixed, so the marker goes -------

AUDIT_CRASHERS = {
    "interactions is a string": "interactions: abc\n",
    "an interaction is a string": "interactions: [abc]\n",
    "a request is a string": "interactions: [{request: abc}]\n",
    "headers are a list": "interactions: [{request: {headers: [a, b]}}]\n",
    "a header name is an integer": "interactions: [{request: {headers: {1: x}}}]\n",
    "a malformed IPv6 uri": "interactions: [{request: {uri: 'http://[::1/x?a=b'}}]\n",
    "interactions is null": "interactions: null\n",
    "interactions is a number": "interactions: 5\n",
    "nested 600 deep": "interactions: " + "[" * 600 + "]" * 600 + "\n",
}


@pytest.mark.parametrize("text", AUDIT_CRASHERS.values(), ids=AUDIT_CRASHERS.keys())
def test_audit_reports_a_cassette_of_the_wrong_shape_without_a_traceback(tmp_path, text):
    path = tmp_path / "cassette.yaml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["cassettes", "audit", str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code == 1 and str(path) in result.output


def _truncated() -> bytes:
    data = ORIGINALS["get_balance.yaml"]
    return data[: data.index(b"uri:") + 6]


REPLAY_UNREADABLE = {
    "truncated in a quoted scalar": _truncated(),
    "a control character": ORIGINALS["get_balance.yaml"].replace(b"GET", b"G\x01T", 1),
    "interactions is a number": b"interactions: 5\nversion: 1\n",
    "no interactions key": b"version: 1\n",
    "an unknown request field": ORIGINALS["get_balance.yaml"].replace(b"headers:", b"hEaders:", 1),
    "not UTF-8 (read as an empty cassette)": b"\xff\xfe" + ORIGINALS["get_balance.yaml"],
}


@pytest.mark.parametrize("data", REPLAY_UNREADABLE.values(), ids=REPLAY_UNREADABLE.keys())
def test_an_unreadable_cassette_fails_replay_naming_the_file(tmp_path, broker, data):
    path = tmp_path / "get_balance.yaml"
    path.write_bytes(data)
    _, exc = replay(broker, path, "get_balance")
    assert exc is not None
    text = messages(exc)
    assert str(path) in text and "overwrite" not in text.lower(), text
