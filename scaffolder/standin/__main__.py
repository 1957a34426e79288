"""Run the Binance spot stand-in in the foreground.

Usage::

    python -m scaffolder.standin --port 8765 --api-key CANARY-API-KEY-0000 \
        --secret CANARY-SECRET-0000 [--fixed-clock 1700000000000] [--verbose]

Prints the base URL and the ccxt ``urls['api']`` entries, then serves until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from collections.abc import Sequence
from types import FrameType

from scaffolder.standin.binance import CCXT_OPTIONS, BinanceStandIn


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m scaffolder.standin",
        description="Serve a local stand-in for Binance's spot testnet REST API (api/v3).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind")
    parser.add_argument("--port", type=int, default=8765, help="TCP port (0: any free port)")
    parser.add_argument("--api-key", required=True, help="the accepted X-MBX-APIKEY")
    parser.add_argument("--secret", required=True, help="the HMAC-SHA256 signing secret")
    parser.add_argument(
        "--recv-window-max", type=int, default=60000, help="largest accepted recvWindow (ms)"
    )
    parser.add_argument(
        "--fixed-clock",
        type=int,
        default=None,
        metavar="MS",
        help="freeze the server clock at this epoch-ms value (clients must sign with it too)",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request")
    return parser.parse_args(argv)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Start the stand-in and block until Ctrl-C (SIGINT) or SIGTERM."""
    args = _parse_args(argv)
    # Background jobs of a non-interactive shell start with SIGINT ignored: re-enable it.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    fixed = args.fixed_clock
    standin = BinanceStandIn(
        args.api_key,
        args.secret,
        host=args.host,
        port=args.port,
        recv_window_max=args.recv_window_max,
        clock=(lambda: fixed) if fixed is not None else None,
        verbose=args.verbose,
    )
    with standin:
        print(f"Binance spot stand-in listening on {standin.url}", flush=True)
        print(f"ccxt urls['api'] entries: {json.dumps(standin.ccxt_api_urls())}", flush=True)
        print(f"ccxt options: {json.dumps(CCXT_OPTIONS)}", flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("\nstopping", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
