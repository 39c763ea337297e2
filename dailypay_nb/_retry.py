"""One retry policy for token and API requests: which outcomes are retried, how long to wait.

Strictly private. Retries use stamina (exponential back-off with jitter, its testing mode,
its instrumentation); this module decides what is worth another attempt and how long each
wait may be: the server's `Retry-After` when it sends one, the back-off otherwise, and never
past the retry budget (`retry_timeout`) or the call's deadline. A `Retry-After` beyond the
budget ends the retries at once, so the caller gets a typed error that says when the server
asked to be called again instead of a wait shortened without a word.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timezone
from typing import Any

import stamina

from ._deadline import Deadline

__all__ = ["RETRY_STATUSES", "Retry", "RetryBudget", "parse_retry_after"]

#: Statuses worth another attempt (409 too for writes with an Idempotency-Key: "in flight").
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
WAIT_INITIAL = 0.25
WAIT_MAX = 5.0
WAIT_JITTER = 0.25


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds a `Retry-After` header asks for (seconds or an HTTP date); None if absent or unreadable."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)


class Retry(Exception):
    """Raised inside the retry loop for an outcome worth another attempt (never escapes it)."""

    def __init__(self, wait: float | None) -> None:
        super().__init__("retryable outcome")
        #: What the server asked for (Retry-After), in seconds, or None.
        self.wait = wait


class RetryBudget:
    """How long the retries of one call may go on, and the waits between them."""

    def __init__(self, attempts: int, timeout: float, deadline: Deadline) -> None:
        self.attempts = attempts
        #: The budget in seconds: the retry timeout, or what the deadline leaves if that is less.
        self.seconds = min(timeout, deadline.remaining())
        self.end = min(time.monotonic() + timeout, deadline.end)
        self.deadline = deadline
        self.failures = 0
        #: The server's Retry-After when it was beyond the budget (the call then stops at once).
        self.refused_wait: float | None = None

    def _decide(self, exc: Exception) -> bool | float:
        if not isinstance(exc, Retry):
            return False
        self.failures += 1
        left = self.end - time.monotonic()
        if exc.wait is not None:
            if exc.wait > left:
                self.refused_wait = exc.wait
                return False
            return max(exc.wait, 0.01)
        wait: float = min(
            WAIT_MAX, WAIT_INITIAL * 2.0 ** (self.failures - 1) + random.uniform(0, WAIT_JITTER)
        )
        if wait >= left:
            return False  # no time for another attempt
        self.deadline.doing = "waiting to retry"
        return wait

    def _context(self) -> Any:
        return stamina.retry_context(on=self._decide, attempts=self.attempts, timeout=None)

    def attempts_of(self) -> Iterator[Any]:
        """stamina's attempts; the loop ends quietly when a retry is not worth it (any more)."""
        try:
            yield from self._context()
        except Retry:
            return

    async def aattempts_of(self) -> AsyncIterator[Any]:
        """`attempts_of()` for asyncio."""
        try:
            async for attempt in self._context():
                yield attempt
        except Retry:
            return

    def refused_until(self) -> str:
        """When the server asked to be called again, as UTC text (after a refused Retry-After)."""
        when = datetime.now(timezone.utc).timestamp() + (self.refused_wait or 0)
        return datetime.fromtimestamp(when, tz=timezone.utc).isoformat(timespec="seconds")
