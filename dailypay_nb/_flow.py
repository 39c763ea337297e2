"""The request flow, written once for sync and async: build, decide, finish.

Strictly private. A `Call` holds one request and decides, without doing any I/O, what each
outcome means: done, worth another attempt (after the server's `Retry-After` or a back-off),
or an error. `run()` and `arun()` are the only loops, and `exchange()`/`aexchange()` the only
senders: they send within the call's deadline, read the body within the size limit, and hand
the outcome to the call. `Session`, `AsyncSession` and the token provider share all of it.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx

from ._deadline import Deadline, running
from ._redact import redact
from ._retry import RETRY_STATUSES, RetryBudget, parse_retry_after
from ._secret import MASK
from ._timings import META

__all__ = ["Answer", "Call", "Failure", "Raw", "aexchange", "arun", "awake", "exchange", "run"]

T = TypeVar("T")

_CAUSES: tuple[tuple[type[Exception], str], ...] = (
    (httpx.ConnectTimeout, "timed out connecting"),
    (httpx.ReadTimeout, "timed out waiting for the response"),
    (httpx.WriteTimeout, "timed out sending the request"),
    (httpx.PoolTimeout, "timed out waiting for a free connection"),
    (httpx.RemoteProtocolError, "connection dropped, or the answer was not valid HTTP"),
    (httpx.LocalProtocolError, "the request could not be sent as HTTP (a header value is not allowed)"),
    (httpx.DecodingError, "the response body could not be decoded"),
    (httpx.UnsupportedProtocol, "the URL's scheme is not supported"),
)


def _cause(exc: httpx.RequestError) -> tuple[str, bool]:
    """What went wrong, in words, and whether another attempt could help."""
    if isinstance(exc, httpx.ConnectError):
        text = str(exc).lower()
        if "name or service" in text or "nodename" in text or "getaddrinfo" in text or "resolution" in text:
            return "could not connect: the host name could not be resolved (DNS)", True
        if "certificate" in text or "ssl" in text or "tls" in text:
            return "could not connect: the TLS handshake failed (certificate or protocol)", False
        if "refused" in text:
            return "could not connect: the connection was refused (nothing listening on that port?)", True
        return "could not connect", True
    for kind, words in _CAUSES:
        if isinstance(exc, kind):
            if isinstance(exc, httpx.TimeoutException):
                words = words.replace("timed out", f"timed out after {_timeout(exc)}")
            # Sending the same request again cannot help when it is the request that is wrong.
            return words, not isinstance(
                exc, (httpx.DecodingError, httpx.UnsupportedProtocol, httpx.LocalProtocolError)
            )
    return type(exc).__name__, isinstance(exc, httpx.TransportError)


def _timeout(exc: httpx.TimeoutException) -> str:
    """The per-step timeout that ran out, as `0.4s`."""
    step = {httpx.ConnectTimeout: "connect", httpx.WriteTimeout: "write", httpx.PoolTimeout: "pool"}
    try:
        seconds = exc.request.extensions.get("timeout", {}).get(step.get(type(exc), "read"))
    except RuntimeError:  # no request attached
        seconds = None
    return f"{seconds:g}s" if isinstance(seconds, (int, float)) else "the timeout"


class Raw(bytes):
    """A body as the server sent it: bytes whose repr does not show them.

    A traceback that shows values (`%xmode Verbose` evaluates `last.body` in the line that
    raised; `capture_locals`; `%debug`) prints its size instead of what a server echoed.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"<{len(self):,} bytes from the server, not shown>"


@dataclass(frozen=True, slots=True, repr=False)
class Answer:
    """A response whose body was read in full, within the size limit.

    Its repr shows neither the body nor the reason phrase: a traceback that shows locals (or
    `%debug`) must not print what a server echoed.
    """

    response: httpx.Response
    body: Raw

    @property
    def status(self) -> int:
        return self.response.status_code

    def __repr__(self) -> str:
        return f"Answer(status={self.status}, {len(self.body):,} bytes)"


@dataclass(frozen=True, slots=True)
class Failure:
    """No usable answer: why, in words (redacted), and whether another attempt could help.

    Only text is kept, never the exception: its traceback would hold the frames (and the
    request body) of httpx's internals.
    """

    cause: str
    detail: str
    retryable: bool

    @classmethod
    def of(cls, exc: httpx.RequestError, deadline: Deadline) -> Failure:
        if deadline.expired:
            return cls(deadline.describe(), "", False)
        words, retryable = _cause(exc)
        return cls(words, redact(f"{type(exc).__name__}: {exc}", limit=160), retryable)


Outcome = Answer | Failure


class _Body:
    """Collects a decoded body, refusing it once it passes `limit` bytes or the deadline."""

    __slots__ = ("chunks", "deadline", "limit", "size")

    def __init__(self, limit: int, deadline: Deadline) -> None:
        self.chunks: list[bytes] = []
        self.size = 0
        self.limit = limit
        self.deadline = deadline

    def add(self, chunk: bytes) -> Failure | None:
        self.size += len(chunk)
        if self.size > self.limit:
            return Failure(
                f"the answer is larger than max_response_bytes ({self.limit:,} bytes after decompression)",
                "",
                False,
            )
        if self.deadline.expired:
            self.deadline.doing = "reading the response body"
            return Failure(self.deadline.describe(), "", False)
        self.chunks.append(chunk)
        return None

    def answer(self, response: httpx.Response) -> Answer:
        return Answer(response, Raw(b"".join(self.chunks)))


class Call(Generic[T]):
    """One request and what its outcomes mean. Subclasses build the request and `finish()`."""

    request: httpx.Request
    auth: httpx.Auth | None = None

    def __init__(
        self, *, deadline: Deadline, limit: int, attempts: int, retry_timeout: float, retry: bool
    ) -> None:
        self.deadline = deadline
        self.limit = limit
        self._retry = (attempts, retry_timeout) if retry and attempts > 1 else None
        #: The retries' budget, from the first outcome that called for one.
        self.budget: RetryBudget | None = None
        self.last: Outcome | None = None

    def retry_statuses(self) -> frozenset[int]:
        return RETRY_STATUSES

    def _wait(self, outcome: Outcome) -> tuple[bool, float | None]:
        """(worth another attempt?, the server's Retry-After in seconds, if any)."""
        if isinstance(outcome, Failure):
            return outcome.retryable and not self.deadline.expired, None
        if outcome.status in self.retry_statuses():
            return True, parse_retry_after(outcome.response.headers.get("retry-after"))
        return False, None

    def first(self, outcome: Outcome) -> bool:
        """Record the first outcome; True when it calls for the retry loop."""
        self.last = outcome
        if self._retry is None or not self._wait(outcome)[0]:
            return False
        self.budget = RetryBudget(*self._retry, self.deadline)
        return True

    def settle(self, outcome: Outcome | None) -> None:
        """Record an outcome (None: judge the last one again); raise `Retry` when worth another attempt."""
        from ._retry import Retry

        if outcome is not None:
            self.last = outcome
        assert self.last is not None
        again, wait = self._wait(self.last)
        if again:
            raise Retry(wait)

    def finish(self) -> T:
        raise NotImplementedError

    @property
    def attempts(self) -> int:
        """How many times the request was sent (each 401 re-send and retry counted)."""
        value: int = self.request.extensions.get(META, {}).get("attempt", 1)
        return value

    def refused_retry(self) -> str | None:
        """'the server asked to retry after …' when its Retry-After was beyond the budget."""
        if self.budget is None or self.budget.refused_wait is None:
            return None
        return (
            f"the server asked to retry after {self.budget.refused_wait:,.0f}s "
            f"(at {self.budget.refused_until()}), beyond the retry budget of {self.budget.seconds:.3g}s"
        )


Send = Callable[[Call[Any]], Outcome]
AsyncSend = Callable[[Call[Any]], Awaitable[Outcome]]


def run(call: Call[T], send: Send) -> T:
    """Drive `call`: send; while the outcome is worth it and time allows, wait and send again."""
    if call.first(send(call)) and call.budget is not None:
        for attempt in call.budget.attempts_of():
            with attempt:
                call.settle(send(call) if attempt.num > 1 else None)
    return call.finish()


async def arun(call: Call[T], send: AsyncSend) -> T:
    """`run()` for asyncio."""
    with awake():
        if call.first(await send(call)) and call.budget is not None:
            async for attempt in call.budget.aattempts_of():
                with attempt:
                    call.settle(await send(call) if attempt.num > 1 else None)
    return call.finish()


def _distrust(response: httpx.Response) -> httpx.Response:
    """Redact the reason phrase, server text that httpx shows in the response's repr."""
    reason = response.extensions.get("reason_phrase")
    if reason:
        text = reason.decode("latin-1")
        if text != httpx.codes.get_reason_phrase(response.status_code):
            masked = redact(text, limit=80).replace(MASK, "[masked]")
            response.extensions["reason_phrase"] = masked.encode("ascii", "replace")
    return response


#: While a call awaits, the event loop is woken this often (seconds); see `awake`.
TICK = 0.1
_ticking: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()
_busy: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, int] = weakref.WeakKeyDictionary()


@contextmanager
def awake() -> Iterator[None]:
    """Keep the running loop waking every `TICK` seconds while calls are in flight.

    ipykernel turns a kernel interrupt of an awaiting cell into a callback that runs only when
    the loop next wakes: a call waiting 20 s for a Retry-After, or for a silent server, would
    ignore the stop button for 20 s. A timer that re-arms itself while any call is in flight
    bounds that to `TICK`; it stops with the last call.
    """
    loop = asyncio.get_running_loop()
    _busy[loop] = _busy.get(loop, 0) + 1
    if loop not in _ticking:
        _ticking.add(loop)
        loop.call_later(TICK, _tick, loop)
    try:
        yield
    finally:
        _busy[loop] -= 1


def _tick(loop: asyncio.AbstractEventLoop) -> None:
    if _busy.get(loop):
        loop.call_later(TICK, _tick, loop)
    else:
        _ticking.discard(loop)


#: What a closed response's stream is replaced with. httpx's stream refers back to its response,
#: so every response would be freed only by the cyclic garbage collector, whose runs then cost
#: more than the rest of the toolkit's work on a request; without the cycle, freed at once.
_SPENT = httpx.ByteStream(b"")


def exchange(client: httpx.Client, call: Call[Any]) -> Outcome:
    """Send `call.request` once within its deadline and read the body within its size limit."""
    with running(call.deadline) as deadline:
        try:
            response = _distrust(client.send(call.request, auth=call.auth, stream=True))
        except httpx.RequestError as exc:
            return Failure.of(exc, deadline)
        body = _Body(call.limit, deadline)
        try:
            for chunk in response.iter_bytes():
                if refused := body.add(chunk):
                    return refused
        except httpx.RequestError as exc:
            return Failure.of(exc, deadline)
        finally:
            response.close()
            response.stream = _SPENT
    return body.answer(response)


async def aexchange(client: httpx.AsyncClient, call: Call[Any]) -> Outcome:
    """`exchange()` for asyncio."""
    with running(call.deadline) as deadline:
        try:
            response = _distrust(await client.send(call.request, auth=call.auth, stream=True))
        except httpx.RequestError as exc:
            return Failure.of(exc, deadline)
        body = _Body(call.limit, deadline)
        try:
            async for chunk in response.aiter_bytes():
                if refused := body.add(chunk):
                    return refused
        except httpx.RequestError as exc:
            return Failure.of(exc, deadline)
        finally:
            await response.aclose()
            response.stream = _SPENT
    return body.answer(response)


def masked_url(url: httpx.URL) -> str:
    """A URL as errors show it: no userinfo, no query (it may carry ids or filters)."""
    shown = url.copy_with(query=None, fragment=None)
    if url.userinfo:
        shown = shown.copy_with(userinfo=MASK.encode())
    return str(shown)
