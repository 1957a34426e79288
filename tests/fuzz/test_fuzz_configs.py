"""Fuzzed config documents through ``scaffolder validate`` and ``brokers.config.load_config``.

Every case starts from the committed ``config/brokers/binance.json`` and mutates it: values of
the wrong type, unknown keys, literal secrets (also hidden behind a duplicate key), numbers out
of range, whitespace around patterned strings, deep nesting, unicode (lone surrogates, control
and bidi characters), then optionally the text itself: truncated, a BOM, flipped bytes, binary,
a number too long to parse, NaN, nothing at all.

What must hold, whatever the input:

* ``validate`` never shows a traceback; it exits 0 or 1; every problem is one line
  ``file:line:col /pointer: message`` with a line inside the file; the JSON format agrees.
* ``load_config`` raises nothing but ``ConfigError`` (naming the file), and it accepts exactly
  what the schema-only validation accepts.
* The compiled fast path (fastjsonschema) accepts exactly what jsonschema, the reference,
  accepts, and leaves the document as it was.
* Whatever is accepted is strict JSON without duplicate keys, its name is a valid broker name,
  its pairs are unified symbols and its credentials are only ``${VAR}`` references.
* A mutation known to be wrong (out of range, literal secret...) is reported at its pointer,
  and a literal secret is never echoed.
"""

from __future__ import annotations

import copy
import json
import re
import string
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from brokers.config import BrokerConfig, _validator, fast_accepts, load_config, read_document
from brokers.errors import ConfigError
from scaffolder.cli import main
from scaffolder.validate import check_file
from tests.fuzz import ROOT, fuzz_settings, record_stats, write_case

BASE_TEXT = (ROOT / "config" / "brokers" / "binance.json").read_text(encoding="utf-8")
BASE: dict[str, Any] = json.loads(BASE_TEXT)
PLACEHOLDER = "\x00FUZZ-PLACEHOLDER\x00"

NAME = re.compile(r"[a-z][a-z0-9_]*")
PAIR = re.compile(r"[A-Z0-9.\-]{1,20}/[A-Z0-9.\-]{1,20}(:[A-Z0-9.\-]{1,20})?")
ENV_REF = re.compile(r"(\$\{[A-Z][A-Z0-9_]*\})?")
CREDENTIALS = [
    "api_key",
    "api_secret",
    "passphrase",
    "uid",
    "private_key",
    "wallet_address",
    "account_id",
    "login",
    "token",
]
#: (path, minimum, maximum, exclusive minimum, integer) of every bounded number in the schema.
BOUNDED = [
    (("settings", "rate_limit"), 0, 60000, False, True),
    (("settings", "timeout"), 1000, 120000, False, True),
    (("settings", "recv_window"), 1, 60000, False, True),
    (("settings", "retry", "max_attempts"), 1, 10, False, True),
    (("settings", "retry", "base_delay_ms"), 0, 60000, False, True),
    (("settings", "retry", "max_delay_ms"), 0, 300000, False, True),
    (("trading_settings", "max_slippage"), 0, 1, False, False),
    (("risk_management", "max_position_size"), 0, None, True, False),
    (("risk_management", "max_daily_trades"), 1, 100000, False, True),
    (("risk_management", "max_open_orders"), 1, 10000, False, True),
    (("risk_management", "stop_loss_percentage"), 0, 1, True, False),
    (("risk_management", "take_profit_percentage"), 0, 10, True, False),
    (("risk_management", "max_leverage"), 1, 125, False, False),
]
#: Strings with a pattern or an enum: whitespace around them must be refused.
PATTERNED = [
    ("name",),
    ("type",),
    ("integration",),
    ("supported_pairs", 0),
    ("supported_pairs", 1),
    ("api_credentials", "api_key"),
    ("api_credentials", "api_secret"),
    ("trading_settings", "time_in_force"),
    ("trading_settings", "default_order_type"),
]
WHITESPACE = ["\n", " ", "\t", "\r\n", "\u00a0", "\u2028", "\x00"]


def all_paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += all_paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += all_paths(child, (*prefix, index))
    return found


def get(document: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        document = document[part]
    return document


PATHS = all_paths(BASE)[1:]
OBJECT_PATHS = [p for p in all_paths(BASE) if isinstance(get(BASE, p), dict)]
PATHS_PATTERNED = [p for p in PATTERNED if p in PATHS]


def put(document: Any, path: tuple[Any, ...], value: Any) -> bool:
    """Set ``path`` to ``value``, making containers as needed; False when the path was gone."""
    intact = True
    for part in path[:-1]:
        try:
            child = document[part]
        except (KeyError, IndexError, TypeError):
            child = None
        if not isinstance(child, (dict, list)):
            child, intact = {}, False
            _set(document, part, child)
        document = child
    _set(document, path[-1], value)
    return intact and _exists(document, path[-1:]) and get(document, path[-1:]) is value


def _set(container: Any, part: Any, value: Any) -> None:
    if isinstance(container, list):
        if isinstance(part, int) and part < len(container):
            container[part] = value
        else:
            container.append(value)
    else:
        container[part] = value


def pointer(path: tuple[Any, ...]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


@dataclass
class Case:
    """One fuzzed config file and what is known about it."""

    labels: list[str]
    data: bytes
    expect_pointer: str | None = None
    secret: str | None = None


# -- strategies --------------------------------------------------------------------------------

surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, categories=["Cs"])
weird_text = st.text(
    st.characters() | surrogates | st.sampled_from(["\n", "\u202e", "\ufeff", "$", "{", "/", "~"]),
    max_size=24,
)
#: Keys that are wrong in instructive ways: near misses, separators, control and bidi characters.
TRICKY_KEYS = [
    "api_keys",
    "Name",
    "testnet ",
    "name\n",
    "a\nb",
    "\ud800",
    "x\u2028y",
    "\u202eevil",
    "\x1b[31m",
    "",
    "~1",
    "a/b",
]
keys = st.sampled_from(TRICKY_KEYS) | weird_text
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | weird_text
)
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
    max_leaves=12,
)
secrets = st.text(string.ascii_letters + string.digits + "-_", min_size=12, max_size=40).map(
    lambda s: "sk_" + s
)


# Strategies drawn from in every example, built once: hypothesis validates each new strategy
# object when it is first drawn from (a list argument is never cached for it).
ANY_PATH = st.sampled_from(PATHS)
ANY_OBJECT_PATH = st.sampled_from(OBJECT_PATHS)
ANY_PATTERNED_PATH = st.sampled_from(PATHS_PATTERNED)
ANY_CREDENTIAL = st.sampled_from(CREDENTIALS)
ANY_WHITESPACE = st.sampled_from(WHITESPACE)
BOUNDED_NUMBERS = st.sampled_from(BOUNDED)
BEYOND = st.floats(0.001, 1e6)
DEEP_PATHS = st.sampled_from([("custom_settings", "deep"), ("settings", "retry"), ("name",)])
DOCUMENT_MUTATIONS = st.sampled_from(
    [
        "replace",
        "add_key",
        "delete",
        "literal_secret",
        "out_of_range",
        "whitespace",
        "deep",
        "top_type",
    ]
)
TEXT_MUTATIONS = st.sampled_from(
    [
        "none",
        "none",
        "truncate",
        "bom",
        "flip",
        "binary",
        "not_json",
        "long_number",
        "nan",
        "duplicate_secret",
        "empty",
        "trailing",
    ]
)
NOT_JSON = weird_text | st.sampled_from(["name: binance", "{'name': 'x'}", "[]", "null"])
NON_NUMBERS = st.sampled_from(["NaN", "Infinity", "-Infinity"])
EMPTY = st.sampled_from([b"", b" ", b"\n\n", b"\xef\xbb\xbf"])
TRAILING = st.sampled_from([b"}", b",", b"{}", b"\x00", b"// comment"])
DEPTHS = st.integers(1, 150) | st.integers(150, 3000)
NESTINGS = st.sampled_from(["list", "dict"])


@st.composite
def out_of_range(draw: st.DrawFn) -> tuple[tuple[Any, ...], Any]:
    path, low, high, exclusive, integer = draw(BOUNDED_NUMBERS)
    choices = [low - 1 if integer else low - draw(BEYOND)]
    if exclusive:
        choices.append(low)
    if high is not None:
        choices.append(high + 1 if integer else high + draw(BEYOND))
        choices.append(10 ** draw(st.integers(6, 40)))
    if integer:
        choices.append(draw(st.sampled_from([low + 0.5, "1000", True, None, [low]])))
    return path, draw(st.sampled_from(choices))


OUT_OF_RANGE = out_of_range()


@st.composite
def document_mutation(draw: st.DrawFn, document: dict[str, Any], case: Case) -> None:
    kind = draw(DOCUMENT_MUTATIONS)
    case.labels.append(kind)
    case.expect_pointer = None  # only the last mutation's expectation is certain
    if kind == "replace":
        path = draw(ANY_PATH)
        put(document, path, draw(values))
    elif kind == "add_key":
        path = draw(ANY_OBJECT_PATH)
        target = get(document, path) if _exists(document, path) else None
        if isinstance(target, dict):
            target[draw(keys)] = draw(values)
    elif kind == "delete":
        path = draw(ANY_PATH)
        if _exists(document, path):
            parent = get(document, path[:-1])
            del parent[path[-1]]
    elif kind == "literal_secret":
        credential = draw(ANY_CREDENTIAL)
        case.secret = draw(secrets)
        if put(document, ("api_credentials", credential), case.secret):
            case.expect_pointer = pointer(("api_credentials", credential))
    elif kind == "out_of_range":
        path, value = draw(OUT_OF_RANGE)
        if put(document, path, value):
            case.expect_pointer = pointer(path)
    elif kind == "whitespace":
        path = draw(ANY_PATTERNED_PATH)
        space = draw(ANY_WHITESPACE)
        value = get(BASE, path)
        if put(document, path, draw(st.sampled_from([value + space, space + value]))):
            case.expect_pointer = pointer(path)
    elif kind == "deep":
        path = draw(DEEP_PATHS)
        put(document, path, PLACEHOLDER)
    elif kind == "top_type":
        document.clear()
        document["\x00top"] = draw(values)


def _exists(document: Any, path: tuple[Any, ...]) -> bool:
    try:
        get(document, path)
    except (KeyError, IndexError, TypeError):
        return False
    return True


def serialise(document: dict[str, Any], ensure_ascii: bool, depth: int, nest: str) -> str:
    if list(document) == ["\x00top"]:
        return json.dumps(document["\x00top"])
    text = json.dumps(document, indent=2, ensure_ascii=ensure_ascii)
    opener, closer = ("[", "]") if nest == "list" else ('{"d": ', "}")
    return text.replace(json.dumps(PLACEHOLDER), opener * depth + "1" + closer * depth)


@st.composite
def text_mutation(draw: st.DrawFn, text: str, case: Case) -> bytes:
    kind = draw(TEXT_MUTATIONS)
    if kind != "none":
        case.labels.append(kind)
    if kind not in ("none", "duplicate_secret"):
        case.expect_pointer = None  # the text may now fail before the value is looked at
    data = text.encode("utf-8", "surrogatepass")
    if kind == "truncate":
        return data[: draw(st.integers(0, max(0, len(data) - 1)))]
    if kind == "bom":
        return b"\xef\xbb\xbf" + data
    if kind == "flip":
        buffer = bytearray(data or b"{")
        for _ in range(draw(st.integers(1, 8))):
            index = draw(st.integers(0, len(buffer) - 1))
            buffer[index] ^= 1 << draw(st.integers(0, 7))
        return bytes(buffer)
    if kind == "binary":
        return draw(st.binary(max_size=300))
    if kind == "not_json":
        return draw(NOT_JSON).encode("utf-8", "surrogatepass")
    if kind == "long_number":
        digits = "9" * draw(st.integers(4300, 6000))
        return re.sub(r"(?<=: )\d+", digits, text, count=1).encode("utf-8", "surrogatepass")
    if kind == "nan":
        numbers = list(re.finditer(r"(?<=: )-?\d+(\.\d+)?(?=[,\n}])", text))
        if numbers:
            number = draw(st.sampled_from(numbers))
            constant = draw(NON_NUMBERS)
            text = text[: number.start()] + constant + text[number.end() :]
        return text.encode("utf-8", "surrogatepass")
    if kind == "duplicate_secret":
        opening = '"api_credentials": {'
        if opening in text:
            case.secret = draw(secrets)
            case.expect_pointer = "/api_credentials/api_key"
            # No comma before an empty object's "}": that would be a JSON syntax error, found
            # before the secret is looked at.
            empty = text.split(opening, 1)[1].lstrip().startswith("}")
            separator = "" if empty else ","
            text = text.replace(opening, f'{opening}"api_key": "{case.secret}"{separator}', 1)
        return text.encode("utf-8", "surrogatepass")
    if kind == "empty":
        return draw(EMPTY)
    if kind == "trailing":
        return data + draw(TRAILING)
    return data


@st.composite
def cases(draw: st.DrawFn) -> Case:
    case = Case([], b"")
    document = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(0, 2))):
        draw(document_mutation(document, case))
    depth = draw(DEPTHS)
    text = serialise(document, draw(st.booleans()), depth, draw(NESTINGS))
    case.data = draw(text_mutation(text, case))
    if depth > 64 and json.dumps(PLACEHOLDER) in json.dumps(document):
        case.expect_pointer = None  # nested deeply enough to be refused as a whole
    if re.search(r"NaN|Infinity", text):
        case.expect_pointer = None  # json.dumps wrote a float that is not JSON: refused first
    if case.secret is not None and case.secret.encode() not in case.data:
        case.secret = None  # a later mutation removed it
    try:
        case.data.decode("utf-8")
    except UnicodeDecodeError:  # a lone surrogate written raw: refused as a whole
        case.expect_pointer = None
    return case


# -- oracles -----------------------------------------------------------------------------------


class AnyEnv(Mapping[str, str]):
    """An environment in which every variable is set (to a canary)."""

    def __getitem__(self, key: str) -> str:
        return f"CANARY-{key}"

    def __iter__(self):  # pragma: no cover - not iterated
        return iter(())

    def __len__(self) -> int:  # pragma: no cover
        return 0

    def __contains__(self, key: object) -> bool:
        return True


def strictness_violations(data: bytes) -> list[str]:
    """Why an accepted file should not have been (empty when it is fine)."""

    def no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        if len(set(keys)) != len(keys):
            raise ValueError("duplicate key")
        return dict(pairs)

    try:
        document = json.loads(
            data.decode("utf-8"), parse_constant=no_constants, object_pairs_hook=no_duplicates
        )
    except ValueError as exc:
        return [f"not strict JSON: {exc}"]
    problems = []
    if not isinstance(document, dict):
        return ["not an object"]
    name = document.get("name")
    if not (isinstance(name, str) and NAME.fullmatch(name) and len(name) <= 64):
        problems.append(f"name {name!r}")
    for pair in document.get("supported_pairs", []):
        if not (isinstance(pair, str) and PAIR.fullmatch(pair)):
            problems.append(f"pair {pair!r}")
    for credential, value in document.get("api_credentials", {}).items():
        if not (isinstance(value, str) and ENV_REF.fullmatch(value)):
            problems.append(f"credential {credential} is not a ${{VAR}} reference")
    return problems


def check_case(case: Case, path: Path, outcomes: Counter[str]) -> None:
    write_case(path, case.data)
    shown = str(path)
    # the file is read with universal newlines: \r and \r\n end lines too
    text_lines = len(case.data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n"))

    result = CliRunner().invoke(main, ["validate", shown])
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"traceback: {result.exception!r}"
    )
    assert result.exit_code in (0, 1), result.output
    *problems, summary = result.output.rstrip("\n").split("\n")
    line = re.compile(rf"^{re.escape(shown)}:(\d+):(\d+) (/.*?): (.+)$")
    pointers = []
    for problem in problems:
        match = line.match(problem)
        assert match, f"not file:line:col /pointer: message: {problem!r}"
        row, column = int(match.group(1)), int(match.group(2))
        assert 1 <= row <= text_lines and column >= 1, problem
        pointers.append(match.group(3))
    if result.exit_code == 0:
        assert not problems and summary == "ok: 1 file(s) valid"
    else:
        assert problems and summary == f"{len(problems)} problem(s) in 1 of 1 file(s)"
    report = json.loads(CliRunner().invoke(main, ["validate", "--format", "json", shown]).output)
    assert len(report["errors"]) == len(problems)
    assert report["status"] == ("ok" if result.exit_code == 0 else "fail")

    if case.expect_pointer is not None:
        assert result.exit_code == 1, f"{case.labels} accepted"
        assert case.expect_pointer in pointers, (case.expect_pointer, pointers)
    if case.secret is not None:
        assert case.secret not in result.output, "a literal secret was echoed"

    try:
        config = load_config(path, env=AnyEnv())
    except ConfigError as exc:
        assert exc.path == shown and exc.message
        if case.secret is not None:
            assert case.secret not in str(exc)
        loaded = False
    else:
        assert isinstance(config, BrokerConfig)
        loaded = True
    schema_ok = check_file(path, semantic=False, content=False).ok
    assert loaded == schema_ok, (
        f"load_config {'accepts' if loaded else 'refuses'} what validate does not"
    )
    if loaded:
        assert strictness_violations(case.data) == [], case.labels
    check_fast_path(path)
    outcomes["valid" if result.exit_code == 0 else "invalid"] += 1


def check_fast_path(path: Path) -> None:
    """The compiled validator and jsonschema agree on the parsed document, which stays as it was."""
    try:
        _, document = read_document(path)
    except ConfigError:
        return
    if document is None:  # nested too deep to parse: refused before any schema check
        return
    before = copy.deepcopy(document)
    fast = fast_accepts(document)
    assert document == before, "the fast validator changed the document"
    reference = next(iter(_validator().iter_errors(document)), None)
    assert fast == (reference is None), (
        f"fast path {'accepts' if fast else 'refuses'} a document jsonschema "
        f"{'refuses' if reference is not None else 'accepts'}: {reference}"
    )


def test_fuzzed_configs_through_validate_and_load_config(tmp_path: Path) -> None:
    outcomes: Counter[str] = Counter()
    labels: Counter[str] = Counter()
    target = tmp_path / "broker.json"

    @fuzz_settings(max_examples=1500)
    @given(cases())
    def run(case: Case) -> None:
        labels.update(case.labels or ["unchanged"])
        check_case(case, target, outcomes)

    run()
    record_stats("configs", outcomes, mutations=dict(sorted(labels.items())))
    assert sum(outcomes.values()) >= 1000


#: What the fuzzing found, kept as fixed examples: (text, pointer reported, message fragment).
REGRESSIONS = {
    "integer longer than int() reads (was a ValueError traceback)": (
        BASE_TEXT.replace('"timeout": 10000', '"timeout": ' + "9" * 5000),
        "/",
        "a number longer than",
    ),
    "NaN (was accepted)": (BASE_TEXT.replace("0.01", "NaN"), "/", "NaN is not a JSON number"),
    "a duplicate key hiding a literal secret (was accepted)": (
        BASE_TEXT.replace(
            '"api_key": "${', '"api_key": "sk_live_0123456789abcdef",\n    "api_key": "${'
        ),
        "/api_credentials/api_key",
        "appears twice",
    ),
    "a name with a trailing newline (passed the schema's pattern)": (
        BASE_TEXT.replace('"name": "binance"', '"name": "binance\\n"'),
        "/name",
        "is not a valid broker name",
    ),
    "a credential reference with a trailing newline (passed the pattern)": (
        BASE_TEXT.replace('"${BINANCE_API_SECRET}"', '"${BINANCE_API_SECRET}\\n"'),
        "/api_credentials/api_secret",
        "is not an environment reference",
    ),
    "a key with a newline (broke the one-line format)": (
        BASE_TEXT.replace('"custom_settings": {}', '"custom_settings": {}, "a\\nb": 1'),
        "/a\\nb",
        "unknown key",
    ),
    "a key with a lone surrogate (UnicodeEncodeError traceback)": (
        BASE_TEXT.replace('"custom_settings": {}', '"custom_settings": {}, "\\ud800": 1'),
        "/\\ud800",
        "unknown key",
    ),
    "nested 600 deep with a problem (RecursionError in validate)": (
        BASE_TEXT.replace('"timeout": 10000', '"timeout": "x"').replace(
            '"custom_settings": {}', '"custom_settings": {"d": ' + "[" * 600 + "]" * 600 + "}"
        ),
        "/",
        "nested more than 100 levels",
    ),
    "nested 900 deep, otherwise valid (RecursionError in load_config)": (
        BASE_TEXT.replace(
            '"custom_settings": {}', '"custom_settings": {"d": ' + "[" * 900 + "]" * 900 + "}"
        ),
        "/",
        "nested more than 100 levels",
    ),
    "a byte order mark": ("\ufeff" + BASE_TEXT, "/", "byte order mark"),
}


@pytest.mark.parametrize(
    ("text", "pointer", "message"), REGRESSIONS.values(), ids=list(REGRESSIONS)
)
def test_what_the_fuzzing_found_stays_fixed(tmp_path: Path, text: str, pointer: str, message: str):
    path = tmp_path / "broker.json"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    check_case(Case(["regression"], path.read_bytes()), path, Counter())
    output = CliRunner().invoke(main, ["validate", str(path)]).output
    assert f" {pointer}: " in output and message in output, output
    assert "sk_live_0123456789abcdef" not in output
