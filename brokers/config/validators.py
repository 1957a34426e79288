"""The broker config schema: read once, compiled once, and asked whether a document is valid.

Two validators: fastjsonschema's compiled code (cached on disk per schema digest) answers
"valid" in microseconds without importing either library; jsonschema, the reference, decides
every document the fast one does not accept and gives the errors :mod:`brokers.config.problems`
words.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from brokers.config.cache import cache_dir, write_cache_file

TYPE_CHECKING = False  # typing's, without importing typing (mypy reads it as True)
if TYPE_CHECKING:
    from typing import Any

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "broker-config.schema.json"


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

#: How the schema is compiled. use_default=False: fastjsonschema would otherwise write the
#: schema's defaults into the document it validates. Part of what a cached validator is checked
#: against, so changing these rebuilds it.
_FJS_OPTIONS: dict[str, bool] = {"use_default": False, "detailed_exceptions": False}

#: The generated code's import lines, and what stands in for them in the cached copy. Loading the
#: validator then imports neither fastjsonschema (nor typing, which it imports) nor decimal: with
#: our own modules free of typing too, a tenth of the pre-commit hook on 100 valid configs
#: (valgrind: 203.5 M -> 178.3 M instructions, 12%). Its exception is only caught (``fast_accepts``),
#: never inspected. Its numbers accept Decimal too: json.loads makes none, and a Decimal refused
#: here would only send the document to jsonschema. A line fastjsonschema writes otherwise is kept
#: as generated (the validator works, at the old cost; a test says so).
_IMPORTS_REPLACED: dict[str, str] = {
    "from fastjsonschema import JsonSchemaValueException, JsonSchemaValuesException\n": (
        "class JsonSchemaValueException(ValueError):\n"
        "    def __init__(self, message, *args, **kwargs):\n"
        "        super().__init__(message)\n"
        "JsonSchemaValuesException = JsonSchemaValueException\n"
    ),
    "from decimal import Decimal\n": "class Decimal:\n    pass\n",
}


def _fast_validator_code(definition: dict[str, Any], built_from: bytes) -> str:
    """fastjsonschema's generated validator, standalone, with ``validate`` as its entry point."""
    import fastjsonschema

    code = fastjsonschema.compile_to_code(
        definition,
        use_default=_FJS_OPTIONS["use_default"],
        detailed_exceptions=_FJS_OPTIONS["detailed_exceptions"],
    )
    main = re.search(r"^def (validate\w*)\(", code, re.MULTILINE)
    if main is None:  # pragma: no cover - a fastjsonschema that names its functions otherwise
        raise RuntimeError("fastjsonschema's generated code has no validate function")
    for line, stand_in in _IMPORTS_REPLACED.items():
        code = code.replace(line, stand_in)
    return code + f"\n\nvalidate = {main.group(1)}\nBUILT_FROM = {built_from!r}\n"


@functools.lru_cache(maxsize=1)
def _fast_validator() -> Callable[[Any], Any] | None:
    """The compiled validator of the schema (cached on disk per schema digest), or None."""
    import zlib

    # What the code is built from: the compile options and the schema's full text. The file
    # name only finds it; the copy stored in the file decides (no hashlib: importing it costs
    # more than the rest of this function).
    options = repr(sorted(_FJS_OPTIONS.items())) + repr(sorted(_IMPORTS_REPLACED.items()))
    source = options.encode() + b"\n" + _schema_source()
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
