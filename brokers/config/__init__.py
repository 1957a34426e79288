"""Loading a broker config: JSON, then the schema, then ``${VAR}`` from the environment.

Every failure is a :class:`~brokers.errors.ConfigError` naming the file, the JSON pointer, the
line and column where known, and what to do about it. The schema is compiled once per process.

One module a step, imported from here:

- :mod:`~brokers.config.document`: reading strict JSON with positions;
- :mod:`~brokers.config.validators`: the schema and its validators (the compiled fast path);
- :mod:`~brokers.config.problems`: the schema's findings as sentences;
- :mod:`~brokers.config.env`: ``${VAR}`` references, checked and substituted;
- :mod:`~brokers.config.build`: the typed :class:`BrokerConfig`, and :func:`load_config`;
- :mod:`~brokers.config.cache`: where derived data (the compiled validator) is kept.
"""

from __future__ import annotations

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

# Private, kept importable from here: the tests and the fuzzers reach the two validators.
from brokers.config.validators import _fast_validator as _fast_validator
from brokers.config.validators import _validator as _validator

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
