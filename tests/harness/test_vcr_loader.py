"""vcrpy imported without aiohttp (scaffolder/harness/vcr_loader.py), and nothing lost by it.

Each case runs in a fresh interpreter: what is imported, and in which order, is the point.
"""

from __future__ import annotations

import inspect
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import vcr

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]

#: vcrpy 9.4 and later take ``skip_patchers``; older ones (the newest on Python 3.10 is 8.5)
#: import aiohttp when a cassette starts, which costs time and nothing else.
SKIPS_PATCHERS = "skip_patchers" in inspect.signature(vcr.VCR.__init__).parameters

SERVER = """
import asyncio, threading

def serve():
    from aiohttp import web

    async def ticker(request):
        return web.json_response({"symbol": request.query["symbol"], "price": "42.5"})
    app = web.Application()
    app.router.add_get("/ticker", ticker)
    runner = web.AppRunner(app)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = site._server.sockets[0].getsockname()[1]
    threading.Thread(target=loop.run_forever, daemon=True).start()
    def stop():
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    return port, stop

async def fetch(port):
    import aiohttp
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{port}/ticker", params={"symbol": "BTCUSDT"}) as r:
            return await r.json()
"""


def run(code: str, tmp_path: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_cassettes_replay_requests_without_importing_aiohttp(tmp_path: Path) -> None:
    out = run(
        f"""
        import sys
        from scaffolder.harness.vcr_loader import import_vcr
        import_vcr()
        assert "vcr.patch" in sys.modules and "aiohttp" not in sys.modules
        import vcr, requests
        from scaffolder.harness.session import harness_vcr_config
        recorder = vcr.VCR(record_mode="none")
        from scaffolder.harness.session import register_matchers
        register_matchers(recorder)
        with recorder.use_cassette(
            {str(ROOT / "cassettes" / "binance" / "get_ticker.yaml")!r},
            **harness_vcr_config("binance"),
        ) as cassette:
            pass
        print(len(cassette.data) > 0, "aiohttp" in sys.modules)
        """,
        tmp_path,
    )
    # replayed; and aiohttp stayed unimported wherever vcrpy can be told to leave it alone
    assert out == ("True False" if SKIPS_PATCHERS else "True True")


def test_aiohttp_imported_later_is_still_recorded_and_replayed(tmp_path: Path) -> None:
    skip = "skip_patchers=vcr_loader.skip_patchers()" if SKIPS_PATCHERS else ""
    out = run(
        SERVER
        + """
import asyncio, sys
from scaffolder.harness import vcr_loader
vcr_loader.import_vcr()
assert "aiohttp" not in sys.modules and vcr_loader.aiohttp_hidden()
port, stop = serve()            # imports aiohttp, after vcrpy
vcr_loader.capture_aiohttp_original()   # what the plugin does before each test
import vcr
recorder = vcr.VCR(record_mode="once", SKIP)
with recorder.use_cassette("aio.yaml") as cassette:
    first = asyncio.run(fetch(port))
recorded = len(cassette.data)
stop()                          # the server is gone: only the cassette can answer now
replayer = vcr.VCR(record_mode="none", SKIP)
with replayer.use_cassette("aio.yaml") as cassette:
    second = asyncio.run(fetch(port))
print(first == second == {"symbol": "BTCUSDT", "price": "42.5"}, recorded, cassette.play_count)
""".replace("SKIP", skip),
        tmp_path,
    )
    assert out == "True 1 1"


def test_aiohttp_first_imported_inside_a_cassette_fails_with_a_reason(tmp_path: Path) -> None:
    out = run(
        """
import asyncio, sys
from scaffolder.harness import vcr_loader
vcr_loader.import_vcr()
import vcr
recorder = vcr.VCR(record_mode="all")   # no skip_patchers: vcrpy imports aiohttp itself
with recorder.use_cassette("late.yaml"):
    import aiohttp
    async def go():
        async with aiohttp.ClientSession() as session:
            await session.get("http://127.0.0.1:9/")
    try:
        asyncio.run(go())
    except RuntimeError as exc:
        print(exc)
""",
        tmp_path,
    )
    assert "aiohttp was first imported inside a cassette" in out
    assert "import aiohttp before the cassette starts" in out


#: Replays the first request of binance's get_ticker cassette through requests; prints the
#: response's status and body. ``{plain}`` forces vcrpy's plain path first.
REPLAY_FIRST_REQUEST = """
import sys
{plain}
from scaffolder.harness import vcr_loader
vcr_loader.import_vcr()
import vcr, requests
from scaffolder.harness.session import harness_vcr_config, register_matchers
recorder = vcr.VCR(record_mode="none")
register_matchers(recorder)
with recorder.use_cassette({cassette!r}, **harness_vcr_config("binance")) as cassette:
    sent = cassette.requests[0]
    answer = requests.request(sent.method, sent.uri, headers=dict(sent.headers), data=sent.body)
print(answer.status_code, answer.text)
"""
#: vcrpy as if its internals had moved: aiohttp imported before it (nothing to hide) and no
#: patchers to skip (as without ``vcr.patch.PATCHER_NAMES``), so every cassette patches aiohttp.
FORCED_PLAIN = """
import aiohttp
from scaffolder.harness import vcr_loader
vcr_loader.skip_patchers = lambda: ()
"""


def test_the_plain_path_replays_the_same_answer(tmp_path: Path) -> None:
    cassette = str(ROOT / "cassettes" / "binance" / "get_ticker.yaml")
    tricked = run(REPLAY_FIRST_REQUEST.format(plain="", cassette=cassette), tmp_path)
    plain = run(REPLAY_FIRST_REQUEST.format(plain=FORCED_PLAIN, cassette=cassette), tmp_path)
    assert tricked.startswith("200 ") and len(tricked) > 10, tricked
    assert plain == tricked


class AskedFinder:
    """A meta path finder that only notes which modules Python searched for."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        self.names.append(name)


def searched_clients_during_a_replay(absent: bool) -> set[str]:
    """The HTTP clients vcrpy's probes made Python search for while binance's get_ticker
    cassette replayed a request on a new connection (with or without :func:`clients_absent`)."""
    import contextlib

    import requests

    from scaffolder.harness import vcr_loader
    from scaffolder.harness.session import harness_vcr_config, register_matchers

    vcr_loader.import_vcr()
    recorder = vcr.VCR(record_mode="none")
    register_matchers(recorder)
    asked = AskedFinder()
    cassette_path = str(ROOT / "cassettes" / "binance" / "get_ticker.yaml")
    sys.meta_path.insert(0, asked)
    try:
        with (
            vcr_loader.clients_absent() if absent else contextlib.nullcontext(),
            recorder.use_cassette(cassette_path, **harness_vcr_config("binance")) as cassette,
            requests.Session() as session,
        ):
            sent = cassette.requests[0]
            answer = session.request(
                sent.method, sent.uri, headers=dict(sent.headers), data=sent.body
            )
            assert answer.status_code == 200
    finally:
        sys.meta_path.remove(asked)
    return {name.split(".")[0] for name in asked.names} & set(vcr_loader.PROBED_CLIENTS)


def test_a_replay_searches_for_no_client_that_is_not_installed() -> None:
    from scaffolder.harness.vcr_loader import uninstalled_clients

    if not uninstalled_clients():
        pytest.skip("every HTTP client vcrpy probes is installed here")
    # vcrpy probes them on every cassette and connection; the marks make each probe fail at once
    assert searched_clients_during_a_replay(absent=False) & set(uninstalled_clients())
    assert searched_clients_during_a_replay(absent=True) == set()


def test_the_absent_marks_are_gone_after_the_block_and_nest() -> None:
    from scaffolder.harness.vcr_loader import clients_absent, uninstalled_clients

    names = uninstalled_clients()
    if not names:
        pytest.skip("every HTTP client vcrpy probes is installed here")
    with clients_absent():
        assert all(sys.modules[name] is None for name in names)
        with clients_absent():
            pass
        assert all(sys.modules[name] is None for name in names)  # the outer block's marks stay
        with pytest.raises(ModuleNotFoundError):
            __import__(names[0])
    assert not any(name in sys.modules for name in names)


def test_only_cassette_tests_see_the_marks_and_none_leak_to_the_next(
    pytester: pytest.Pytester,
) -> None:
    from scaffolder.harness.vcr_loader import uninstalled_clients

    names = uninstalled_clients()
    if not names:
        pytest.skip("every HTTP client vcrpy probes is installed here")
    pytester.makepyfile(
        test_marks=f"""
        import sys
        import pytest

        NAMES = {list(names)!r}

        def test_before():
            assert not any(name in sys.modules for name in NAMES)

        @pytest.mark.vcr
        def test_cassette():
            assert all(sys.modules[name] is None for name in NAMES)

        def test_after():
            assert not any(name in sys.modules for name in NAMES)
        """
    )
    result = pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
