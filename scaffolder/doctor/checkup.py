"""The doctor's run: the state the checks share, and the checks of what is on disk (the
config, the credentials, the broker built from them); the others have their own modules.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from brokers.config import (
    ENV_REFERENCE,
    BrokerConfig,
    env_references,
    load_config,
    read_document,
    substitute,
)
from brokers.errors import BrokerError, ConfigError, map_exception
from brokers.retry import NO_RETRY
from brokers.signing import mask
from scaffolder.doctor.clock import check_clock
from scaffolder.doctor.report import (
    FAIL,
    KEY_LIKE,
    OK,
    WARN,
    Check,
    DoctorReport,
    Redactor,
    redact_data,
)
from scaffolder.doctor.signed_read import check_signed_read
from scaffolder.doctor.tls import check_tls
from scaffolder.harness.record import move_url, redirect_exchange


def _api_urls(urls: Any) -> list[str]:
    if isinstance(urls, str):
        return [urls]
    if isinstance(urls, Mapping):
        return [u for value in urls.values() for u in _api_urls(value)]
    return []


class Checkup:
    """One run of the doctor for one broker: what the checks found so far, and the report."""

    def __init__(self, name: str, root: Path, path: Path, via: str | None, env: Mapping[str, str]):
        self.name = name
        self.root = root
        self.path = path
        self.via = via
        self.env = env
        try:
            self.shown_path = str(path.relative_to(root))
        except ValueError:
            self.shown_path = str(path)
        self.report = DoctorReport(name, self.shown_path, via)
        self.document: Any = None
        self.config: BrokerConfig | None = None
        self.references: list[tuple[str, str]] = []
        self.credentials: dict[str, str] = {}
        self.missing: list[str] = []
        self.redact = Redactor({})
        self.broker: Any = None
        self.integration = ""
        self.urls: list[str] = []

    # -- plumbing --------------------------------------------------------------------------
    def add(self, name: str, status: str, detail: str, **data: Any) -> Check:
        check = Check(name, status, self.redact(detail), redact_data(data, self.redact))
        self.report.checks.append(check)
        return check

    def var_for(self, credential: str) -> str:
        pointer = f"/api_credentials/{credential}"
        return next((var for p, var in self.references if p == pointer), credential)

    # -- checks ----------------------------------------------------------------------------
    def run(self) -> DoctorReport:
        self.check_config()
        self.read_credentials()
        self.check_broker()
        self.check_credentials()
        check_tls(self)
        clock = check_clock(self)
        check_signed_read(self, clock)
        return self.report

    def check_config(self) -> None:
        from scaffolder.validate import check_file

        report = check_file(self.path)
        try:
            self.document = read_document(self.path)[1]
            self.config = load_config(self.path, resolve_env=False)
        except ConfigError:
            self.config = None
        if report.ok:
            self.add("config", OK, f"{self.shown_path} is valid (schema and ccxt's metadata)")
            return
        first = report.problems[0]
        more = len(report.problems) - 1
        detail = (
            f"{self.shown_path}:{first.line or 1}:{first.column or 1} {first.pointer or '/'}: "
            f"{first.message}"
            + (f" (and {more} more: scaffolder validate {self.shown_path})" if more else "")
        )
        self.add("config", FAIL, detail, problems=len(report.problems))

    def read_credentials(self) -> None:
        """Which ``${VAR}`` are set; the values resolved for the broker; the redactor."""
        if not isinstance(self.document, dict):
            return
        self.references = list(env_references(self.document))
        self.missing = list(dict.fromkeys(v for _, v in self.references if not self.env.get(v)))
        if self.config is not None:
            for credential, reference in self.config.credentials.items():
                value = substitute(reference, self.env)
                used = {m.group(1) for m in ENV_REFERENCE.finditer(reference)}
                if value and not used & set(self.missing):
                    self.credentials[credential] = value
        values = [self.env[v] for _, v in self.references if self.env.get(v)]
        self.redact = Redactor(self.credentials, values)

    def check_broker(self) -> None:
        from brokers.ccxt_broker import CcxtBroker
        from brokers.registry import available, broker_class
        from brokers.rest_broker import RestBroker

        try:
            klass = broker_class(self.name)
        except BrokerError as exc:
            self.add("broker", FAIL, str(exc))
            return
        except SyntaxError as exc:  # e.g. conflict markers left by a merge or an update
            from scaffolder.errors import describe_syntax_error

            self.add("broker", FAIL, f"{self.name} does not import: {describe_syntax_error(exc)}")
            return
        except Exception as exc:  # any other import failure: reported, never a traceback
            self.add("broker", FAIL, f"{self.name} does not import: {type(exc).__name__}: {exc}")
            return
        target = available().get(self.name, f"{klass.__module__}:{klass.__qualname__}")
        if self.config is None:
            self.add("broker", WARN, f"{self.name} -> {target}; not built: the config is invalid")
            return
        config = self.config
        custom = substitute(config.custom, self.env)
        if self.via and issubclass(klass, RestBroker):
            for key in ("testnet_url", "base_url"):
                url = custom.get(key) or getattr(klass, key, "")
                if url:
                    custom[key] = move_url(str(url), self.via)
        config = dataclasses.replace(
            config,
            credentials=dict(self.credentials),
            custom=custom,
            settings=dataclasses.replace(config.settings, retry=NO_RETRY),
        )
        where = "testnet" if config.settings.testnet else "live exchange"
        try:
            broker = klass(config)
            if isinstance(broker, CcxtBroker):
                self.integration = "ccxt"
                exchange = broker.exchange
                self.urls = _api_urls(exchange.urls.get("api"))
                if self.via:
                    redirect_exchange(exchange, self.via)
                what = f"ccxt exchange {exchange.id}, {where}"
            elif isinstance(broker, RestBroker):
                self.integration = "rest"
                key = "testnet_url" if config.settings.testnet else "base_url"
                self.urls = [str(self.config.custom.get(key) or getattr(broker, key))]
                what = f"signed REST at {broker.url}, {where}"
            else:
                self.add(
                    "broker",
                    WARN,
                    f"{self.name} -> {target} is neither a ccxt nor a signed-REST broker: the "
                    "doctor checks only its config and credentials",
                )
                return
        except Exception as exc:  # a broken broker class or config: report, never a traceback
            error = map_exception(exc, broker=self.name)
            self.add("broker", FAIL, f"{self.name} -> {target} does not build: {error}")
            return
        if config.settings.testnet:
            from scaffolder import testnet_guard

            stray, hosts = testnet_guard.stray_urls(broker, self.via)
            if stray:  # not built: no key goes to what may be the live exchange
                self.add(
                    "broker",
                    FAIL,
                    testnet_guard.describe(self.name, stray, hosts)
                    + ": fix custom_settings or --via, or set settings.testnet to false",
                )
                return
        self.broker = broker
        via = f", via {self.via}" if self.via else ""
        self.add("broker", OK, f"{self.name} -> {target} ({what}{via})")

    def check_credentials(self) -> None:
        if not isinstance(self.document, dict):
            self.add("credentials", WARN, "not checked: the config could not be read")
            return
        if not self.references:
            self.add(
                "credentials",
                WARN,
                "the config references no ${VAR}: signed calls (balance, orders) cannot work",
            )
            return
        if self.missing:
            where = {var: pointer for pointer, var in self.references}
            named = ", ".join(f"{var} ({where[var]})" for var in self.missing)
            self.add(
                "credentials",
                FAIL,
                f"not set: {named}; export "
                + ("it" if len(self.missing) == 1 else "them")
                + " (see .env.example)",
                missing=self.missing,
            )
            return
        shown = []
        for pointer, var in dict.fromkeys(self.references):
            credential = pointer.rsplit("/", 1)[-1]
            value = self.env.get(var, "")
            if pointer.startswith("/api_credentials/") and credential in KEY_LIKE:
                shown.append(f"{var}={mask(value)}")
            else:
                shown.append(f"{var} set ({len(value)} characters)")
        self.add(
            "credentials",
            OK,
            ", ".join(shown),
            present=[var for _, var in self.references],
        )
