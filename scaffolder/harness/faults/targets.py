"""What the no-duplicates campaign runs on: its brokers, their exchanges' stand-ins, its cases.

Which exchanges, which brokers and what each stand-in's order endpoints look like is data, read
from one table (``order_targets.json`` beside this module), not code: the tool knows no
exchange by name. :func:`order_broker` builds a case's broker on a running stand-in.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from brokers.base import BaseBroker
from scaffolder.harness.faults.mechanism import AFTER_ACCEPT, FAULTS
from scaffolder.harness.fresh import FRESH_SUFFIX, exchange_of, fresh_broker_class

STANDIN_KEY, STANDIN_SECRET = "CANARY-API-KEY-0000", "CANARY-SECRET-0000"
#: Where a fault comes from: the stand-in (``server``: real timeouts and resets on the socket)
#: or :func:`~.mechanism.inject_faults` on the broker's session (``client``: the order does
#: reach the stand-in for the after-accept faults, so the look-up by client id finds it).
ORDER_SIDES: tuple[str, ...] = ("server", "client")
#: Stand-in faults create_order is run under (the stand-in's names, see scaffolder.standin).
ORDER_FAULTS: tuple[str, ...] = (
    "timeout_before",
    "timeout_after_accept",
    "reset",
    "reset_after_accept",
    "http_429",
    "http_429_no_retry_after",
    "http_500",
    "http_502",
    "http_503",
    "http_503_after_accept",
    "truncated_json",
    "html_error",
    "html_error_200",
)
#: The two shared brokers built on a stand-in (``standin_broker``'s kinds).
ORDER_KINDS: tuple[str, ...] = ("ccxt", "rest")
#: How many requests in a row to the order endpoint and its look-ups fail: the order, then
#: its re-send or look-up; ``None``: all of them (an outage that outlasts the retries).
ORDER_REPEATS: tuple[int | None, ...] = (1, 2, None)
#: The order placed: a limit buy far below the market, which rests (the matrix), or one
#: above the ask, which fills at once (``filled``: run under the after-accept faults only,
#: once, to ask whether a look-up finds an order that is no longer open).
ORDER_STYLES: tuple[str, ...] = ("resting", "filled")
STANDIN_TIMEOUT_MS = 1000
STANDIN_FAULT_DELAY = 1.5
#: The table of exchanges and brokers the campaign covers.
TABLE_PATH = Path(__file__).with_name("order_targets.json")
TABLE: dict[str, Any] = json.loads(TABLE_PATH.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class OrderTarget:
    """One broker against its exchange's stand-in.

    ``order_paths`` is an ``fnmatch`` pattern of the order endpoint and the endpoints its
    look-up by client id reads. ``server_path`` is what the stand-in's ``inject`` is given: the
    exact path when the order and its look-up share one, else ``None``, which faults every
    request ``create_order`` makes; the run then checks that every such request matched
    ``order_paths``. ``client_id_field``/``order_id_field`` name the stand-in's rendering of an
    order. ``lookup`` says how the broker finds an order by client id, for the report.
    """

    broker: str
    exchange: str
    order_paths: str
    server_path: str | None
    client_id_field: str
    order_id_field: str
    lookup: str


def _target(broker: str, entry: dict[str, Any]) -> OrderTarget:
    standin = TABLE["standins"][entry["standin"]]
    return OrderTarget(
        broker,
        entry["standin"],
        standin["order_paths"],
        standin["server_path"],
        standin["client_id_field"],
        standin["order_id_field"],
        entry["lookup"],
    )


#: Every broker the no-duplicates run covers, in report order: the table's, then the same
#: exchanges with brokers generated fresh from the template (no hand edits), looking lost
#: orders up as their derived profile says.
ORDER_TARGETS: tuple[OrderTarget, ...] = tuple(
    _target(name, entry) for name, entry in TABLE["brokers"].items()
)
FRESH_TARGETS: tuple[OrderTarget, ...] = tuple(
    dataclasses.replace(t, broker=t.broker + FRESH_SUFFIX, lookup="")
    for t in ORDER_TARGETS
    if t.broker in TABLE["fresh"]
)
ORDER_TARGETS = ORDER_TARGETS + FRESH_TARGETS
TARGETS_BY_NAME: dict[str, OrderTarget] = {t.broker: t for t in ORDER_TARGETS}
#: ``standin_broker``'s kinds, by broker name (the shared brokers of the table).
_SHARED_KINDS: dict[str, str] = {
    name: entry["kind"] for name, entry in TABLE["brokers"].items() if "kind" in entry
}


@dataclass(frozen=True)
class OrderCase:
    """``create_order`` on ``broker`` while ``times`` requests in a row to its order endpoint
    and look-ups (the order, then its look-up or re-send) fail with ``fault``."""

    broker: str
    side: str
    fault: str
    times: int | None
    style: str = "resting"

    @property
    def repeat(self) -> str:
        return "all" if self.times is None else str(self.times)

    @property
    def target(self) -> OrderTarget:
        return TARGETS_BY_NAME[self.broker]

    @property
    def id(self) -> str:
        suffix = "" if self.style == "resting" else f"-{self.style}"
        return f"{self.broker}-{self.side}-{self.fault}-x{self.repeat}{suffix}"


#: The stand-in's faults applied after the order was placed.
SERVER_AFTER_ACCEPT: frozenset[str] = frozenset(
    {"timeout_after_accept", "reset_after_accept", "truncated_json", "http_503_after_accept"}
)


def order_cases(brokers: Iterable[str] | None = None) -> list[OrderCase]:
    """Every broker x both fault sides x their faults x once, twice in a row, or always (a
    resting order); plus, once, an order that fills at once under each after-accept fault."""
    names = list(brokers) if brokers is not None else [t.broker for t in ORDER_TARGETS]
    cases: list[OrderCase] = []
    for broker in names:
        for side in ORDER_SIDES:
            faults = ORDER_FAULTS if side == "server" else FAULTS
            cases += [OrderCase(broker, side, f, t) for f in faults for t in ORDER_REPEATS]
        for side in ORDER_SIDES:
            after = SERVER_AFTER_ACCEPT if side == "server" else AFTER_ACCEPT
            faults = ORDER_FAULTS if side == "server" else FAULTS
            cases += [OrderCase(broker, side, f, 1, "filled") for f in faults if f in after]
    return cases


def fresh_exchanges(cases: Iterable[OrderCase]) -> list[str]:
    """The exchanges whose fresh brokers ``cases`` run (their project must be generated)."""
    return sorted({exchange_of(c.broker) for c in cases if c.broker.endswith(FRESH_SUFFIX)})


def standin_broker(kind: str, standin: Any) -> BaseBroker:
    """The table's shared broker of ``kind`` on the stand-in: the project's ccxt broker of the
    stand-in's exchange (``ccxt``), or a REST broker on the shared defaults (``rest``).

    Timeout ``STANDIN_TIMEOUT_MS``, three attempts, no waits between them.
    """
    from brokers.config import build_config
    from brokers.registry import broker_class
    from brokers.rest_broker import RestBroker

    [name] = [n for n, k in _SHARED_KINDS.items() if k == kind]
    entry = TABLE["brokers"][name]
    document: dict[str, Any] = {
        "name": name,
        "integration": kind,
        "type": "crypto",
        "enabled": True,
        "api_credentials": {"api_key": "${K}", "api_secret": "${S}"},
        "settings": _standin_settings(testnet=True),
        "supported_pairs": ["BTC/USDT", "ETH/USDT"],
        "custom_settings": (
            {"urls": standin.ccxt_api_urls()} if kind == "ccxt" else {"testnet_url": standin.url}
        ),
    }
    config = build_config(document, env={"K": STANDIN_KEY, "S": STANDIN_SECRET})
    if kind == "ccxt":
        klass: Any = broker_class(name)
    else:
        klass = type(entry["class"], (RestBroker,), {"name": name, "base_url": entry["base_url"]})
    broker: BaseBroker = klass(config, sleep=lambda seconds: None)
    return broker


def _standin_settings(*, testnet: bool) -> dict[str, Any]:
    return {
        "testnet": testnet,
        "timeout": STANDIN_TIMEOUT_MS,
        "enable_rate_limit": False,
        "retry": {"max_attempts": 3, "base_delay_ms": 0, "max_delay_ms": 0},
    }


def project_root() -> Path:
    """This repository (where the committed brokers' configs are)."""
    return Path(__file__).resolve().parents[3]


def standin_credentials(exchange: str) -> tuple[str, str]:
    """The canary key and secret, shaped as ``exchange``'s ccxt client accepts them (some sign
    only with keys of a given shape)."""
    from scaffolder.harness.session import shaped_credentials

    shaped = shaped_credentials(exchange, {"api_key": STANDIN_KEY, "api_secret": STANDIN_SECRET})
    return shaped["api_key"], shaped["api_secret"]


def order_standin(exchange: str, *, fault_delay: float = STANDIN_FAULT_DELAY) -> Any:
    """A (not yet started) stand-in of ``exchange`` with the canary credentials."""
    from scaffolder.standin.registry import STANDINS

    klass = STANDINS[exchange].load()
    key, secret = standin_credentials(exchange)
    return klass(key, secret, fault_delay=fault_delay)


def committed_standin_broker(
    name: str, standin: Any, root: Path | None = None, klass: Any = None
) -> BaseBroker:
    """The committed broker ``name`` (``config/brokers/<name>.json``) on its stand-in.

    ``klass`` replaces the registered class (a fresh broker, with ``root`` its project).
    The config's own ``testnet`` choice, pairs and the rest are kept; the credentials are the
    canaries, the settings those of :func:`standin_broker`, and ``custom_settings.urls``
    points the exchange's API (and any web page ccxt reads market details from) at the
    stand-in.
    """
    from brokers.config import build_config, env_references
    from brokers.registry import broker_class

    path = (root or project_root()) / "config" / "brokers" / f"{name}.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    document.pop("$schema", None)
    document["settings"] = {
        **_standin_settings(testnet=document.get("settings", {}).get("testnet", False))
    }
    urls = dict(standin.ccxt_api_urls())
    document["custom_settings"] = {**document.get("custom_settings", {}), "urls": urls}
    key, secret = standin_credentials(name)
    values = {"api_key": key, "api_secret": secret}
    env = {
        var: values.get(pointer.rsplit("/", 1)[-1], "CANARY")
        for pointer, var in env_references(document)
    }
    config = build_config(document, env=env)
    broker: BaseBroker = (klass or broker_class(name))(config, sleep=lambda seconds: None)
    return broker


def order_broker(
    broker: str, standin: Any, root: Path | None = None, fresh_root: Path | None = None
) -> BaseBroker:
    """``broker`` (a name of :data:`ORDER_TARGETS`) built on ``standin``; a fresh one from
    the project ``fresh_root``."""
    if broker in _SHARED_KINDS:
        return standin_broker(_SHARED_KINDS[broker], standin)
    if broker.endswith(FRESH_SUFFIX):
        if fresh_root is None:
            raise ValueError(f"{broker} needs the fresh project (fresh_root)")
        name = exchange_of(broker)
        return committed_standin_broker(
            name, standin, fresh_root, klass=fresh_broker_class(fresh_root, name)
        )
    return committed_standin_broker(broker, standin, root)
