"""The exchange stand-ins by name: the one table both command lines read.

``python -m scaffolder.standin --exchange NAME`` and ``scaffolder standin --exchange NAME``
offer the names of :data:`STANDINS` and serve the one chosen, so a new stand-in is one entry
here. Importing this module loads no stand-in (the ``scaffolder`` command lists the names
without the cost of the servers); :meth:`Registered.load` imports the one that is served.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple, cast

if TYPE_CHECKING:
    from scaffolder.standin.server import StandInServer


class Registered(NamedTuple):
    """How the command line serves one stand-in.

    ``module`` defines the stand-in class ``class_name`` and its canary credentials
    (``CANARY_API_KEY``, ``CANARY_SECRET``); ``options`` are the command-line options the
    class also takes, by keyword (Binance's ``recv_window_max``).
    """

    title: str
    module: str
    class_name: str
    options: tuple[str, ...] = ()

    def load(self) -> Callable[..., StandInServer]:
        """The stand-in class (imports its module): called with the key, the secret and
        keyword arguments, it builds a stand-in (not started)."""
        standin_class = getattr(importlib.import_module(self.module), self.class_name)
        return cast("Callable[..., StandInServer]", standin_class)

    def canary(self) -> tuple[str, str]:
        """The stand-in's canary ``(api_key, secret)``: obvious fakes, its command-line default."""
        module = importlib.import_module(self.module)
        return module.CANARY_API_KEY, module.CANARY_SECRET


#: Every stand-in, by the name ``--exchange`` takes.
STANDINS: dict[str, Registered] = {
    "binance": Registered(
        "Binance spot", "scaffolder.standin.binance", "BinanceStandIn", ("recv_window_max",)
    ),
    "gemini": Registered("Gemini", "scaffolder.standin.gemini", "GeminiStandIn"),
    "coinbase": Registered("Coinbase", "scaffolder.standin.coinbase", "CoinbaseStandIn"),
}


def names() -> list[str]:
    """The stand-ins' names, sorted (as ``--exchange`` lists them)."""
    return sorted(STANDINS)
