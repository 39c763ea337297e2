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
        self._client = self._new_client(httpx.Client, transport or httpx.HTTPTransport())
        self._owns_client = True

    def _drive(self, call: ApiCall) -> ApiResponse:
        return run(call, self._send)

    def _send(self, call: Call[Any]) -> Outcome:
        return exchange(self._client, call)

    def bench(
        self,
        target: str | Callable[..., Any] = "/rest/health",
        n: int = 100,
        concurrency: int = 1,
        warmup: int = 5,
        progress: bool = True,
        params: Mapping[str, Any] | None = None,
    ) -> BenchRun:
        """Run `n` requests with `concurrency` in flight and return their timings and summary.

        `target` is a path to GET, or a callable: `async def f(session)` receives an
        `AsyncSession` sharing this session's token and timings; a plain function is called
        with no arguments in a worker thread. Runs on its own event loop, so it works inside
        Jupyter's running loop too.
        """
        from ._bench import bench

        return bench(
            self, target, n=n, concurrency=concurrency, warmup=warmup, progress=progress, params=params
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
