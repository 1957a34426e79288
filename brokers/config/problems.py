"""What the schema finds wrong with a config, as sentences a person can act on.

Each :class:`Problem` names the JSON pointer, the rule and, given the document's text, the line
and column. A value under ``api_credentials`` is never quoted back: a literal secret is named
by its length only (:func:`brokers.redaction.hidden`).
"""

from __future__ import annotations

import json
from collections import namedtuple

from brokers.config.env import ENV_REFERENCE
from brokers.config.validators import _validator, fast_accepts
from brokers.json_positions import locate, pointer_of

TYPE_CHECKING = False  # typing's, without importing typing (mypy reads it as True)
if TYPE_CHECKING:
    from typing import Any, NamedTuple

    class Problem(NamedTuple):
        """One thing wrong with a config document."""

        pointer: str
        message: str
        rule: str
        line: int | None = None
        column: int | None = None

else:
    # The same named tuple, made without typing: typing.NamedTuple turns each annotation into a
    # ForwardRef, whose compile() (the first in the process) cost the pre-commit hook on 100
    # valid configs 11.8 M of 215.6 M instructions; typing's import cost another 12 M.
    # tests/test_named_tuples.py checks that the fields and defaults match the class above.
    Problem = namedtuple(
        "Problem", "pointer message rule line column", defaults=(None, None), module=__name__
    )
    Problem.__doc__ = "One thing wrong with a config document."


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
    import difflib  # only a refused document needs it

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
        from brokers.redaction import hidden  # a refused document only

        return hidden(value)
    text = json.dumps(value) if not isinstance(value, (dict, list)) else _kind(value)
    return text if len(text) <= 60 else text[:57] + "..."
