"""From a parsed document to a typed :class:`BrokerConfig`: validated, references resolved.

:func:`load_config` is the whole path: read (:mod:`~brokers.config.document`), check against
the schema (:mod:`~brokers.config.problems`), resolve ``${VAR}`` (:mod:`~brokers.config.env`),
build the dataclasses.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from brokers.config.document import MAX_NESTING, _nested_too_deep, read_document
from brokers.config.env import interpolate
from brokers.config.problems import schema_problems
from brokers.errors import ConfigError
from brokers.redaction import remember_secrets

if TYPE_CHECKING:
    from brokers.retry import RetryPolicy

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
    credentials = {k: v for k, v in document["api_credentials"].items() if v}
    if resolve_env:
        remember_secrets(credentials.values())  # masked in every message from now on
    settings = document["settings"]
    policy = _retry_policy(settings.get("retry", {}))
    return BrokerConfig(
        name=document["name"],
        integration=document.get("integration", "ccxt"),
        type=document["type"],
        enabled=document["enabled"],
        description=document.get("description", ""),
        credentials=credentials,
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
