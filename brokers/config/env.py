"""``${VAR}`` references in a config document: finding them, checking them, substituting them.

One substitution for every reader of a config: the loader (:func:`interpolate`) and
``scaffolder doctor`` (:func:`substitute` on single values). A ``$schema`` key is a link to the
schema, never a setting, so its value is neither reported nor substituted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from brokers.json_positions import locate, pointer_of

TYPE_CHECKING = False  # typing's, without importing typing (mypy reads it as True)
if TYPE_CHECKING:
    from typing import Any

#: A reference to an environment variable: ``${NAME}``.
ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


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
            from brokers.errors import ConfigError  # only a missing variable needs the error tree

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
    return substitute(document, env)


def substitute(value: Any, env: Mapping[str, str]) -> Any:
    """``value`` (a document, or any part of one) with every ``${VAR}`` replaced by its value
    in ``env``; an unset variable becomes ``""`` (:func:`interpolate` refuses those first).
    A ``$schema`` key's value is kept as written, at any depth."""
    if isinstance(value, dict):
        return {k: (v if k == "$schema" else substitute(v, env)) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, env) for v in value]
    if isinstance(value, str):
        return ENV_REFERENCE.sub(lambda m: env.get(m.group(1), ""), value)
    return value
