"""What ``scaffolder validate`` refuses in a config beyond the schema's shape (issue 16 item 14).

The schema says what a config looks like; these rules say what a config must not carry even
where its shape allows it (``custom_settings`` is free-form, and an ``${VAR}`` reference is
well-formed whatever it names):

- a literal secret under an auth-like name in ``custom_settings`` (``ccxt_options.secret``):
  secrets live in the environment;
- a ``${VAR}`` that is not the broker's own (``<NAME>_...``) nor listed in ``allowed_env``:
  ``${HOME}`` or ``${AWS_SECRET_ACCESS_KEY}`` would hand another program's secret, or a
  path, to the exchange;
- control characters and lone surrogates in any key or value (a tab or a newline only in
  ``description``): invisible in an editor, mangled by every tool downstream;
- URLs that are not ``http(s)://`` or ``ws(s)://`` with a host, and ``javascript:``,
  ``data:``, ``vbscript:`` or ``file:`` values anywhere.

Each problem names the JSON pointer; a secret value is never repeated (its length only, from
:func:`brokers.redaction.hidden`).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterator
from urllib.parse import urlsplit

from brokers.config import ENV_REFERENCE, Problem
from brokers.json_positions import locate, pointer_of

TYPE_CHECKING = False  # typing's, without importing typing (mypy reads it as True)
if TYPE_CHECKING:
    from typing import Any

    JsonPath = tuple[str | int, ...]
    #: (path, value) of every string value of a document, in document order.
    Strings = list[tuple[JsonPath, str]]
    Nodes = list[tuple[JsonPath, Any]]

#: Schemes a URL in a config may have.
URL_SCHEMES = ("http", "https", "ws", "wss")
#: Keys whose string values are URLs (and everything under ``urls``, ccxt's URL tree).
_URL_KEY = re.compile(r"(?i)(?:^|_)(?:url|uri|endpoint)s?$")
_ACTIVE_SCHEME = re.compile(r"(?i)^\s*(?:javascript|data|vbscript|file)\s*:")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
#: Characters allowed in the description (and nowhere else) among the control characters.
_DESCRIPTION_CONTROLS = frozenset("\t\n")
#: Control characters (category Cc) and surrogates (Cs). Compiled by ``re`` on first use only
#: (a valid file seldom needs them): the surrogate range alone costs 4 M instructions to compile,
#: 2% of a pre-commit run over 100 valid configs.
_SUSPECT = "[\x00-\x1f\x7f-\x9f\ud800-\udfff]"
#: Those of them a JSON string may hold unescaped.
_SUSPECT_UNESCAPED = "[\x7f-\x9f\ud800-\udfff]"


def content_problems(document: Any, text: str) -> list[Problem]:
    """Every content rule broken by ``document`` (parsed from ``text``), located in ``text``."""
    if not isinstance(document, dict):
        return []
    strings: Strings = []
    _collect_strings(document, (), strings)
    problems = [
        *(() if _clean(text) else _character_problems(list(_walk(document)))),
        *_url_problems(strings),
        *_custom_secret_problems(document, strings),
        *_env_problems(document, strings),
    ]
    return [Problem(p.pointer, p.message, p.rule, *locate(text, p.pointer)) for p in problems]


def _clean(text: str) -> bool:
    """Whether no key or value of the JSON ``text`` can hold a suspect character.

    Every key and value is text between quotes in ``text``, where JSON allows no raw control
    character below U+0020: with no escape (``\\n``, ``\\u0000``) and none of the others, no
    key or value holds one, and the per-string scan is skipped. An ASCII text can hold only
    U+007F of them.
    """
    if "\\" in text:
        return False
    if text.isascii():
        return "\x7f" not in text
    return re.search(_SUSPECT_UNESCAPED, text) is None


def _collect_strings(value: Any, path: JsonPath, strings: Strings) -> None:
    """Append (path, value) of every string under ``value`` (a dict or list) to ``strings``."""
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, child in items:
        if isinstance(child, str):
            strings.append(((*path, key), child))
        elif isinstance(child, (dict, list)):
            _collect_strings(child, (*path, key), strings)


def _walk(value: Any, path: JsonPath = ()) -> Iterator[tuple[JsonPath, Any]]:
    """Every (path, value) of the document, the document itself first."""
    yield path, value
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _walk(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _walk(child, (*path, index))


def _bad_character(text: str, allowed: frozenset[str] = frozenset()) -> str | None:
    for match in re.finditer(_SUSPECT, text):  # a regex first: most strings hold none
        char = match.group(0)
        category = unicodedata.category(char)
        if category == "Cs":
            return f"a lone surrogate (U+{ord(char):04X}), which is not text"
        if category == "Cc" and char not in allowed:
            return f"a control character (U+{ord(char):04X})"
    return None


def _character_problems(nodes: Nodes) -> Iterator[Problem]:
    for path, value in nodes:
        if path and isinstance(path[-1], str):
            bad = _bad_character(path[-1])
            if bad:
                yield Problem(
                    pointer_of(path), f"the key holds {bad}: rename it", "content-characters"
                )
        if isinstance(value, str):
            allowed = _DESCRIPTION_CONTROLS if path == ("description",) else frozenset()
            bad = _bad_character(value, allowed)
            if bad:
                yield Problem(
                    pointer_of(path),
                    f"the value holds {bad}: remove it (write plain text)",
                    "content-characters",
                )


@functools.lru_cache(maxsize=1024)
def _is_url_position(path: JsonPath) -> bool:
    """Whether a string at ``path`` is a URL (cached: configs share their paths)."""
    keys = [part for part in path if isinstance(part, str)]
    if not keys or keys[0] == "$schema":
        return False
    return "urls" in keys[1:] or bool(_URL_KEY.search(keys[-1]))


def _url_problems(strings: Strings) -> Iterator[Problem]:
    for path, value in strings:
        if path == ("$schema",):
            continue
        if ":" in value and _ACTIVE_SCHEME.match(value):  # no scheme without a colon
            yield Problem(
                pointer_of(path),
                f"{value.strip()[:40]!r} is an active URL (script or inline data); a config holds only "
                "http(s) and ws(s) URLs",
                "content-url",
            )
        elif value and _is_url_position(path) and not ENV_REFERENCE.fullmatch(value):
            try:
                parts = urlsplit(value)
            except ValueError:  # "http://[::1": an unclosed IPv6 host
                parts = None
            if parts is None or parts.scheme.lower() not in URL_SCHEMES or not parts.hostname:
                yield Problem(
                    pointer_of(path),
                    f"{value.strip()[:40]!r} is not an http(s):// or ws(s):// URL with a host",
                    "content-url",
                )


def _custom_secret_problems(document: dict[str, Any], strings: Strings) -> Iterator[Problem]:
    prefix = _prefix(document) or "BROKER_"
    for path, value in strings:
        if len(path) < 2 or path[0] != "custom_settings":
            continue
        # Imported for a custom setting only: the module compiles its patterns on import.
        from brokers.redaction import hidden, is_auth_name

        key = path[-1]
        if (
            isinstance(key, str)
            and value
            and is_auth_name(key)
            and not ENV_REFERENCE.fullmatch(value)
        ):
            variable = prefix + re.sub(r"[^A-Z0-9]+", "_", key.upper()).strip("_")
            yield Problem(
                pointer_of(path),
                f"{hidden(value)} looks like a literal secret: export it and write "
                f"'${{{variable}}}'; secrets are not allowed in config files",
                "content-secret",
            )


def _prefix(document: dict[str, Any]) -> str | None:
    name = document.get("name")
    return f"{name.upper()}_" if isinstance(name, str) and _NAME.match(name) else None


def _env_problems(document: dict[str, Any], strings: Strings) -> Iterator[Problem]:
    """``${VAR}`` references (as :func:`brokers.config.env_references` finds them) that are
    neither the broker's own nor listed in ``allowed_env``."""
    prefix = _prefix(document)
    if prefix is None:
        return
    listed = document.get("allowed_env")
    allowed = {v for v in listed if isinstance(v, str)} if isinstance(listed, list) else set()
    for path, value in strings:
        if "${" not in value or path[0] in ("$schema", "allowed_env"):  # no reference
            continue
        for match in ENV_REFERENCE.finditer(value):
            variable = match.group(1)
            if not variable.startswith(prefix) and variable not in allowed:
                yield Problem(
                    pointer_of(path),
                    f"'${{{variable}}}' is not a variable of this broker: name it {prefix}..., "
                    f'or list it in "allowed_env" if it is meant to be shared',
                    "content-env",
                )
