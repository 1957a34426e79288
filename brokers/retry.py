"""The one retry policy, and the one way an order is placed without ever being sent twice.

Reads (balance, ticker, order lookups...) are idempotent: :func:`call_with_retry` repeats them
on errors whose ``retryable`` is true, with exponential backoff and full jitter, honouring a
rate limit's ``Retry-After``. Authentication, invalid orders and insufficient funds are never
retried: repeating them cannot help.

Orders are not idempotent. :func:`place_order_once` sends an order carrying a client order id;
when the outcome is unknown (timeout, reset, 5xx, garbled answer) it first looks the order up by
that id and returns it if it exists. It re-sends only when the lookup proves the order absent,
and raises if the state cannot be established, naming the client order id.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from brokers.errors import BrokerError, InvalidNonceError, RateLimitError, map_exception
from brokers.profile import new_client_order_id
from brokers.redaction import redact

__all__ = [
    "NO_RETRY",
    "OrderStateUnknownError",
    "RetryPolicy",
    "call_with_retry",
    "cancel_with_retry",
    "new_client_order_id",
    "place_order_once",
]

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry.

    ``delay(attempt)`` is full jitter over ``min(max_delay, base_delay * 2**attempt)``; a
    ``Retry-After`` from the server is used as a floor (capped by ``max_retry_after``).
    """

    max_attempts: int = 4
    base_delay: float = 0.25
    max_delay: float = 8.0
    max_retry_after: float = 60.0

    def delay(
        self, attempt: int, error: BaseException | None = None, rng: random.Random | None = None
    ) -> float:
        """Seconds to wait before attempt number ``attempt + 1`` (``attempt`` counts from 0)."""
        ceiling = min(self.max_delay, self.base_delay * (2**attempt))
        wait = (rng or random).uniform(0, ceiling)
        if isinstance(error, RateLimitError) and error.retry_after is not None:
            wait = max(wait, min(error.retry_after, self.max_retry_after))
        return wait


NO_RETRY = RetryPolicy(max_attempts=1)

#: Why an order whose answer was lost is not re-sent, where the broker says nothing more.
UNFINDABLE = "this exchange cannot look orders up by client id"
#: Refusals the exchange answers before executing anything (a rate limit, a stale nonce or
#: timestamp): an order refused so is re-sent without a look-up.
REFUSED_UNEXECUTED = (RateLimitError, InvalidNonceError)


def call_with_retry(
    fn: Callable[[], T],
    *,
    policy: RetryPolicy,
    describe: str,
    to_error: Callable[[BaseException], BrokerError] = map_exception,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``fn`` (an idempotent request) and retry it on retryable errors.

    Foreign exceptions are mapped by ``to_error`` and raised ``from`` the original. After the
    last attempt the last error is raised as it is.
    """
    attempt = 0
    while True:
        try:
            return fn()
        except Exception as exc:
            error = to_error(exc)
            attempt += 1
            if not error.retryable or attempt >= policy.max_attempts:
                if error is exc:
                    raise
                raise error from exc
            wait = policy.delay(attempt - 1, error)
            log.warning(
                "%s failed (%s: %s); retry %d/%d in %.2fs",
                redact(describe),
                type(error).__name__,
                redact(str(error)),
                attempt,
                policy.max_attempts - 1,
                wait,
            )
            sleep(wait)


class OrderStateUnknownError(BrokerError):
    """An order was sent, its answer was lost, and its existence could not be established.

    The order may exist. Look it up by ``client_order_id`` before placing it again.
    """

    retryable = False

    def __init__(self, message: str, *, client_order_id: str, broker: str | None = None) -> None:
        super().__init__(message, broker=broker)
        self.client_order_id = client_order_id


def place_order_once(
    send: Callable[[], T],
    find: Callable[[], T | None] | None,
    *,
    client_order_id: str,
    policy: RetryPolicy,
    to_error: Callable[[BaseException], BrokerError] = map_exception,
    sleep: Callable[[float], None] = time.sleep,
    broker: str | None = None,
    unfindable: str = UNFINDABLE,
) -> T:
    """Send an order at most once per proven absence.

    ``send`` places the order (with ``client_order_id`` inside it); ``find`` returns the order
    with that client id, or None when the exchange says it does not exist. ``find`` is itself
    retried as a read. Without ``find`` only a refusal the exchange answers before executing
    anything (:data:`REFUSED_UNEXECUTED`) is re-sent; any other unknown outcome is raised, its
    message saying why nothing can be looked up (``unfindable``) and what to check.
    """
    attempt = 0
    while True:
        try:
            return send()
        except Exception as exc:
            error = to_error(exc)
            attempt += 1
            if not error.retryable:
                if error is exc:
                    raise
                raise error from exc
            if find is not None and not isinstance(error, REFUSED_UNEXECUTED):
                read: functools.partial[T | None] = functools.partial(
                    call_with_retry, policy=policy, to_error=to_error, sleep=sleep
                )
                existing = _lookup(read, find, client_order_id, error, broker)
                if existing is not None:
                    log.warning(
                        "order %s was accepted although its answer was lost (%s); not re-sending",
                        client_order_id,
                        type(error).__name__,
                    )
                    return existing
            elif find is None and not isinstance(error, REFUSED_UNEXECUTED):
                raise OrderStateUnknownError(
                    f"order {client_order_id} may or may not have been placed ({error}); "
                    f"{unfindable}, so it was not re-sent",
                    client_order_id=client_order_id,
                    broker=broker,
                ) from exc
            if attempt >= policy.max_attempts:
                raise error from exc
            sleep(policy.delay(attempt - 1, error))


def _lookup(
    read: functools.partial[T | None],
    find: Callable[[], T | None],
    client_order_id: str,
    cause: BrokerError,
    broker: str | None,
) -> T | None:
    try:
        return read(find, describe=f"look-up of order {client_order_id}")
    except BrokerError as lookup_error:
        raise OrderStateUnknownError(
            f"order {client_order_id} may or may not have been placed ({cause}); looking it up "
            f"failed too ({lookup_error}). Check it by client order id before placing it again",
            client_order_id=client_order_id,
            broker=broker,
        ) from lookup_error


def cancel_with_retry(
    cancel: Callable[[], T],
    look_up: Callable[[], T] | None,
    cancelled: Callable[[T], bool],
    *,
    policy: RetryPolicy,
    describe: str,
    to_error: Callable[[BaseException], BrokerError] = map_exception,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Cancel an order, retrying like a read, and see through a lost answer.

    When an attempt's outcome was unknown (a timeout, a reset, a 5xx: the cancel may have
    been done) and a later attempt is refused ("unknown order", "not found", a bad request:
    exchanges word "already cancelled" many ways), the order is looked up (``look_up``, retried as a read): if ``cancelled``
    says it is, that is the answer; otherwise, or when the look-up fails, the refusal is
    raised (its cause kept). A refusal of the
    first attempt is always raised: nothing was lost, so the order really was not there.
    """
    lost: list[BrokerError] = []

    def attempt() -> T:
        try:
            return cancel()
        except Exception as exc:
            error = to_error(exc)
            if error.retryable:
                lost.append(error)
            raise

    read: functools.partial[T] = functools.partial(
        call_with_retry, policy=policy, to_error=to_error, sleep=sleep
    )
    try:
        return read(attempt, describe=describe)
    except BrokerError as refused:
        if refused.retryable or not lost or look_up is None:
            raise
        try:
            order = read(look_up, describe=f"{describe}: look-up")
        except BrokerError as lookup_error:
            log.warning("%s: the look-up after a lost answer failed (%s)", describe, lookup_error)
            raise refused  # noqa: B904 - the refusal keeps its own cause
        if not cancelled(order):
            raise
        log.warning(
            "%s: refused (%s) after a lost answer (%s), and the order is cancelled",
            describe,
            type(refused).__name__,
            type(lost[-1]).__name__,
        )
        return order
