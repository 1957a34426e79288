"""Run an exchange stand-in in the foreground.

Usage::

    python -m scaffolder.standin [--exchange binance|gemini|coinbase] --port 8765 \\
        [--api-key KEY --secret SECRET] [--fixed-clock 1700000000000] [--verbose]

The exchanges are those of :data:`scaffolder.standin.registry.STANDINS`. Without
``--api-key``/``--secret`` the exchange's canary credentials are used (obvious fakes). Prints
the base URL and the ccxt ``urls['api']`` entries, then serves until Ctrl-C or SIGTERM. Record
against it with ``scaffolder record NAME --via URL`` (Coinbase has no sandbox: add
``--allow-mainnet``).
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Any

from scaffolder.standin.registry import STANDINS, names
from scaffolder.standin.server import StandInServer


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m scaffolder.standin",
        description="Serve a local stand-in for an exchange's REST API on 127.0.0.1.",
    )
    parser.add_argument("--exchange", choices=names(), default="binance")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind")
    parser.add_argument("--port", type=int, default=8765, help="TCP port (0: any free port)")
    parser.add_argument("--api-key", help="the accepted API key (default: the canary)")
    parser.add_argument("--secret", help="the signing secret (default: the canary)")
    parser.add_argument(
        "--recv-window-max",
        type=int,
        default=60000,
        help="largest accepted recvWindow in ms (Binance)",
    )
    parser.add_argument(
        "--fixed-clock",
        type=int,
        default=None,
        metavar="MS",
        help="freeze the server clock at this epoch-ms value (clients must sign with it too)",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request")
    parser.add_argument(
        "--rename",
        action="append",
        default=[],
        metavar="OLD=NEW",
        help="API drift: answer with the JSON field OLD renamed to NEW (repeatable)",
    )
    parser.add_argument(
        "--stringify",
        action="append",
        default=[],
        metavar="KEY",
        help="API drift: send the number of JSON field KEY as a string ('*': every number)",
    )
    args = parser.parse_args(argv)
    key, secret = STANDINS[args.exchange].canary()
    args.api_key = args.api_key or key
    args.secret = args.secret or secret
    if any("=" not in pair or pair.startswith("=") for pair in args.rename):
        parser.error("--rename takes OLD=NEW")
    return args


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def build(args: argparse.Namespace) -> StandInServer:
    """The stand-in the arguments describe (not started)."""
    fixed = args.fixed_clock
    registered = STANDINS[args.exchange]
    options: dict[str, Any] = {name: getattr(args, name) for name in registered.options}
    standin = registered.load()(
        args.api_key,
        args.secret,
        host=args.host,
        port=args.port,
        clock=(lambda: fixed) if fixed is not None else None,
        verbose=args.verbose,
        **options,
    )
    standin.change_shape(dict(pair.split("=", 1) for pair in args.rename), args.stringify)
    return standin


def main(argv: Sequence[str] | None = None) -> int:
    """Start the stand-in and block until Ctrl-C (SIGINT) or SIGTERM."""
    args = _parse_args(argv)
    # Background jobs of a non-interactive shell start with SIGINT ignored: re-enable it.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    standin: Any = build(args)
    with standin:
        try:  # an interrupt while the banner is printed stops it as cleanly as a later one
            title = STANDINS[args.exchange].title
            print(f"{title} stand-in listening on {standin.url}", flush=True)
            print(f"ccxt urls['api'] entries: {json.dumps(standin.ccxt_api_urls())}", flush=True)
            if standin.ccxt_options():
                print(f"ccxt options: {json.dumps(standin.ccxt_options())}", flush=True)
            print("Press Ctrl-C to stop.", flush=True)
            threading.Event().wait()
        except KeyboardInterrupt:
            print("\nstopping", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
