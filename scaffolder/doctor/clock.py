"""The ``clock skew`` check: the local clock against the exchange's server time."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from brokers.errors import map_exception
from scaffolder.doctor.report import FAIL, OK, WARN, Check

if TYPE_CHECKING:
    from scaffolder.doctor.checkup import Checkup

#: Skew above which the clock check warns (ms).
WARN_SKEW_MS = 1000
#: Skew above which it fails when the exchange states no recvWindow (ms).
MAX_SKEW_MS = 30000


def _now_ms() -> float:
    return time.time() * 1000


def _server_time(data: Any) -> float | None:
    """Milliseconds from a time endpoint's answer (``{"serverTime": ms}`` and friends)."""
    if isinstance(data, Mapping):
        for key in ("serverTime", "server_time", "time", "timestamp", "epoch", "iso"):
            if key in data:
                return _server_time(data[key])
        return None
    if isinstance(data, bool):
        return None
    if isinstance(data, (int, float)):
        return float(data) * (1000 if data < 1e11 else 1)
    if isinstance(data, str):
        try:
            return _server_time(float(data))
        except ValueError:
            return None
    return None


def check_clock(doctor: Checkup) -> Check:
    """How far the local clock is from the server's, judged against the recvWindow."""
    if doctor.broker is None:
        return doctor.add("clock skew", WARN, "not checked: the broker could not be built")
    recv_window: int | None
    if doctor.integration == "ccxt":
        exchange = doctor.broker.exchange
        if not exchange.has.get("fetchTime"):
            return doctor.add(
                "clock skew",
                WARN,
                f"not checked: ccxt's {exchange.id} cannot fetch the server time (no fetchTime)",
            )
        fetch: Callable[[], Any] = exchange.fetch_time
        option = exchange.options.get("recvWindow")
        recv_window = doctor.config.settings.recv_window if doctor.config else None
        recv_window = recv_window or (int(option) if isinstance(option, (int, float)) else None)
    else:
        recv_window = doctor.config.settings.recv_window if doctor.config else None

        def fetch() -> Any:
            return doctor.broker.request("GET", "time")

    before = _now_ms()
    try:
        answer = fetch()
    except Exception as exc:
        error = map_exception(exc, broker=doctor.name)
        return doctor.add(
            "clock skew",
            FAIL,
            f"cannot reach {doctor.name} for its server time: {type(error).__name__}: {error}",
            error=type(error).__name__,
        )
    after = _now_ms()
    server = _server_time(answer)
    if server is None:
        return doctor.add(
            "clock skew",
            WARN,
            f"the time endpoint's answer holds no server time: {answer!r:.80}",
        )
    skew = (before + after) / 2 - server
    limit = min(recv_window, MAX_SKEW_MS) if recv_window else MAX_SKEW_MS
    data = {
        "skew_ms": round(skew),
        "server_time_ms": round(server),
        "round_trip_ms": round(after - before),
        "recv_window_ms": recv_window,
        "warn_over_ms": WARN_SKEW_MS,
        "fail_over_ms": limit,
    }
    if abs(skew) <= WARN_SKEW_MS:
        return doctor.add(
            "clock skew",
            OK,
            f"local clock within {abs(skew) / 1000:.3f} s of {doctor.name}'s server time "
            f"(round trip {after - before:.0f} ms)",
            **data,
        )
    direction = "ahead of" if skew > 0 else "behind"
    bound = f"the recvWindow of {recv_window} ms" if recv_window else f"{MAX_SKEW_MS} ms"
    status = FAIL if abs(skew) > limit else WARN
    consequence = (
        f"signed requests are refused beyond {bound}"
        if status == FAIL
        else f"over 1 s; signed requests are refused beyond {bound}"
    )
    if skew > 0:
        consequence += ", and Binance-style exchanges refuse any stamped over 1 s ahead"
    return doctor.add(
        "clock skew",
        status,
        f"local clock is {abs(skew) / 1000:.1f} s {direction} {doctor.name}'s server time "
        f"({consequence}): synchronise the clock (NTP)",
        **data,
    )
