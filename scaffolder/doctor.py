"""``scaffolder doctor NAME``: the troubleshooting checklist, as a command.

Each check is one line, ``ok|warn|fail  <check>: <detail>``:

``config``
    the config file validates (the schema, then ccxt's metadata for ccxt brokers).
``broker``
    the broker is registered and builds from the config (sandbox URLs, URL overrides).
``credentials``
    every ``${VAR}`` the config references is set; a missing one is named. Values are never
    printed: a key shows only its masked tail, a secret only its length.
``tls``
    certifi's CA bundle exists and loads, and which https hosts a TLS handshake would verify
    against it. Nothing is connected for this check.
``clock skew``
    the local clock against the exchange's server time (ccxt's ``fetch_time``, or the REST
    broker's ``time`` endpoint): warn over 1 s, fail beyond the exchange's recvWindow or 30 s,
    whichever is smaller.
``signed read``
    connectivity and authentication: the balance, a signed request.
``signed string``
    only when the exchange refused the key or the signature: what was signed (the canonical
    string), with the signature, the key and the secret masked.

The report's exit code is 0 when no check failed, 1 otherwise; a bad name, an unknown broker
or a bad ``--via`` URL are usage errors (exit 2, raised as :class:`UsageError`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from brokers.config import (
    ENV_REFERENCE,
    BrokerConfig,
    default_config_path,
    env_references,
    load_config,
    read_document,
    substitute,
)
from brokers.errors import (
    AuthenticationError,
    BrokerError,
    ConfigError,
    InvalidNonceError,
    map_exception,
)
from brokers.redaction import HIDDEN, redact
from brokers.redaction import Redactor as _Redactor
from brokers.retry import NO_RETRY
from brokers.signing import mask
from scaffolder.errors import UsageError
from scaffolder.harness.record import check_via, move_url, redirect_exchange
from scaffolder.validate import one_line

OK, WARN, FAIL = "ok", "warn", "fail"
#: Skew above which the clock check warns (ms).
WARN_SKEW_MS = 1000
#: Skew above which it fails when the exchange states no recvWindow (ms).
MAX_SKEW_MS = 30000
#: Credentials whose masked tail may be shown (identifiers); the others show only a length.
KEY_LIKE = frozenset({"api_key", "uid", "account_id", "login", "wallet_address"})
#: Headers that carry a signature or a key: shown (masked) in the signed string.
_AUTH_HEADER = re.compile(r"(?i)(key|sign|auth|passphrase|token|timestamp|nonce|payload)")
#: Headers whose value is the signature itself (X-GEMINI-SIGNATURE, CB-ACCESS-SIGN...): never shown.
_SIGNATURE_HEADER = re.compile(r"(?i)sign")


def _auth_headers(headers: Mapping[str, Any]) -> dict[str, Any]:
    """The auth headers of a signed request, signature values replaced by ``***``."""
    return {
        k: HIDDEN if _SIGNATURE_HEADER.search(k) else v
        for k, v in headers.items()
        if _AUTH_HEADER.search(k)
    }


@dataclass
class Check:
    """One line of the report."""

    name: str
    status: str
    detail: str
    data: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        return f"{self.status:<4}  {self.name}: {self.detail}"

    def as_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"check": self.name, "status": self.status, "detail": self.detail}
        if self.data:
            entry["data"] = self.data
        return entry


@dataclass
class DoctorReport:
    """Every check run for one broker."""

    broker: str
    config: str
    via: str | None
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.status != FAIL for c in self.checks)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def check(self, name: str) -> Check | None:
        """The check called ``name``, if it ran."""
        return next((c for c in self.checks if c.name == name), None)

    def text(self) -> str:
        return "\n".join(c.line() for c in self.checks)

    def as_json(self) -> str:
        return json.dumps(
            {
                "broker": self.broker,
                "config": self.config,
                "via": redact(self.via) if self.via else None,
                "ok": self.ok,
                "exit_code": self.exit_code,
                "checks": [c.as_dict() for c in self.checks],
            },
            indent=2,
        )


class Redactor(_Redactor):
    """The shared :class:`brokers.redaction.Redactor` (credential values in every encoding,
    signed-URL parameters, URL passwords), with identifiers' tails shown, as one line."""

    def __init__(self, credentials: Mapping[str, str], extra_secrets: Iterable[str] = ()) -> None:
        super().__init__(credentials, extra_secrets, key_like=KEY_LIKE)

    def __call__(self, text: str) -> str:
        return one_line(super().__call__(text))


def _now_ms() -> float:
    return time.time() * 1000


@dataclass
class _Signed:
    """One request the client signed: what was sent and the string(s) fed to the HMAC."""

    method: str
    url: str
    body: str | None
    headers: dict[str, str]
    signed: list[tuple[str, str]] = field(default_factory=list)  # (algorithm, message)


class _CcxtCapture:
    """Records what a ccxt exchange signs: its ``sign()`` results and its ``hmac()`` inputs."""

    def __init__(self, exchange: Any) -> None:
        self.requests: list[_Signed] = []
        self._current: list[tuple[str, str]] | None = None
        original_sign = exchange.sign
        original_hmac = type(exchange).hmac

        def hmac_spy(request: Any, secret: Any, algorithm: Any = None, digest: str = "hex") -> Any:
            if self._current is not None:
                self._current.append((_algorithm_name(algorithm), _text(request)))
            if algorithm is None:
                return original_hmac(request, secret, digest=digest)
            return original_hmac(request, secret, algorithm, digest)

        def sign_spy(*args: Any, **kwargs: Any) -> Any:
            messages: list[tuple[str, str]] = []
            self._current = messages
            try:
                result = original_sign(*args, **kwargs)
            finally:
                self._current = None
            if isinstance(result, dict):
                self.requests.append(
                    _Signed(
                        str(result.get("method") or ""),
                        str(result.get("url") or ""),
                        _text(result.get("body")) if result.get("body") is not None else None,
                        {str(k): str(v) for k, v in (result.get("headers") or {}).items()},
                        messages,
                    )
                )
            return result

        exchange.sign = sign_spy
        exchange.hmac = hmac_spy

    def last_signed(self, secrets: list[str]) -> _Signed | None:
        """The last request that was signed or carried a credential."""
        for request in reversed(self.requests):
            blob = request.url + (request.body or "") + " ".join(request.headers.values())
            if request.signed or any(s and s in blob for s in secrets):
                return request
        return None


def _algorithm_name(algorithm: Any) -> str:
    name = algorithm if isinstance(algorithm, str) else getattr(algorithm, "__name__", "")
    name = str(name or "sha256").removeprefix("openssl_")
    return name.upper()


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, (bytes, bytearray)) else str(value)


def _api_urls(urls: Any) -> list[str]:
    if isinstance(urls, str):
        return [urls]
    if isinstance(urls, Mapping):
        return [u for value in urls.values() for u in _api_urls(value)]
    return []


def _server_time(data: Any) -> float | None:
    """Milliseconds from a time endpoint's answer (``{"serverTime": ms}`` and friends)."""
    if isinstance(data, Mapping):
        for key in ("serverTime", "server_time", "time", "timestamp", "epoch", "iso"):
            if key in data:
                return _server_time(data[key])
        return None
    if isinstance(data, bool):
        return None
    if isinstance(data, (int, float)):
        return float(data) * (1000 if data < 1e11 else 1)
    if isinstance(data, str):
        try:
            return _server_time(float(data))
        except ValueError:
            return None
    return None


class _Doctor:
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
        check = Check(name, status, self.redact(detail), _redact_data(data, self.redact))
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
        self.check_tls()
        clock = self.check_clock()
        self.check_signed_read(clock)
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

    def check_tls(self) -> None:
        try:
            import certifi

            cafile = certifi.where()
        except Exception as exc:
            self.add("tls", FAIL, f"certifi is not usable ({exc}): pip install certifi")
            return
        count, problem = _load_bundle(cafile)
        if problem:
            self.add("tls", FAIL, f"certifi's CA bundle {cafile} {problem}: reinstall certifi")
            return
        hosts = sorted({urlsplit(u).netloc for u in self.urls if u.startswith("https://")})
        detail = f"certifi's CA bundle {cafile} loads {count} CA certificates"
        status = OK
        for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
            override = self.env.get(variable)
            if override:
                other, other_problem = _load_bundle(override)
                if other_problem:
                    self.add("tls", FAIL, f"{variable}={override} {other_problem}; unset it")
                    return
                detail += f"; {variable}={override} ({other} CA certificates) replaces it"
                break
        verify = getattr(getattr(self.broker, "_exchange", None), "verify", True)
        if verify is False:
            status = WARN
            detail += "; certificate verification is switched off (ccxt verify=False)"
        if hosts:
            detail += f"; TLS to {', '.join(hosts)} would verify against it (not connected)"
        elif self.urls:
            detail += "; the broker's URLs are not https: no TLS"
        if self.via and urlsplit(self.via).scheme != "https":
            detail += f"; this run goes to {self.via} without TLS"
        self.add("tls", status, detail, cafile=cafile, certificates=count, https_hosts=hosts)

    def check_clock(self) -> Check:
        if self.broker is None:
            return self.add("clock skew", WARN, "not checked: the broker could not be built")
        recv_window: int | None
        if self.integration == "ccxt":
            exchange = self.broker.exchange
            if not exchange.has.get("fetchTime"):
                return self.add(
                    "clock skew",
                    WARN,
                    f"not checked: ccxt's {exchange.id} cannot fetch the server time (no fetchTime)",
                )
            fetch: Callable[[], Any] = exchange.fetch_time
            option = exchange.options.get("recvWindow")
            recv_window = self.config.settings.recv_window if self.config else None
            recv_window = recv_window or (int(option) if isinstance(option, (int, float)) else None)
        else:
            recv_window = self.config.settings.recv_window if self.config else None

            def fetch() -> Any:
                return self.broker.request("GET", "time")

        before = _now_ms()
        try:
            answer = fetch()
        except Exception as exc:
            error = map_exception(exc, broker=self.name)
            return self.add(
                "clock skew",
                FAIL,
                f"cannot reach {self.name} for its server time: {type(error).__name__}: {error}",
                error=type(error).__name__,
            )
        after = _now_ms()
        server = _server_time(answer)
        if server is None:
            return self.add(
                "clock skew",
                WARN,
                f"the time endpoint's answer holds no server time: {answer!r:.80}",
            )
        skew = (before + after) / 2 - server
        limit = min(recv_window, MAX_SKEW_MS) if recv_window else MAX_SKEW_MS
        data = {
            "skew_ms": round(skew),
            "server_time_ms": round(server),
            "round_trip_ms": round(after - before),
            "recv_window_ms": recv_window,
            "warn_over_ms": WARN_SKEW_MS,
            "fail_over_ms": limit,
        }
        if abs(skew) <= WARN_SKEW_MS:
            return self.add(
                "clock skew",
                OK,
                f"local clock within {abs(skew) / 1000:.3f} s of {self.name}'s server time "
                f"(round trip {after - before:.0f} ms)",
                **data,
            )
        direction = "ahead of" if skew > 0 else "behind"
        bound = f"the recvWindow of {recv_window} ms" if recv_window else f"{MAX_SKEW_MS} ms"
        status = FAIL if abs(skew) > limit else WARN
        consequence = (
            f"signed requests are refused beyond {bound}"
            if status == FAIL
            else f"over 1 s; signed requests are refused beyond {bound}"
        )
        if skew > 0:
            consequence += ", and Binance-style exchanges refuse any stamped over 1 s ahead"
        return self.add(
            "clock skew",
            status,
            f"local clock is {abs(skew) / 1000:.1f} s {direction} {self.name}'s server time "
            f"({consequence}): synchronise the clock (NTP)",
            **data,
        )

    def check_signed_read(self, clock: Check) -> None:
        if self.broker is None:
            self.add("signed read", WARN, "not tried: the broker could not be built")
            return
        if self.missing:
            self.add("signed read", WARN, f"not tried: {', '.join(self.missing)} not set")
            return
        if self.integration == "ccxt":
            exchange = self.broker.exchange
            if not exchange.has.get("fetchBalance"):
                self.add(
                    "signed read", WARN, f"not tried: ccxt's {exchange.id} has no fetchBalance"
                )
                return
            capture = _CcxtCapture(exchange)
            try:
                raw = exchange.fetch_balance()
            except Exception as exc:
                self._signed_failure(self.broker._to_error(exc), clock, ccxt=capture)
                return
            total = raw.get("total") if isinstance(raw, dict) else None
            signed = capture.last_signed(list(self.credentials.values()))
            where = f"{signed.method} {signed.url.split('?')[0]}" if signed else "fetch_balance"
        else:
            rest: list[tuple[str, str, Any]] = []
            original = self.broker.signer.sign

            def spy(method: str, path: str, params: Any, body: str | None = None) -> Any:
                signed_request = original(method, path, params, body)
                rest.append((method, path, signed_request))
                return signed_request

            self.broker.signer.sign = spy
            try:
                total = self.broker.parse_balance(
                    self.broker.request("GET", "balance", signed=True)
                )
            except Exception as exc:
                self._signed_failure(map_exception(exc, broker=self.name), clock, rest=rest)
                return
            where = f"GET {self.broker.url}{self.broker.endpoints.get('balance', 'balance')}"
        count = len(total) if isinstance(total, Mapping) else 0
        self.add(
            "signed read",
            OK,
            f"{where} was signed and accepted: the balance lists {count} currencies",
        )

    def _signed_failure(
        self,
        error: BrokerError,
        clock: Check,
        *,
        ccxt: _CcxtCapture | None = None,
        rest: list[tuple[str, str, Any]] | None = None,
    ) -> None:
        kind = type(error).__name__
        if not isinstance(error, (AuthenticationError, InvalidNonceError)):
            self.add("signed read", FAIL, f"{kind}: {error}", error=kind)
            return
        self.add(
            "signed read",
            FAIL,
            f"{self.name} refused the request ({kind}: {error}); {self._hint(error, clock)}",
            error=kind,
        )
        if ccxt is not None:
            signed = ccxt.last_signed(list(self.credentials.values()))
            if signed is None:
                return
            parts = [f"{signed.method} {signed.url}"]
            if signed.body:
                parts.append(f"body {signed.body}")
            parts += [f"HMAC-{algorithm} of {message!r}" for algorithm, message in signed.signed]
            headers = _auth_headers(signed.headers)
            parts += [f"{k}: {v}" for k, v in headers.items()]
            canonical = [message for _, message in signed.signed]
            self.add(
                "signed string",
                FAIL,
                "; ".join(parts),
                method=signed.method,
                url=signed.url,
                body=signed.body,
                canonical=canonical,
                headers=headers,
            )
        elif rest:
            method, path, signed_request = rest[-1]
            headers = _auth_headers(dict(signed_request.headers))
            scheme = self.broker.signer.scheme
            self.add(
                "signed string",
                FAIL,
                f"{method} {self.broker.url}{path}: {scheme} of {signed_request.canonical!r}; "
                + "; ".join(f"{k}: {v}" for k, v in headers.items()),
                method=method,
                url=f"{self.broker.url}{path}",
                canonical=[signed_request.canonical],
                headers=headers,
            )

    def _hint(self, error: BrokerError, clock: Check) -> str:
        text = str(error).lower()
        key_var, secret_var = self.var_for("api_key"), self.var_for("api_secret")
        if clock.status != OK and "skew_ms" in clock.data:
            return "the clock skew above is the likely cause: synchronise the clock (NTP)"
        if any(word in text for word in ("timestamp", "recvwindow", "nonce")):
            return "the exchange refused the request's timestamp: check the clock"
        if "signature" in text:
            return (
                f"the exchange computed another signature: {secret_var} does not belong to the "
                f"key in {key_var}, or was copied wrongly (what was signed is below)"
            )
        if "key" in text:
            where = "testnet" if self.config and self.config.settings.testnet else "live"
            return (
                f"the exchange does not accept the key in {key_var}: it must be a {where} key "
                "with read permission (and this IP allowed)"
            )
        return f"check {key_var}, {secret_var} and the key's permissions"


def _load_bundle(path: str) -> tuple[int, str | None]:
    """How many CA certificates a bundle holds, or why it cannot be used."""
    if not Path(path).is_file():
        return 0, "does not exist"
    try:
        context = ssl.create_default_context(cafile=path)
    except (ssl.SSLError, OSError, ValueError) as exc:
        return 0, f"does not load ({exc})"
    count = int(context.cert_store_stats().get("x509_ca", 0))
    if not count:
        return 0, "holds no CA certificate"
    return count, None


def _redact_data(data: dict[str, Any], redact: Callable[[str], str]) -> dict[str, Any]:
    def clean(value: Any) -> Any:
        if isinstance(value, str):
            return redact(value)
        if isinstance(value, dict):
            return {redact(str(k)): clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        return value

    return {k: clean(v) for k, v in data.items()}


def run(
    name: str, root: Path, *, via: str | None = None, env: Mapping[str, str] | None = None
) -> DoctorReport:
    """Run every check for broker ``name`` of the project at ``root``."""
    from scaffolder.generate import check_name

    check_name(name)
    if via is not None:
        check_via(via)
    path = default_config_path(name, root)
    if not path.exists():
        from brokers.registry import available

        known = ", ".join(available()) or "none"
        raise UsageError(
            f"no config for {name!r} at {path}: generate the broker with `scaffolder new {name}` "
            f"(brokers: {known})"
        )
    return _Doctor(name, root, path, via, os.environ if env is None else env).run()
