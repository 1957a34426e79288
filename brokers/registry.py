"""Broker names -> import paths, and ``create_broker``, the one factory.

Nothing here imports a broker (or ccxt) until that broker is asked for. In-tree brokers come
from :mod:`brokers.registered`, a file ``scaffolder`` regenerates from what is on disk; brokers
shipped as their own distributions register under the entry-point group ``ENTRY_POINT_GROUP``
(``name = "package.module:ClassName"``).
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from brokers.config import BrokerConfig, build_config, load_config
from brokers.errors import UnknownBrokerError

if TYPE_CHECKING:
    from brokers.base import BaseBroker

ENTRY_POINT_GROUP = "broker_scaffolder.brokers"


def available() -> dict[str, str]:
    """Every known broker name -> ``module:Class``; in-tree brokers win over plug-ins."""
    from importlib.metadata import entry_points  # costs ~20 ms: only when a broker is looked up

    from brokers.registered import BROKERS

    found = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
    found.update(BROKERS)
    return dict(sorted(found.items()))


def broker_class(name: str) -> type[BaseBroker]:
    """Import and return the class registered as ``name``."""
    from brokers.registered import BROKERS

    # In-tree brokers win, so only a name not among them needs the (slower) entry-point scan.
    known = BROKERS if name in BROKERS else available()
    target = known.get(name)
    if target is None:
        close = difflib.get_close_matches(name, known, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        listing = ", ".join(known) or "none"
        raise UnknownBrokerError(f"unknown broker {name!r}{hint} (registered: {listing})")
    module_name, _, attr = target.partition(":")
    klass: type[BaseBroker] = getattr(importlib.import_module(module_name), attr)
    return klass


def create_broker(
    name: str,
    config: BrokerConfig | Mapping[str, Any] | str | Path | None = None,
    **kwargs: Any,
) -> BaseBroker:
    """Validate ``config`` and build the broker registered as ``name``.

    ``config`` is a loaded :class:`BrokerConfig`, a config document (dict), a path to a config
    file, or None for ``config/brokers/<name>.json`` under the current directory. Extra keyword
    arguments go to the broker's constructor (e.g. ``markets=`` for a recorded snapshot).
    """
    klass = broker_class(name)
    if config is None:
        config = Path.cwd() / "config" / "brokers" / f"{name}.json"
    if isinstance(config, (str, Path)):
        config = load_config(config)
    elif not isinstance(config, BrokerConfig):
        config = build_config(dict(config), source=f"<config of {name}>")
    return klass(config, **kwargs)
