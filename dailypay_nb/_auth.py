"""The client-credentials flow: `Token`, the single-flight token cache, and `httpx.Auth` classes.

`TokenProvider.get()` returns a cached token while it is fresh (expires_at minus a skew),
and otherwise makes exactly one token request however many threads or tasks ask at once.
Token requests are retried with stamina on 429/5xx and connection failures, honouring
`Retry-After`; each attempt is its own timing row (kind "token").
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import html
import logging
import math
import threading
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote_plus

import httpx
import stamina

from ._config import Settings
from ._exceptions import TokenError, TokenTransportError, redact
from ._secret import Secret
from ._timings import META, RecordingTransport, TimingRecorder

__all__ = ["ClientCredentialsAuth", "StaticTokenAuth", "Token", "TokenProvider"]

log = logging.getLogger("dailypay_nb")
log.addHandler(logging.NullHandler())
# stamina logs each scheduled retry at WARNING; without this, Python's last-resort handler would
# print them into every notebook cell that retries. Configured logging still receives them.
logging.getLogger("stamina").addHandler(logging.NullHandler())

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Longest lifetime we believe; a larger `expires_in` is clamped to it.
MAX_TTL = 365 * 24 * 3600.0

_HINTS = {
    "invalid_client": "check DAILYPAY_CLIENT_ID and DAILYPAY_CLIENT_SECRET for this environment",
    "invalid_scope": "request only scopes granted to this client (DAILYPAY_SCOPE)",
    "unauthorized_client": "this client may not use the client-credentials grant; ask DailyPay",
    "unsupported_grant_type": "the token endpoint does not accept grant_type=client_credentials here",
    "invalid_request": "the token request was malformed; check DAILYPAY_TOKEN_URL and the settings",
    "invalid_grant": "the grant was refused; check the credentials and scopes",
}


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=timezone.utc)


@dataclass(frozen=True, eq=False)
class Token:
    """An access token and what came with it. The token itself is a `Secret`."""

    access_token: Secret
    token_type: str
    requested_scope: tuple[str, ...]
    granted_scope: tuple[str, ...]
    expires_in: float | None
    obtained_at: datetime
    expires_at: datetime
    refresh_token: Secret | None = None
    id_token: Secret | None = None
    environment: str = ""
    client_id: str = ""
    elapsed_ms: float = math.nan
    status: int = 200
    kind: str = "client"
    _clock: Callable[[], float] = field(default=time.time, repr=False)

    @property
    def expired(self) -> bool:
        """True once `expires_at` has passed."""
        return self._clock() >= self.expires_at.timestamp()

    @property
    def seconds_left(self) -> float:
        """Seconds until `expires_at` (negative once expired)."""
        return self.expires_at.timestamp() - self._clock()

    def fresh(self, skew: float) -> bool:
        """True while the token has more than `skew` seconds left."""
        return self.seconds_left > skew

    @property
    def fingerprint(self) -> str:
        """A short non-reversible tag of the token, safe to show."""
        return self.access_token.fingerprint

    @property
    def scope_differs(self) -> bool:
        """True when the server granted other scopes than were asked for."""
        return set(self.requested_scope) != set(self.granted_scope)

    def authorization(self) -> str:
        """The `Authorization` header value. Reveals the token: use only to send it."""
        return "Bearer " + self.access_token.reveal()

    def __repr__(self) -> str:
        return (
            f"Token({self.token_type} {self.access_token.masked}, scope={' '.join(self.granted_scope)!r}, "
            f"expires_at={self.expires_at.isoformat(timespec='seconds')}, "
            f"{'expired' if self.expired else f'{self.seconds_left:.0f}s left'})"
        )

    def _repr_html_(self) -> str:
        rows = [
            ("token", f"<code>{html.escape(self.access_token.masked)}</code>"),
            ("type", html.escape(self.token_type)),
            ("requested scope", html.escape(" ".join(self.requested_scope))),
            ("granted scope", html.escape(" ".join(self.granted_scope))),
            ("obtained at", self.obtained_at.isoformat(timespec="seconds")),
            ("expires at", self.expires_at.isoformat(timespec="seconds")),
            ("seconds left", "expired" if self.expired else f"{self.seconds_left:.0f}"),
            ("environment", html.escape(self.environment)),
        ]
        body = "".join(f"<tr><th style='text-align:left'>{k}</th><td>{v}</td></tr>" for k, v in rows)
        return f"<table><caption>DailyPay token</caption>{body}</table>"

    @classmethod
    def from_response(
        cls,
        data: Any,
        *,
        requested_scope: tuple[str, ...],
        sent_at: float,
        default_ttl: float,
        environment: str = "",
        client_id: str = "",
        elapsed_ms: float = math.nan,
        status: int = 200,
        clock: Callable[[], float] = time.time,
    ) -> Token:
        """Build a token from a parsed 200 body, or raise `TokenError` naming what is wrong."""
        if not isinstance(data, Mapping):
            raise TokenError(
                f"token response is JSON but not an object ({type(data).__name__})", status=status
            )
        access = data.get("access_token")
        if not isinstance(access, str) or not access:
            raise TokenError(
                "token response has no access_token",
                status=status,
                hint="the endpoint answered 200 without a token; check DAILYPAY_TOKEN_URL",
            )
        token_type = data.get("token_type", "bearer")
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            raise TokenError(
                f"token response has token_type {redact(str(token_type), access, limit=30)!r},"
                " expected 'bearer'",
                status=status,
            )
        expires_in = _seconds(data.get("expires_in"), "expires_in", status)
        created_at = _seconds(data.get("created_at"), "created_at", status)
        ttl = min(default_ttl if expires_in is None else expires_in, MAX_TTL)
        start = _start(sent_at, created_at, ttl)
        scope = data.get("scope")
        granted = tuple(scope.split()) if isinstance(scope, str) and scope.strip() else requested_scope
        refresh, id_token = (
            Secret(v, label=name) if isinstance(v := data.get(name), str) and v else None
            for name in ("refresh_token", "id_token")
        )
        return cls(
            access_token=Secret(access, label="access_token"),
            token_type=token_type,
            requested_scope=requested_scope,
            granted_scope=granted,
            expires_in=expires_in,
            obtained_at=_utc(sent_at),
            expires_at=_utc(start) + timedelta(seconds=ttl),
            environment=environment,
            client_id=client_id,
            elapsed_ms=elapsed_ms,
            status=status,
            refresh_token=refresh,
            id_token=id_token,
            _clock=clock,
        )


def _start(sent_at: float, created_at: float | None, ttl: float) -> float:
    """When the token's lifetime began, on our clock.

    A `created_at` shortly before the request (a server that hands out an existing token) starts
    the clock earlier. One after it, or so long before that the token would have been dead on
    arrival, is the server's clock disagreeing with ours: the send time is used instead, so a
    skewed server neither keeps an expired token in use nor makes every call fetch a new one.
    """
    if created_at is None or not sent_at - ttl < created_at <= sent_at:
        return sent_at
    return created_at


def _seconds(value: Any, name: str, status: int) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TokenError(f"token response has a non-numeric {name}", status=status)
    try:
        number = float(value)
    except OverflowError:  # an integer too large for a float (JSON allows 10**400)
        number = math.inf
    except ValueError:
        raise TokenError(f"token response has a non-numeric {name}", status=status) from None
    if not math.isfinite(number) or number < 0 or (name == "created_at" and number > 1e11):
        raise TokenError(f"token response has an impossible {name} ({number:.0f})", status=status)
    return number


class _RetryableTokenError(TokenError):
    """A failure worth another attempt; `retry_after` is the server's wish, if any."""

    retry_after: float | None = None


class _RetryableTransportError(_RetryableTokenError, TokenTransportError):
    """A connection failure worth another attempt."""


def _retry_after(value: str | None, cap: float) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = when.timestamp() - time.time()
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.01), cap)


def _retry_hook(exc: Exception) -> bool | float:
    if isinstance(exc, _RetryableTokenError):
        return exc.retry_after if exc.retry_after is not None else True
    return False


_CacheKey = tuple[str, str, str, frozenset[str]]


class TokenProvider:
    """Gets client-credentials tokens and caches them; thread- and task-safe, single flight."""

    def __init__(
        self,
        settings: Settings,
        recorder: TimingRecorder,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not settings.token_url:
            raise TokenError("no token URL: connect() fills it in for the sandbox")
        self.settings = settings
        self.clock = clock
        self._recorder = recorder
        self._client = httpx.Client(
            transport=RecordingTransport(transport or httpx.HTTPTransport(), recorder, "token"),
            timeout=settings.timeout,
            follow_redirects=False,
        )
        self._key: _CacheKey = (
            settings.token_url,
            settings.client_id,
            settings.client_secret.fingerprint,
            frozenset(settings.scope),
        )
        self._cache: dict[_CacheKey, Token] = {}
        self._lock = threading.Lock()
        #: Every token obtained, oldest first (for `session.tokens`).
        self.history: deque[Token] = deque(maxlen=10_000)
        #: Token requests that succeeded (attempts are in the timings).
        self.fetches = 0

    # -- the cache ---------------------------------------------------------------------------

    def cached(self) -> Token | None:
        """The cached token if it is still fresh, else None. Never makes a request."""
        token = self._cache.get(self._key)
        if token is not None and token.fresh(self.settings.token_skew):
            return token
        return None

    def get(self, force: bool = False) -> Token:
        """A fresh token: the cached one, or one new request shared by all concurrent callers."""
        if not force:
            token = self.cached()
            if token is not None:
                return token
        stale = self._cache.get(self._key)
        with self._lock:
            current = self._cache.get(self._key)
            if current is not None and current is not stale and current.fresh(self.settings.token_skew):
                return current  # another caller fetched while we waited
            if not force and current is not None and current.fresh(self.settings.token_skew):
                return current
            token = self._fetch()
            self._cache[self._key] = token
            self.history.append(token)
            self.fetches += 1
            return token

    async def aget(self, force: bool = False) -> Token:
        """`get()` for asyncio: the cache hit stays on the loop, a fetch runs in a worker thread."""
        if not force:
            token = self.cached()
            if token is not None:
                return token
        return await asyncio.to_thread(self.get, force)

    def invalidate(self, token: Token) -> None:
        """Drop `token` from the cache if it is still the cached one (after a 401)."""
        with self._lock:
            if self._cache.get(self._key) is token:
                del self._cache[self._key]
                log.debug("dropped token %s after 401", token.fingerprint)

    def close(self) -> None:
        self._client.close()

    # -- the request -------------------------------------------------------------------------

    def _request(self) -> httpx.Request:
        s = self.settings
        secret = s.client_secret.reveal()
        form = {"grant_type": "client_credentials", "scope": s.scope_string}
        headers = {"Accept": "application/json"}
        if s.token_auth_method == "client_secret_basic":
            pair = f"{quote_plus(s.client_id)}:{quote_plus(secret)}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
        else:
            form |= {"client_id": s.client_id, "client_secret": secret}
        assert s.token_url is not None
        request = self._client.build_request("POST", s.token_url, data=form, headers=headers)
        request.extensions[META] = {"kind": "token", "endpoint": "/oauth2/token"}
        return request

    def _fetch(self) -> Token:
        s = self.settings
        request = self._request()
        last: TokenError | None = None
        try:
            for attempt in stamina.retry_context(
                on=_retry_hook,
                attempts=s.retry_attempts,
                timeout=s.retry_timeout,
                wait_initial=0.25,
                wait_max=5.0,
                wait_jitter=0.25,
            ):
                with attempt:
                    log.debug("token request to %s (attempt %d)", s.token_url, attempt.num)
                    return self._attempt(request)
        except TokenError as exc:
            last = exc
        assert last is not None
        if isinstance(last, _RetryableTokenError):  # show callers the public class
            public = TokenTransportError if isinstance(last, TokenTransportError) else TokenError
            error = public.__new__(public)
            error.__dict__.update(last.__dict__)
            error.args = last.args
            last = error
        tries = request.extensions[META].get("attempt", 1)
        if tries > 1:
            last.message += f" (after {tries} attempts)"
        raise last from None  # keep httpx internals and the request body out of tracebacks

    def _attempt(self, request: httpx.Request) -> Token:
        s = self.settings
        sent_at = self.clock()
        started = time.perf_counter()
        where = f"{s.token_url} ({s.environment})"
        try:
            response = self._client.send(request)
        except httpx.TimeoutException:
            # Retried like a refused connection: a client-credentials grant changes nothing on the
            # server, so sending it again costs at most a token that is never used.
            raise _transport_error(
                _RetryableTransportError, f"token request timed out after {s.timeout:g}s: {where}", s
            ) from None
        except httpx.ConnectError:
            raise _transport_error(
                _RetryableTransportError, f"could not connect to the token endpoint {where}", s
            ) from None
        except httpx.TransportError as exc:
            raise _transport_error(
                _RetryableTransportError,
                f"connection to the token endpoint {where} failed: {type(exc).__name__}",
                s,
            ) from None
        except httpx.RequestError as exc:  # DecodingError: a body that claims gzip and is not
            raise TokenError(
                f"token endpoint {where} answered a body that cannot be decoded ({type(exc).__name__})",
                url=s.token_url,
                environment=s.environment,
                hint="check DAILYPAY_TOKEN_URL; a proxy may be rewriting the response",
            ) from None
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        return self._parse(response, sent_at, elapsed_ms)

    def _parse(self, response: httpx.Response, sent_at: float, elapsed_ms: float) -> Token:
        s = self.settings
        secret = s.client_secret.reveal()
        status = response.status_code
        content_type = response.headers.get("content-type", "")
        request_id = response.headers.get("x-request-id")
        common: dict[str, Any] = {
            "status": status,
            "content_type": content_type,
            "request_id": request_id,
            "elapsed_ms": elapsed_ms,
            "url": s.token_url,
            "environment": s.environment,
        }
        try:
            data = response.json() if response.content else None
        except (ValueError, UnicodeDecodeError):
            data = None
        if 300 <= status < 400:
            raise TokenError(
                f"token endpoint redirected ({status}) to {response.headers.get('location', '?')!r}",
                hint="not following it with the client secret; set DAILYPAY_TOKEN_URL to the final URL",
                **common,
            )
        if status == 200 and data is not None:
            try:
                token = Token.from_response(
                    data,
                    requested_scope=s.scope,
                    sent_at=sent_at,
                    default_ttl=s.default_token_ttl,
                    environment=s.environment,
                    client_id=s.client_id,
                    elapsed_ms=elapsed_ms,
                    status=status,
                    clock=self.clock,
                )
            except TokenError as exc:
                exc.request_id, exc.elapsed_ms, exc.url, exc.environment = (
                    request_id,
                    elapsed_ms,
                    s.token_url,
                    s.environment,
                )
                raise
            log.debug(
                "token %s obtained from %s, expires in %s s",
                token.fingerprint,
                s.token_url,
                token.expires_in,
            )
            return token
        error_cls = _RetryableTokenError if status in RETRY_STATUSES else TokenError
        if isinstance(data, Mapping) and (data.get("error") or data.get("error_code")):
            code = str(data.get("error") or data.get("error_code"))[:60]
            description = data.get("error_description")
            description = redact(str(description), secret) if description else None
            uri = data.get("error_uri")
            error = error_cls(
                f"token request refused: {redact(code, secret)} (HTTP {status})"
                + (f": {description}" if description else ""),
                error=redact(code, secret),
                description=description,
                error_uri=str(uri)[:200] if uri else None,
                hint=_HINTS.get(code, "")
                + (f" (requested: {s.scope_string})" if code == "invalid_scope" else ""),
                **common,
            )
        else:
            snippet = redact(response.text[:300], secret, limit=120) if response.content else ""
            what = "empty body" if not response.content else f"{content_type or 'no content type'}"
            if status == 200:
                message = f"token endpoint answered 200 with an unusable body ({what})"
            else:
                message = f"token endpoint answered HTTP {status} ({what})"
            error = error_cls(
                message + (f": {snippet}" if snippet else ""),
                snippet=snippet,
                hint="check DAILYPAY_TOKEN_URL" if status in (200, 404, 405) else "",
                **common,
            )
        if isinstance(error, _RetryableTokenError):
            error.retry_after = _retry_after(response.headers.get("retry-after"), s.retry_timeout)
        raise error


def _transport_error(cls: type[TokenError], message: str, s: Settings) -> TokenError:
    return cls(
        message,
        url=s.token_url,
        environment=s.environment,
        hint="check DAILYPAY_TOKEN_URL and your network; for the sandbox, is it running?",
    )


class ClientCredentialsAuth(httpx.Auth):
    """An `httpx.Auth` that attaches a cached client-credentials token, for any httpx client.

    On a 401 it drops the token, fetches a new one once and sends the request once more;
    a second 401 is returned to the caller.
    """

    def __init__(self, provider: TokenProvider) -> None:
        self.provider = provider

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        return self.sync_auth_flow(request)

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self.provider.get()
        request.headers["Authorization"] = token.authorization()
        response = yield request
        if response.status_code == 401:
            self.provider.invalidate(token)
            request.headers["Authorization"] = self.provider.get().authorization()
            yield request

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self.provider.aget()
        request.headers["Authorization"] = token.authorization()
        response = yield request
        if response.status_code == 401:
            self.provider.invalidate(token)
            request.headers["Authorization"] = (await self.provider.aget()).authorization()
            yield request


class StaticTokenAuth(httpx.Auth):
    """Attaches a token supplied by the caller (e.g. a user token); no refresh, no retry."""

    def __init__(self, token: Secret) -> None:
        self.token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = "Bearer " + self.token.reveal()
        yield request

    def __repr__(self) -> str:
        return f"StaticTokenAuth({self.token.masked})"
