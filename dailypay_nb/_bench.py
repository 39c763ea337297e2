"""`Session.bench` and `AsyncSession.bench`: requests on a schedule or by workers, and `BenchRun`.

Strictly private. Two models:

- **open** (`rate=R`): request i is due at `start + i / R` whatever the server does, and starts
  in its own task, up to `max_in_flight` at once (`MAX_IN_FLIGHT` by default; one that falls
  due while that many are in flight is not sent and is counted as `dropped`). A server stall
  shows in every request due during it: `latency_ms`, measured from the scheduled start, is the
  response time a caller arriving at that moment would see. This is what wrk2, k6's
  constant-arrival-rate executor and vegeta measure.
- **closed** (`concurrency=C`, the default with C = 1): C workers each send a request, wait for
  its answer and send the next. When the server stalls the workers stall with it, so a one
  second stall shows in at most C rows and the percentiles hide it ("coordinated omission").
  Good for "how fast can it go", not for response times.

Engines: a path is sent through the aiohttp engine (`_engine`, ~10× less client CPU a request
than httpx's async stack, same token, deadlines, redaction, size limit and timing columns); an
`async def f(session)` target gets an `AsyncSession` (httpx) that shares the token cache and
the recorder; a plain function runs in a worker thread (up to `concurrency`, or
`max_in_flight` in the open model). Benchmark requests are not retried: a benchmark reports
what the server answered (a 401 still fetches a new token and tries once more).

Polite by default: against `uat` or `production`, without `allow_load=True`, a run may not
exceed `POLITE_RATE` requests a second (open model), `POLITE_CONCURRENCY` worker (closed
model) or `POLITE_REQUESTS` requests in all (warm-up included), and a closed run may not be
bounded by `duration` alone; anything more raises `BenchRefusedError` before a request is sent.
The sandbox has no limit.

Interrupts: `KeyboardInterrupt` (a notebook's stop button) stops sending at once: in-flight
requests are cancelled (they leave no row), completed ones keep theirs, the token cache and the
session stay usable. `Session.bench` then raises `BenchInterrupted`, a `KeyboardInterrupt`
carrying the partial `BenchRun` (`complete=False`) as `.run`. `AsyncSession.bench` does the same
for a `KeyboardInterrupt` that reaches it; a cancellation (which is how `asyncio.run` delivers
Ctrl-C) is re-raised as it is, after the same clean-up, and the rows are in `session.timings`
under the run's id.

Each run measures the CPU time of the thread that ran its event loop (the client's own work)
and warns with `BenchClientLimitedWarning` when the client, not the server, set the pace: the
loop was busy for `CLIENT_BUSY` of the run or more, or (open model) requests started late.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import gc
import html
import inspect
import math
import statistics
import threading
import time
import uuid
import warnings
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ._exceptions import ArgumentError, BenchRefusedError
from ._timings import current_run, current_schedule

if TYPE_CHECKING:
    import pandas as pd

    from ._async_session import AsyncSession
    from ._base import SessionBase
    from ._session import Session

__all__ = [
    "CLIENT_BUSY",
    "LATE_MS",
    "MAX_IN_FLIGHT",
    "POLITE_CONCURRENCY",
    "POLITE_RATE",
    "POLITE_REQUESTS",
    "BenchClientLimitedWarning",
    "BenchInterrupted",
    "BenchRun",
    "abench",
    "bench",
]

#: Open model: at most this many requests in flight unless `max_in_flight=` says otherwise.
MAX_IN_FLIGHT = 256
#: Polite limits for `uat` and `production` (lifted by `allow_load=True`).
POLITE_RATE = 5.0
POLITE_CONCURRENCY = 1
POLITE_REQUESTS = 200
#: A request that starts this many ms after its scheduled time is counted as late.
LATE_MS = 5.0
#: Share of the run the event loop's thread was on the CPU from which the client set the pace.
CLIENT_BUSY = 0.85
#: Runs shorter or smaller than this are not judged client-limited (too little to tell).
MIN_JUDGED_S = 0.5
MIN_JUDGED_REQUESTS = 50
#: Without a count or a duration, a run sends this many requests.
DEFAULT_N = 100
#: How long an interrupted run waits for its in-flight requests to be cancelled.
STOP_WAIT_S = 0.4


class BenchClientLimitedWarning(UserWarning):
    """The client, not the server, limited the run: its figures describe this machine."""


class BenchInterrupted(KeyboardInterrupt):
    """A benchmark stopped by an interrupt; `.run` is the partial `BenchRun` (`complete=False`)."""

    def __init__(self, run: BenchRun) -> None:
        super().__init__(
            f"bench {run.run_id} interrupted after {run.sent:,} of {run.n:,} requests "
            f"({len(run.timings):,} completed); the partial BenchRun is this exception's .run "
            "(in a notebook: sys.last_value.run) and its rows are in session.timings"
        )
        self.run = run


@dataclass(frozen=True)
class BenchRun:
    """The result of `bench`: the run's timing rows, their summary and how the run went.

    `latency_ms` is the response time from each request's intended start (`scheduled_at`):
    in the open model the schedule's slot, so queueing behind a stalled server counts; in the
    closed model the moment a worker began the call. `total_ms` is the service time of the
    exchange itself. The summary gives both, per endpoint.
    """

    run_id: str
    timings: pd.DataFrame
    summary: pd.DataFrame
    elapsed_s: float
    #: Requests the run was asked for (for a duration: the ones the schedule held).
    n: int
    #: Closed model: workers; open model: the most requests that were in flight at once.
    concurrency: int
    model: str = "closed"
    #: Open model: the target rate, requests a second.
    rate: float | None = None
    engine: str = "aiohttp"
    #: Requests started (open model: the schedule's, less the dropped ones).
    sent: int = 0
    #: Open model: requests that started `LATE_MS` or more after their scheduled time.
    late: int = 0
    #: Open model: requests not sent because `max_in_flight` were in flight when they were due.
    dropped: int = 0
    max_in_flight: int = MAX_IN_FLIGHT
    #: How late requests started, ms: p50, p99 and max (open model; 0 in the closed model).
    lateness_ms: tuple[float, float, float] = (0.0, 0.0, 0.0)
    #: Seconds from the first scheduled start to the last actual start.
    send_span_s: float = 0.0
    #: CPU seconds of the thread that ran the event loop (the client's own work).
    cpu_s: float = 0.0
    client_limited: bool = False
    complete: bool = True
    notes: tuple[str, ...] = field(default=())

    @property
    def requests_per_second(self) -> float:
        """Completed requests per second of the run (throughput)."""
        return len(self.timings) / self.elapsed_s if self.elapsed_s > 0 else float("nan")

    @property
    def achieved_rate(self) -> float:
        """Requests started per second between the first and the last start."""
        if self.sent < 2 or self.send_span_s <= 0:
            return float("nan")
        return (self.sent - 1) / self.send_span_s

    @property
    def cpu_per_request_us(self) -> float:
        """The client's CPU time per request sent, µs."""
        return self.cpu_s / self.sent * 1e6 if self.sent else float("nan")

    def describe(self) -> list[str]:
        """The run in a few lines: model, rates, lateness, CPU, and which latency is which."""
        if self.model == "open":
            head = (
                f"open model at {self.rate:g} req/s: {self.sent:,} sent in {self.elapsed_s:.2f} s, "
                f"achieved {self.achieved_rate:.1f} req/s, {self.late:,} late (≥ {LATE_MS:g} ms), "
                f"{self.dropped:,} dropped (max_in_flight {self.max_in_flight}), "
                f"peak {self.concurrency} in flight; start lateness p50 {self.lateness_ms[0]:.2f} ms, "
                f"p99 {self.lateness_ms[1]:.2f} ms"
            )
            which = (
                "latency_ms: response time from each request's scheduled start (queueing behind a "
                "slow server included); total_ms: service time of the exchange"
            )
        else:
            head = (
                f"closed model, concurrency {self.concurrency}: {self.sent:,} sent in "
                f"{self.elapsed_s:.2f} s, {self.requests_per_second:.0f} req/s"
            )
            which = (
                "latency_ms: from when a worker began each call; total_ms: service time. A worker "
                "waits for each answer, so a server stall shows in at most "
                f"{self.concurrency} rows (coordinated omission): use rate= for response times"
            )
        cpu = (
            f"engine {self.engine}; client CPU {self.cpu_s:.2f} s "
            f"({self.cpu_per_request_us:.0f} µs a request, "
            f"{self.cpu_s / self.elapsed_s if self.elapsed_s else 0:.0%} of the run)"
        )
        lines = [head, which, cpu]
        if self.client_limited:
            lines.append("the client, not the server, limited this run: its figures describe this machine")
        if not self.complete:
            lines.append("interrupted: the figures cover the requests completed before the interrupt")
        return lines + list(self.notes)

    def __repr__(self) -> str:
        from ._frames import text_cells

        table = text_cells(self.summary).T.to_string() if not self.summary.empty else "(no rows)"
        return f"BenchRun({self.run_id})\n" + "\n".join(self.describe()) + "\n" + table

    def _repr_html_(self) -> str:
        from ._frames import RoundedFrame

        items = "".join(f"<li>{html.escape(line)}</li>" for line in self.describe())
        table = RoundedFrame(self.summary)._repr_html_() or ""
        return f"<p><b>{html.escape(self.run_id)}</b></p><ul>{items}</ul>{table}"


# -- planning ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    model: str
    n: int | None  # None: run for `duration`
    duration: float | None
    rate: float | None
    concurrency: int
    max_in_flight: int
    warmup: int
    progress: bool

    @property
    def count(self) -> int | None:
        """Requests the run will be asked for, when known in advance."""
        if self.n is not None:
            return self.n
        if self.rate is not None and self.duration is not None:
            return max(1, round(self.rate * self.duration))
        return None


def plan(
    environment: str,
    *,
    n: int | None,
    concurrency: int | None,
    warmup: int,
    rate: float | None,
    duration: float | None,
    max_in_flight: int | None,
    allow_load: bool,
    progress: bool,
) -> _Plan:
    """Check the arguments and the polite limits; nothing is sent here."""
    if n is not None and duration is not None:
        raise ArgumentError(
            "bench takes n= or duration=, not both", hint="n counts requests; duration is seconds"
        )
    if n is not None and n < 1:
        raise ArgumentError(f"bench needs n >= 1, got {n}")
    if duration is not None and not duration > 0:
        raise ArgumentError(f"bench needs duration > 0 seconds, got {duration}")
    if warmup < 0:
        raise ArgumentError(f"bench needs warmup >= 0, got {warmup}")
    if rate is not None:
        if not (rate > 0 and math.isfinite(rate)):
            raise ArgumentError(f"bench needs rate > 0 requests a second, got {rate}")
        if concurrency is not None:
            raise ArgumentError(
                "bench takes rate= (open model) or concurrency= (closed model), not both",
                hint="with rate= as many requests are in flight as the schedule needs, up to max_in_flight",
            )
        cap = MAX_IN_FLIGHT if max_in_flight is None else max_in_flight
        if cap < 1:
            raise ArgumentError(f"bench needs max_in_flight >= 1, got {cap}")
        result = _Plan("open", n, duration, float(rate), 1, cap, warmup, progress)
        if n is None and duration is None:
            result = replace(result, n=DEFAULT_N)
    else:
        if max_in_flight is not None:
            raise ArgumentError(
                "max_in_flight= is for the open model (rate=); the closed model uses concurrency="
            )
        workers = 1 if concurrency is None else concurrency
        if workers < 1:
            raise ArgumentError(f"bench needs concurrency >= 1, got {workers}")
        result = _Plan(
            "closed",
            n if n is not None or duration else DEFAULT_N,
            duration,
            None,
            workers,
            workers,
            warmup,
            progress,
        )
    if environment in ("uat", "production") and not allow_load:
        _polite(environment, result)
    return result


def _polite(environment: str, p: _Plan) -> None:
    problems = []
    if p.rate is not None and p.rate > POLITE_RATE:
        problems.append(f"rate={p.rate:g} req/s is above {POLITE_RATE:g} req/s")
    if p.model == "closed" and p.concurrency > POLITE_CONCURRENCY:
        problems.append(f"concurrency={p.concurrency} is above {POLITE_CONCURRENCY}")
    count = p.count
    if count is None:
        problems.append("a closed-model run bounded only by duration has no request count")
    elif count + p.warmup > POLITE_REQUESTS:
        problems.append(f"{count + p.warmup:,} requests (warm-up included) is above {POLITE_REQUESTS}")
    if problems:
        raise BenchRefusedError(
            f"bench refused against {environment}: " + "; ".join(problems) + ". The polite limits for "
            f"uat and production are {POLITE_RATE:g} requests a second (rate=), concurrency "
            f"{POLITE_CONCURRENCY} (closed model) and {POLITE_REQUESTS} requests per run; nothing was sent",
            hint="pass allow_load=True only with DailyPay's agreement to load this environment; "
            "the sandbox has no limit",
        )


# -- running -----------------------------------------------------------------------------------


@dataclass
class _Tally:
    """What the run loop learns as it goes (filled in place, so an interrupted run keeps it)."""

    sent: int = 0
    dropped: int = 0
    peak: int = 0
    lateness: list[float] = field(default_factory=list)
    first_due: float = 0.0
    last_start: float = 0.0
    elapsed: float = 0.0
    cpu: float = 0.0
    complete: bool = False
    n: int = 0


Call = Callable[[tuple[float, float] | None], Awaitable[Any]]


async def _measure(call: Call, p: _Plan, run_id: str, tally: _Tally, label: str) -> None:
    """The measured part: warm-up, then the run in the plan's model. Fills `tally`."""
    for _ in range(p.warmup):
        await call(None)
    bar = _bar(p, label)
    reset = current_run.set(run_id)
    cpu0 = time.thread_time()
    started = time.perf_counter()
    _freeze_gc(True)
    try:
        if p.model == "open":
            await _open(call, p, tally, bar)
        else:
            await _closed(call, p, tally, bar)
        tally.complete = True
    finally:
        _freeze_gc(False)
        tally.elapsed = time.perf_counter() - started
        tally.cpu = time.thread_time() - cpu0
        current_run.reset(reset)
        if bar is not None:
            bar.close()


_frozen = 0
_frozen_lock = threading.Lock()


def _freeze_gc(on: bool) -> None:
    """While runs are going, leave the objects that existed before out of the cyclic GC's full
    collections: scanning a notebook's whole heap stalled the schedule for ~50 ms."""
    global _frozen
    with _frozen_lock:
        _frozen += 1 if on else -1
        if on and _frozen == 1:
            gc.freeze()
        elif not on and _frozen == 0:
            gc.unfreeze()


def _bar(p: _Plan, label: str) -> Any:
    if not p.progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=p.count, desc=f"bench {label}", unit="req", leave=True)


async def _open(call: Call, p: _Plan, tally: _Tally, bar: Any) -> None:
    """Start request i at start + i / rate in its own task, whatever the others are doing."""
    assert p.rate is not None
    loop = asyncio.get_running_loop()
    interval = 1.0 / p.rate
    count = p.count or DEFAULT_N
    tally.n = count
    tasks: set[asyncio.Task[Any]] = set()
    lateness = tally.lateness

    async def one(due: float, wall: float) -> None:
        begun = time.perf_counter()
        lateness.append(begun - due)
        tally.last_start = begun
        token = current_schedule.set((due, wall))
        try:
            await call((due, wall))
        finally:
            current_schedule.reset(token)
            if bar is not None:
                bar.update(1)

    def forget(task: asyncio.Task[Any]) -> None:
        tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            failures.append(task.exception())  # type: ignore[arg-type]

    failures: list[BaseException] = []
    start = time.perf_counter() + 0.001
    wall0 = time.time() + (start - time.perf_counter())
    tally.first_due = start
    index = 0
    try:
        while index < count:
            now = time.perf_counter()
            due = start + index * interval
            if due > now:
                await asyncio.sleep(due - now)
                continue
            while index < count and due <= now:  # everything due by now (timers wake ~1 ms late)
                if len(tasks) >= p.max_in_flight:
                    tally.dropped += 1
                else:
                    task = loop.create_task(one(due, wall0 + (due - start)))
                    tasks.add(task)
                    task.add_done_callback(forget)
                    tally.sent += 1
                    tally.peak = max(tally.peak, len(tasks))
                index += 1
                due = start + index * interval
            if failures:
                raise failures[0]
            await asyncio.sleep(0)
        if tasks:
            await asyncio.wait(tasks)
        if failures:
            raise failures[0]
    finally:
        await _cancel(tasks)


async def _closed(call: Call, p: _Plan, tally: _Tally, bar: Any) -> None:
    """`concurrency` workers, each sending the next request once its last one is answered."""
    count = p.n
    tally.n = count or 0
    end = time.perf_counter() + p.duration if p.duration is not None else math.inf
    claimed = 0
    tally.first_due = time.perf_counter()

    async def worker() -> None:
        nonlocal claimed
        while (count is None or claimed < count) and time.perf_counter() < end:
            claimed += 1
            tally.sent += 1
            begun = time.perf_counter()
            tally.last_start = begun
            schedule = (begun, time.time())
            token = current_schedule.set(schedule)
            try:
                await call(schedule)
            finally:
                current_schedule.reset(token)
                if bar is not None:
                    bar.update(1)

    workers = [asyncio.ensure_future(worker()) for _ in range(min(p.concurrency, count or p.concurrency))]
    tally.peak = len(workers)
    try:
        await asyncio.gather(*workers)
    finally:
        await _cancel(set(workers))
        if count is None:
            tally.n = tally.sent


async def _cancel(tasks: set[asyncio.Task[Any]] | set[asyncio.Future[Any]]) -> None:
    """Cancel what is still in flight and give it a moment to close its connections."""
    pending = [t for t in tasks if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending, timeout=STOP_WAIT_S)


def _caller(
    session: SessionBase[Any],
    target: str | Callable[..., Any],
    params: Mapping[str, Any] | None,
    p: _Plan,
    closing: list[Callable[[], Awaitable[None]]],
) -> tuple[Call, str]:
    """The per-request coroutine for `target`, and the engine's name."""
    if isinstance(target, str):
        from ._engine import AiohttpEngine

        engine = AiohttpEngine(session, target, params, p.max_in_flight)
        closing.append(engine.aclose)
        return engine.call, "aiohttp"
    if params is not None:
        raise ArgumentError("params= applies to a path target; a callable builds its own requests")
    if inspect.iscoroutinefunction(target):
        from ._async_session import AsyncSession

        asession = AsyncSession(
            session.settings,
            sandbox=session.sandbox,
            provider=session._provider,
            recorder=session._recorder,
            user_token=session._user_token,
            user_scope=session._user_scope,
        )
        closing.append(asession.aclose)
        fn: Callable[[AsyncSession], Awaitable[Any]] = target

        async def call_async(schedule: tuple[float, float] | None) -> Any:
            return await fn(asession)

        return call_async, "httpx"
    if not callable(target):
        raise ArgumentError(
            f"bench target must be a path or a callable, got {type(target).__name__}",
            hint='e.g. session.bench("/rest/health") or session.bench(lambda: session.get("/rest/jobs"))',
        )
    plain: Callable[[], Any] = target
    pool = concurrent.futures.ThreadPoolExecutor(p.max_in_flight, thread_name_prefix="dailypay_nb-bench-call")

    async def shutdown() -> None:
        pool.shutdown(wait=False, cancel_futures=True)

    closing.append(shutdown)

    async def call_plain(schedule: tuple[float, float] | None) -> Any:
        # the worker thread sees this task's run id and schedule (contextvars are not inherited)
        context = contextvars.copy_context()
        return await asyncio.get_running_loop().run_in_executor(pool, context.run, plain)

    return call_plain, "thread"


async def _run_async(
    session: SessionBase[Any],
    target: str | Callable[..., Any],
    params: Mapping[str, Any] | None,
    p: _Plan,
    run_id: str,
    tally: _Tally,
) -> str:
    """The whole run on the current loop; returns the engine's name. Fills `tally` as it goes."""
    closing: list[Callable[[], Awaitable[None]]] = []
    try:
        call, engine = _caller(session, target, params, p, closing)
        label = target if isinstance(target, str) else run_id
        await _measure(call, p, run_id, tally, label)
        return engine
    finally:
        for close in closing:
            with contextlib.suppress(asyncio.TimeoutError, Exception):  # closing is best effort
                await asyncio.wait_for(close(), timeout=STOP_WAIT_S)


def _result(
    session: SessionBase[Any], run_id: str, p: _Plan, tally: _Tally, engine: str, complete: bool
) -> BenchRun:
    from ._frames import timing_summary

    session._recorder.seal(run_id)  # a request answered after this belongs to no report
    timings = session.timings
    rows = timings[timings["run_id"] == run_id].reset_index(drop=True)
    lateness = sorted(tally.lateness)
    late = 0
    quantiles = (0.0, 0.0, 0.0)
    if p.model == "open" and lateness:
        ms = [x * 1000.0 for x in lateness]
        late = sum(1 for x in ms if x >= LATE_MS)
        p99 = ms[min(len(ms) - 1, math.ceil(0.99 * len(ms)) - 1)]
        quantiles = (statistics.median(ms), p99, ms[-1])
    busy = tally.cpu / tally.elapsed if tally.elapsed > 0 else 0.0
    notes: list[str] = []
    judged = tally.elapsed >= MIN_JUDGED_S and tally.sent >= MIN_JUDGED_REQUESTS and engine != "thread"
    limited = judged and busy >= CLIENT_BUSY
    if limited:
        notes.append(f"the event loop's thread was on the CPU for {busy:.0%} of the run")
    if judged and p.model == "open" and late > 0.01 * len(lateness) and busy >= 0.5:
        limited = True
        notes.append(f"{late:,} requests started {LATE_MS:g} ms or more after their scheduled time")
    run = BenchRun(
        run_id=run_id,
        timings=rows,
        summary=timing_summary(rows),
        elapsed_s=tally.elapsed,
        n=tally.n or (p.count or 0),
        concurrency=tally.peak,
        model=p.model,
        rate=p.rate,
        engine=engine,
        sent=tally.sent,
        late=late,
        dropped=tally.dropped,
        max_in_flight=p.max_in_flight,
        lateness_ms=quantiles,
        send_span_s=max(tally.last_start - tally.first_due, 0.0),
        cpu_s=tally.cpu,
        client_limited=limited,
        complete=complete,
        notes=tuple(notes),
    )
    if limited and complete:
        warnings.warn(
            f"bench {run_id}: the client, not the server, limited this run ("
            + "; ".join(notes)
            + "): its figures describe this machine. Try a lower rate or concurrency"
            + ("" if engine == "aiohttp" else ", or a path target (the aiohttp engine)"),
            BenchClientLimitedWarning,
            stacklevel=4,
        )
    return run


def _needs_token(session: SessionBase[Any], target: object) -> bool:
    return (isinstance(target, str) or inspect.iscoroutinefunction(target)) and session._user_token is None


def bench(
    session: Session,
    target: str | Callable[..., Any],
    *,
    n: int | None,
    concurrency: int | None,
    warmup: int,
    progress: bool,
    params: Mapping[str, Any] | None,
    rate: float | None = None,
    duration: float | None = None,
    max_in_flight: int | None = None,
    allow_load: bool = False,
) -> BenchRun:
    """See `Session.bench`. The run has its own event loop in a worker thread, so it works
    inside Jupyter's running loop; an interrupt in the caller's thread stops it (see the module)."""
    p = plan(
        session.settings.environment,
        n=n,
        concurrency=concurrency,
        warmup=warmup,
        rate=rate,
        duration=duration,
        max_in_flight=max_in_flight,
        allow_load=allow_load,
        progress=progress,
    )
    run_id = f"run-{uuid.uuid4().hex[:8]}"
    if _needs_token(session, target):
        session.token()  # a token first, so the run measures API calls, not the first token fetch
    tally = _Tally()
    box: dict[str, Any] = {}
    loop = asyncio.new_event_loop()

    def main() -> None:
        try:
            task = loop.create_task(_run_async(session, target, params, p, run_id, tally))
            box["task"] = task
            box["engine"] = loop.run_until_complete(task)
        except BaseException as exc:  # handed back to the caller's thread
            box["error"] = exc
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    worker = threading.Thread(target=main, name="dailypay_nb-bench", daemon=True)
    worker.start()
    try:
        while worker.is_alive():  # timed joins: an interrupt is seen within 0.1 s even when the
            worker.join(0.1)  # signal was delivered to another thread than this one
    except KeyboardInterrupt:
        task = box.get("task")
        if task is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed in between: the run just ended
                loop.call_soon_threadsafe(task.cancel)
        worker.join(timeout=STOP_WAIT_S + 0.3)
        engine = (
            "aiohttp"
            if isinstance(target, str)
            else "httpx"
            if inspect.iscoroutinefunction(target)
            else "thread"
        )
        raise BenchInterrupted(_result(session, run_id, p, tally, engine, complete=False)) from None
    if "error" in box:
        error = box["error"]
        if isinstance(error, KeyboardInterrupt | asyncio.CancelledError):
            engine = "aiohttp" if isinstance(target, str) else "thread"
            raise BenchInterrupted(_result(session, run_id, p, tally, engine, complete=False)) from None
        raise error
    return _result(session, run_id, p, tally, box["engine"], complete=True)


async def abench(
    session: AsyncSession,
    target: str | Callable[..., Any],
    *,
    n: int | None,
    concurrency: int | None,
    warmup: int,
    progress: bool,
    params: Mapping[str, Any] | None,
    rate: float | None = None,
    duration: float | None = None,
    max_in_flight: int | None = None,
    allow_load: bool = False,
) -> BenchRun:
    """See `AsyncSession.bench`: the run happens on the running loop."""
    p = plan(
        session.settings.environment,
        n=n,
        concurrency=concurrency,
        warmup=warmup,
        rate=rate,
        duration=duration,
        max_in_flight=max_in_flight,
        allow_load=allow_load,
        progress=progress,
    )
    run_id = f"run-{uuid.uuid4().hex[:8]}"
    if _needs_token(session, target):
        await session.atoken()
    tally = _Tally()
    engine = (
        "aiohttp" if isinstance(target, str) else "httpx" if inspect.iscoroutinefunction(target) else "thread"
    )
    from ._flow import awake

    try:
        with awake():  # an interrupt of an awaiting notebook cell lands within 0.1 s
            engine = await _run_async(session, target, params, p, run_id, tally)
    except KeyboardInterrupt:
        raise BenchInterrupted(_result(session, run_id, p, tally, engine, complete=False)) from None
    return _result(session, run_id, p, tally, engine, complete=True)
