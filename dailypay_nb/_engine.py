"""The aiohttp engine of `bench`: many GETs of one path, each recorded like an httpx exchange.

Strictly private. httpx's async stack (httpcore's pool, anyio) costs ~1 ms of CPU per request,
so a benchmark through it measures the client. This engine sends the same requests through
aiohttp (about 10× less CPU per request) while keeping what the session guarantees:

- the session's token: the provider's cached token (fetched once, refreshed when stale; one new
  token and one more attempt after a 401, as `ClientCredentialsAuth` does), or the user token;
- the origin check: the path is resolved by the session, which refuses other hosts;
- deadlines: each call gets a `Deadline(settings.deadline)`; aiohttp's total timeout is what
  remains of it (so a stalled read ends there) and `settings.timeout` bounds each connect;
- the response size limit (`max_response_bytes`, after decompression);
- redaction: the server's X-Request-Id and every error text go through `_redact`;
- the timing row: the same `COLUMNS`, with the same phase boundaries as `_timings`:

| column      | httpx (httpcore trace event)                  | here                                        |
|-------------|-----------------------------------------------|---------------------------------------------|
| connect_ms  | connect_tcp started → complete (DNS + TCP)    | connector asked → TCP connected (DNS + TCP) |
| tls_ms      | start_tls started → complete                  | TLS object created → connection ready       |
| send_ms     | send_request_headers started → body complete  | `ClientRequest.send` start → return         |
| wait_ms     | body complete → response headers complete     | send return → `ClientResponse.start` return |
| download_ms | headers complete → body read                  | headers → body read                         |
| total_ms    | transport called → body read                  | aiohttp called → body read                  |

connect_ms and tls_ms are NaN on a reused connection. The marks come from subclasses of
aiohttp's request, response and connector classes and from the TLS context (its `wrap_bio`
runs when the TCP connection is up and the handshake starts), reached through a context
variable, so no aiohttp `TraceConfig` (about 12 µs a request) is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import ssl
import time
import weakref
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import aiohttp
import httpx
from yarl import URL

from ._deadline import Deadline, running
from ._redact import redact
from ._timings import current_run

if TYPE_CHECKING:
    from ._base import SessionBase
    from ._timings import TimingRecorder

__all__ = ["AiohttpEngine"]

_NAN = float("nan")


class _Marks:
    """perf_counter stamps of one exchange (0.0: did not happen)."""

    __slots__ = ("connect", "connected", "headers", "send", "sent", "t0", "tls", "transport")

    def __init__(self, t0: float) -> None:
        self.t0 = t0
        self.connect = self.connected = self.tls = self.send = self.sent = self.headers = 0.0
        self.transport: Any = None  # the connection's, for `on_exchange` (who answered)


_MARKS: contextvars.ContextVar[_Marks | None] = contextvars.ContextVar("dailypay_nb_marks", default=None)


class _TimedTLS(ssl.SSLContext):
    """asyncio calls `wrap_bio` once the TCP connection is up, just before the handshake."""

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:
        marks = _MARKS.get()
        if marks is not None:
            marks.tls = time.perf_counter()
        return super().wrap_bio(*args, **kwargs)


def _tls_context() -> _TimedTLS:
    """Certificate checks as httpx makes them: certifi's roots (or SSL_CERT_FILE/SSL_CERT_DIR)."""
    import certifi

    context = _TimedTLS(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    cafile, capath = os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
    if cafile or capath:
        context.load_verify_locations(cafile=cafile, capath=capath)
    else:
        context.load_verify_locations(cafile=certifi.where())
    context.set_alpn_protocols(["http/1.1"])
    return context


class _TimedConnector(aiohttp.TCPConnector):
    """Marks the connection step of exchanges that opened a new connection."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._seen: weakref.WeakSet[Any] = weakref.WeakSet()

    async def connect(self, req: Any, *args: Any, **kwargs: Any) -> Any:
        marks = _MARKS.get()
        started = time.perf_counter()
        try:
            conn = await super().connect(req, *args, **kwargs)
        except BaseException:
            if marks is not None:
                marks.connect = started  # a new connection was tried: not a reused one
            raise
        protocol = conn.protocol
        if marks is not None and protocol is not None and protocol not in self._seen:
            self._seen.add(protocol)
            marks.connect, marks.connected = started, time.perf_counter()
        return conn


class _TimedRequest(aiohttp.ClientRequest):
    async def send(self, conn: Any) -> aiohttp.ClientResponse:
        marks = _MARKS.get()
        if marks is not None:
            marks.send = time.perf_counter()
            marks.transport = conn.transport
        response = await super().send(conn)
        if marks is not None:
            marks.sent = time.perf_counter()
        return response


class _TimedResponse(aiohttp.ClientResponse):
    async def start(self, connection: Any) -> aiohttp.ClientResponse:
        response = await super().start(connection)
        marks = _MARKS.get()
        if marks is not None:
            marks.headers = time.perf_counter()
        return response


_HTTP_VERSIONS: dict[Any, bytes] = {(1, 0): b"HTTP/1.0", (1, 1): b"HTTP/1.1"}


class _NoBody(httpx.SyncByteStream, httpx.AsyncByteStream):
    """The body of a response handed to the hook: aiohttp has read it; nothing to iterate."""

    def __iter__(self) -> Iterator[bytes]:
        return iter(())

    async def __aiter__(self) -> AsyncIterator[bytes]:
        nothing: tuple[bytes, ...] = ()
        for chunk in nothing:
            yield chunk


_NO_BODY = _NoBody()


class _Peer:
    """The two ends of the connection an answer came on, as httpcore's network stream tells them."""

    __slots__ = ("__weakref__", "client_addr", "server_addr")

    def __init__(self, server_addr: Any, client_addr: Any) -> None:
        self.server_addr = server_addr
        self.client_addr = client_addr

    def get_extra_info(self, info: str) -> Any:
        return getattr(self, info, None) if info in ("server_addr", "client_addr") else None


def _span(a: float, b: float) -> float:
    return (b - a) * 1000.0 if a and b else _NAN


#: aiohttp's exceptions under the names httpx gives the same failure, so the `error` column
#: reads the same whichever engine recorded a row.
_NAMES: tuple[tuple[type[BaseException], str], ...] = (
    (aiohttp.ConnectionTimeoutError, "ConnectTimeout"),
    (aiohttp.SocketTimeoutError, "ReadTimeout"),
    (aiohttp.ServerTimeoutError, "ReadTimeout"),
    (asyncio.TimeoutError, "ReadTimeout"),
    (aiohttp.ClientConnectorError, "ConnectError"),
    (aiohttp.ServerDisconnectedError, "RemoteProtocolError"),
    (aiohttp.ClientPayloadError, "RemoteProtocolError"),
    (aiohttp.ClientResponseError, "RemoteProtocolError"),
    (aiohttp.ClientOSError, "ReadError"),
)


def _describe(exc: BaseException, deadline: Deadline) -> str:
    if deadline.expired:
        return redact(f"ReadTimeout: {deadline.describe()}", limit=160)
    name = next((n for kind, n in _NAMES if isinstance(exc, kind)), type(exc).__name__)
    return redact(f"{name}: {exc}", limit=160)


class AiohttpEngine:
    """GETs of one path for `bench`, on the running event loop, recorded in the session's recorder."""

    def __init__(
        self,
        session: SessionBase[Any],
        path: str,
        params: Mapping[str, Any] | None,
        max_in_flight: int,
    ) -> None:
        s = session.settings
        request = session._build("GET", path, params, None, None, None)
        self.url = URL(str(request.url), encoded=True)
        self.shown_url = str(request.url)
        self.httpx_url = request.url  # for the hook's requests: parsed once, not per exchange
        self._hook_request: tuple[str, httpx.Request] | None = None
        self._with_token: tuple[str, dict[str, str]] | None = None
        self._peers: weakref.WeakKeyDictionary[Any, _Peer] = weakref.WeakKeyDictionary()
        self._token: tuple[float, str, Any] | None = None  # (ask again after, header, token)
        self._full = (s.deadline, aiohttp.ClientTimeout(total=s.deadline, sock_connect=s.timeout))
        self.method = "GET"
        self.endpoint: str = request.extensions["dailypay_nb"].get("endpoint") or session._recorder.template(
            "GET", request.url.path
        )
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "authorization")}
        headers.pop("Content-Length", None)
        self.headers = headers
        self.settings = s
        self.recorder: TimingRecorder = session._recorder
        self.provider = session._provider
        self.user_token = session._user_token
        self.limit = s.max_response_bytes
        try:
            self.proxy: URL | None = aiohttp.helpers.get_env_proxy_for_url(self.url)[0]
        except LookupError:
            self.proxy = None
        self.client = aiohttp.ClientSession(
            connector=_TimedConnector(
                limit=max_in_flight,
                limit_per_host=max_in_flight,
                ssl=_tls_context() if self.url.scheme == "https" else False,
                enable_cleanup_closed=False,
            ),
            request_class=_TimedRequest,
            response_class=_TimedResponse,
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=("User-Agent",),
            auto_decompress=True,
            trust_env=False,  # the proxy is looked up once above, not per request
        )

    async def aclose(self) -> None:
        await self.client.close()

    def _authorization(self) -> tuple[str, Any]:
        if self.user_token is not None:
            return "Bearer " + self.user_token.reveal(), None
        now = time.monotonic()
        held = self._token
        if held is not None and now < held[0]:  # asked the cache less than 50 ms ago
            return held[1], held[2]
        token = self.provider.cached()
        if token is None:
            self._token = None
            return "", None
        self._token = (now + 0.05, token.authorization(), token)
        return self._token[1], token

    def _headers_with(self, authorization: str) -> dict[str, str]:
        """The request headers with this token (one dict per token: aiohttp copies it per request)."""
        cached = self._with_token
        if cached is None or cached[0] != authorization:
            cached = self._with_token = (authorization, {**self.headers, "Authorization": authorization})
        return cached[1]

    def _timeout(self, left: float) -> aiohttp.ClientTimeout:
        """aiohttp's timeouts for what remains of the deadline; a first attempt has nearly all of it,
        so its object is made once. (One timer a request: a stalled read ends at the deadline.)"""
        if left >= self._full[0] - 0.001:
            return self._full[1]
        return aiohttp.ClientTimeout(total=left, sock_connect=self.settings.timeout)

    def _peer(self, transport: Any) -> _Peer:
        """One `_Peer` per connection, so the hook can remember it by identity."""
        try:
            peer = self._peers.get(transport)
        except TypeError:  # a transport that cannot be weakly referenced
            peer = None
        if peer is None:
            peer = _Peer(transport.get_extra_info("peername"), transport.get_extra_info("sockname"))
            with contextlib.suppress(TypeError):
                self._peers[transport] = peer
        return peer

    def _sent(self, authorization: str, headers: dict[str, str]) -> httpx.Request:
        """The request as httpx would hold it, for the hook: every exchange of a run sends the same
        one (same method, URL and headers), so one object per token serves them all (read-only)."""
        cached = self._hook_request
        if cached is None or cached[0] != authorization:
            cached = self._hook_request = (
                authorization,
                httpx.Request("GET", self.httpx_url, headers=headers),
            )
        return cached[1]

    async def call(self, scheduled: tuple[float, float] | None = None) -> int | None:
        """One GET (and one more after a 401 with a client token); returns the last status."""
        deadline = Deadline(self.settings.deadline)
        started = time.perf_counter()
        scheduled = scheduled or (started, time.time())
        attempt = 0
        while True:
            attempt += 1
            authorization, token = self._authorization()
            if not authorization:
                with running(deadline):
                    token = await self.provider.aget()
                authorization = token.authorization()
            status = await self._exchange(authorization, attempt, scheduled, deadline)
            if status == 401 and attempt == 1 and token is not None:
                self.provider.invalidate(token)
                self._token = None
                continue
            return status

    async def _exchange(
        self, authorization: str, attempt: int, scheduled: tuple[float, float], deadline: Deadline
    ) -> int | None:
        wall = time.time()
        marks = _Marks(time.perf_counter())
        reset = _MARKS.set(marks)
        status: int | None = None
        nbytes = 0
        request_id: str | None = None
        error: str | None = None
        response: aiohttp.ClientResponse | None = None
        peer: _Peer | None = None
        headers = self._headers_with(authorization)
        try:
            left = deadline.remaining()
            if left <= 0:
                raise asyncio.TimeoutError
            response = await self.client.request(
                "GET",
                self.url,
                headers=headers,
                allow_redirects=False,
                proxy=self.proxy,
                timeout=self._timeout(left),
            )
            status = response.status
            raw_id = ", ".join(response.headers.getall("X-Request-Id", ()))  # as httpx joins them
            request_id = redact(raw_id, limit=100) if raw_id else None
            length = response.content_length
            if length is not None and length <= self.limit:
                nbytes = len(await response.read())
            else:
                while chunk := await response.content.readany():
                    nbytes += len(chunk)
                    if nbytes > self.limit:
                        error = (
                            f"the answer is larger than max_response_bytes ({self.limit:,} bytes "
                            "after decompression)"
                        )
                        response.close()
                        break
            if error is None and status >= 400:
                error = f"HTTP {status}"
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError) as exc:
            error = _describe(exc, deadline)
            if response is not None:
                response.close()
        except BaseException:  # cancelled (an interrupt): not an answer, nothing to record
            if response is not None:
                response.close()
            _MARKS.reset(reset)
            raise
        finally:
            if response is not None:
                response.release()
        end = time.perf_counter()
        _MARKS.reset(reset)
        tls = marks.tls if marks.connect and marks.tls >= marks.connect else 0.0
        new = bool(marks.connect)
        row = [
            0,
            wall,
            "api",
            self.method,
            self.endpoint,
            self.shown_url,
            status,
            attempt,
            None if not (marks.send or marks.connect) else not new,
            _span(marks.connect, tls or marks.connected) if new else _NAN,
            _span(tls, marks.connected) if new and tls else _NAN,
            _span(marks.send, marks.sent),
            _span(marks.sent, marks.headers),
            (end - marks.headers) * 1000.0 if marks.headers else _NAN,
            (end - marks.t0) * 1000.0,
            nbytes,
            request_id,
            error,
            current_run.get(),
            scheduled[1],
            (end - scheduled[0]) * 1000.0,
        ]
        record = self.recorder.append(row)
        hook = self.recorder.on_exchange
        if hook is not None:
            transport = marks.transport  # asyncio keeps the addresses after the socket closes
            if transport is not None:
                peer = self._peer(transport)
            sent = self._sent(authorization, headers)
            answer = None
            if response is not None:
                answer = httpx.Response(
                    response.status,
                    headers=list(response.raw_headers),
                    stream=_NO_BODY,  # read already: httpx would otherwise decode an empty body
                    request=sent,
                    extensions={
                        "http_version": _HTTP_VERSIONS.get(response.version, b"HTTP/1.1"),
                        **({"network_stream": peer} if peer is not None else {}),
                    },
                )
            hook(record, sent, answer)
        return status
