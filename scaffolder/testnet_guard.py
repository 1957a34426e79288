"""Is a "testnet" broker really pointed at the testnet? The URLs it would use, judged by host.

``settings.testnet: true`` alone proves nothing: ``custom_settings.urls`` (ccxt),
``custom_settings.testnet_url`` (REST) or ``--via`` can send the traffic anywhere. The URLs
actually used (after those overrides) are compared with the exchange's known testnet hosts:
ccxt's ``urls['test']`` for a ccxt exchange, the answered ``testnet_url`` for a REST broker.
Loopback hosts (the local exchange stand-ins) count as safe: no exchange lives there.

One place for the judgement, used by ``scaffolder record`` (refuses), ``scaffolder doctor``
(fails the broker check, so no key is sent) and ``scaffolder validate`` (warns).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from urllib.parse import urlsplit

TYPE_CHECKING = False  # typing's, without importing typing (mypy reads it as True)
if TYPE_CHECKING:
    from typing import Any

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


def iter_urls(value: Any) -> Iterator[str]:
    """Every URL string in a ccxt ``urls`` entry (a string, or nested dicts and lists)."""
    if isinstance(value, str):
        if "://" in value:
            yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from iter_urls(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from iter_urls(item)


def host_of(url: str) -> str:
    """The lowercase host of ``url`` ('' when it has none or cannot be parsed)."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine (127.0.0.0/8, ::1, localhost)."""
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def off_testnet(urls: list[str], testnet_hosts: set[str]) -> list[str]:
    """The URLs of ``urls`` whose host is neither a known testnet host nor loopback."""
    return [url for url in dict.fromkeys(urls) if not _trusted(host_of(url), testnet_hosts)]


def _trusted(host: str, testnet_hosts: set[str]) -> bool:
    return bool(host) and (host in testnet_hosts or is_loopback(host))


def ccxt_testnet_hosts(exchange_class: Any) -> set[str]:
    """The hosts of ccxt's ``urls['test']`` for an exchange class (a fresh, unconfigured one)."""
    fresh = exchange_class()
    return {host_of(fresh.implode_hostname(u)) for u in iter_urls(fresh.urls.get("test"))} - {""}


def broker_targets(broker: Any, via: str | None = None) -> tuple[list[str], set[str]]:
    """(the URLs ``broker`` would send to, the hosts of its testnet) for a ccxt or REST broker.

    With ``via`` the traffic goes to ``via`` (``record`` and ``doctor`` move every API URL
    there), so ``via`` is what is judged. Raises the broker's own ``ConfigError`` when it
    cannot be built. A broker of another kind yields no URLs (nothing to judge).
    """
    from brokers.ccxt_broker import CcxtBroker
    from brokers.rest_broker import RestBroker

    if isinstance(broker, CcxtBroker):
        exchange = broker.exchange
        hosts = ccxt_testnet_hosts(type(exchange))
        used = [exchange.implode_hostname(u) for u in iter_urls(exchange.urls.get("api"))]
    elif isinstance(broker, RestBroker):
        testnet_url = type(broker).testnet_url
        hosts = {host_of(testnet_url)} - {""} if testnet_url else set()
        used = [broker.url]
    else:
        return [], set()
    return ([via] if via else used), hosts


def stray_urls(broker: Any, via: str | None = None) -> tuple[list[str], set[str]]:
    """(URLs off the testnet, the testnet's hosts) for a broker whose config says testnet."""
    used, hosts = broker_targets(broker, via)
    return off_testnet(used, hosts), hosts


def describe(name: str, stray: list[str], hosts: set[str]) -> str:
    """One sentence: the config says testnet, but these URLs are not on it."""
    shown = ", ".join(stray[:3]) + (f" and {len(stray) - 3} more" if len(stray) > 3 else "")
    known = ", ".join(sorted(hosts)) or "none known"
    return (
        f"{name}'s config says testnet, but it would send to {shown}, not a testnet host of "
        f"{name} ({known}) nor this machine"
    )


def config_stray_urls(document: Any, answers: Mapping[str, Any] | None = None) -> list[str]:
    """URLs a config's ``custom_settings`` sets that are off the testnet (validate's warning).

    Only for ``settings.testnet: true``. ccxt configs: ``custom_settings.urls`` against ccxt's
    ``urls['test']`` (imports ccxt, only when such URLs are set). REST configs:
    ``custom_settings.testnet_url`` against the broker's answered ``testnet_url``
    (``answers``, its ``.copier-answers.yml``), when known.
    """
    if not isinstance(document, dict):
        return []
    settings, custom = document.get("settings"), document.get("custom_settings")
    if not isinstance(settings, dict) or settings.get("testnet") is not True:
        return []
    if not isinstance(custom, dict):
        return []
    if document.get("integration", "ccxt") == "rest":
        url = custom.get("testnet_url")
        known = (answers or {}).get("testnet_url")
        if not isinstance(url, str) or not isinstance(known, str) or not known:
            return []
        return off_testnet([url], {host_of(known)} - {""})
    urls = [u for u in iter_urls(custom.get("urls")) if "${" not in u]
    name = document.get("name")
    if not urls or not isinstance(name, str):
        return []
    import importlib

    ccxt = importlib.import_module("ccxt")
    if name not in ccxt.exchanges:
        return []
    klass = getattr(ccxt, name)
    fresh = klass()
    return off_testnet([fresh.implode_hostname(u) for u in urls], ccxt_testnet_hosts(klass))
