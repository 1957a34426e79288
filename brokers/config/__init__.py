"""Loading a broker config: JSON, then the schema, then ``${VAR}`` from the environment.

Every failure is a :class:`~brokers.errors.ConfigError` naming the file, the JSON pointer, the
line and column where known, and what to do about it. The schema is compiled once per process.

One module a step, each imported from here on first use:

- :mod:`~brokers.config.document`: reading strict JSON with positions;
- :mod:`~brokers.config.validators`: the schema and its validators (the compiled fast path);
- :mod:`~brokers.config.problems`: the schema's findings as sentences;
- :mod:`~brokers.config.env`: ``${VAR}`` references, checked and substituted;
- :mod:`~brokers.config.build`: the typed :class:`BrokerConfig`, and :func:`load_config`;
- :mod:`~brokers.config.cache`: where derived data (the compiled validator) is kept.
"""

from __future__ import annotations

from brokers import _lazy_exports

TYPE_CHECKING = False  # typing's, without importing typing (mypy reads it as True)

__all__ = [
    "CCXT_CREDENTIALS",
    "ENV_REFERENCE",
    "MAX_CONFIG_BYTES",
    "MAX_NESTING",
    "SCHEMA_PATH",
    "BrokerConfig",
    "BrokerSettings",
    "Problem",
    "build_config",
    "cache_dir",
    "default_config_path",
    "env_references",
    "fast_accepts",
    "interpolate",
    "load_config",
    "read_document",
    "schema",
    "schema_problems",
    "substitute",
    "write_cache_file",
]

#: Public name -> the step's module that defines it. Each module is imported on first use (PEP
#: 562): checking a document (``read_document``, ``schema_problems``), as ``scaffolder validate``
#: does, imports neither the typed config (``build``, with dataclasses) nor jsonschema.
_EXPORTS: dict[str, str] = {
    **dict.fromkeys(
        [
            "CCXT_CREDENTIALS",
            "BrokerConfig",
            "BrokerSettings",
            "build_config",
            "default_config_path",
            "load_config",
        ],
        "brokers.config.build",
    ),
    **dict.fromkeys(["cache_dir", "write_cache_file"], "brokers.config.cache"),
    **dict.fromkeys(
        ["MAX_CONFIG_BYTES", "MAX_NESTING", "read_document"], "brokers.config.document"
    ),
    **dict.fromkeys(
        ["ENV_REFERENCE", "env_references", "interpolate", "substitute"], "brokers.config.env"
    ),
    **dict.fromkeys(["Problem", "schema_problems"], "brokers.config.problems"),
    # Private, kept importable from here: the tests and the fuzzers reach the two validators.
    **dict.fromkeys(
        ["SCHEMA_PATH", "fast_accepts", "schema", "_fast_validator", "_validator"],
        "brokers.config.validators",
    ),
}


__getattr__, __dir__ = _lazy_exports(__name__, globals(), _EXPORTS)


if TYPE_CHECKING:  # for type checkers and editors; not executed at run time
    from brokers.config.build import (
        CCXT_CREDENTIALS,
        BrokerConfig,
        BrokerSettings,
        build_config,
        default_config_path,
        load_config,
    )
    from brokers.config.cache import cache_dir, write_cache_file
    from brokers.config.document import MAX_CONFIG_BYTES, MAX_NESTING, read_document
    from brokers.config.env import ENV_REFERENCE, env_references, interpolate, substitute
    from brokers.config.problems import Problem, schema_problems
    from brokers.config.validators import SCHEMA_PATH, fast_accepts, schema
    from brokers.config.validators import _fast_validator as _fast_validator
    from brokers.config.validators import _validator as _validator
