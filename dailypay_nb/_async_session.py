"""`AsyncSession`: the asyncio driver of the shared request flow, and `connect_async()`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any

import httpx

from ._base import ApiCall, SessionBase
from ._config import Settings
from ._deadline import Deadline, running
from ._embedded import prepare
from ._explorer import AsyncExplorer
from ._flow import Call, Outcome, aexchange, arun, awake
from ._response import ApiResponse
from ._tls import async_transport
from ._token import Token

if TYPE_CHECKING:
    from ._bench import BenchRun

__all__ = ["AsyncSession", "connect_async"]


class AsyncSession(AsyncExplorer, SessionBase[Coroutine[Any, Any, ApiResponse]]):
    """An asyncio DailyPay session. Build it with `await dp.connect_async()`."""

    _client: httpx.AsyncClient

    def __init__(
        self, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None, **kw: Any
    ) -> None:
        super().__init__(settings, **kw)
        self._client = self._new_client(httpx.AsyncClient, transport or async_transport())
        self._owns_client = True

    def _drive(self, call: ApiCall) -> Coroutine[Any, Any, ApiResponse]:
        return arun(call, self._send)

    async def _send(self, call: Call[Any]) -> Outcome:
        return await aexchange(self._client, call)

    async def bench(
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
        """`Session.bench` on the running event loop (same arguments, models and limits).

        A cancellation (how `asyncio.run` delivers Ctrl-C) stops sending at once and is
        re-raised; the completed requests' rows stay in `session.timings` under the run's id.
        """
        from ._bench import abench

        return await abench(
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

    async def atoken(self, force: bool = False, *, deadline: float | None = None) -> Token:
        """`token()` without blocking the event loop."""
        with running(Deadline(self.settings.deadline if deadline is None else deadline)), awake():
            return await self._provider.aget(force=force)

    async def aclose(self) -> None:
        """Close the connections (the API client and, if this session owns it, the token client)."""
        if self._owns_client:
            await self._client.aclose()
        if self._owns_provider:
            self._provider.close()

    async def __aenter__(self) -> AsyncSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


async def connect_async(settings: Settings | None = None, **overrides: Any) -> AsyncSession:
    """An `AsyncSession`, like `connect()`; starting the sandbox happens off the event loop."""
    ready, handle = await asyncio.to_thread(prepare, settings, overrides)
    return AsyncSession(ready, sandbox=handle)
