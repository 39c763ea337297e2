"""What `Session` and `AsyncSession` share: settings, tokens, timings, frames and request building.

Strictly private. Everything but sending lives here; `ApiCall` holds one API request and what
its outcomes mean (see `_flow`), so both sessions make the same decisions by construction.

Besides the API origin, a session accepts the payments host (`settings.payments_url`) for the
card tokenizer, which goes without a token. Each session's recorder carries an
`ExchangeStore` (`_har`) that keeps what HAR export needs beyond the timing rows.
"""

from __future__ import annotations

import html
import json as _json
import os
import re
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import httpx

from ._auth import ClientCredentialsAuth, StaticTokenAuth, origin
from ._config import Settings
from ._curl import Sent
from ._deadline import Deadline, guard
from ._exceptions import ApiError, ApiTransportError, ArgumentError
from ._flow import Answer, Call, Failure, Outcome, Raw, masked_url
from ._har import ExchangeStore
from ._operations import OPERATIONS
from ._provider import TokenProvider
from ._redact import REDACTOR
from ._response import ApiResponse
from ._retry import RETRY_STATUSES
from ._secret import MASK, Secret
from ._timings import META, RecordingTransport, TimingRecorder
from ._token import Token
from ._version import __version__

if TYPE_CHECKING:
    import pandas as pd

    from ._contract_log import CallCheck

__all__ = ["JSONAPI", "ApiCall", "SessionBase", "last_session", "remember"]

JSONAPI = "application/vnd.api+json"
#: Paths of the operations declared with `security: []` (the card tokenizer): sent without a
#: token even when they share the API's origin (as in the sandbox), as plain JSON.
_ANONYMOUS = tuple(op.path for op in OPERATIONS.values() if not op.authenticated)
_NO_AUTH = httpx.Auth()
#: Retried without an Idempotency-Key. Not PUT or DELETE: they are writes, and a DELETE whose
#: answer was lost would be re-sent and end in a 404 for an account that was in fact deleted.
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})
_URL_CACHE_SIZE = 1024
S = TypeVar("S", bound="SessionBase[Any]")
C = TypeVar("C", httpx.Client, httpx.AsyncClient)
R = TypeVar("R")  # what a request returns: an ApiResponse (sync) or an awaitable of one (async)


class ApiCall(Call[ApiResponse]):
    """One API request: built and checked here, judged by `Call`, finished into an `ApiResponse`."""

    def __init__(
        self,
        session: SessionBase[Any],
        request: httpx.Request,
        *,
        retry: bool | None,
        raise_for_status: bool,
        deadline: float | None,
        keyed: bool | None = None,
    ) -> None:
        s = session.settings
        if keyed is None:  # (False: the caller knows it sent no headers of its own)
            keyed = "idempotency-key" in request.headers
        allowed = retry if retry is not None else (request.method in _IDEMPOTENT or keyed)
        super().__init__(
            deadline=Deadline(s.deadline if deadline is None else deadline),
            limit=s.max_response_bytes,
            attempts=s.retry_attempts,
            retry_timeout=s.retry_timeout,
            retry=allowed,
        )
        self.request = request
        self.anonymous = bool(request.extensions[META].get("anonymous"))
        self.auth = _NO_AUTH if self.anonymous else session._auth
        self._cvv = _cvv_pattern(request) if self.anonymous else None
        self._exchanges = session._exchanges
        self.environment = s.environment
        self.raise_for_status = raise_for_status
        self._statuses = RETRY_STATUSES | {409} if keyed else RETRY_STATUSES
        #: The contract checks (`validate`): the request now, each answer as it comes.
        self.contract: CallCheck | None = None
        if s.validate:
            from ._contract_log import CallCheck

            self.contract = CallCheck(session._recorder, s.timings_buffer, s.validate == "strict", request)

    def retry_statuses(self) -> frozenset[int]:
        return self._statuses

    def first(self, outcome: Outcome) -> bool:
        outcome = self._scrubbed(outcome)
        if self.contract is not None:
            self.contract.seen(outcome, self.request.extensions[META].get("row"))
        return super().first(outcome)

    def settle(self, outcome: Outcome | None) -> None:
        if outcome is not None:
            outcome = self._scrubbed(outcome)
        if self.contract is not None and outcome is not None:
            self.contract.seen(outcome, self.request.extensions[META].get("row"))
        super().settle(outcome)

    def _scrubbed(self, outcome: Outcome) -> Outcome:
        """The card tokenizer's answer with the CVV masked before anything reads it.

        The redactor masks the card number (it is long) but cannot mask a three-digit code
        everywhere without destroying ordinary text; here it is masked where it stands as a
        number of its own in the one answer that could echo it.
        """
        if self._cvv is None or not isinstance(outcome, Answer):
            return outcome
        body = self._cvv.sub(MASK.encode(), outcome.body)
        return outcome if body == outcome.body else Answer(outcome.response, Raw(body))

    def finish(self) -> ApiResponse:
        request, last = self.request, self.last
        meta = request.extensions[META]
        row = meta.get("row")
        tries = f" after {self.attempts} attempts" if self.attempts > 1 else ""
        if isinstance(last, Failure):
            if self.contract is not None:
                self.contract.finish(None)
            raise ApiTransportError(
                f"{request.method} {request.url.path}: {last.cause} "
                f"({self.environment}, {request.url.host}){tries}",
                method=request.method,
                url=masked_url(request.url),
                timing=row._asdict() if row else None,
                attempts=self.attempts,
                hint=_transport_hint(self.environment, last),
            )
        assert isinstance(last, Answer)
        url = row[5] if row else str(request.url)
        result = ApiResponse(
            status=last.status,
            headers=last.response.headers,
            body=last.body,
            method=request.method,
            url=url,
            endpoint=row[4] if row else meta.get("endpoint"),
            timing=row or None,
            request=Sent.of(request, authenticated=not self.anonymous, url=url),
        )
        if row and self.anonymous and not result.ok:
            # A server may echo card data the redactor cannot know by sight (a three-digit CVV).
            self._exchanges.attach(row[0], b"", note="the card tokenizer's error answers are not kept")
        elif row:  # the body, for HAR export (the card tokenizer's answer is masked at once)
            self._exchanges.attach(row[0], result.body, sensitive=self.anonymous)
        if self.contract is not None:
            self.contract.finish(result)
        if refused := self.refused_retry():
            raise result.to_error(note=refused)
        if self.raise_for_status:
            result.raise_for_status()
        if self.contract is not None:
            self.contract.enforce()  # strict: only an answer the call would return raises here
        return result


def _cvv_pattern(request: httpx.Request) -> re.Pattern[bytes] | None:
    """The CVV of a card tokenizer request as a whole-number pattern, if the body has one."""
    try:
        value = _json.loads(request.content).get("cvv")
    except (ValueError, AttributeError, httpx.RequestNotRead):
        return None
    if not isinstance(value, str) or not value.isdigit():
        return None
    return re.compile(rb"(?<![0-9A-Za-z])" + re.escape(value.encode()) + rb"(?![0-9A-Za-z])")


def _transport_hint(environment: str, failure: Failure) -> str:
    if "deadline" in failure.cause:
        return "the server is slow or stalled; raise DAILYPAY_DEADLINE (or pass deadline=) if it is just slow"
    if "max_response_bytes" in failure.cause:
        return "raise DAILYPAY_MAX_RESPONSE_BYTES if the answer is legitimately this large"
    if "could not be sent as HTTP" in failure.cause:
        return "a header you passed has a newline, NUL or other character HTTP does not allow"
    if environment == "sandbox" and failure.cause.startswith("could not connect"):
        return (
            "is the sandbox running? (dailypay-nb sandbox, or connect() with no settings for an embedded one)"
        )
    return "check DAILYPAY_API_URL, your network and proxy settings"


class SessionBase(Generic[R]):
    """What sync and async sessions share: everything but sending (`_drive`)."""

    _client: httpx.Client | httpx.AsyncClient
    _owns_client: bool

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
        self._owns_provider = provider is None
        self._provider = provider or TokenProvider(settings, recorder)
        self._cc_auth = ClientCredentialsAuth._of(self._provider, settings)
        self._user_token = user_token
        self._user_scope = user_scope
        if user_token is not None:
            REDACTOR.add(user_token)
        self._auth: httpx.Auth = (
            StaticTokenAuth(user_token, settings.api_url) if user_token else self._cc_auth
        )
        self._api_origin = origin(settings.api_url or "http://invalid")
        payments = getattr(settings, "payments_url", None)
        self._payments_origin = origin(payments) if payments else None
        self._exchanges = ExchangeStore.of(recorder)
        self._headers = {
            "Accept": JSONAPI,
            "DailyPay-API-Version": str(settings.api_version),
            "User-Agent": f"dailypay_nb/{__version__} httpx/{httpx.__version__}",
        }
        self._urls: dict[str, httpx.URL] = {}  # path -> absolute URL, origin checked
        self._merged: dict[tuple[tuple[str, str], ...], httpx.Headers] = {}  # see `_plain`

    def _new_client(self, cls: type[C], transport: httpx.BaseTransport | httpx.AsyncBaseTransport) -> C:
        guard(transport)
        client = cls(
            transport=RecordingTransport(transport, self._recorder, "api"),
            auth=self._cc_auth,
            headers=self._headers,
            base_url=self.settings.api_url or "",
            timeout=self.settings.timeout,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=32),
        )
        # Not through the public `cookies` setter: it would copy the jar into a plain httpx.Cookies.
        client._cookies = _Cookies(client.cookies.jar)
        return client

    # -- tokens ------------------------------------------------------------------------------

    @property
    def auth(self) -> httpx.Auth:
        """An `httpx.Auth` that attaches this session's token; usable with any httpx client.

        It sends the token to this session's API origin only; requests elsewhere go without it.
        """
        return self._auth

    def token(self, force: bool = False, *, deadline: float | None = None) -> Token:
        """The client-credentials token: cached while fresh; `force=True` fetches a new one."""
        return self._provider.get(force=force, deadline=Deadline(deadline) if deadline else None)

    @property
    def current_token(self) -> Token | None:
        """The cached client-credentials token while it is fresh, else None (never fetches)."""
        return self._provider.cached()

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

    def with_user_token(self: S, token: str | Secret, scope: str = "user:read_write") -> S:
        """A session of the same kind, sharing connections and timings, that sends a user token."""
        clone = type(self).__new__(type(self))
        SessionBase.__init__(
            clone,
            self.settings,
            sandbox=self.sandbox,
            provider=self._provider,
            recorder=self._recorder,
            user_token=token if isinstance(token, Secret) else Secret(token, label="user_token"),
            user_scope=tuple(scope.split()),
        )
        clone._client = self._client
        clone._owns_client = clone._owns_provider = False
        return clone

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

    @property
    def contract_violations(self) -> pd.DataFrame:
        """Where requests and answers departed from the OpenAPI document (`validate=True`).

        One row per violation (`dailypay_nb.contract.COLUMNS`); `seq` joins to `timings`.
        Built from memory; empty when validation is off.
        """
        from ._contract_log import violations_frame

        return violations_frame(self._recorder)

    def clear_timings(self) -> None:
        """Forget the recorded timings and the headers kept for HAR (tokens are kept)."""
        self._recorder.clear()
        self._exchanges.clear()

    # -- sharing what was measured -----------------------------------------------------------

    def to_har(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        bodies: bool = False,
        run_id: str | None = None,
    ) -> dict[str, Any]:
        """The recorded exchanges as a HAR 1.2 document (a dict), written to `path` if given.

        One entry per exchange of `session.timings` (token requests and API calls, each
        attempt), with headers, sizes, phase timings and a `_dailypay_nb` member (kind,
        attempt, endpoint, run id). Authorization, cookies, secrets, tokens and card data are
        masked. `bodies=True` adds bodies (redacted; up to 16 MiB of the latest ones). Headers
        are kept for the latest 1,000 exchanges; older entries have none and say so in a comment.
        `run_id` keeps one benchmark run. Open the file in browser DevTools, Postman,
        Charles or Fiddler, or read it back with `dp.read_har`.
        """
        from ._har import to_har

        return to_har(
            self.timings,
            self._exchanges,
            path=path,
            bodies=bodies,
            run_id=run_id,
            comment=f"{self.settings.environment}, {self.token_kind} token",
        )

    def to_curl(
        self,
        seq: int | None = None,
        *,
        token: str = "$DAILYPAY_TOKEN",
        client_secret: str = "$DAILYPAY_CLIENT_SECRET",
    ) -> str:
        """A curl command repeating recorded exchange `seq` (default: the latest one).

        Credentials are shell variables, never values: an API request sends
        `Authorization: Bearer $DAILYPAY_TOKEN`, a token request `$DAILYPAY_CLIENT_SECRET`.
        Secret body members are masked. `ApiResponse.to_curl()` does the same for a response.
        """
        from ._curl import check_variable, render, token_command

        token = check_variable("token", token)
        client_secret = check_variable("client_secret", client_secret)
        frame = self.timings
        if seq is not None:
            frame = frame[frame["seq"] == seq]
        if frame.empty:
            raise ArgumentError(
                "no recorded exchange" + (f" with seq {seq}" if seq is not None else " yet"),
                hint="look up seq in session.timings",
            )
        row = frame.iloc[-1]
        number = int(row["seq"])
        s = self.settings
        if row["kind"] == "token":
            return token_command(
                token_url=s.token_url or "",
                client_id=s.client_id,
                scope=s.scope_string,
                basic=s.token_auth_method == "client_secret_basic",
                client_secret=client_secret,
            )
        held = self._exchanges.get(number)
        if held is None:
            raise ArgumentError(
                f"exchange {number} is older than the ones whose headers are kept",
                hint="use ApiResponse.to_curl() on the response you kept",
            )
        if held.request_body_size and held.request_body is None:
            raise ArgumentError(f"exchange {number}: its request body was not kept")
        named = {name.lower() for name, _ in held.request_headers}
        return render(
            str(row["method"]),
            str(row["url"]),
            held.request_headers,
            held.request_body,
            token=token if "authorization" in named else None,
        )

    # -- building requests -------------------------------------------------------------------

    def _drive(self, call: ApiCall) -> R:
        """Run `call` through the shared flow: `run` (sync) or a coroutine of `arun` (async)."""
        raise NotImplementedError

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
        deadline: float | None = None,
    ) -> R:
        """Send one API request and return its `ApiResponse` (awaitable on an `AsyncSession`).

        Retries 429/5xx answers and connection failures for GETs and for writes with an
        `Idempotency-Key` (`retry=True` allows them for any request, `retry=False` for none),
        all within `deadline` seconds (default `settings.deadline`). Raises `ApiError` for a
        non-2xx answer unless `raise_for_status=False`, `ApiTransportError` when no answer came.
        """
        request = self._build(method, path, params, json, headers, endpoint)
        keyed = None if headers else False  # an Idempotency-Key is only ever the caller's
        return self._drive(
            ApiCall(
                self, request, retry=retry, raise_for_status=raise_for_status, deadline=deadline, keyed=keyed
            )
        )

    def get(self, path: str, params: Mapping[str, Any] | None = None, **kw: Any) -> R:
        """GET `path` (e.g. "/rest/jobs") and return an `ApiResponse` (awaitable on an `AsyncSession`)."""
        return self.request("GET", path, params=params, **kw)

    def _build(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        json: Any,
        headers: Mapping[str, str] | None,
        endpoint: str | None,
    ) -> httpx.Request:
        method = method.upper()
        url = self._urls.get(path) or self._resolve(method, path)
        anonymous = method == "POST" and url.path.endswith(_ANONYMOUS)
        # The client already carries self._headers; only what differs is sent per request.
        extra: dict[str, str] = {}
        if path.endswith("/health") or anonymous:
            extra["Accept"] = "application/json"
        content = None
        if json is not None:
            content = _wire_json(json)
            extra["Content-Type"] = "application/json" if anonymous else JSONAPI
        if headers:
            extra.update(headers)
        meta: dict[str, Any] = {"kind": "api"}
        if endpoint:
            meta["endpoint"] = endpoint
        if anonymous:
            meta["anonymous"] = True
        if content is None and params is None and not headers and not self._client.cookies:
            return self._plain(method, url, extra, meta)
        try:
            return self._client.build_request(
                method, url, params=params, content=content, headers=extra or None, extensions={META: meta}
            )
        except (httpx.InvalidURL, ValueError, TypeError, AttributeError) as exc:
            problem = REDACTOR.redact(exc, limit=120)
        raise ArgumentError(
            f"{method} {REDACTOR.redact(path, limit=80)!r}: the query parameters are not usable: {problem}",
            hint="give params as a dict of strings, numbers or lists of them",
        )

    def _plain(
        self, method: str, url: httpx.URL, extra: dict[str, str], meta: dict[str, Any]
    ) -> httpx.Request:
        """The request `build_request` would make when there is no body, query, cookie or header
        of the caller's: its merged headers are made once per `extra` (~10 µs a request)."""
        key = tuple(extra.items())
        merged = self._merged.get(key)
        if merged is None:
            merged = httpx.Headers(self._client.headers)
            merged.update(extra)
            self._merged[key] = merged
        timeout = self._client.timeout.as_dict()
        return httpx.Request(method, url, headers=merged, extensions={META: meta, "timeout": timeout})

    def _resolve(self, method: str, path: str) -> httpx.URL:
        """The absolute URL of `path`, checked to be this session's API; cached per path.

        httpx would otherwise join and re-parse base URL and path on every request (~20 µs).
        """
        shown = REDACTOR.redact(path, limit=80)
        try:
            url = self._client.build_request(method, path).url
        except (httpx.InvalidURL, ValueError) as exc:
            # A parser's message may quote any part of the URL: with an @, a password's.
            problem = "it has an '@' (no user:password@)" if "@" in path else REDACTOR.redact(exc, limit=120)
        else:
            problem = ""
        if problem:
            raise ArgumentError(
                f"{method} {shown!r} is not a usable URL path: {problem}",
                hint="pass a path such as /rest/jobs; give ids and filters as arguments",
            )
        if url.userinfo:
            raise ArgumentError(
                f"{method} {shown!r}: the URL carries credentials (user:password@); nothing was sent",
                hint="pass a path such as /rest/jobs; the session authenticates with its token",
            )
        if origin(url) != self._api_origin and origin(url) != self._payments_origin:
            # An absolute URL elsewhere (a pasted link, a `links.next` from a body) would get our token.
            api = httpx.URL(self.settings.api_url or "")
            raise ApiError(
                f"{method} {masked_url(url.copy_with(path='/'))}: not this session's API "
                f"({api.scheme}://{api.netloc.decode('ascii', 'replace')}); nothing was sent",
                method=method,
                url=masked_url(url),
                hint="pass a path such as /rest/jobs; for other hosts use your own httpx client",
            )
        if len(self._urls) < _URL_CACHE_SIZE:
            self._urls[path] = url
        return url

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


class _WireBytes(bytes):
    """A request body that holds a revealed secret: its repr (in a traceback) shows none."""

    def __repr__(self) -> str:
        return f"<{len(self)} bytes, holding a secret>"


def _wire_json(value: Any) -> bytes:
    """`value` as JSON bytes; a `Secret` inside is revealed here, into the bytes sent, only."""
    revealed = False

    def reveal(item: Any) -> str:
        nonlocal revealed
        if isinstance(item, Secret):
            revealed = True
            return item.reveal()
        raise TypeError(f"{type(item).__name__} is not JSON serializable")

    try:
        data = _json.dumps(value, default=reveal).encode()
    except (TypeError, ValueError) as exc:
        problem = REDACTOR.redact(exc, limit=120)
        raise ArgumentError(
            f"the request body is not JSON: {problem}", hint="pass dicts, lists, strings and numbers"
        ) from None
    return _WireBytes(data) if revealed else data


#: The session `dp.connect()` made last (for the IPython magics); held weakly.
_LAST: list[weakref.ref[SessionBase[Any]]] = []


def remember(session: SessionBase[Any]) -> None:
    """Note `session` as the one the magics use by default."""
    _LAST[:] = [weakref.ref(session)]


def last_session() -> SessionBase[Any] | None:
    """The session `dp.connect()` made last, if it still exists."""
    return _LAST[0]() if _LAST else None


def _endpoint_lookup() -> Callable[[str, str], str | None]:
    from ._operations import endpoint_for

    return endpoint_for


class _Cookies(httpx.Cookies):
    """httpx's jar, but it looks for cookies only in responses that set one.

    httpx builds a urllib request and an email message for every response to extract cookies
    (~18 µs, more than recording the timings costs); the API authenticates with bearer tokens and
    rarely sets any.
    """

    def extract_cookies(self, response: httpx.Response) -> None:
        if "set-cookie" in response.headers:
            super().extract_cookies(response)
