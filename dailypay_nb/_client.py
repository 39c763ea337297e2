"""`Session` and `AsyncSession`: a token, an httpx client, timings, and the API one call away.

Both share everything in `_SessionBase` (settings, token provider, recorder, request
building, retry decisions, frames); only the thin send layer is written twice.
"""

from __future__ import annotations

import asyncio
import html
import inspect
import sys
import threading
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
import stamina

from . import __version__  # defined before this module is imported
from ._auth import RETRY_STATUSES, ClientCredentialsAuth, StaticTokenAuth, Token, TokenProvider, _retry_after
from ._config import Settings, load_settings, with_sandbox
from ._exceptions import ApiError, ApiTransportError, ArgumentError, DailyPayError
from ._explorer import AsyncExplorer, SyncExplorer
from ._response import ApiResponse
from ._secret import Secret
from ._timings import (
    COLUMNS,
    META,
    AsyncRecordingTransport,
    RecordingTransport,
    TimingRecorder,
    current_run,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["AsyncSession", "BenchRun", "Session", "connect", "connect_async"]

JSONAPI = "application/vnd.api+json"
#: Retried without an Idempotency-Key. Not PUT or DELETE: they are writes, and a DELETE whose
#: answer was lost would be re-sent and end in a 404 for an account that was in fact deleted.
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})
S = TypeVar("S", bound="_SessionBase")
C = TypeVar("C", httpx.Client, httpx.AsyncClient)
_URL_CACHE_SIZE = 1024


class _RetryableResponse(Exception):
    def __init__(self, response: httpx.Response, retry_after: float | None) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response
        self.retry_after = retry_after


class _RetryableTransport(Exception):
    def __init__(self, error: httpx.RequestError) -> None:
        super().__init__(type(error).__name__)
        self.error = error


def _api_retry_hook(exc: Exception) -> bool | float:
    if isinstance(exc, _RetryableResponse):
        return exc.retry_after if exc.retry_after is not None else True
    return isinstance(exc, _RetryableTransport)


class _SessionBase:
    """What sync and async sessions share: everything but sending."""

    def __init__(
        self,
        settings: Settings,
        *,
        sandbox: Any = None,
        provider: TokenProvider | None = None,
        recorder: TimingRecorder | None = None,
        user_token: Secret | None = None,
        user_scope: tuple[str, ...] = (),
    ) -> None:
        self.settings = settings
        #: The sandbox handle when this session runs against the embedded sandbox, else None.
        self.sandbox = sandbox
        if recorder is None:
            recorder = TimingRecorder(settings.timings_buffer)
            recorder.endpoint_for = _endpoint_lookup()
        self._recorder = recorder
        self._provider = provider or TokenProvider(settings, recorder)
        self._cc_auth = ClientCredentialsAuth(self._provider)
        self._user_token = user_token
        self._user_scope = user_scope
        self._auth: httpx.Auth = StaticTokenAuth(user_token) if user_token else self._cc_auth
        self._api_url = httpx.URL(settings.api_url or "")  # parsed once: checked on every request
        self._headers = {
            "Accept": JSONAPI,
            "DailyPay-API-Version": str(settings.api_version),
            "User-Agent": f"dailypay_nb/{__version__} httpx/{httpx.__version__}",
        }
        self._urls: dict[str, httpx.URL] = {}  # path -> absolute URL, origin checked

    # -- tokens ------------------------------------------------------------------------------

    @property
    def auth(self) -> httpx.Auth:
        """An `httpx.Auth` that attaches this session's token; usable with any httpx client."""
        return self._auth

    def token(self, force: bool = False) -> Token:
        """The client-credentials token: cached while fresh; `force=True` fetches a new one."""
        return self._provider.get(force=force)

    @property
    def token_kind(self) -> str:
        """ "client" for a client-credentials session, "user" after `with_user_token`."""
        return "user" if self._user_token is not None else "client"

    @property
    def granted_scopes(self) -> frozenset[str]:
        """Scopes of the token held (or requested, before the first token)."""
        if self._user_token is not None:
            return frozenset(self._user_scope)
        token = self._provider.cached() or (self._provider.history[-1] if self._provider.history else None)
        return frozenset(token.granted_scope if token else self.settings.scope)

    # -- frames ------------------------------------------------------------------------------

    @property
    def tokens(self) -> pd.DataFrame:
        """One row per token obtained (masked), oldest first."""
        from ._frames import tokens_frame

        return tokens_frame(self._provider.history)

    @property
    def timings(self) -> pd.DataFrame:
        """One row per HTTP exchange (token and API, each attempt), with phase timings."""
        from ._frames import timings_frame

        return timings_frame(self._recorder.rows())

    def timing_summary(self, by: str | list[str] = "endpoint") -> pd.DataFrame:
        """Count, error rate and latency percentiles of the timings, grouped by `by`."""
        from ._frames import timing_summary

        return timing_summary(self.timings, by=by)

    def clear_timings(self) -> None:
        """Forget the recorded timings (tokens are kept)."""
        self._recorder.clear()

    # -- building requests -------------------------------------------------------------------

    def _build(
        self,
        client: httpx.Client | httpx.AsyncClient,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        json: Any,
        headers: Mapping[str, str] | None,
        endpoint: str | None,
    ) -> httpx.Request:
        method = method.upper()
        # The client already carries self._headers; only what differs is sent per request.
        extra: dict[str, str] = {}
        if path.endswith("/health"):
            extra["Accept"] = "application/json"
        content = None
        if json is not None:
            import json as _json

            content = _json.dumps(json).encode()
            extra["Content-Type"] = JSONAPI
        if headers:
            extra.update(headers)
        url = self._urls.get(path) or self._resolve(client, method, path)
        try:
            return client.build_request(
                method, url, params=params, content=content, headers=extra or None, extensions=_meta(endpoint)
            )
        except (httpx.InvalidURL, ValueError, TypeError, AttributeError) as exc:
            raise ArgumentError(
                f"{method} {path[:80]!r}: the query parameters are not usable: {exc}",
                hint="give params as a dict of strings, numbers or lists of them",
            ) from None

    def _resolve(self, client: httpx.Client | httpx.AsyncClient, method: str, path: str) -> httpx.URL:
        """The absolute URL of `path`, checked to be this session's API; cached per path.

        httpx would otherwise join and re-parse base URL and path on every request (~20 µs).
        """
        try:
            url = client.build_request(method, path).url
        except (httpx.InvalidURL, ValueError) as exc:
            raise ArgumentError(
                f"{method} {path[:80]!r} is not a usable URL path: {exc}",
                hint="pass a path such as /rest/jobs; give ids and filters as arguments",
            ) from None
        api = self._api_url
        if (url.scheme, url.host, url.port) != (api.scheme, api.host, api.port):
            # An absolute URL elsewhere (a pasted link, a `links.next` from a body) would get our token.
            raise ApiError(
                f"{method} {url.scheme}://{url.netloc.decode('ascii', 'replace')}: "
                f"not this session's API ({api.scheme}://{api.netloc.decode('ascii', 'replace')}); "
                "nothing was sent",
                method=method,
                url=str(url.copy_with(query=None)),
                hint="pass a path such as /rest/jobs; for other hosts use your own httpx client",
            )
        if len(self._urls) < _URL_CACHE_SIZE:
            self._urls[path] = url
        return url

    def _retryable(self, request: httpx.Request, retry: bool | None) -> bool:
        if self.settings.retry_attempts <= 1:
            return False
        if retry is not None:
            return retry and (request.method in _IDEMPOTENT or "idempotency-key" in request.headers)
        return request.method in _IDEMPOTENT or "idempotency-key" in request.headers

    def _should_retry(
        self, request: httpx.Request, retry: bool | None, outcome: httpx.Response | httpx.RequestError
    ) -> bool:
        """Whether the first attempt's outcome calls for the retry loop."""
        if isinstance(outcome, httpx.Response) and outcome.status_code not in self._retry_statuses(request):
            return False
        return self._retryable(request, retry)

    def _retry_statuses(self, request: httpx.Request) -> frozenset[int]:
        if "idempotency-key" in request.headers:
            return RETRY_STATUSES | {409}
        return RETRY_STATUSES

    def _retry_context(self) -> Any:
        s = self.settings
        return stamina.retry_context(
            on=_api_retry_hook,
            attempts=s.retry_attempts,
            timeout=s.retry_timeout,
            wait_initial=0.25,
            wait_max=5.0,
            wait_jitter=0.25,
        )

    def _check(self, request: httpx.Request, outcome: httpx.Response | httpx.RequestError) -> httpx.Response:
        """Raise the retryable wrapper for a failed attempt; return a final response."""
        if isinstance(outcome, httpx.RequestError):
            raise _RetryableTransport(outcome)
        if outcome.status_code in self._retry_statuses(request):
            cap = self.settings.retry_timeout
            raise _RetryableResponse(outcome, _retry_after(outcome.headers.get("retry-after"), cap))
        return outcome

    def _transport_error(self, request: httpx.Request, exc: httpx.RequestError) -> ApiTransportError:
        what = {
            httpx.ConnectError: "could not connect",
            httpx.ConnectTimeout: "timed out connecting",
            httpx.ReadTimeout: f"timed out after {self.settings.timeout:g}s waiting for the response",
            httpx.RemoteProtocolError: "connection dropped by the server",
            httpx.DecodingError: "the response body could not be decoded",
        }.get(type(exc), type(exc).__name__)
        meta = request.extensions.get(META, {})
        tries = meta.get("attempt", 1)
        row = meta.get("row")
        return ApiTransportError(
            f"{request.method} {request.url.path}: {what} ({self.settings.environment}, {request.url.host})"
            + (f" after {tries} attempts" if tries > 1 else ""),
            method=request.method,
            url=str(request.url),
            timing=dict(zip(COLUMNS, row, strict=True)) if row else None,
            hint="check DAILYPAY_API_URL and your network; for the sandbox, is it running?",
        )

    def _wrap(self, request: httpx.Request, response: httpx.Response, raise_for_status: bool) -> ApiResponse:
        meta = request.extensions[META]
        row = meta.get("row")
        result = ApiResponse(
            status=response.status_code,
            headers=response.headers,
            body=response.content,
            method=request.method,
            url=str(request.url),
            endpoint=row[4] if row else meta.get("endpoint"),
            timing=dict(zip(COLUMNS, row, strict=True)) if row else None,
        )
        if raise_for_status:
            result.raise_for_status()
        return result

    def with_user_token(self: S, token: str | Secret, scope: str = "user:read_write") -> S:
        """A session of the same kind, sharing connections and timings, that sends a user token."""
        clone = type(self).__new__(type(self))
        _SessionBase.__init__(
            clone,
            self.settings,
            sandbox=self.sandbox,
            provider=self._provider,
            recorder=self._recorder,
            user_token=token if isinstance(token, Secret) else Secret(token, label="user_token"),
            user_scope=tuple(scope.split()),
        )
        clone._client = self._client  # type: ignore[attr-defined]
        clone._owns_client = False  # type: ignore[attr-defined]
        return clone

    # -- display -----------------------------------------------------------------------------

    def __repr__(self) -> str:
        if self._user_token is not None:
            state = self._user_token.fingerprint
        else:
            token = self._provider.cached()
            state = token.fingerprint if token else "no token yet"
        return (
            f"{type(self).__name__}({self.settings.environment}, api={self.settings.api_url}, "
            f"client_id={self.settings.client_id!r}, {self.token_kind} token: {state}, "
            f"{len(self._recorder)} timings)"
        )

    def _repr_html_(self) -> str:
        s = self.settings
        if self._user_token is not None:
            scope, held = " ".join(self._user_scope), self._user_token.masked
        else:
            token = self._provider.cached()
            scope = s.scope_string
            held = f"{token.access_token.masked}, {token.seconds_left:.0f}s left" if token else "none yet"
        rows = [
            ("environment", s.environment + (" (embedded sandbox)" if self.sandbox else "")),
            ("API", s.api_url or ""),
            ("token URL", s.token_url or ""),
            ("client id", s.client_id),
            ("client secret", s.client_secret.masked),
            ("scope", scope),
            ("token", held),
            ("token kind", self.token_kind),
            ("timings recorded", str(len(self._recorder))),
        ]
        body = "".join(
            f"<tr><th style='text-align:left'>{k}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows
        )
        return f"<table><caption>{type(self).__name__}</caption>{body}</table>"


def _endpoint_lookup() -> Callable[[str, str], str | None]:
    from ._operations import endpoint_for

    return endpoint_for


def _meta(endpoint: str | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"kind": "api"}
    if endpoint:
        meta["endpoint"] = endpoint
    return {META: meta}


class _Cookies(httpx.Cookies):
    """httpx's jar, but it looks for cookies only in responses that set one.

    httpx builds a urllib request and an email message for every response to extract cookies
    (~18 µs, more than recording the timings costs); the API authenticates with bearer tokens and
    rarely sets any.
    """

    def extract_cookies(self, response: httpx.Response) -> None:
        if "set-cookie" in response.headers:
            super().extract_cookies(response)


def _with_cookie_jar(client: C) -> C:
    # Not through the public `cookies` setter: it would copy the jar into a plain httpx.Cookies.
    client._cookies = _Cookies(client.cookies.jar)
    return client


def _client_kwargs(settings: Settings, headers: dict[str, str]) -> dict[str, Any]:
    return {
        "headers": headers,
        "base_url": settings.api_url or "",
        "timeout": settings.timeout,
        "follow_redirects": False,
        "limits": httpx.Limits(max_connections=100, max_keepalive_connections=32),
    }


class Session(SyncExplorer, _SessionBase):
    """A synchronous DailyPay session. Build it with `dp.connect()`."""

    def __init__(
        self, settings: Settings, *, transport: httpx.BaseTransport | None = None, **kw: Any
    ) -> None:
        super().__init__(settings, **kw)
        self._client = _with_cookie_jar(
            httpx.Client(
                transport=RecordingTransport(transport or httpx.HTTPTransport(), self._recorder, "api"),
                auth=self._cc_auth,
                **_client_kwargs(settings, self._headers),
            )
        )
        self._owns_client = True

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        endpoint: str | None = None,
        retry: bool | None = None,
        raise_for_status: bool = True,
    ) -> ApiResponse:
        """Send one API request; GETs (and writes with an Idempotency-Key) are retried.

        Raises `ApiError` for a non-2xx answer unless `raise_for_status=False`.
        """
        request = self._build(self._client, method, path, params, json, headers, endpoint)
        outcome: httpx.Response | httpx.RequestError
        try:
            outcome = self._client.send(request, auth=self._auth)
        except httpx.RequestError as exc:
            outcome = exc
        if self._should_retry(request, retry, outcome):
            outcome = self._send_retrying(request, outcome)
        if isinstance(outcome, httpx.RequestError):
            raise self._transport_error(request, outcome) from None
        return self._wrap(request, outcome, raise_for_status)

    def _send_retrying(
        self, request: httpx.Request, first: httpx.Response | httpx.RequestError
    ) -> httpx.Response | httpx.RequestError:
        pending: list[httpx.Response | httpx.RequestError] = [first]
        try:
            for attempt in self._retry_context():
                with attempt:
                    if pending:
                        return self._check(request, pending.pop())
                    try:
                        outcome: httpx.Response | httpx.RequestError = self._client.send(
                            request, auth=self._auth
                        )
                    except httpx.RequestError as exc:
                        outcome = exc
                    return self._check(request, outcome)
        except _RetryableResponse as exc:
            return exc.response
        except _RetryableTransport as exc:
            return exc.error
        raise AssertionError("unreachable")  # pragma: no cover

    def get(self, path: str, params: Mapping[str, Any] | None = None, **kw: Any) -> ApiResponse:
        """GET `path` (e.g. "/rest/jobs") and return an `ApiResponse`."""
        return self.request("GET", path, params=params, **kw)

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
        if n < 1 or concurrency < 1:
            raise DailyPayError("bench needs n >= 1 and concurrency >= 1")
        run_id = f"run-{uuid.uuid4().hex[:8]}"
        self.token()  # a token first, so the run measures API calls, not the first token fetch
        box: dict[str, Any] = {}

        def main() -> None:
            try:
                box["elapsed"] = asyncio.run(
                    _bench(self, target, n, concurrency, warmup, progress, params, run_id)
                )
            except BaseException as exc:  # handed back to the caller's thread
                box["error"] = exc

        worker = threading.Thread(target=main, name="dailypay_nb-bench")
        worker.start()
        worker.join()
        if "error" in box:
            raise box["error"]
        timings = self.timings
        run = timings[timings["run_id"] == run_id].reset_index(drop=True)
        from ._frames import timing_summary

        return BenchRun(run_id, run, timing_summary(run), box["elapsed"], n, concurrency)

    def close(self) -> None:
        """Close the connections (the token cache stays valid for other sessions)."""
        if self._owns_client:
            self._client.close()
            self._provider.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncSession(AsyncExplorer, _SessionBase):
    """An asyncio DailyPay session. Build it with `await dp.connect_async()`."""

    def __init__(
        self, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None, **kw: Any
    ) -> None:
        super().__init__(settings, **kw)
        self._client = _with_cookie_jar(
            httpx.AsyncClient(
                transport=AsyncRecordingTransport(
                    transport or httpx.AsyncHTTPTransport(), self._recorder, "api"
                ),
                auth=self._cc_auth,
                **_client_kwargs(settings, self._headers),
            )
        )
        self._owns_client = True

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        endpoint: str | None = None,
        retry: bool | None = None,
        raise_for_status: bool = True,
    ) -> ApiResponse:
        """Async `Session.request`."""
        request = self._build(self._client, method, path, params, json, headers, endpoint)
        outcome: httpx.Response | httpx.RequestError
        try:
            outcome = await self._client.send(request, auth=self._auth)
        except httpx.RequestError as exc:
            outcome = exc
        if self._should_retry(request, retry, outcome):
            outcome = await self._send_retrying(request, outcome)
        if isinstance(outcome, httpx.RequestError):
            raise self._transport_error(request, outcome) from None
        return self._wrap(request, outcome, raise_for_status)

    async def _send_retrying(
        self, request: httpx.Request, first: httpx.Response | httpx.RequestError
    ) -> httpx.Response | httpx.RequestError:
        pending: list[httpx.Response | httpx.RequestError] = [first]
        try:
            async for attempt in self._retry_context():
                with attempt:
                    if pending:
                        return self._check(request, pending.pop())
                    try:
                        outcome: httpx.Response | httpx.RequestError = await self._client.send(
                            request, auth=self._auth
                        )
                    except httpx.RequestError as exc:
                        outcome = exc
                    return self._check(request, outcome)
        except _RetryableResponse as exc:
            return exc.response
        except _RetryableTransport as exc:
            return exc.error
        raise AssertionError("unreachable")  # pragma: no cover

    async def get(self, path: str, params: Mapping[str, Any] | None = None, **kw: Any) -> ApiResponse:
        """Async `Session.get`."""
        return await self.request("GET", path, params=params, **kw)

    async def atoken(self, force: bool = False) -> Token:
        """`token()` without blocking the event loop."""
        return await self._provider.aget(force=force)

    async def aclose(self) -> None:
        """Close the connections."""
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> AsyncSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


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


async def _bench(
    session: Session,
    target: str | Callable[..., Any],
    n: int,
    concurrency: int,
    warmup: int,
    progress: bool,
    params: Mapping[str, Any] | None,
    run_id: str,
) -> float:
    import time

    from tqdm.auto import tqdm

    asession = AsyncSession(
        session.settings,
        sandbox=session.sandbox,
        provider=session._provider,
        recorder=session._recorder,
        user_token=session._user_token,
        user_scope=session._user_scope,
    )
    if isinstance(target, str):
        path = target

        async def call() -> Any:
            return await asession.request("GET", path, params=params, raise_for_status=False)
    elif inspect.iscoroutinefunction(target):
        fn: Callable[[AsyncSession], Awaitable[Any]] = target

        async def call() -> Any:
            return await fn(asession)
    else:
        plain: Callable[[], Any] = target

        async def call() -> Any:
            return await asyncio.to_thread(plain)

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
    return elapsed


def _prepare(settings: Settings | None, overrides: dict[str, Any]) -> tuple[Settings, Any]:
    if settings is None:
        settings = load_settings(**overrides)
    elif overrides:
        settings = settings.replace(**overrides)
    handle = None
    if settings.environment == "sandbox" and settings.api_url and f"{__package__}.sandbox" in sys.modules:
        from . import sandbox  # only if already imported: no sandbox runs here otherwise

        handle = sandbox.find(settings.api_url)  # one this process started: attach its controls
    if settings.uses_embedded_sandbox:
        from . import sandbox

        handle = sandbox.shared()
        settings = with_sandbox(
            settings,
            url=handle.url,
            token_url=handle.token_url,
            client_id=handle.client_id,
            secret=handle.client_secret,
        )
    return settings, handle


def connect(settings: Settings | None = None, **overrides: Any) -> Session:
    """A `Session` for `settings` (default: `load_settings(**overrides)`).

    With no credentials and no environment configured, starts the embedded sandbox and
    uses its demo client, so a fresh checkout works offline.
    """
    settings, handle = _prepare(settings, overrides)
    return Session(settings, sandbox=handle)


async def connect_async(settings: Settings | None = None, **overrides: Any) -> AsyncSession:
    """An `AsyncSession`, like `connect()`; starting the sandbox happens off the event loop."""
    ready, handle = await asyncio.to_thread(_prepare, settings, overrides)
    return AsyncSession(ready, sandbox=handle)
