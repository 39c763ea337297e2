"""The client-credentials token cache (single flight) and the token request itself.

Strictly private. `TokenProvider.get()` returns the cached token while it is fresh (see
`Token.fresh` for the skew rule) and otherwise makes exactly one token request however many
threads or tasks ask at once; waiters give up at their own deadline. The request is a `Call`
of `_flow`, so it is retried, bounded and timed like an API call (each attempt a timing row
of kind "token").
"""

from __future__ import annotations

import asyncio
import base64
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote_plus

import httpx

from ._config import Settings
from ._deadline import CURRENT, Deadline, guard
from ._exceptions import TokenError, TokenTransportError
from ._flow import Answer, Call, Failure, exchange, run
from ._redact import REDACTOR, redact
from ._retry import RETRY_STATUSES
from ._timings import META, RecordingTransport, TimingRecorder
from ._tls import transport as default_transport
from ._token import Token, parse_token_body

__all__ = ["TokenProvider"]

log = logging.getLogger("dailypay_nb")
log.addHandler(logging.NullHandler())
# stamina logs each scheduled retry at WARNING; without this, Python's last-resort handler would
# print them into every notebook cell that retries. Configured logging still receives them.
logging.getLogger("stamina").addHandler(logging.NullHandler())

#: Token answers are small; anything bigger is not a token answer.
MAX_TOKEN_ANSWER = 1024 * 1024

_HINTS = {
    "invalid_client": "check DAILYPAY_CLIENT_ID and DAILYPAY_CLIENT_SECRET for this environment",
    "invalid_scope": "request only scopes granted to this client (DAILYPAY_SCOPE)",
    "unauthorized_client": "this client may not use the client-credentials grant; ask DailyPay",
    "unsupported_grant_type": "the token endpoint does not accept grant_type=client_credentials here",
    "invalid_request": "the token request was malformed; check DAILYPAY_TOKEN_URL and the settings",
    "invalid_grant": "the grant was refused; check the credentials and scopes",
}


class _Masked(dict[str, str]):
    """Form fields and headers that carry the client secret: shown masked in any traceback."""

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{k!r}: …" for k in self) + "}"


class TokenCall(Call[Token]):
    """One client-credentials grant: the form-encoded request and what its answer means."""

    def __init__(self, provider: TokenProvider, deadline: Deadline) -> None:
        s = provider.settings
        super().__init__(
            deadline=deadline,
            limit=min(s.max_response_bytes, MAX_TOKEN_ANSWER),
            attempts=s.retry_attempts,
            retry_timeout=s.retry_timeout,
            retry=True,  # a client-credentials grant changes nothing on the server: always safe to resend
        )
        self.settings = s
        self.clock = provider.clock
        self.sent_at = provider.clock()
        self.started = time.perf_counter()
        self.request = _token_request(provider._client, s)

    def retry_statuses(self) -> frozenset[int]:
        return RETRY_STATUSES

    def finish(self) -> Token:
        s, last = self.settings, self.last
        where = f"{s.token_url} ({s.environment})"
        tries = f" (after {self.attempts} attempts)" if self.attempts > 1 else ""
        common: dict[str, Any] = {"url": s.token_url, "environment": s.environment, "attempts": self.attempts}
        if isinstance(last, Failure):
            raise TokenTransportError(
                f"token request to {where}: {last.cause}{tries}",
                hint="check DAILYPAY_TOKEN_URL and your network"
                + ("; for the sandbox, is it running?" if s.environment == "sandbox" else ""),
                **common,
            )
        assert isinstance(last, Answer)
        elapsed_ms = (time.perf_counter() - self.started) * 1000.0
        status = last.status
        # Header values are the server's text: redacted before they are used, and never held in
        # a local (httpx.Headers' repr shows them; a traceback showing locals would print it).
        common |= {
            "status": status,
            "content_type": _header(last, "content-type") or "",
            "request_id": _header(last, "x-request-id"),
            "elapsed_ms": elapsed_ms,
        }
        try:
            data = parse_token_body(last.body) if last.body.strip() else None  # its repr is masked
        except ValueError:
            data = None
        if refused := self.refused_retry():
            raise TokenError(f"token endpoint {where} answered HTTP {status}: {refused}", **common)
        if 300 <= status < 400:
            location = _header(last, "location", 120) or "?"
            raise TokenError(
                f"token endpoint redirected ({status}) to {location!r}",
                hint="not following it with the client secret; set DAILYPAY_TOKEN_URL to the final URL",
                **common,
            )
        if status == 200 and data is not None:
            return self._token(data, common)
        raise self._refusal(data, last.body, common, tries)

    def _token(self, data: Any, common: dict[str, Any]) -> Token:
        s = self.settings
        try:
            token = Token.from_response(
                data,
                requested_scope=s.scope,
                sent_at=self.sent_at,
                default_ttl=s.default_token_ttl,
                environment=s.environment,
                client_id=s.client_id,
                elapsed_ms=common["elapsed_ms"],
                status=200,
                clock=self.clock,
            )
        except TokenError as exc:
            error = TokenError(exc.message, hint=exc.hint, **common)
        else:
            log.debug(
                "token %s obtained from %s, expires in %s s", token.fingerprint, s.token_url, token.expires_in
            )
            return token
        raise error  # outside the except block: no chained context holding the parsed answer

    def _refusal(self, data: Any, body: bytes, common: dict[str, Any], tries: str) -> TokenError:
        s, status = self.settings, common["status"]
        if isinstance(data, Mapping) and (data.get("error") or data.get("error_code")):
            code = redact(data.get("error") or data.get("error_code"), limit=60)
            description = data.get("error_description")
            description = redact(description, limit=300) if description else None
            uri = data.get("error_uri")
            hint = _HINTS.get(code, "") + (
                f" (requested: {s.scope_string})" if code == "invalid_scope" else ""
            )
            return TokenError(
                f"token request refused: {code} (HTTP {status})"
                + (f": {description}" if description else "")
                + tries,
                error=code,
                description=description,
                error_uri=str(uri) if uri else None,
                hint=hint,
                **common,
            )
        snippet = redact(body, limit=120) if body.strip() else ""
        what = "empty body" if not body.strip() else common["content_type"] or "no content type"
        if status == 200:
            message = f"token endpoint answered 200 with an unusable body ({what})"
        else:
            message = f"token endpoint answered HTTP {status} ({what})"
        return TokenError(
            message + (f": {snippet}" if snippet else "") + tries,
            snippet=snippet,
            hint="check DAILYPAY_TOKEN_URL" if status in (200, 404, 405) else "",
            **common,
        )


def _header(answer: Answer, name: str, limit: int = 100) -> str | None:
    value = answer.response.headers.get(name)
    return None if value is None else redact(value, limit=limit)


def _token_request(client: httpx.Client, s: Settings) -> httpx.Request:
    """The grant request. The secret goes straight into the body or the Basic header."""
    form = _Masked(grant_type="client_credentials", scope=s.scope_string)
    headers = _Masked(Accept="application/json")
    if s.token_auth_method == "client_secret_basic":
        pair = f"{quote_plus(s.client_id)}:{quote_plus(s.client_secret.reveal())}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        del pair
    else:
        form |= {"client_id": s.client_id, "client_secret": s.client_secret.reveal()}
    assert s.token_url is not None
    request = client.build_request("POST", s.token_url, data=form, headers=headers)
    request.extensions[META] = {"kind": "token", "endpoint": "/oauth2/token"}
    return request


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
        REDACTOR.add(settings.client_secret, client_id=settings.client_id)
        inner = transport or default_transport()
        guard(inner)
        self._client = httpx.Client(
            transport=RecordingTransport(inner, recorder, "token"),
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
        self._fresh_until: tuple[Token | None, float] = (None, 0.0)  # see `cached`
        self._lock = threading.Lock()
        #: Every token obtained, oldest first (for `session.tokens`).
        self.history: deque[Token] = deque(maxlen=10_000)
        #: Token requests that succeeded (attempts are in the timings).
        self.fetches = 0

    # -- the cache ---------------------------------------------------------------------------

    def cached(self) -> Token | None:
        """The cached token if it is still fresh, else None. Never makes a request."""
        token = self._cache.get(self._key)
        if token is None:
            return None
        held, until = self._fresh_until
        if token is held and token._clock() < until:  # asked on every request: no datetime math
            return token
        if token.fresh(self.settings.token_skew):
            self._fresh_until = (token, token._refresh_at(self.settings.token_skew))
            return token
        return None

    def get(self, force: bool = False, *, deadline: Deadline | None = None) -> Token:
        """A fresh token: the cached one, or one new request shared by all concurrent callers.

        Waits at most until `deadline` (the current call's, else `settings.deadline`) for
        another caller's request, then raises `TokenTransportError` naming the deadline.
        """
        if not force and (token := self.cached()) is not None:
            return token
        deadline = deadline or CURRENT.get() or Deadline(self.settings.deadline)
        stale = self._cache.get(self._key)
        deadline.doing = "waiting for another call's token request"
        if not self._lock.acquire(timeout=max(deadline.remaining(), 0.0)):
            raise TokenTransportError(
                f"token request to {self.settings.token_url}: {deadline.describe()}",
                url=self.settings.token_url,
                environment=self.settings.environment,
                hint="the token endpoint is slow; raise DAILYPAY_DEADLINE or try again",
            )
        try:
            current = self._cache.get(self._key)
            if (
                current is not None
                and current.fresh(self.settings.token_skew)
                and (current is not stale or not force)
            ):
                return current  # fresh, or fetched by another caller while we waited
            token = run(TokenCall(self, deadline), self._send)
            self._cache[self._key] = token
            self.history.append(token)
            self.fetches += 1
            return token
        finally:
            self._lock.release()

    async def aget(self, force: bool = False) -> Token:
        """`get()` for asyncio: the cache hit stays on the loop, a fetch runs in a worker thread."""
        if not force and (token := self.cached()) is not None:
            return token
        deadline = CURRENT.get() or Deadline(self.settings.deadline)
        try:
            return await asyncio.to_thread(self.get, force, deadline=deadline)
        except asyncio.CancelledError:
            deadline.cancel("cancelled")  # the worker thread's request ends now, releasing the lock
            raise

    def invalidate(self, token: Token) -> None:
        """Drop `token` from the cache if it is still the cached one (after a 401)."""
        with self._lock:
            if self._cache.get(self._key) is token:
                del self._cache[self._key]
                log.debug("dropped token %s after 401", token.fingerprint)

    def close(self) -> None:
        self._client.close()

    def _send(self, call: Call[Any]) -> Any:
        assert isinstance(call, TokenCall)
        call.sent_at, call.started = self.clock(), time.perf_counter()
        log.debug("token request to %s (attempt %d)", self.settings.token_url, call.attempts)
        return exchange(self._client, call)
