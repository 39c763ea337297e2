"""Per-request phase timings, recorded at the transport from httpcore's `trace` events.

A `RecordingTransport` wraps any httpx transport. For every exchange it hands httpcore a
trace callback that stamps each event with `time.perf_counter()` (a monotonic clock), and
when the response body is closed it appends one plain tuple to a bounded `TimingRecorder`.
No DataFrame is built per request: `TimingRecorder.rows()` hands the tuples to `_frames`.

Phases (milliseconds; httpcore event names without their `http11.`/`http2.` prefix):

| column        | from                             | to                                  |
|---------------|----------------------------------|-------------------------------------|
| connect_ms    | connect_tcp.started              | connect_tcp.complete (DNS + TCP)    |
| tls_ms        | start_tls.started                | start_tls.complete                  |
| send_ms       | send_request_headers.started     | send_request_body.complete          |
| wait_ms       | send_request_body.complete       | receive_response_headers.complete   |
| download_ms   | receive_response_headers.complete| body fully read                     |
| total_ms      | transport called                 | body fully read                     |

connect_ms and tls_ms are NaN when the connection was reused (no connect event fired).
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx

from ._redact import redact

__all__ = [
    "COLUMNS",
    "META",
    "RecordingTransport",
    "TimingRecorder",
    "current_run",
]

#: Key of our per-request metadata dict in `request.extensions`.
META = "dailypay_nb"

COLUMNS: tuple[str, ...] = (
    "seq",
    "started_at",
    "kind",
    "method",
    "endpoint",
    "url",
    "status",
    "attempt",
    "reused_connection",
    "connect_ms",
    "tls_ms",
    "send_ms",
    "wait_ms",
    "download_ms",
    "total_ms",
    "bytes_received",
    "server_request_id",
    "error",
    "run_id",
)

#: The benchmark run a request belongs to (set by `Session.bench`).
current_run: contextvars.ContextVar[str | None] = contextvars.ContextVar("dailypay_nb_run", default=None)

_NAN = float("nan")


class TimingRecorder:
    """A bounded, thread-safe buffer of timing rows (plain tuples in `COLUMNS` order)."""

    def __init__(self, maxlen: int = 100_000) -> None:
        self._rows: deque[tuple[Any, ...]] = deque(maxlen=maxlen)
        self._lock = threading.Lock()
        self._seq = 0
        self.endpoint_for: Callable[[str, str], str | None] = _no_template
        #: Called with (row, request, response or None) as each exchange is recorded: where
        #: details that do not belong in a timing row (headers, for HAR) are kept, if anyone asks.
        self.on_exchange: Callable[[tuple[Any, ...], httpx.Request, httpx.Response | None], None] | None = (
            None
        )

    @property
    def maxlen(self) -> int:
        return self._rows.maxlen or 0

    def append(self, row: list[Any]) -> tuple[Any, ...]:
        with self._lock:
            self._seq += 1
            row[0] = self._seq
            record = tuple(row)
            self._rows.append(record)
        return record

    def rows(self) -> list[tuple[Any, ...]]:
        """A snapshot of the rows, oldest first."""
        with self._lock:
            return list(self._rows)

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()

    def __len__(self) -> int:
        return len(self._rows)


def _no_template(method: str, path: str) -> str | None:
    return None


class _Probe:
    """Collects the perf_counter stamp of every trace event of one exchange."""

    __slots__ = ("marks", "t0")

    def __init__(self) -> None:
        self.marks: dict[str, float] = {}
        self.t0 = time.perf_counter()

    def trace(self, name: str, info: dict[str, Any]) -> None:
        self.marks[name[name.index(".") + 1 :]] = time.perf_counter()

    async def atrace(self, name: str, info: dict[str, Any]) -> None:
        self.marks[name[name.index(".") + 1 :]] = time.perf_counter()


def _span(marks: dict[str, float], start: str, end: str) -> float:
    a = marks.get(start)
    b = marks.get(end)
    return (b - a) * 1000.0 if a is not None and b is not None else _NAN


class _Exchange:
    """One request in flight: builds its row when the body is done or the exchange failed."""

    __slots__ = ("kind", "meta", "probe", "recorder", "request", "row_base", "wall")

    def __init__(self, recorder: TimingRecorder, kind: str, request: httpx.Request) -> None:
        meta = request.extensions.get(META)
        if meta is None:
            meta = request.extensions[META] = {}
        meta["attempt"] = meta.get("attempt", 0) + 1
        self.recorder = recorder
        self.kind = meta.get("kind", kind)
        self.meta = meta
        self.request = request
        self.wall = time.time()
        self.probe = _Probe()

    def finish(
        self,
        status: int | None,
        nbytes: int,
        request_id: str | None,
        error: str | None,
        response: httpx.Response | None = None,
    ) -> None:
        end = time.perf_counter()
        marks = self.probe.marks
        request = self.request
        url = request.url
        endpoint = self.meta.get("endpoint") or self.recorder.endpoint_for(request.method, url.path)
        headers_done = marks.get("receive_response_headers.complete")
        row = [
            0,
            self.wall,
            self.kind,
            request.method,
            endpoint or url.path,
            str(url),
            status,
            self.meta["attempt"],
            "connect_tcp.started" not in marks if marks else None,
            _span(marks, "connect_tcp.started", "connect_tcp.complete"),
            _span(marks, "start_tls.started", "start_tls.complete"),
            _span(marks, "send_request_headers.started", "send_request_body.complete"),
            _span(marks, "send_request_body.complete", "receive_response_headers.complete"),
            (end - headers_done) * 1000.0 if headers_done is not None else _NAN,
            (end - self.probe.t0) * 1000.0,
            nbytes,
            request_id,
            error,
            self.meta.get("run_id") or current_run.get(),
        ]
        self.meta["row"] = record = self.recorder.append(row)
        if self.recorder.on_exchange is not None:
            self.recorder.on_exchange(record, request, response)

    def failed(self, exc: BaseException) -> None:
        self.finish(None, 0, None, _describe(exc))


def _error_for(status: int) -> str | None:
    return f"HTTP {status}" if status >= 400 else None


def _describe(exc: BaseException) -> str:
    return redact(f"{type(exc).__name__}: {exc}", limit=160)


class _TimedStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """The response body, counted as it passes; the exchange's row is written when it closes."""

    def __init__(self, stream: Any, exchange: _Exchange, response: httpx.Response) -> None:
        self._stream = stream
        self._exchange = exchange
        self._response = response
        self._nbytes = 0
        self._done = False

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self._stream:
                self._nbytes += len(chunk)
                yield chunk
        except BaseException as exc:
            self._finish(exc)
            raise

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._stream:
                self._nbytes += len(chunk)
                yield chunk
        except BaseException as exc:
            self._finish(exc)
            raise

    def _finish(self, exc: BaseException | None = None) -> None:
        if not self._done:
            self._done = True
            response = self._response
            status = response.status_code
            request_id = response.headers.get("x-request-id")
            error = _describe(exc) if exc else _error_for(status)
            self._exchange.finish(
                status, self._nbytes, redact(request_id, limit=100) if request_id else None, error, response
            )

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            self._finish()

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            self._finish()


class RecordingTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Wraps a sync or async transport; records one timing row per exchange into `recorder`."""

    def __init__(
        self,
        inner: httpx.BaseTransport | httpx.AsyncBaseTransport,
        recorder: TimingRecorder,
        kind: str = "api",
    ) -> None:
        self._inner = inner
        self._recorder = recorder
        self._kind = kind

    def _timed(self, response: httpx.Response, exchange: _Exchange) -> httpx.Response:
        response.stream = _TimedStream(response.stream, exchange, response)
        return response

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        exchange = _Exchange(self._recorder, self._kind, request)
        request.extensions["trace"] = exchange.probe.trace
        try:
            response = self._inner.handle_request(request)  # type: ignore[union-attr]
        except BaseException as exc:
            exchange.failed(exc)
            raise
        return self._timed(response, exchange)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        exchange = _Exchange(self._recorder, self._kind, request)
        request.extensions["trace"] = exchange.probe.atrace
        try:
            response = await self._inner.handle_async_request(request)  # type: ignore[union-attr]
        except BaseException as exc:
            exchange.failed(exc)
            raise
        return self._timed(response, exchange)

    def close(self) -> None:
        self._inner.close()  # type: ignore[union-attr]

    async def aclose(self) -> None:
        await self._inner.aclose()  # type: ignore[union-attr]
