"""`Session`: the synchronous driver of the shared request flow, and `connect()`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import httpx

from ._base import ApiCall, SessionBase, remember
from ._config import Settings
from ._embedded import prepare
from ._explorer import SyncExplorer
from ._flow import Call, Outcome, exchange, run
from ._response import ApiResponse
from ._tls import transport as default_transport

if TYPE_CHECKING:
    from ._bench import BenchRun

__all__ = ["Session", "connect"]


class Session(SyncExplorer, SessionBase[ApiResponse]):
    """A synchronous DailyPay session. Build it with `dp.connect()`."""

    _client: httpx.Client

    def __init__(
        self, settings: Settings, *, transport: httpx.BaseTransport | None = None, **kw: Any
    ) -> None:
        super().__init__(settings, **kw)
        self._client = self._new_client(httpx.Client, transport or default_transport())
        self._owns_client = True

    def _drive(self, call: ApiCall) -> ApiResponse:
        return run(call, self._send)

    def _send(self, call: Call[Any]) -> Outcome:
        return exchange(self._client, call)

    def bench(
        self,
        target: str | Callable[..., Any] = "/rest/health",
        n: int | None = None,
        concurrency: int | None = None,
        warmup: int = 5,
        progress: bool = True,
        params: Mapping[str, Any] | None = None,
        *,
        rate: float | None = None,
        duration: float | None = None,
        max_in_flight: int | None = None,
        allow_load: bool = False,
    ) -> BenchRun:
        """Benchmark `target` and return the run's timings, summary and pacing (`BenchRun`).

        Open model, `rate=R` (requests a second) with `n=` or `duration=` seconds: requests are
        sent on a fixed schedule whatever the server does, up to `max_in_flight` (default 256) at
        once, so `latency_ms` (from each scheduled start) shows stalls as callers would see them.
        Closed model, the default: `concurrency` workers (default 1) each wait for an answer
        before sending the next `n` (default 100): throughput, but a stall shows in at most
        `concurrency` rows. `warmup` calls go first and are not counted.

        `target` is a path to GET (sent through aiohttp with this session's token, deadlines,
        size limit and timing columns), an `async def f(session)` given an `AsyncSession` that
        shares this session's token and timings, or a plain function called in a worker thread.
        Against uat or production a run above 5 requests a second, concurrency 1 or 200 requests
        raises `BenchRefusedError` unless `allow_load=True`. An interrupt stops sending at once
        and raises `BenchInterrupted` carrying the partial run (`.run`). Runs on its own event
        loop in a worker thread, so it works inside Jupyter's running loop too.
        """
        from ._bench import bench

        return bench(
            self,
            target,
            n=n,
            concurrency=concurrency,
            warmup=warmup,
            progress=progress,
            params=params,
            rate=rate,
            duration=duration,
            max_in_flight=max_in_flight,
            allow_load=allow_load,
        )

    def close(self) -> None:
        """Close the connections (the token cache stays valid for other sessions)."""
        if self._owns_client:
            self._client.close()
        if self._owns_provider:
            self._provider.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(settings: Settings | None = None, **overrides: Any) -> Session:
    """A `Session` for `settings` (default: `load_settings(**overrides)`).

    With no credentials and no environment configured, starts the embedded sandbox and
    uses its demo client, so a fresh checkout works offline.
    """
    ready, handle = prepare(settings, overrides)
    session = Session(ready, sandbox=handle)
    remember(session)  # the default of the IPython magics
    return session
