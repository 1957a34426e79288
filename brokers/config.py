"""Loading a broker config: JSON, then the schema, then ``${VAR}`` from the environment.

Every failure is a :class:`~brokers.errors.ConfigError` naming the file, the JSON pointer, the
line and column where known, and what to do about it. The schema is compiled once per process.
"""

from __future__ import annotations

import difflib
import functools
import json
import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from brokers.errors import ConfigError
from brokers.json_positions import (
    duplicate_keys,
    first_outside_strings,
    line_col,
    locate,
    nesting_offset,
    pointer_of,
)
from brokers.redaction import hidden

if TYPE_CHECKING:
    from brokers.retry import RetryPolicy

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "broker-config.schema.json"
ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
#: Deepest nesting of objects and lists accepted in a config (a config needs 4 or 5).
MAX_NESTING = 100
#: Largest config file read, in bytes (1 MiB). A broker config is a few kilobytes; anything
#: near this is the wrong file, and refusing it before reading keeps memory bounded.
MAX_CONFIG_BYTES = 1 << 20

#: Our credential names -> ccxt's attribute names.
CCXT_CREDENTIALS: dict[str, str] = {
    "api_key": "apiKey",
    "api_secret": "secret",
    "passphrase": "password",
    "uid": "uid",
    "private_key": "privateKey",
    "wallet_address": "walletAddress",
    "account_id": "accountId",
    "login": "login",
    "token": "token",
}


@dataclass(frozen=True)
class BrokerSettings:
    """Connection settings (``settings`` in the config); times are milliseconds."""

    testnet: bool = True
    rate_limit: int | None = None
    enable_rate_limit: bool = True
    timeout: int = 10000
    recv_window: int | None = None
    retry: RetryPolicy = field(default_factory=lambda: _retry_policy({}))


@dataclass(frozen=True)
class BrokerConfig:
    """A validated broker config with environment references resolved.

    ``credentials`` maps our credential names (``api_key``...) to their values; names whose
    reference was empty are absent. ``source`` is the file it came from, when it came from one.
    """

    name: str
    integration: str = "ccxt"
    type: str = "crypto"
    enabled: bool = True
    description: str = ""
    credentials: dict[str, str] = field(default_factory=dict)
    settings: BrokerSettings = field(default_factory=BrokerSettings)
    supported_pairs: list[str] = field(default_factory=list)
    trading: dict[str, Any] = field(default_factory=dict)
    risk: dict[str, Any] = field(default_factory=dict)
    custom: dict[str, Any] = field(default_factory=dict)
    source: str | None = None

    @property
    def futures_enabled(self) -> bool:
        """Whether positions come from the exchange's positions endpoint."""
        return bool(self.trading.get("futures_enabled") or self.trading.get("margin_enabled"))


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/broker-scaffolder`` (``~/.cache/broker-scaffolder``): derived data only."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "broker-scaffolder"


@functools.lru_cache(maxsize=1)
def _schema_source() -> bytes:
    return SCHEMA_PATH.read_bytes()


@functools.lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The broker config schema (read once)."""
    loaded: dict[str, Any] = json.loads(_schema_source())
    return loaded


# --- validation: a compiled fast path for valid documents, jsonschema for the wording ---------
#
# Most documents checked are valid, and jsonschema spends ~300 us on each plus ~45 ms to import.
# fastjsonschema turns the schema into plain Python once; that code is cached per schema digest
# and answers "valid or not" in microseconds. Whenever it says "not valid" (or fails in any way)
# jsonschema, the reference, decides and words the problems. So the fast path can only ever skip
# work for documents it accepts; tests/fuzz/test_fuzz_configs.py checks on thousands of
# documents that it never accepts one jsonschema refuses.

#: The import line of fastjsonschema's generated code, replaced by local classes so that
#: loading the cached validator does not import fastjsonschema (~7 ms).
_FJS_IMPORT = "from fastjsonschema import JsonSchemaValueException, JsonSchemaValuesException\n"
_FJS_LOCAL = (
    "class JsonSchemaValueException(ValueError):\n"
    "    def __init__(self, message, *args, **kwargs):\n"
    "        super().__init__(message)\n"
    "JsonSchemaValuesException = JsonSchemaValueException\n"
)
_MAIN_FUNCTION = re.compile(r"^def (validate\w*)\(", re.MULTILINE)


#: How the schema is compiled. use_default=False: fastjsonschema would otherwise write the
#: schema's defaults into the document it validates. Part of what a cached validator is checked
#: against, so changing these rebuilds it.
_FJS_OPTIONS: dict[str, bool] = {"use_default": False, "detailed_exceptions": False}


def _fast_validator_code(definition: dict[str, Any], built_from: bytes) -> str:
    """fastjsonschema's generated validator, standalone, with ``validate`` as its entry point."""
    import fastjsonschema

    code = fastjsonschema.compile_to_code(
        definition,
        use_default=_FJS_OPTIONS["use_default"],
        detailed_exceptions=_FJS_OPTIONS["detailed_exceptions"],
    )
    main = _MAIN_FUNCTION.search(code)
    if main is None:  # pragma: no cover - a fastjsonschema that names its functions otherwise
        raise RuntimeError("fastjsonschema's generated code has no validate function")
    return (
        code.replace(_FJS_IMPORT, _FJS_LOCAL)
        + f"\n\nvalidate = {main.group(1)}\nBUILT_FROM = {built_from!r}\n"
    )


@functools.lru_cache(maxsize=1)
def _fast_validator() -> Callable[[Any], Any] | None:
    """The compiled validator of the schema (cached on disk per schema digest), or None."""
    import zlib

    # What the code is built from: the compile options and the schema's full text. The file
    # name only finds it; the copy stored in the file decides (no hashlib: importing it costs
    # more than the rest of this function).
    source = repr(sorted(_FJS_OPTIONS.items())).encode() + b"\n" + _schema_source()
    path = cache_dir() / f"schema_validator_{zlib.crc32(source):08x}_{len(source)}.py"
    for attempt in range(2):
        if attempt or not path.exists():
            try:
                code = _fast_validator_code(schema(), source)
            except Exception:  # pragma: no cover - a schema fastjsonschema cannot compile
                return None
            if not write_cache_file(path, code):
                return _checked(_load_validator_source(code, path), source)
        try:
            validate = _checked(_load_validator_file(path), source)
        except Exception:  # a damaged cache file: rebuild it once
            continue
        if validate is not None:
            return validate
    return None


def _load_validator_file(path: Path) -> dict[str, Any]:
    """Import the cached validator as a module, so Python keeps its bytecode in __pycache__."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:  # pragma: no cover
        raise ImportError(path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return vars(module)


def _load_validator_source(code: str, path: Path) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": path.stem}
    exec(compile(code, str(path), "exec"), namespace)  # code we generated from our schema
    return namespace


def _checked(namespace: dict[str, Any], source: bytes) -> Callable[[Any], Any] | None:
    """The validator, if it was built from exactly ``source`` and refuses an empty config."""
    validate: Callable[[Any], Any] | None = namespace.get("validate")
    if namespace.get("BUILT_FROM") != source or not callable(validate):
        return None
    try:
        validate({})
    except Exception:
        return validate
    return None  # every config needs keys: a validator accepting {} is not ours


def write_cache_file(path: Path, text: str) -> bool:
    """Write derived data under :func:`cache_dir` atomically; False (nothing left behind) when
    the cache cannot be written: a read-only home still works, just without the cache."""
    import tempfile

    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=path.parent, delete=False, suffix=".tmp"
        ) as handle:
            tmp = handle.name
            handle.write(text)
        os.replace(tmp, path)
    except OSError:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        return False
    return True


def fast_accepts(document: Any) -> bool:
    """Whether the compiled validator accepts ``document`` (False also when it cannot tell)."""
    validate = _fast_validator()
    if validate is None:
        return False
    try:
        validate(document)
    except Exception:  # refused, or the fast path failed: jsonschema decides either way
        return False
    return True


@functools.lru_cache(maxsize=1)
def _validator() -> Any:
    from jsonschema import Draft202012Validator, validators

    strict = validators.extend(Draft202012Validator, {"pattern": _pattern_keyword})
    return strict(schema())


def _pattern_keyword(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    """``pattern`` with ECMA-262's ``$`` (the end of the string, as JSON Schema specifies)."""
    from jsonschema.exceptions import ValidationError

    if validator.is_type(instance, "string") and not _ecma_pattern(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


@functools.lru_cache(maxsize=64)
def _ecma_pattern(pattern: str) -> re.Pattern[str]:
    """Python's ``$`` also matches before a final newline: ``^[a-z]+$`` took ``"binance\\n"``."""
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a config document."""

    pointer: str
    message: str
    rule: str
    line: int | None = None
    column: int | None = None


def read_document(path: str | Path) -> tuple[str, Any]:
    """Read and parse a JSON file; syntax errors become a ConfigError with line and column.

    Strict JSON only: no NaN or Infinity, no key twice in one object (the last would silently
    win, and could hide a literal secret), no byte order mark, at most ``MAX_NESTING`` levels,
    at most ``MAX_CONFIG_BYTES`` bytes (checked before the file is read).
    """
    name = str(path)
    try:
        size = Path(path).stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(
                f"the file is {size} bytes; a broker config is at most {MAX_CONFIG_BYTES} "
                "bytes (1 MiB): is this the right file?",
                path=name,
            )
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError("file not found", path=name) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text ({exc.reason})", path=name) from exc
    except OSError as exc:
        raise ConfigError(f"cannot read file: {exc.strerror}", path=name) from exc
    if text.startswith("\ufeff"):
        raise ConfigError(
            "the file starts with a byte order mark (BOM): save it as UTF-8 without one",
            path=name,
            line=1,
            column=1,
        )
    try:
        document = json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_pairs)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"invalid JSON: {exc.msg}", path=name, line=exc.lineno, column=exc.colno
        ) from exc
    except _DuplicateKey as exc:
        pointer, line, column = next(iter(duplicate_keys(text)), ("", None, None))
        key = (
            pointer.rsplit("/", 1)[-1].replace("~1", "/").replace("~0", "~") if pointer else exc.key
        )
        raise ConfigError(
            f"the key {key!r} appears twice in one object: JSON keeps only the last one, "
            "so remove the other",
            path=name,
            pointer=pointer,
            line=line,
            column=column,
        ) from exc
    except _NotJson as exc:
        raise _syntax_error(name, text, exc.pattern, exc.message) from exc
    except ValueError as exc:  # an integer too long for int(): see sys.get_int_max_str_digits
        limit = getattr(sys, "get_int_max_str_digits", lambda: 4300)()
        raise _syntax_error(
            name, text, rf"-?\d{{{limit + 1},}}", f"a number longer than {limit} digits"
        ) from exc
    except RecursionError:
        document = None
    deep = nesting_offset(text, MAX_NESTING)
    if deep is not None:
        line, column = line_col(text, deep)
        raise ConfigError(
            f"invalid JSON: nested more than {MAX_NESTING} levels deep",
            path=name,
            line=line,
            column=column,
        )
    return text, document


class _NotJson(ValueError):
    def __init__(self, pattern: str, message: str) -> None:
        super().__init__(message)
        self.pattern = pattern
        self.message = message


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _refuse_constant(constant: str) -> Any:
    raise _NotJson(r"-?Infinity|NaN", f"{constant} is not a JSON number: write a number (or null)")


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return document


def _syntax_error(name: str, text: str, pattern: str, message: str) -> ConfigError:
    offset = first_outside_strings(text, pattern)
    line, column = line_col(text, offset) if offset is not None else (None, None)
    return ConfigError(f"invalid JSON: {message}", path=name, line=line, column=column)


def _nested_too_deep(document: Any) -> str | None:
    """The pointer of the first value nested deeper than ``MAX_NESTING`` (iterative), or None."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(document, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, (dict, list)):
            if len(path) >= MAX_NESTING:
                return pointer_of(path)
            items = value.items() if isinstance(value, dict) else enumerate(value)
            stack.extend((child, (*path, key)) for key, child in items)
    return None


def schema_problems(document: Any, text: str | None = None) -> list[Problem]:
    """Everything the schema finds wrong with ``document``, as sentences, in document order.

    With ``text`` (the document's source) each problem gets a line and column.
    """
    if fast_accepts(document):
        return []
    problems = [p for error in _validator().iter_errors(document) for p in _problems(error)]
    problems = _dedupe(problems)
    name = document.get("name") if isinstance(document, dict) else None
    prefix = name.upper() if isinstance(name, str) and name.isidentifier() else "BROKER"
    problems = [
        Problem(p.pointer, p.message.replace(_BROKER_PLACEHOLDER, prefix), p.rule) for p in problems
    ]
    if text is not None:
        problems = [
            Problem(p.pointer, p.message, p.rule, *locate(text, p.pointer)) for p in problems
        ]
        problems.sort(key=lambda p: (p.line or 0, p.column or 0, p.pointer))
    else:
        problems.sort(key=lambda p: p.pointer)
    return problems


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen: set[tuple[str, str]] = set()
    unique = []
    for problem in problems:
        if (problem.pointer, problem.message) not in seen:
            seen.add((problem.pointer, problem.message))
            unique.append(problem)
    return unique


def _problems(error: Any) -> list[Problem]:
    """One jsonschema error as problems: one per unknown key, else exactly one."""
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        path = list(error.absolute_path)
        allowed = sorted(error.schema.get("properties", {}))
        extra = [key for key in error.instance if key not in allowed]  # in document order
        return [_unknown_key(path, key, allowed) for key in extra]
    return [_problem(error)]


def _unknown_key(path: list[Any], key: str, allowed: list[str]) -> Problem:
    hint = difflib.get_close_matches(key, allowed, n=1)
    suggestion = f"did you mean {hint[0]!r}? " if hint else ""
    return Problem(
        pointer_of([*path, key]),
        f"unknown key {key!r}: {suggestion}allowed here: {', '.join(allowed)}",
        "additionalProperties",
    )


def _problem(error: Any) -> Problem:
    """Turn one jsonschema error into a sentence a person can act on."""
    path = list(error.absolute_path)
    pointer = pointer_of(path)
    rule = str(error.validator)
    value = error.instance
    described = error.schema.get("description", "") if isinstance(error.schema, dict) else ""
    if rule == "required":
        missing = error.message.split("'")[1] if "'" in error.message else "?"
        return Problem(pointer, f"missing required key {missing!r}", rule)
    if rule == "type":
        expected = error.validator_value
        return Problem(
            pointer, f"must be {_article(expected)}, got {_kind(value)} {_show(value)}", rule
        )
    if rule == "enum":
        choices = ", ".join(json.dumps(c) for c in error.validator_value)
        return Problem(pointer, f"must be one of {choices}; got {_show(value)}", rule)
    if rule == "pattern":
        return Problem(pointer, _pattern_message(path, value, described), rule)
    if rule in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        words = {
            "minimum": "at least",
            "maximum": "at most",
            "exclusiveMinimum": "greater than",
            "exclusiveMaximum": "less than",
        }
        return Problem(
            pointer, f"must be {words[rule]} {error.validator_value}, got {_show(value)}", rule
        )
    if rule == "uniqueItems":
        dupes = sorted({json.dumps(v) for v in value if value.count(v) > 1})
        return Problem(pointer, f"lists {', '.join(dupes)} more than once; remove the copies", rule)
    if rule == "minItems":
        return Problem(pointer, f"needs at least {error.validator_value} item(s)", rule)
    if rule == "maxLength":
        return Problem(pointer, f"is longer than {error.validator_value} characters", rule)
    return Problem(pointer, error.message, rule)


def _pattern_message(path: list[Any], value: Any, described: str) -> str:
    if path and path[0] == "api_credentials":
        return (
            f"{_show(value, secret=True)} is not an environment reference: write "
            f"'${{{_env_name_hint(path)}}}' and export the secret in that variable; "
            "literal secrets are not allowed in config files"
        )
    if path and path[0] == "supported_pairs":
        return f"{_show(value)} is not a unified symbol: write BASE/QUOTE (BTC/USDT) or BASE/QUOTE:SETTLE"
    if path == ["name"]:
        return f"{_show(value)} is not a valid broker name: use lowercase letters, digits and _, starting with a letter"
    return f"{_show(value)} does not match the expected format" + (
        f" ({described})" if described else ""
    )


_BROKER_PLACEHOLDER = "\x00BROKER\x00"


def _env_name_hint(path: list[Any]) -> str:
    return f"{_BROKER_PLACEHOLDER}_{str(path[-1]).upper()}"


def _article(expected: Any) -> str:
    if isinstance(expected, list):
        return " or ".join(_article(e) for e in expected)
    word = {"object": "an object", "array": "a list", "integer": "an integer"}.get(expected)
    return word or f"a {expected}"


def _kind(value: Any) -> str:
    return {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        list: "list",
        dict: "object",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def _show(value: Any, *, secret: bool = False) -> str:
    if secret and isinstance(value, str) and value and not ENV_REFERENCE.fullmatch(value):
        return hidden(value)
    text = json.dumps(value) if not isinstance(value, (dict, list)) else _kind(value)
    return text if len(text) <= 60 else text[:57] + "..."


def env_references(document: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str, str]]:
    """Every ``${VAR}`` in the document's strings, as (pointer, variable name)."""
    if isinstance(document, dict):
        for key, value in document.items():
            if key != "$schema":
                yield from env_references(value, (*path, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield from env_references(value, (*path, index))
    elif isinstance(document, str):
        for match in ENV_REFERENCE.finditer(document):
            yield pointer_of(path), match.group(1)


def interpolate(
    document: Any, env: Mapping[str, str], *, source: str | None = None, text: str | None = None
) -> Any:
    """Replace ``${VAR}`` references with values from ``env``; a missing one is a ConfigError."""
    for pointer, var in env_references(document):
        if not env.get(var):
            line, column = locate(text, pointer) if text else (None, None)
            state = "is empty" if var in env else "is not set"
            raise ConfigError(
                f"environment variable {var} {state}; export it (see .env.example) or leave the "
                "reference empty if the exchange does not need it",
                path=source,
                pointer=pointer,
                line=line,
                column=column,
            )
    return _substitute(document, env)


def _substitute(value: Any, env: Mapping[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: (v if k == "$schema" else _substitute(v, env)) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, env) for v in value]
    if isinstance(value, str):
        return ENV_REFERENCE.sub(lambda m: env.get(m.group(1), ""), value)
    return value


def build_config(
    document: Any,
    *,
    source: str | None = None,
    text: str | None = None,
    env: Mapping[str, str] | None = None,
    resolve_env: bool = True,
) -> BrokerConfig:
    """Validate a parsed config document and turn it into a :class:`BrokerConfig`.

    Raises ConfigError for the first schema problem (call :func:`schema_problems` for all of
    them) and, when ``resolve_env``, for a missing environment variable.
    """
    deep = _nested_too_deep(document)
    if deep is not None:
        raise ConfigError(f"nested more than {MAX_NESTING} levels deep", path=source, pointer=deep)
    problems = schema_problems(document, text)
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise ConfigError(
            first.message + more,
            path=source,
            pointer=first.pointer,
            line=first.line,
            column=first.column,
        )
    if resolve_env:
        document = interpolate(
            document, os.environ if env is None else env, source=source, text=text
        )
    settings = document["settings"]
    policy = _retry_policy(settings.get("retry", {}))
    return BrokerConfig(
        name=document["name"],
        integration=document.get("integration", "ccxt"),
        type=document["type"],
        enabled=document["enabled"],
        description=document.get("description", ""),
        credentials={k: v for k, v in document["api_credentials"].items() if v},
        settings=BrokerSettings(
            testnet=settings["testnet"],
            rate_limit=settings.get("rate_limit"),
            enable_rate_limit=settings.get("enable_rate_limit", True),
            timeout=settings.get("timeout", 10000),
            recv_window=settings.get("recv_window"),
            retry=policy,
        ),
        supported_pairs=list(document["supported_pairs"]),
        trading=dict(document.get("trading_settings", {})),
        risk=dict(document.get("risk_management", {})),
        custom=dict(document.get("custom_settings", {})),
        source=source,
    )


def _retry_policy(retry: Mapping[str, Any]) -> RetryPolicy:
    """``settings.retry`` (milliseconds) as a RetryPolicy (seconds); absent keys keep defaults."""
    from brokers.retry import RetryPolicy  # imported here: validating needs no retry machinery

    defaults = RetryPolicy()
    return RetryPolicy(
        max_attempts=retry.get("max_attempts", defaults.max_attempts),
        base_delay=retry.get("base_delay_ms", defaults.base_delay * 1000) / 1000,
        max_delay=retry.get("max_delay_ms", defaults.max_delay * 1000) / 1000,
    )


def load_config(
    path: str | Path, *, env: Mapping[str, str] | None = None, resolve_env: bool = True
) -> BrokerConfig:
    """Read, validate and resolve the config file at ``path``."""
    text, document = read_document(path)
    return build_config(document, source=str(path), text=text, env=env, resolve_env=resolve_env)


def default_config_path(name: str, root: Path | None = None) -> Path:
    """Where the config of broker ``name`` lives: ``config/brokers/<name>.json``."""
    return (root or Path.cwd()) / "config" / "brokers" / f"{name}.json"
