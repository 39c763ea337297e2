"""Per-request phase timings, recorded at the transport and the network stream under it.

A `RecordingTransport` wraps any httpx transport. For every exchange it stamps each step
with `time.perf_counter()` (a monotonic clock), and when the response body is closed it
appends one row to a bounded `TimingRecorder`. No DataFrame is built per request:
`TimingRecorder.rows()` hands a snapshot to `_frames`. Over an httpcore HTTP/1.1 pool the
steps are stamped by the pool's network stream (`_wire`); over any other transport, from
httpcore's `trace` events (same boundaries; event names without their `http11.` prefix):

| column        | from                                   | to                                        |
|---------------|----------------------------------------|-------------------------------------------|
| connect_ms    | TCP connect started (connect_tcp)      | connected (DNS + TCP)                     |
| tls_ms        | TLS handshake started (start_tls)      | handshake done                            |
| send_ms       | request write started (send_request_headers) | request written (send_request_body) |
| wait_ms       | request written                        | response headers in (receive_response_headers) |
| download_ms   | response headers in                    | body fully read                           |
| total_ms      | transport called                       | body fully read                           |
| latency_ms    | the call's intended start              | body fully read                           |

Without trace events, "headers in" is when the pool returned the response (its headers parsed).
connect_ms and tls_ms are NaN when the connection was reused (no connect happened).
The intended start (`scheduled_at`) is the benchmark schedule's slot for an open-model
`bench`, else the moment the call began (its first attempt): so latency_ms is what the caller
waited, retries and queueing included, and equals total_ms for a single plain exchange.
The aiohttp engine of `bench` (`_engine`) records the same columns with the same boundaries.

Storage: rows are kept column by column in numpy chunks of `CHUNK` rows (repeated text as
integer codes into per-column tables, times as float32 ms and int64 epoch ms, request ids as
one UTF-8 buffer per chunk), about 125 bytes a row against ~440 as Python tuples. Each
exchange still produces one `TimingRow` (a named tuple in `COLUMNS` order) for the caller and
the `on_exchange` hook; only its compact form is kept.
"""

from __future__ import annotations

import contextvars
import math
import threading
import time
import warnings
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, NamedTuple

import httpx

from ._redact import redact
from ._wire import ACTIVE, install

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "CHUNK",
    "CODED",
    "COLUMNS",
    "META",
    "RecordingTransport",
    "TimingRecorder",
    "TimingRow",
    "TimingSnapshot",
    "TimingsDroppedWarning",
    "current_run",
    "current_schedule",
    "snapshot_of",
    "store_dtype",
]

#: Key of our per-request metadata dict in `request.extensions`.
META = "dailypay_nb"


class TimingRow(NamedTuple):
    """One exchange as recorded (times in ms; `started_at`/`scheduled_at` in epoch seconds).

    A tuple in `COLUMNS` order: `dict(zip(COLUMNS, row))` or `row._asdict()` gives the public
    columns by name.
    """

    seq: int
    started_at: float
    kind: str
    method: str
    endpoint: str
    url: str
    status: int | None
    attempt: int
    reused_connection: bool | None
    connect_ms: float
    tls_ms: float
    send_ms: float
    wait_ms: float
    download_ms: float
    total_ms: float
    bytes_received: int
    server_request_id: str | None
    error: str | None
    run_id: str | None
    scheduled_at: float
    latency_ms: float


COLUMNS: tuple[str, ...] = TimingRow._fields
_RUN_ID = COLUMNS.index("run_id")
_REQUEST_ID = COLUMNS.index("server_request_id")

#: The benchmark run a request belongs to (set by `Session.bench`).
current_run: contextvars.ContextVar[str | None] = contextvars.ContextVar("dailypay_nb_run", default=None)
#: (perf_counter, wall clock) of the intended start of the call running in this task: the open
#: model's schedule slot. Unset, a call's intended start is when its first attempt began.
current_schedule: contextvars.ContextVar[tuple[float, float] | None] = contextvars.ContextVar(
    "dailypay_nb_schedule", default=None
)

_NAN = float("nan")

#: Rows per storage chunk: new rows wait as tuples until a chunk's worth is packed at once.
CHUNK = 1024


@cache
def store_dtype() -> np.dtype[np.void]:
    """The compact form of a row (85 bytes; request ids are kept beside it). numpy loads on first use."""
    import numpy as np

    return np.dtype(
        [
            ("seq", "<i8"),
            ("started_at", "<i8"),  # epoch ms
            ("scheduled_at", "<i8"),  # epoch ms
            ("kind", "<i2"),
            ("method", "<i2"),
            ("endpoint", "<i4"),
            ("url", "<i4"),
            ("status", "<i2"),  # 0: no response
            ("attempt", "<i2"),
            ("reused_connection", "i1"),  # -1: unknown
            ("connect_ms", "<f4"),
            ("tls_ms", "<f4"),
            ("send_ms", "<f4"),
            ("wait_ms", "<f4"),
            ("download_ms", "<f4"),
            ("total_ms", "<f4"),
            ("latency_ms", "<f4"),
            ("bytes_received", "<i8"),
            ("error", "<i4"),
            ("run_id", "<i4"),
        ]
    )


#: Text columns stored as codes into a per-column table of values (-1: missing).
CODED = ("kind", "method", "endpoint", "url", "error", "run_id")
_CODED = frozenset(CODED)
_ATTEMPT_MAX = 32_767


class TimingsDroppedWarning(UserWarning):
    """The timings buffer is full: the oldest rows are being dropped (counted, never silently)."""


class _Table:
    """Distinct values of one text column and their codes."""

    __slots__ = ("codes", "values")

    def __init__(self) -> None:
        self.codes: dict[str, int] = {}
        self.values: list[str] = []

    def code(self, value: str | None) -> int:
        code = self.codes.get(value)  # type: ignore[arg-type]
        if code is None:
            if value is None:
                return -1
            code = self.codes[value] = len(self.values)
            self.values.append(value)
        return code


@dataclass(frozen=True, slots=True)
class _Chunk:
    columns: dict[str, np.ndarray[Any, Any]]  # one contiguous array per `store_dtype()` field
    size: int
    ids: bytes  # request ids, UTF-8, back to back
    id_ends: np.ndarray[Any, np.dtype[np.int32]]  # end offset of each row's id in `ids`


@dataclass(frozen=True)
class TimingSnapshot:
    """The recorder's rows at one moment, still compact: `_frames.timings_frame` reads it."""

    chunks: list[tuple[_Chunk, int]]  # (chunk, first live row)
    pending: list[tuple[Any, ...]]
    pending_ids: list[str]
    tables: dict[str, list[str]]
    dropped: int
    maxlen: int

    def __len__(self) -> int:
        return sum(c.size - start for c, start in self.chunks) + len(self.pending)


def _compact(record: Sequence[Any], tables: dict[str, _Table]) -> tuple[Any, ...]:
    """`record` in `store_dtype()` field order, text as codes (the request id is kept apart)."""
    seq, started, kind, method, endpoint, url, status, attempt, reused, connect = record[:10]
    tls, send, wait, download, total, nbytes, _, error, run_id, scheduled, latency = record[10:]
    return (
        seq,
        math.floor(started * 1000.0),
        math.floor(scheduled * 1000.0),
        tables["kind"].code(kind),
        tables["method"].code(method),
        tables["endpoint"].code(endpoint),
        tables["url"].code(url),
        status or 0,
        attempt if attempt < _ATTEMPT_MAX else _ATTEMPT_MAX,
        -1 if reused is None else int(reused),
        connect,
        tls,
        send,
        wait,
        download,
        total,
        latency,
        nbytes,
        tables["error"].code(error),
        tables["run_id"].code(run_id),
    )


def _columns(rows: list[tuple[Any, ...]], tables: dict[str, _Table]) -> dict[str, np.ndarray[Any, Any]]:
    """Rows in `COLUMNS` order as one array per `store_dtype()` field: what `_compact` makes
    of each row, made a column at a time (~3x faster)."""
    import numpy as np

    dtype = store_dtype()
    named = dict(zip(COLUMNS, zip(*rows, strict=True), strict=True))
    out: dict[str, np.ndarray[Any, Any]] = {}
    for name in dtype.names or ():
        values = named[name]
        kind = dtype[name]
        if name in _CODED:
            table = tables[name]
            codes = {value: table.code(value) for value in dict.fromkeys(values)}  # in order of arrival
            out[name] = np.fromiter(map(codes.__getitem__, values), dtype=kind, count=len(values))
        elif name in ("started_at", "scheduled_at"):
            out[name] = np.floor(np.array(values, dtype=np.float64) * 1000.0).astype(kind)
        elif name == "status":
            out[name] = np.array([status or 0 for status in values], dtype=kind)
        elif name == "attempt":
            out[name] = np.minimum(np.array(values, dtype=np.int64), _ATTEMPT_MAX).astype(kind)
        elif name == "reused_connection":
            out[name] = np.array([-1 if reused is None else reused for reused in values], dtype=kind)
        else:
            out[name] = np.array(values, dtype=kind)
    return out


def snapshot_of(rows: Iterable[Sequence[Any]]) -> TimingSnapshot:
    """Rows given as tuples in `COLUMNS` order (seq included) as a snapshot, for `timings_frame`.

    Rows of the 19 columns before `scheduled_at` and `latency_ms` are read as unscheduled:
    intended start = start, latency = total.
    """
    tables = {name: _Table() for name in CODED}
    pending, ids = [], []
    for values in rows:
        if len(values) == len(COLUMNS) - 2:
            values = (*values, values[1], values[14])
        record = TimingRow._make(values)
        pending.append(_compact(record, tables))
        ids.append(record.server_request_id or "")
    return TimingSnapshot([], pending, ids, {k: t.values for k, t in tables.items()}, 0, len(pending))


class TimingRecorder:
    """A bounded, thread-safe, compact buffer of timing rows; the oldest are dropped (and counted)."""

    def __init__(self, maxlen: int = 1_000_000) -> None:
        self._maxlen = max(int(maxlen), 1)
        self._lock = threading.Lock()
        self._seq = 0
        self.endpoint_for: Callable[[str, str], str | None] = _no_template
        #: Called with (row, request, response or None) as each exchange is recorded: where
        #: details that do not belong in a timing row (headers, for HAR) are kept, if anyone asks.
        #: `row` is a `TimingRow`; the aiohttp engine of `bench` hands httpx equivalents of its
        #: request and response.
        self.on_exchange: Callable[[tuple[Any, ...], httpx.Request, httpx.Response | None], None] | None = (
            None
        )
        self._endpoints: dict[tuple[str, str], str | None] = {}
        self._sealed: set[str] = set()  # bench runs whose rows are final
        self._reset()

    def _reset(self) -> None:
        self._tables = {name: _Table() for name in CODED}
        self._chunks: deque[_Chunk] = deque()
        self._head = 0  # rows of the first chunk already dropped
        self._stored = 0  # live rows in chunks
        self._pending: list[tuple[Any, ...]] = []  # rows in COLUMNS order, compacted when packed or snapshot
        self._dropped = 0
        self._warned = False

    @property
    def maxlen(self) -> int:
        """How many rows are kept (`timings_buffer`); older ones are dropped."""
        return self._maxlen

    @property
    def dropped(self) -> int:
        """Rows dropped because the buffer was full, since the last `clear()`."""
        return self._dropped

    def template(self, method: str, path: str) -> str:
        """The endpoint (path template) of a request, cached per method and path."""
        key = (method, path)
        found = self._endpoints.get(key, key)
        if found is key:
            found = self.endpoint_for(method, path)
            if len(self._endpoints) < 4096:
                self._endpoints[key] = found
        return found or path  # type: ignore[return-value]

    def seal(self, run_id: str) -> None:
        """From now on, rows of bench run `run_id` are not kept: the run's figures are final.

        An interrupted run's requests still in flight may be answered after it was reported.
        """
        with self._lock:
            self._sealed.add(run_id)

    def append(self, row: list[Any]) -> TimingRow:
        """Record one exchange (`row` in `COLUMNS` order; its seq is assigned here, or left 0
        when the row belongs to a sealed run and is not kept). Rows are compacted a chunk at a
        time, or when a snapshot is taken."""
        with self._lock:
            if self._sealed and row[_RUN_ID] in self._sealed:
                return TimingRow._make(row)
            self._seq += 1
            row[0] = self._seq
            record = TimingRow._make(row)
            pending = self._pending
            pending.append(tuple(row))  # plain: the garbage collector stops tracking it
            if len(pending) >= CHUNK:
                self._pack()
            if self._stored + len(self._pending) <= self._maxlen:
                return record
            self._evict()
            warn, self._warned = not self._warned, True
        if warn:
            warnings.warn(
                f"the timings buffer is full ({self._maxlen:,} rows): the oldest rows are being dropped "
                "(counted in session.timings.attrs['dropped_rows']). Raise DAILYPAY_TIMINGS_BUFFER "
                "(timings_buffer=) or call session.clear_timings() between runs.",
                TimingsDroppedWarning,
                stacklevel=2,
            )
        return record

    def _compacted(self) -> tuple[list[tuple[Any, ...]], list[str]]:
        """The pending rows in compact form, and their request ids (under the lock)."""
        tables = self._tables
        return (
            [_compact(record, tables) for record in self._pending],
            [record[_REQUEST_ID] or "" for record in self._pending],
        )

    def _pack(self) -> None:
        import numpy as np

        rows = self._pending
        ids = [(record[_REQUEST_ID] or "").encode("utf-8", "replace") for record in rows]
        ends = np.cumsum(np.fromiter((len(b) for b in ids), dtype=np.int32, count=len(ids)), dtype=np.int32)
        columns = _columns(rows, self._tables)
        self._chunks.append(_Chunk(columns, len(rows), b"".join(ids), ends))
        self._stored += len(rows)
        self._pending = []

    def _evict(self) -> None:
        excess = self._stored + len(self._pending) - self._maxlen
        self._dropped += excess
        while excess > 0 and self._chunks:
            left = self._chunks[0].size - self._head
            if excess >= left:
                self._chunks.popleft()
                self._head = 0
                self._stored -= left
                excess -= left
            else:
                self._head += excess
                self._stored -= excess
                excess = 0
        if excess > 0:  # a buffer smaller than a chunk: its rows are all still pending
            del self._pending[:excess]

    def rows(self) -> TimingSnapshot:
        """A snapshot of the rows, oldest first (cheap: chunks are shared, never changed)."""
        with self._lock:
            chunks = [(chunk, self._head if i == 0 else 0) for i, chunk in enumerate(self._chunks)]
            pending, ids = self._compacted()
            return TimingSnapshot(
                chunks,
                pending,
                ids,
                {name: list(table.values) for name, table in self._tables.items()},
                self._dropped,
                self._maxlen,
            )

    def clear(self) -> None:
        """Forget every row and the dropped count (seq keeps counting)."""
        with self._lock:
            self._reset()

    def nbytes(self) -> int:
        """Bytes held by the stored rows (chunks, pending rows and text tables), roughly."""
        import sys

        with self._lock:
            total = sum(
                sum(a.nbytes for a in c.columns.values()) + len(c.ids) + c.id_ends.nbytes
                for c in self._chunks
            )
            total += sum(sys.getsizeof(row) + 10 * 24 for row in self._pending)
            total += sum(sys.getsizeof(row[_REQUEST_ID] or "") for row in self._pending)
            for table in self._tables.values():
                total += sys.getsizeof(table.codes) + sys.getsizeof(table.values)
                total += sum(sys.getsizeof(text) for text in table.values)
            return total

    def __len__(self) -> int:
        return self._stored + len(self._pending)


def _no_template(method: str, path: str) -> str | None:
    return None


#: The httpcore trace events the phases need, each to its slot in `_Probe.stamps`.
_SLOTS: dict[str, int] = {}
for _slot, _event in enumerate(
    (
        "connect_tcp.started",
        "connect_tcp.complete",
        "start_tls.started",
        "start_tls.complete",
        "send_request_headers.started",
        "send_request_body.complete",
        "receive_response_headers.complete",
    )
):
    _SLOTS["connection." + _event] = _SLOTS["http11." + _event] = _SLOTS["http2." + _event] = _slot
_HEADERS = 6


class _Probe:
    """The perf_counter stamp of each step the phases need (0.0: not seen), set by `_wire` or
    by `trace`, and the exception that ended the body's reading, if one did."""

    __slots__ = ("failed", "seen", "stamps", "t0")

    def __init__(self) -> None:
        self.stamps = [0.0] * 7
        self.seen = False
        self.failed: BaseException | None = None
        self.t0 = time.perf_counter()

    def trace(self, name: str, info: dict[str, Any]) -> None:
        self.seen = True
        slot = _SLOTS.get(name)
        if slot is not None:
            self.stamps[slot] = time.perf_counter()

    async def atrace(self, name: str, info: dict[str, Any]) -> None:
        self.trace(name, info)


class _Exchange:
    """One request in flight: builds its row when the body is done or the exchange failed."""

    __slots__ = ("kind", "meta", "probe", "recorder", "request", "scheduled", "wall")

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
        self.probe = probe = _Probe()
        scheduled = meta.get("scheduled")
        if scheduled is None:
            scheduled = meta["scheduled"] = current_schedule.get() or (probe.t0, self.wall)
        self.scheduled: tuple[float, float] = scheduled

    def finish(
        self,
        status: int | None,
        nbytes: int,
        request_id: str | None,
        error: str | None,
        response: httpx.Response | None = None,
    ) -> None:
        end = time.perf_counter()
        request = self.request
        url = request.url
        meta = self.meta
        probe = self.probe
        connect, connected, tls, tls_done, send, sent, headers = probe.stamps  # 0.0: not seen
        recorder = self.recorder
        row = [
            0,
            self.wall,
            self.kind,
            request.method,
            meta.get("endpoint") or recorder.template(request.method, url.path),
            str(url),
            status,
            meta["attempt"],
            (not connect) if probe.seen else None,
            (connected - connect) * 1000.0 if connect and connected else _NAN,
            (tls_done - tls) * 1000.0 if tls and tls_done else _NAN,
            (sent - send) * 1000.0 if send and sent else _NAN,
            (headers - sent) * 1000.0 if sent and headers else _NAN,
            (end - headers) * 1000.0 if headers else _NAN,
            (end - probe.t0) * 1000.0,
            nbytes,
            request_id,
            error,
            meta.get("run_id") or current_run.get(),
            self.scheduled[1],
            (end - self.scheduled[0]) * 1000.0,
        ]
        meta["row"] = record = recorder.append(row)
        if recorder.on_exchange is not None:
            recorder.on_exchange(record, request, response)

    def failed(self, exc: BaseException) -> None:
        self.finish(None, 0, None, _describe(exc))


def _request_id(headers: httpx.Headers) -> str | None:
    """`headers.get("x-request-id")`, read from httpx's (name, lowercase name, value) triples."""
    values = [value for _, lower, value in headers._list if lower == b"x-request-id"]
    if not values:
        return None
    if len(values) == 1 and values[0].isascii():  # decoded alike whatever httpx's header encoding
        return values[0].decode("ascii")
    return ", ".join(value.decode(headers.encoding) for value in values)


def _error_for(status: int) -> str | None:
    return f"HTTP {status}" if status >= 400 else None


def _describe(exc: BaseException) -> str:
    return redact(f"{type(exc).__name__}: {exc}", limit=160)


class _TimedStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """The response body; the exchange's row is written when it closes.

    The bytes are httpx's own count (`num_bytes_downloaded`); an exception that ends the
    body's reading (not the reader stopping early) is the row's error.
    """

    def __init__(self, stream: Any, exchange: _Exchange, response: httpx.Response) -> None:
        self._stream = stream
        self._exchange = exchange
        self._response = response
        self._done = False

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._stream
        except GeneratorExit:
            raise
        except BaseException as exc:
            self._exchange.probe.failed = exc
            raise

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._stream:
                yield chunk
        except GeneratorExit:
            raise
        except BaseException as exc:
            self._exchange.probe.failed = exc
            raise

    def _finish(self) -> None:
        if not self._done:
            self._done = True
            response = self._response
            status = response.status_code
            request_id = _request_id(response.headers)
            failed = self._exchange.probe.failed
            error = _describe(failed) if failed is not None else _error_for(status)
            self._exchange.finish(
                status,
                response.num_bytes_downloaded,
                redact(request_id, limit=100) if request_id else None,
                error,
                response,
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
        #: The pool's network stream stamps the phases (else httpcore's trace events do).
        self._wired = install(inner)

    def _timed(self, response: httpx.Response, exchange: _Exchange) -> httpx.Response:
        response.stream = _TimedStream(response.stream, exchange, response)
        return response

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        exchange = _Exchange(self._recorder, self._kind, request)
        probe = exchange.probe
        if self._wired:
            active = ACTIVE.set(probe)
        else:
            request.extensions["trace"] = probe.trace
        try:
            response = self._inner.handle_request(request)  # type: ignore[union-attr]
        except BaseException as exc:
            exchange.failed(exc)
            raise
        else:
            if self._wired:  # the response headers in (parsed), as httpcore's trace event has it
                probe.stamps[_HEADERS] = time.perf_counter()
        finally:
            if self._wired:
                ACTIVE.reset(active)
        return self._timed(response, exchange)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        exchange = _Exchange(self._recorder, self._kind, request)
        probe = exchange.probe
        if self._wired:
            active = ACTIVE.set(probe)
        else:
            request.extensions["trace"] = probe.atrace
        try:
            response = await self._inner.handle_async_request(request)  # type: ignore[union-attr]
        except BaseException as exc:
            exchange.failed(exc)
            raise
        else:
            if self._wired:  # the response headers in (parsed), as httpcore's trace event has it
                probe.stamps[_HEADERS] = time.perf_counter()
        finally:
            if self._wired:
                ACTIVE.reset(active)
        return self._timed(response, exchange)

    def close(self) -> None:
        self._inner.close()  # type: ignore[union-attr]

    async def aclose(self) -> None:
        await self._inner.aclose()  # type: ignore[union-attr]
