"""A ccxt exception as our error, with what only the ccxt exchange object knows.

:func:`brokers.errors.map_exception` maps by the exception's place in ccxt's tree; here the
exchange's last answer adds a rate limit's ``Retry-After`` and, for exchanges whose "no such
order" ccxt raises only as a generic error, the fragments that mean it.
"""

from __future__ import annotations

from typing import Any

from brokers.errors import BrokerError, OrderNotFoundError, map_exception, parse_retry_after


def ccxt_error(
    exc: BaseException,
    exchange: Any,
    *,
    broker: str,
    not_found_messages: tuple[str, ...] = (),
) -> BrokerError:
    """``exc`` (raised by ``exchange``, which may be None) mapped to our error tree."""
    retry_after = None
    if type(exc).__name__ in ("RateLimitExceeded", "DDoSProtection"):
        headers = getattr(exchange, "last_response_headers", None) or {}
        retry_after = parse_retry_after(
            next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
        )
    error = map_exception(exc, broker=broker, retry_after=retry_after)
    if not_found_messages and not (error.retryable or isinstance(error, OrderNotFoundError)):
        # A refusal comes from the answer to this very request, so its body is current.
        answer = str(getattr(exchange, "last_http_response", None) or "")
        text = f"{exc}\n{answer}"
        if any(fragment in text for fragment in not_found_messages):
            error = OrderNotFoundError(error.message, broker=broker)
            error.__cause__ = exc
    return error
