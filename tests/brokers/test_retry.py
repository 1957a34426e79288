"""Retries happen only where repeating is safe; an order is never placed twice."""

from __future__ import annotations

import random

import pytest

from brokers import errors as e
from brokers.retry import (
    OrderStateUnknownError,
    RetryPolicy,
    call_with_retry,
    new_client_order_id,
    place_order_once,
)

POLICY = RetryPolicy(max_attempts=4, base_delay=0.1, max_delay=1.0)


class Script:
    """Answers calls from a script of outcomes: an exception to raise or a value to return."""

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.calls = 0

    def __call__(self):
        self.calls += 1
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def test_reads_are_retried_on_transient_errors_then_succeed():
    waits: list[float] = []
    fn = Script(e.RequestTimeoutError("t"), e.ExchangeUnavailableError("503"), "ok")
    assert call_with_retry(fn, policy=POLICY, describe="read", sleep=waits.append) == "ok"
    assert fn.calls == 3 and len(waits) == 2


@pytest.mark.parametrize(
    "final",
    [e.AuthenticationError, e.InvalidOrderError, e.InsufficientFundsError, e.OrderNotFoundError],
)
def test_final_errors_are_never_retried(final):
    fn = Script(final("no"))
    with pytest.raises(final):
        call_with_retry(fn, policy=POLICY, describe="read", sleep=lambda s: None)
    assert fn.calls == 1


def test_gives_up_after_max_attempts_with_the_last_error_chained():
    import ccxt

    fn = Script(*[ccxt.NetworkError(f"n{i}") for i in range(4)])
    with pytest.raises(e.BrokerConnectionError) as info:
        call_with_retry(fn, policy=POLICY, describe="read", sleep=lambda s: None)
    assert fn.calls == 4
    assert isinstance(info.value.__cause__, ccxt.NetworkError)
    assert "n3" in str(info.value)


def test_backoff_grows_exponentially_with_full_jitter_and_a_cap():
    rng = random.Random(1)
    policy = RetryPolicy(base_delay=1.0, max_delay=5.0)
    for attempt, ceiling in [(0, 1.0), (1, 2.0), (2, 4.0), (3, 5.0), (10, 5.0)]:
        samples = [policy.delay(attempt, rng=rng) for _ in range(200)]
        assert all(0 <= s <= ceiling for s in samples)
        assert max(samples) > ceiling * 0.8  # the whole range is used: jitter, not a fixed wait


def test_retry_after_is_a_floor_for_rate_limits():
    error = e.RateLimitError("429", retry_after=7)
    assert POLICY.delay(0, error) >= 7
    capped = RetryPolicy(max_retry_after=2).delay(0, e.RateLimitError("429", retry_after=100))
    assert capped <= 2


def test_client_order_ids_are_unique_and_exchange_safe():
    ids = {new_client_order_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == 32 and i.isalnum() and i.islower() for i in ids)


class FakeExchange:
    """An exchange that may execute an order and lose the answer; counts what it placed."""

    def __init__(self, *send_outcomes, lookup_outcomes=()):
        self.placed: list[str] = []
        self.send_outcomes = list(send_outcomes)
        self.lookup_outcomes = list(lookup_outcomes)
        self.lookups = 0

    def send(self, client_id):
        outcome = self.send_outcomes.pop(0) if self.send_outcomes else "accept"
        if outcome == "lost-after-accept":
            self.placed.append(client_id)
            raise e.RequestTimeoutError("read timed out")
        if isinstance(outcome, BaseException):
            raise outcome
        self.placed.append(client_id)
        return {"client_order_id": client_id}

    def find(self, client_id):
        self.lookups += 1
        if self.lookup_outcomes:
            outcome = self.lookup_outcomes.pop(0)
            if isinstance(outcome, BaseException):
                raise outcome
        return {"client_order_id": client_id, "found": True} if client_id in self.placed else None


def _place(ex, cid="cid1", find=True):
    return place_order_once(
        lambda: ex.send(cid),
        (lambda: ex.find(cid)) if find else None,
        client_order_id=cid,
        policy=POLICY,
        sleep=lambda s: None,
    )


def test_lost_answer_after_accept_returns_the_existing_order_without_resending():
    ex = FakeExchange("lost-after-accept")
    order = _place(ex)
    assert order == {"client_order_id": "cid1", "found": True}
    assert ex.placed == ["cid1"]


def test_timeout_before_accept_resends_once_the_lookup_proves_absence():
    ex = FakeExchange(e.RequestTimeoutError("connect timeout"))
    order = _place(ex)
    assert ex.placed == ["cid1"] and ex.lookups == 1
    assert order == {"client_order_id": "cid1"}


@pytest.mark.parametrize(
    "fault",
    [
        e.ExchangeUnavailableError("502"),
        e.BrokerConnectionError("reset"),
        e.BadResponseError("truncated"),
    ],
)
def test_ambiguous_failures_never_leave_two_orders(fault):
    ex = FakeExchange(fault, "lost-after-accept", fault)
    _place(ex)
    assert len(ex.placed) == 1


def test_rate_limit_refusal_is_resent_without_lookup():
    ex = FakeExchange(e.RateLimitError("429", retry_after=0))
    _place(ex)
    assert ex.placed == ["cid1"] and ex.lookups == 0


@pytest.mark.parametrize("find", [True, False])
def test_a_stale_nonce_refusal_is_resent_with_a_fresh_one_not_reported_unknown(find):
    ex = FakeExchange(e.InvalidNonceError("nonce not increased"))
    assert _place(ex, find=find) == {"client_order_id": "cid1"}
    assert ex.placed == ["cid1"] and ex.lookups == 0


def test_failed_lookup_raises_order_state_unknown_with_the_client_id():
    ex = FakeExchange("lost-after-accept", lookup_outcomes=[e.ExchangeUnavailableError("down")] * 4)
    with pytest.raises(OrderStateUnknownError) as info:
        _place(ex)
    assert info.value.client_order_id == "cid1"
    assert ex.placed == ["cid1"]


def test_without_lookup_an_ambiguous_failure_is_not_resent():
    ex = FakeExchange("lost-after-accept")
    with pytest.raises(OrderStateUnknownError, match="cannot look orders up"):
        _place(ex, find=False)
    assert ex.placed == ["cid1"]


def test_invalid_order_is_raised_at_once():
    ex = FakeExchange(e.InsufficientFundsError("no money"))
    with pytest.raises(e.InsufficientFundsError):
        _place(ex)
    assert ex.lookups == 0


def _cancel(cancel, look_up):
    from brokers.retry import cancel_with_retry

    return cancel_with_retry(
        cancel,
        look_up,
        lambda order: order["status"] == "canceled",
        policy=POLICY,
        describe="cancel",
        sleep=lambda s: None,
    )


def test_a_cancel_refused_after_a_lost_answer_is_done_when_the_order_is_cancelled():
    cancel = Script(e.RequestTimeoutError("lost"), e.OrderNotFoundError("unknown order"))
    look_up = Script({"id": "1", "status": "canceled"})
    assert _cancel(cancel, look_up) == {"id": "1", "status": "canceled"}
    assert cancel.calls == 2 and look_up.calls == 1


@pytest.mark.parametrize(
    "answer", [{"id": "1", "status": "open"}, e.ExchangeUnavailableError("down")]
)
def test_a_cancel_refused_after_a_lost_answer_stays_refused_unless_the_order_is_cancelled(answer):
    cancel = Script(e.BrokerConnectionError("reset"), e.InvalidRequestError("bad request"))
    look_up = Script(*([answer] * POLICY.max_attempts))
    with pytest.raises(e.InvalidRequestError):
        _cancel(cancel, look_up)


def test_a_cancel_refused_at_once_is_refused_without_a_look_up():
    cancel = Script(e.OrderNotFoundError("unknown order"))
    look_up = Script({"id": "1", "status": "canceled"})
    with pytest.raises(e.OrderNotFoundError):
        _cancel(cancel, look_up)
    assert look_up.calls == 0
