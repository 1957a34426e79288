"""Fault injection at a broker's HTTP transport, for replay (no server) and for the stand-in.

:func:`inject_faults` wraps the ``requests`` adapters of a broker's session (ccxt brokers:
``broker.exchange.session``; REST brokers: ``broker._session``, created when missing) so that
chosen requests fail the way real exchanges fail::

    with inject_faults(broker, Fault("http_503", path="/api/v3/ticker/24hr")) as faults:
        broker.get_ticker("BTC/USDT")          # the first attempt gets a 503, the retry replays
    assert faults.fired == ["http_503"]

A fault either never reaches the exchange (the inner adapter, i.e. vcrpy's cassette or the
network, is not called) or is applied after the exchange answered (the inner adapter *is*
called, so in replay the cassette interaction is consumed and on a real server the order
exists): see :data:`FAULTS` and :data:`AFTER_ACCEPT`.

As a pytest plugin (``-p scaffolder.harness.faults``; the harness plugin offers the same
fixtures without importing this module until a test asks for them) it registers a ``faults``
marker and two fixtures:

- ``@pytest.mark.faults("http_500", path="/api/v3/account", times=2)`` with the ``faults``
  fixture: the marker's plan is installed on the test's ``broker`` fixture (``broker=`` names
  another fixture) and ``faults`` is the :class:`FaultInjector`, to inspect what fired;
- ``inject_faults``: a callable ``inject_faults(broker, plan)`` that installs a plan until the
  test ends.

This module is the mechanism alone: the replay matrix (:mod:`.matrix`) and the no-duplicates
campaign (:mod:`.campaign`) build on it, and it imports neither.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import http
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import ConnectTimeoutError, ProtocolError, ReadTimeoutError

#: Every fault :func:`inject_faults` knows.
FAULTS: tuple[str, ...] = (
    "timeout_before",  # ConnectTimeout, nothing sent
    "timeout_after_accept",  # the exchange answered (order placed), the answer is lost: ReadTimeout
    "http_429",  # 429 with Retry-After: 1
    "http_429_no_retry_after",  # 429 without Retry-After
    "http_500",
    "http_502",
    "http_503",
    "reset",  # ConnectionError from ConnectionResetError, nothing sent
    "reset_after_accept",  # the exchange answered, then the connection was reset
    "truncated_json",  # the real body cut in half, status 200
    "html_error",  # a gateway's HTML error page, status 502
    "html_error_200",  # an HTML page with status 200 (a captive portal, a CDN challenge)
)
#: Faults applied after the inner adapter answered: the exchange did the work.
AFTER_ACCEPT: frozenset[str] = frozenset(
    {"timeout_after_accept", "reset_after_accept", "truncated_json"}
)


@dataclass
class Fault:
    """One rule of a plan: which requests fail, and how.

    ``method`` (``GET``...) and ``path`` (the URL path, exact or an ``fnmatch`` pattern such as
    ``/api/v3/*``) select requests; ``ordinal`` selects the n-th request through the session
    since the plan was installed (1-based). ``times`` is how many selected requests fail
    (``None``: every one). Rules are tried in order; a request takes the first that applies.
    """

    fault: str
    method: str | None = None
    path: str | None = None
    ordinal: int | None = None
    times: int | None = 1
    fired: int = 0

    def __post_init__(self) -> None:
        if self.fault not in FAULTS:
            raise ValueError(f"unknown fault {self.fault!r}; expected one of {', '.join(FAULTS)}")
        if self.times is not None and self.times < 1:
            raise ValueError(f"times must be at least 1 (or None for every request): {self.times}")

    def applies(self, ordinal: int, method: str, path: str) -> bool:
        if self.times is not None and self.fired >= self.times:
            return False
        if self.ordinal is not None and ordinal != self.ordinal:
            return False
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path is None or path == self.path or fnmatch.fnmatchcase(path, self.path)


PlanItem = str | Fault | Mapping[str, Any]
Plan = PlanItem | Iterable[PlanItem]


def as_plan(plan: Plan) -> list[Fault]:
    """Normalise a plan: a fault name, a :class:`Fault`, a mapping of its fields, or a list."""
    items: Iterable[PlanItem] = [plan] if isinstance(plan, (str, Fault, Mapping)) else plan
    rules: list[Fault] = []
    for item in items:
        if isinstance(item, Fault):
            rules.append(dataclasses.replace(item, fired=0))  # a plan of its own
        elif isinstance(item, str):
            rules.append(Fault(item))
        elif isinstance(item, Mapping):
            rules.append(Fault(**item))
        else:
            raise TypeError(f"a fault plan holds fault names, Fault or mappings, not {item!r}")
    return rules


@dataclass(frozen=True)
class Exchange:
    """One request that went through the injector."""

    ordinal: int
    method: str
    url: str
    fault: str | None
    #: Whether the inner adapter (the cassette, the server) was called.
    reached: bool

    @property
    def path(self) -> str:
        return urlsplit(self.url).path


@dataclass
class FaultInjector:
    """The state of one installed plan: its rules and every request seen."""

    rules: list[Fault]
    log: list[Exchange] = field(default_factory=list)

    @property
    def fired(self) -> list[str]:
        """The faults applied, in order."""
        return [e.fault for e in self.log if e.fault]

    def count(
        self, method: str | None = None, path: str | None = None, *, reached: bool | None = None
    ) -> int:
        """Requests seen (``reached=True``: that got to the exchange/cassette) by method/path."""
        return sum(
            1
            for e in self.log
            if (method is None or e.method == method.upper())
            and (path is None or e.path == path or fnmatch.fnmatchcase(e.path, path))
            and (reached is None or e.reached == reached)
        )

    def _rule_for(self, ordinal: int, method: str, path: str) -> Fault | None:
        for rule in self.rules:
            if rule.applies(ordinal, method, path):
                rule.fired += 1
                return rule
        return None

    def send(
        self, inner: BaseAdapter, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        method = (request.method or "GET").upper()
        url = request.url or ""
        ordinal = len(self.log) + 1
        rule = self._rule_for(ordinal, method, urlsplit(url).path)
        fault = rule.fault if rule else None
        reached = fault is None or fault in AFTER_ACCEPT
        self.log.append(Exchange(ordinal, method, url, fault, reached))
        if fault is None:
            return inner.send(request, **kwargs)
        if fault in AFTER_ACCEPT:
            return _after(fault, inner.send(request, **kwargs), request, kwargs.get("timeout"))
        return _before(fault, request, kwargs.get("timeout"))


class _FaultAdapter(BaseAdapter):
    """A transport adapter that lets the injector decide, then (maybe) calls the original."""

    def __init__(self, injector: FaultInjector, inner: BaseAdapter) -> None:
        super().__init__()
        self.injector = injector
        self.inner = inner

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        return self.injector.send(self.inner, request, **kwargs)

    def close(self) -> None:
        self.inner.close()


def _timeout_seconds(timeout: Any) -> Any:
    return timeout[-1] if isinstance(timeout, tuple) else timeout


def _before(fault: str, request: requests.PreparedRequest, timeout: Any) -> requests.Response:
    host = urlsplit(request.url or "").hostname
    if fault == "timeout_before":
        cause = ConnectTimeoutError(
            None, f"Connection to {host} timed out. (connect timeout={_timeout_seconds(timeout)})"
        )
        raise requests.exceptions.ConnectTimeout(cause, request=request) from cause
    if fault == "reset":
        _raise_reset(request)
    if fault in ("html_error", "html_error_200"):
        from scaffolder.standin.server import HTML_ERROR_PAGE  # the stand-ins' page, one copy

        status = 502 if fault == "html_error" else 200
        return _response(request, status, HTML_ERROR_PAGE.encode(), "text/html")
    status = int(fault.split("_")[1])
    headers = {"Retry-After": "1"} if fault == "http_429" else {}
    phrase = http.HTTPStatus(status).phrase
    return _response(request, status, f"{phrase}\n".encode(), "text/plain", headers)


def _after(
    fault: str, response: requests.Response, request: requests.PreparedRequest, timeout: Any
) -> requests.Response:
    body = response.content
    headers = {
        k: v
        for k, v in response.headers.items()
        if k.lower() not in ("content-length", "content-encoding", "transfer-encoding")
    }
    response.close()
    if fault == "timeout_after_accept":
        cause = ReadTimeoutError(
            None,  # type: ignore[arg-type]
            request.url or "",
            f"Read timed out. (read timeout={_timeout_seconds(timeout)})",
        )
        raise requests.exceptions.ReadTimeout(cause, request=request) from cause
    if fault == "reset_after_accept":
        _raise_reset(request)
    # truncated_json: the real body cut in half, answered as a success.
    content_type = headers.pop("Content-Type", "application/json")
    return _response(request, 200, body[: len(body) // 2], content_type, headers)


def _raise_reset(request: requests.PreparedRequest) -> None:
    reset = ConnectionResetError(104, "Connection reset by peer")
    cause = ProtocolError("Connection aborted.", reset)
    raise requests.exceptions.ConnectionError(cause, request=request) from reset


def _response(
    request: requests.PreparedRequest,
    status: int,
    body: bytes,
    content_type: str,
    headers: Mapping[str, str] | None = None,
) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.reason = http.HTTPStatus(status).phrase
    response.headers = CaseInsensitiveDict(
        {**(headers or {}), "Content-Type": content_type, "Content-Length": str(len(body))}
    )
    response._content = body
    response.url = request.url or ""
    response.request = request
    return response


def session_of(target: Any) -> requests.Session:
    """The ``requests`` session a broker sends through (a session is returned as it is)."""
    if isinstance(target, requests.Session):
        return target
    from brokers.ccxt_broker import CcxtBroker
    from brokers.rest_broker import RestBroker

    if isinstance(target, CcxtBroker) or hasattr(target, "exchange"):
        session = getattr(target.exchange, "session", None)
        if isinstance(session, requests.Session):
            return session
    if isinstance(target, RestBroker) or hasattr(target, "_session"):
        if target._session is None:
            target._session = requests.Session()
        session = target._session
        if isinstance(session, requests.Session):
            return session
    raise TypeError(f"{type(target).__name__} has no requests session to inject faults into")


@contextlib.contextmanager
def inject_faults(target: Any, plan: Plan) -> Iterator[FaultInjector]:
    """Fail the requests ``plan`` selects on ``target``'s session (a broker or a Session).

    Every adapter mounted on the session (``https://``, ``http://``...) is wrapped for the
    duration of the block and restored after it.
    """
    session = session_of(target)
    injector = FaultInjector(as_plan(plan))
    originals = dict(session.adapters)
    for prefix, adapter in originals.items():
        session.mount(prefix, _FaultAdapter(injector, adapter))
    try:
        yield injector
    finally:
        for prefix, adapter in originals.items():
            session.mount(prefix, adapter)


# -- pytest plugin ---------------------------------------------------------------------------
def installer() -> Iterator[Callable[[Any, Plan], FaultInjector]]:
    """The ``inject_faults`` fixture's body: a callable that installs plans until the test ends."""
    with contextlib.ExitStack() as stack:

        def install(target: Any, plan: Plan) -> FaultInjector:
            return stack.enter_context(inject_faults(target, plan))

        yield install


def marked_plan(request: pytest.FixtureRequest) -> Iterator[FaultInjector]:
    """The ``faults`` fixture's body: the test's ``@pytest.mark.faults(...)`` plan, installed
    on its broker fixture."""
    marker = request.node.get_closest_marker("faults")
    if marker is None:
        pytest.fail("the `faults` fixture needs a @pytest.mark.faults(...) marker", pytrace=False)
    where = dict(marker.kwargs)
    broker = request.getfixturevalue(where.pop("broker", "broker"))
    plan = [item if not isinstance(item, str) else Fault(item, **where) for item in marker.args]
    with inject_faults(broker, plan) as injector:
        yield injector


def pytest_configure(config: pytest.Config) -> None:
    from scaffolder.harness.plugin import register_faults_marker

    register_faults_marker(config)


@pytest.fixture(name="inject_faults")
def inject_faults_fixture() -> Iterator[Callable[[Any, Plan], FaultInjector]]:
    """``inject_faults(broker, plan)``: install a fault plan until the test ends."""
    yield from installer()


@pytest.fixture
def faults(request: pytest.FixtureRequest) -> Iterator[FaultInjector]:
    """The plan of the test's ``@pytest.mark.faults(...)``, installed on its broker fixture."""
    yield from marked_plan(request)
