"""Run an exchange stand-in in the foreground.

Usage::

    python -m scaffolder.standin [--exchange binance|gemini|coinbase] --port 8765 \\
        [--api-key KEY --secret SECRET] [--fixed-clock 1700000000000] [--verbose]

Without ``--api-key``/``--secret`` the exchange's canary credentials are used (obvious fakes;
Binance's are required for compatibility with earlier use). Prints the base URL and the ccxt
``urls['api']`` entries, then serves until Ctrl-C or SIGTERM. Record against it with
``scaffolder record NAME --via URL`` (Coinbase has no sandbox: add ``--allow-mainnet``).
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any

from scaffolder.standin import coinbase, gemini
from scaffolder.standin.binance import CCXT_OPTIONS, BinanceStandIn
from scaffolder.standin.server import StandInServer

#: Exchange -> (display name, default key, default secret).
EXCHANGES: dict[str, tuple[str, str | None, str | None]] = {
    "binance": ("Binance spot", "CANARY-API-KEY-0000", "CANARY-SECRET-0000"),
    "gemini": ("Gemini", gemini.CANARY_API_KEY, gemini.CANARY_SECRET),
    "coinbase": ("Coinbase", coinbase.CANARY_API_KEY, coinbase.CANARY_SECRET),
}


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m scaffolder.standin",
        description="Serve a local stand-in for an exchange's REST API on 127.0.0.1.",
    )
    parser.add_argument("--exchange", choices=sorted(EXCHANGES), default="binance")
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
    _, key, secret = EXCHANGES[args.exchange]
    args.api_key = args.api_key or key
    args.secret = args.secret or secret
    if not args.api_key or not args.secret:
        parser.error(f"--api-key and --secret are required for {args.exchange}")
    if any("=" not in pair or pair.startswith("=") for pair in args.rename):
        parser.error("--rename takes OLD=NEW")
    return args


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def build(args: argparse.Namespace) -> StandInServer:
    """The stand-in the arguments describe (not started)."""
    fixed = args.fixed_clock
    common: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "clock": (lambda: fixed) if fixed is not None else None,
        "verbose": args.verbose,
    }
    factories: dict[str, Callable[[], StandInServer]] = {
        "binance": lambda: BinanceStandIn(
            args.api_key, args.secret, recv_window_max=args.recv_window_max, **common
        ),
        "gemini": lambda: gemini.GeminiStandIn(args.api_key, args.secret, **common),
        "coinbase": lambda: coinbase.CoinbaseStandIn(args.api_key, args.secret, **common),
    }
    standin = factories[args.exchange]()
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
            print(f"{EXCHANGES[args.exchange][0]} stand-in listening on {standin.url}", flush=True)
            print(f"ccxt urls['api'] entries: {json.dumps(standin.ccxt_api_urls())}", flush=True)
            if args.exchange == "binance":
                print(f"ccxt options: {json.dumps(CCXT_OPTIONS)}", flush=True)
            print("Press Ctrl-C to stop.", flush=True)
            threading.Event().wait()
        except KeyboardInterrupt:
            print("\nstopping", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
