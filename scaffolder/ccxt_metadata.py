"""What ccxt knows about each exchange, cached so the CLI does not import ccxt on every run.

The cache is built from the installed ccxt (one instance of every exchange class) and written
to ``$XDG_CACHE_HOME/broker-scaffolder/ccxt-<version>.json``; a new ccxt version gets a new
file. Reading the cache costs a JSON load; building it costs ccxt's import, once per version.
"""

from __future__ import annotations

import functools
import json
import re
from collections import namedtuple
from pathlib import Path

from brokers.config import cache_dir, write_cache_file

TYPE_CHECKING = False  # typing's, without importing typing (mypy reads it as True)

#: ccxt credential name -> ours (the inverse of the runtime's mapping).
#: The unified methods BaseBroker uses, in the order of its interface.
UNIFIED_METHODS: tuple[str, ...] = (
    "fetchBalance",
    "fetchTicker",
    "fetchOHLCV",
    "createOrder",
    "cancelOrder",
    "fetchOrder",
    "fetchOpenOrders",
    "fetchClosedOrders",
    "fetchPositions",
    "watchTicker",
)


if TYPE_CHECKING:
    from typing import Any, NamedTuple

    class ExchangeInfo(NamedTuple):
        """ccxt's metadata for one exchange, in our vocabulary."""

        id: str
        name: str
        sandbox: bool
        credentials: list[str]
        unmapped_credentials: list[str]
        timeframes: list[str]
        rate_limit_ms: int
        has: dict[str, bool]
        spot: bool
        swap: bool
        future: bool
        margin: bool

else:
    # Made without typing, as brokers.config.Problem and for the same reason (typing's import,
    # and NamedTuple's compile() of each annotation, in every ``scaffolder validate``);
    # tests/test_named_tuples.py checks that the fields match the class above.
    ExchangeInfo = namedtuple(
        "ExchangeInfo",
        "id name sandbox credentials unmapped_credentials timeframes rate_limit_ms has spot swap "
        "future margin",
        module=__name__,
    )
    ExchangeInfo.__doc__ = "ccxt's metadata for one exchange, in our vocabulary."


_VERSION_LINE = re.compile(r"""^__version__ = ['"]([^'"]+)['"]""", re.MULTILINE)


@functools.lru_cache(maxsize=1)
def ccxt_version() -> str:
    """The installed ccxt's version, read without importing ccxt.

    Read from the ``__version__`` line of ccxt's ``__init__.py`` (found, not executed, by
    ``importlib.util.find_spec``): ``importlib.metadata`` alone costs ~10 ms to import.
    """
    import importlib.util

    spec = importlib.util.find_spec("ccxt")
    if spec is not None and spec.origin:
        try:
            with open(spec.origin, encoding="utf-8") as handle:
                match = _VERSION_LINE.search(handle.read(4096))
        except OSError:
            match = None
        if match:
            return match.group(1)
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ccxt")
    except PackageNotFoundError:  # pragma: no cover - ccxt is a dependency
        return "unknown"


def cache_path() -> Path:
    """Where the metadata of the installed ccxt version is cached."""
    return cache_dir() / f"ccxt-{ccxt_version()}.json"


def _describe(exchange: Any, pro_exchange: Any | None) -> ExchangeInfo:
    from brokers.config import CCXT_CREDENTIALS  # the typed config: only building needs it

    ours = {v: k for k, v in CCXT_CREDENTIALS.items()}
    required = [k for k, v in exchange.requiredCredentials.items() if v]
    has = exchange.has
    return ExchangeInfo(
        id=exchange.id,
        name=str(exchange.name),
        sandbox=bool(exchange.urls.get("test")),
        credentials=[ours[c] for c in required if c in ours],
        unmapped_credentials=[c for c in required if c not in ours],
        timeframes=list(exchange.timeframes or {}),
        rate_limit_ms=int(exchange.rateLimit or 0),
        has={m: bool(has.get(m)) for m in UNIFIED_METHODS if m != "watchTicker"}
        | {"watchTicker": bool(pro_exchange is not None and pro_exchange.has.get("watchTicker"))},
        spot=bool(has.get("spot")),
        swap=bool(has.get("swap")),
        future=bool(has.get("future")),
        margin=bool(has.get("margin")),
    )


def build() -> dict[str, ExchangeInfo]:
    """Read every exchange's metadata from the installed ccxt (imports ccxt: slow-ish)."""
    import ccxt
    import ccxt.pro as pro

    result = {}
    for exchange_id in ccxt.exchanges:
        pro_class = getattr(pro, exchange_id, None) if exchange_id in pro.exchanges else None
        result[exchange_id] = _describe(
            getattr(ccxt, exchange_id)(), pro_class() if pro_class else None
        )
    return result


@functools.lru_cache(maxsize=1)
def exchanges() -> dict[str, ExchangeInfo]:
    """Metadata of every ccxt exchange, from the cache (built and written on first use)."""
    path = cache_path()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return {k: ExchangeInfo(**v) for k, v in raw.items()}
    except (OSError, ValueError, TypeError):
        pass
    data = build()
    write_cache_file(path, json.dumps({k: v._asdict() for k, v in data.items()}))
    return data


def lookup(exchange_id: str) -> ExchangeInfo | None:
    """Metadata of one exchange, or None when ccxt does not know it."""
    return exchanges().get(exchange_id)


def close_matches(name: str, n: int = 3) -> list[str]:
    """ccxt exchange ids that look like ``name`` (for "did you mean" hints)."""
    import difflib  # only an unknown exchange needs it

    return difflib.get_close_matches(name, list(exchanges()), n=n, cutoff=0.6)


#: Bumped when the way profiles are derived changes, so old cached profiles are not reused.
PROFILES_FORMAT = 3


def profiles_path() -> Path:
    """Where the exchange profiles derived from the installed ccxt version are cached."""
    return cache_dir() / f"ccxt-{ccxt_version()}-profiles-{PROFILES_FORMAT}.json"


def _cached_profiles() -> dict[str, Any]:
    try:
        raw = json.loads(profiles_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return raw if isinstance(raw, dict) else {}


def profile(exchange_id: str) -> dict[str, Any]:
    """The exchange profile of ``exchange_id`` (``scaffolder.exchange_profile.derive``), from
    the cache; derived (importing ccxt, building its requests offline) and cached on first use."""
    cached = _cached_profiles()
    if isinstance(cached.get(exchange_id), dict):
        return dict(cached[exchange_id])
    from scaffolder.exchange_profile import derive

    derived = dict(derive(exchange_id))
    write_cache_file(
        profiles_path(), json.dumps({**_cached_profiles(), exchange_id: derived}, sort_keys=True)
    )
    return derived
