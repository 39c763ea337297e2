"""`Session.bench`: many requests at a chosen concurrency, and `BenchRun`, their timings and summary.

Strictly private. The run happens on its own event loop in a worker thread (so it works inside
Jupyter's running loop), through an `AsyncSession` that shares the session's token cache and
timing recorder.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._exceptions import ArgumentError
from ._timings import current_run

if TYPE_CHECKING:
    import pandas as pd

    from ._async_session import AsyncSession
    from ._session import Session

__all__ = ["BenchRun", "bench"]


@dataclass(frozen=True)
class BenchRun:
    """The result of `Session.bench`: the run's timing rows and their summary."""

    run_id: str
    timings: pd.DataFrame
    summary: pd.DataFrame
    elapsed_s: float
    n: int
    concurrency: int

    @property
    def requests_per_second(self) -> float:
        """Requests completed per second of the run."""
        return self.n / self.elapsed_s if self.elapsed_s > 0 else float("nan")

    def __repr__(self) -> str:
        return (
            f"BenchRun({self.run_id}, n={self.n}, concurrency={self.concurrency}, "
            f"{self.requests_per_second:.0f} req/s)\n{self.summary.to_string(float_format=_ms)}"
        )

    def _repr_html_(self) -> str:
        head = (
            f"<p><b>{self.run_id}</b>: {self.n} requests, concurrency {self.concurrency}, "
            f"{self.elapsed_s:.2f} s, {self.requests_per_second:.0f} req/s</p>"
        )
        return head + self.summary.to_html(float_format=_ms)


def _ms(value: float) -> str:
    return f"{value:.3f}"


def bench(
    session: Session,
    target: str | Callable[..., Any],
    *,
    n: int,
    concurrency: int,
    warmup: int,
    progress: bool,
    params: Mapping[str, Any] | None,
) -> BenchRun:
    """See `Session.bench`."""
    if n < 1 or concurrency < 1:
        raise ArgumentError("bench needs n >= 1 and concurrency >= 1")
    run_id = f"run-{uuid.uuid4().hex[:8]}"
    session.token()  # a token first, so the run measures API calls, not the first token fetch
    box: dict[str, Any] = {}

    def main() -> None:
        try:
            box["elapsed"] = asyncio.run(
                _run(session, target, n, concurrency, warmup, progress, params, run_id)
            )
        except BaseException as exc:  # handed back to the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=main, name="dailypay_nb-bench")
    worker.start()
    worker.join()
    if "error" in box:
        raise box["error"]
    timings = session.timings
    rows = timings[timings["run_id"] == run_id].reset_index(drop=True)
    from ._frames import timing_summary

    return BenchRun(run_id, rows, timing_summary(rows), box["elapsed"], n, concurrency)


async def _run(
    session: Session,
    target: str | Callable[..., Any],
    n: int,
    concurrency: int,
    warmup: int,
    progress: bool,
    params: Mapping[str, Any] | None,
    run_id: str,
) -> float:
    from tqdm.auto import tqdm

    from ._async_session import AsyncSession

    asession = AsyncSession(
        session.settings,
        sandbox=session.sandbox,
        provider=session._provider,
        recorder=session._recorder,
        user_token=session._user_token,
        user_scope=session._user_scope,
    )
    pool = concurrent.futures.ThreadPoolExecutor(concurrency, thread_name_prefix="dailypay_nb-bench-call")
    call = _caller(asession, target, params, pool)
    try:
        async with asession:
            for _ in range(warmup):
                await call()
            token = current_run.set(run_id)
            bar = tqdm(
                total=n,
                desc=f"bench {target if isinstance(target, str) else run_id}",
                disable=not progress,
                unit="req",
                leave=True,
            )
            remaining = iter(range(n))

            async def worker() -> None:
                for _ in remaining:
                    try:
                        await call()
                    finally:
                        bar.update(1)

            started = time.perf_counter()
            try:
                await asyncio.gather(*(worker() for _ in range(min(concurrency, n))))
            finally:
                elapsed = time.perf_counter() - started
                bar.close()
                current_run.reset(token)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return elapsed


def _caller(
    asession: AsyncSession,
    target: str | Callable[..., Any],
    params: Mapping[str, Any] | None,
    pool: concurrent.futures.Executor,
) -> Callable[[], Awaitable[Any]]:
    if isinstance(target, str):
        path = target

        async def get() -> Any:
            return await asession.request("GET", path, params=params, raise_for_status=False)

        return get
    if inspect.iscoroutinefunction(target):
        fn: Callable[[AsyncSession], Awaitable[Any]] = target

        async def call_async() -> Any:
            return await fn(asession)

        return call_async
    plain: Callable[[], Any] = target

    async def call_plain() -> Any:  # exactly `concurrency` threads: the loop's default pool is smaller
        return await asyncio.get_running_loop().run_in_executor(pool, plain)

    return call_plain
