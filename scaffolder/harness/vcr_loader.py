"""Import vcrpy without importing aiohttp.

vcrpy's ``vcr.patch`` imports, at import time, every HTTP client it knows how to patch, so that
it can keep each client's original request method (``_AiohttpClientSessionRequest`` for
aiohttp). aiohttp and its dependencies (yarl, multidict, attrs, propcache...) cost about 170 ms
to import: more than replaying a broker's whole contract suite. Broker traffic goes through
requests (ccxt's synchronous API, ``RestBroker``), so the harness imports vcrpy with aiohttp
hidden for the duration of that one import.

vcrpy would still import aiohttp when each cassette starts, to patch it; :func:`skip_patchers`
tells it not to while aiohttp is not imported (nothing can be using it then), through vcrpy's
own ``skip_patchers`` option. Once aiohttp is imported (by ccxt.pro, say), cassettes patch
``ClientSession._request`` as usual, and what vcrpy calls to reach the network,
``vcr.patch._AiohttpClientSessionRequest``, forwards to aiohttp's original method as captured
by :func:`capture_aiohttp_original` (called before every test and whenever the harness builds a
cassette config, when no cassette is active). A request that cannot be forwarded fails with a
message saying why, not with vcrpy's ``NameError``.

When vcrpy stops importing clients eagerly (no ``aiohttp`` hidden import is needed then), or
when aiohttp is already imported, this module just imports vcrpy.

What it saves, ``pytest tests/brokers/test_binance.py`` against the same run with aiohttp
imported first (the plain path: nothing hidden, no patcher skipped): 4.19 G against 4.97 G
instructions (valgrind, 16%); CPU median of 5 1.96 s against 2.16 s (9%, on a loaded machine;
8% in another trial). ``tests/harness/test_vcr_loader.py`` forces the plain path and checks a
replay answers the same.

vcrpy also imports every other client it knows (boto3, httplib2, tornado, httpx...) on every
cassette it starts and again on every connection a cassette opens (``reset_patchers``). One that
is not installed is skipped, but only after Python has searched ``sys.path`` for it again: about
20 failed imports per contract test, a third of what a test costs after the first.
:func:`clients_absent` marks those clients absent in ``sys.modules`` while a cassette runs (the
plugin wraps each cassette test in it), so each import fails at once, as it would have anyway.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: The name vcr.patch gives aiohttp's original ``ClientSession._request``.
_ORIGINAL_NAME = "_AiohttpClientSessionRequest"
#: aiohttp's own ``ClientSession._request``, once seen outside any cassette.
_original: Any = None
#: The top-level packages of the HTTP clients vcrpy imports to patch them and to put them back
#: (``vcr.patch``: ``CassettePatcherBuilder`` and ``reset_patchers``), aiohttp aside.
PROBED_CLIENTS = (
    "boto3", "botocore", "httplib2", "tornado", "httpx", "httpx_curl_cffi", "pyreqwest", "httpx2",
)  # fmt: skip


def import_vcr() -> None:
    """Import ``vcr.patch`` (and so vcrpy) without importing aiohttp, if not imported yet."""
    if "vcr.patch" in sys.modules:
        return
    if "aiohttp" in sys.modules or importlib.util.find_spec("aiohttp") is None:
        import vcr.patch  # noqa: F401

        return
    sys.modules["aiohttp"] = None  # type: ignore[assignment]  # "import aiohttp" raises ImportError
    try:
        import vcr.patch as patch
    finally:
        if sys.modules.get("aiohttp", 0) is None:
            del sys.modules["aiohttp"]
    if not hasattr(patch, _ORIGINAL_NAME):
        setattr(patch, _ORIGINAL_NAME, _forward_to_aiohttp)


def skip_patchers() -> tuple[str, ...]:
    """vcrpy's ``skip_patchers`` for a cassette starting now: aiohttp while it is not imported.

    Empty when the installed vcrpy has no such option (it then imports aiohttp per cassette).
    """
    capture_aiohttp_original()
    patch = sys.modules.get("vcr.patch")
    if "aiohttp" in getattr(patch, "PATCHER_NAMES", ()) and "aiohttp.client" not in sys.modules:
        return ("aiohttp",)
    return ()


def vcr_options() -> dict[str, Any]:
    """Keyword arguments for a ``VCR`` or ``use_cassette`` starting now: the
    :func:`skip_patchers`, left out where there are none (and on a vcrpy without the option)."""
    skip = skip_patchers()
    return {"skip_patchers": skip} if skip else {}


@functools.cache
def uninstalled_clients() -> tuple[str, ...]:
    """The :data:`PROBED_CLIENTS` this interpreter cannot import (looked up once a process)."""
    return tuple(
        name
        for name in PROBED_CLIENTS
        if name not in sys.modules and importlib.util.find_spec(name) is None
    )


@contextlib.contextmanager
def clients_absent() -> Iterator[None]:
    """While it lasts, the HTTP clients vcrpy probes that are not installed are marked absent
    in ``sys.modules`` (``None``: ``import`` raises ModuleNotFoundError without searching
    ``sys.path``, as it would after searching). Nested uses are fine; the marks it made are
    taken away at the end, so nothing outside sees them."""
    marked = [name for name in uninstalled_clients() if name not in sys.modules]
    for name in marked:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        for name in marked:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


def aiohttp_hidden() -> bool:
    """Whether vcrpy was imported by :func:`import_vcr` with aiohttp hidden."""
    patch = sys.modules.get("vcr.patch")
    return getattr(patch, _ORIGINAL_NAME, None) is _forward_to_aiohttp


def capture_aiohttp_original() -> None:
    """Remember aiohttp's ``ClientSession._request`` if aiohttp is imported and not patched now."""
    global _original
    client = sys.modules.get("aiohttp.client")
    if _original is not None or client is None:
        return
    method = client.ClientSession._request
    # Inside a cassette this is vcrpy's wrapper (functools.wraps gives it the wrapped
    # function's name and module, not its code): keep only a function of aiohttp's own.
    code = getattr(method, "__code__", None)
    if code is None or "aiohttp" not in Path(code.co_filename).parts:
        return
    _original = method


async def _forward_to_aiohttp(self: Any, *args: Any, **kwargs: Any) -> Any:
    capture_aiohttp_original()
    if _original is None:
        raise RuntimeError(
            "aiohttp was first imported inside a cassette, after vcrpy, so its request cannot "
            "be sent or recorded; import aiohttp before the cassette starts"
        )
    return await _original(self, *args, **kwargs)
