"""The retry policy as pure decisions: what a Retry-After asks for, and what the budget allows."""

from __future__ import annotations

import email.utils

import pytest

from dailypay_nb._deadline import Deadline
from dailypay_nb._retry import WAIT_INITIAL, WAIT_JITTER, WAIT_MAX, Retry, RetryBudget, parse_retry_after


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("1", 1.0),
        ("0.25", 0.25),
        ("0", 0.0),
        ("-5", 0.0),
        ("864000", 864000.0),
        ("soon", None),
        ("", None),
        (None, None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_retry_after_seconds(header: str | None, expected: float | None) -> None:
    """Seconds are taken as they are (never negative); junk is no wish at all."""
    assert parse_retry_after(header) == expected


def test_retry_after_http_date() -> None:
    """An HTTP date is the time until then, on the given clock."""
    now = 1_800_000_000.0
    assert parse_retry_after(email.utils.formatdate(now + 120, usegmt=True), now=now) == pytest.approx(120)
    assert parse_retry_after(email.utils.formatdate(now - 120, usegmt=True), now=now) == 0.0


def test_retry_after_within_the_budget_is_the_wait() -> None:
    """The server's wish is the wait when it fits the budget."""
    budget = RetryBudget(attempts=5, timeout=30, deadline=Deadline(60))
    assert budget._decide(Retry(2.5)) == 2.5
    assert budget.refused_wait is None


def test_retry_after_beyond_the_budget_stops_at_once() -> None:
    """A wish past the budget (or the deadline) ends the retries and is remembered for the error."""
    budget = RetryBudget(attempts=5, timeout=30, deadline=Deadline(60))
    assert budget._decide(Retry(864000)) is False
    assert budget.refused_wait == 864000
    short_deadline = RetryBudget(attempts=5, timeout=30, deadline=Deadline(1))
    assert short_deadline._decide(Retry(5)) is False


def test_backoff_grows_and_is_capped() -> None:
    """Without a wish: exponential back-off with jitter, capped, and only while time is left."""
    budget = RetryBudget(attempts=10, timeout=3600, deadline=Deadline(3600))
    waits = [budget._decide(Retry(None)) for _ in range(8)]
    assert all(isinstance(w, float) for w in waits)
    assert WAIT_INITIAL <= waits[0] <= WAIT_INITIAL + WAIT_JITTER
    assert all(w <= WAIT_MAX for w in waits)
    assert waits[-1] == WAIT_MAX
    tight = RetryBudget(attempts=10, timeout=0.1, deadline=Deadline(3600))
    assert tight._decide(Retry(None)) is False  # a 0.25 s back-off does not fit in 0.1 s


def test_only_retry_markers_are_retried() -> None:
    """Any other exception is not the policy's to retry."""
    budget = RetryBudget(attempts=5, timeout=30, deadline=Deadline(60))
    assert budget._decide(ValueError("no")) is False
    assert budget.failures == 0
