"""Deadlines: a whole call (connect, every read of a slow body, retries, the token it waits for) ends on time.

Strictly private. httpx's timeouts bound each network step, so a server that sends one byte
every half second never trips them. A `Deadline` is an end time on the monotonic clock,
carried in a context variable while a call runs; the network backends of `_wire` (installed
in every transport a session makes) cut each connect, TLS handshake, read and write at the time
that remains, so the deadline holds however slowly the server answers. Code that waits
elsewhere (a lock, a retry's back-off) asks `remaining()` itself.
"""

from __future__ import annotations

import contextlib
import contextvars
import socket
import time
from typing import Any

import httpx

__all__ = ["CURRENT", "Deadline", "guard", "running"]


class Deadline:
    """The end of a call: `seconds` from its start, on the monotonic clock."""

    __slots__ = ("doing", "end", "seconds", "stream")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds
        #: What the call was doing last (named in the error when the deadline passes).
        self.doing = "starting"
        #: The network stream a blocking step of this call is waiting on, if any.
        self.stream: Any = None

    def cancel(self, why: str = "cancelled") -> None:
        """End the call now, from another thread: its blocked socket read or write returns at once.

        Used when the task awaiting a call that runs in a worker thread is cancelled (a kernel
        interrupt of an async cell): the thread would otherwise go on until the deadline.
        """
        self.end = time.monotonic()
        self.doing = why
        stream = self.stream
        sock = stream.get_extra_info("socket") if stream is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def remaining(self) -> float:
        """Seconds left (negative once passed)."""
        return self.end - time.monotonic()

    @property
    def expired(self) -> bool:
        """True once the end has passed."""
        return time.monotonic() >= self.end

    def cap(self, timeout: float | None, doing: str) -> float:
        """`timeout` shortened to what remains; raises httpcore's timeout once nothing does."""
        self.doing = doing
        left = self.end - time.monotonic()
        if left <= 0:
            import httpcore  # loaded by httpx's transports by now; not at `import dailypay_nb`

            raise httpcore.ReadTimeout(f"deadline of {self.seconds:g}s passed")
        return left if timeout is None else min(timeout, left)

    def describe(self) -> str:
        """`deadline of 5s passed while waiting for the response`."""
        return f"deadline of {self.seconds:g}s passed while {self.doing}"

    def __repr__(self) -> str:
        return f"Deadline({self.seconds:g}s, {self.remaining():.3f}s left, {self.doing})"


#: The deadline of the call running in this thread or task, if any.
CURRENT: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar(
    "dailypay_nb_deadline", default=None
)


class running:
    """Make `deadline` the current one for the block (nested calls keep the earlier end).

    A class (named as the function it replaced) rather than a generator: entered on every request.
    """

    __slots__ = ("deadline", "token")

    def __init__(self, deadline: Deadline) -> None:
        self.deadline = deadline

    def __enter__(self) -> Deadline:
        deadline = self.deadline
        outer = CURRENT.get()
        if outer is not None and outer.end < deadline.end:
            deadline = self.deadline = outer
        self.token = CURRENT.set(deadline)
        return deadline

    def __exit__(self, *exc: object) -> None:
        CURRENT.reset(self.token)


def _cap(timeout: float | None, doing: str, stream: Any = None) -> float | None:
    deadline = CURRENT.get()
    if deadline is None:
        return timeout
    deadline.stream = stream
    return deadline.cap(timeout, doing)


def guard(transport: httpx.BaseTransport | httpx.AsyncBaseTransport) -> None:
    """Make `transport`'s connection pool honour the current deadline on every network step.

    httpx builds its pool without a way to pass a network backend, so the pool's backend is
    wrapped in place (`_wire`); a transport without an httpcore pool (a mock, ASGI) is left as
    it is, and the call's own checks between chunks and attempts still apply.
    """
    from ._wire import install

    install(transport)
