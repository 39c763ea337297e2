"""The network backend every transport a session makes goes through: deadlines and phase stamps.

Strictly private. The wrappers follow httpcore's (duck-typed) backend interface without
subclassing it, so that `import dailypay_nb` does not import httpcore (httpx itself loads it
only with a transport). `install` puts them in a transport's connection pool, in place.

Each connect, TLS handshake, read and write is cut at the current call's deadline
(`_deadline.CURRENT`). While a `RecordingTransport` sends a request it makes the exchange's
probe current in `ACTIVE`, and the steps stamp it (`time.perf_counter()`, slots as `_Probe`):
connect start and end, TLS start and end, the first write's start and the end of the last one
(the request sent); the transport stamps the response headers in when the pool returns them.
An HTTP/1.1 connection carries one exchange at a time, so the stamps are the exchange's.
"""

from __future__ import annotations

import contextvars
import inspect
from collections.abc import Iterable
from time import perf_counter
from typing import Any

from ._deadline import _cap

__all__ = ["ACTIVE", "install"]

#: The probe (`_timings._Probe`) of the exchange a recording transport is sending in this
#: thread or task, if any.
ACTIVE: contextvars.ContextVar[Any] = contextvars.ContextVar("dailypay_nb_probe", default=None)
_get = ACTIVE.get
_CONNECT, _CONNECTED, _TLS, _TLS_DONE, _SEND, _SENT = range(6)


def _started(first: int) -> Any:
    """The active probe, with `first` stamped now (and the exchange marked as seen on the wire)."""
    probe = _get()
    if probe is not None:
        probe.seen = True
        probe.stamps[first] = perf_counter()
    return probe


class _Stream:
    __slots__ = ("__weakref__", "_inner")  # weakly referenced: `_har` caches each stream's peer

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data: bytes = self._inner.read(max_bytes, _cap(timeout, "waiting for or reading the response", self))
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:  # h11 ends a request with empty writes: nothing to send, nothing to time
            return
        probe = _get()
        if probe is None:
            self._inner.write(buffer, _cap(timeout, "sending the request", self))
            return
        probe.seen = True
        stamps = probe.stamps
        if not stamps[_SEND]:
            stamps[_SEND] = perf_counter()
        self._inner.write(buffer, _cap(timeout, "sending the request", self))
        stamps[_SENT] = perf_counter()

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> _Stream:
        probe = _started(_TLS)
        stream = self._inner.start_tls(ssl_context, server_hostname, _cap(timeout, "in the TLS handshake"))
        if probe is not None:
            probe.stamps[_TLS_DONE] = perf_counter()
        return _Stream(stream)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend:
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> _Stream:
        probe = _started(_CONNECT)
        timeout = _cap(timeout, f"connecting to {host}:{port}")
        stream = self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        if probe is not None:
            probe.stamps[_CONNECTED] = perf_counter()
        return _Stream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> _Stream:
        probe = _started(_CONNECT)
        stream = self._inner.connect_unix_socket(path, _cap(timeout, "connecting"), socket_options)
        if probe is not None:
            probe.stamps[_CONNECTED] = perf_counter()
        return _Stream(stream)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _AsyncStream:
    __slots__ = ("__weakref__", "_inner")

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data: bytes = await self._inner.read(max_bytes, _cap(timeout, "waiting for or reading the response"))
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        probe = _get()
        if probe is None:
            await self._inner.write(buffer, _cap(timeout, "sending the request"))
            return
        probe.seen = True
        stamps = probe.stamps
        if not stamps[_SEND]:
            stamps[_SEND] = perf_counter()
        await self._inner.write(buffer, _cap(timeout, "sending the request"))
        stamps[_SENT] = perf_counter()

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> _AsyncStream:
        probe = _started(_TLS)
        timeout = _cap(timeout, "in the TLS handshake")
        stream = await self._inner.start_tls(ssl_context, server_hostname, timeout)
        if probe is not None:
            probe.stamps[_TLS_DONE] = perf_counter()
        return _AsyncStream(stream)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _AsyncBackend:
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> _AsyncStream:
        probe = _started(_CONNECT)
        timeout = _cap(timeout, f"connecting to {host}:{port}")
        stream = await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        if probe is not None:
            probe.stamps[_CONNECTED] = perf_counter()
        return _AsyncStream(stream)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> _AsyncStream:
        probe = _started(_CONNECT)
        timeout = _cap(timeout, "connecting")
        stream = await self._inner.connect_unix_socket(path, timeout, socket_options)
        if probe is not None:
            probe.stamps[_CONNECTED] = perf_counter()
        return _AsyncStream(stream)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def install(transport: Any) -> bool:
    """Put the wrappers in `transport`'s connection pool (once); True when its stamps are the
    exchange's: a plain HTTP/1.1 pool (not HTTP/2, not a proxy's, which also sends a CONNECT).

    A transport without an httpcore pool (a mock, ASGI) is left as it is.
    """
    pool = getattr(transport, "_pool", None)
    inner = getattr(pool, "_network_backend", None)
    if inner is None:
        return False
    if not isinstance(inner, (_Backend, _AsyncBackend)):
        wrapper = _AsyncBackend if inspect.iscoroutinefunction(inner.connect_tcp) else _Backend
        pool._network_backend = wrapper(inner)  # type: ignore[union-attr]
    kind = type(pool)
    plain = kind.__module__.startswith("httpcore") and kind.__name__.endswith("ConnectionPool")
    return plain and not getattr(pool, "_http2", False)
