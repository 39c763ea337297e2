"""`ApiResponse`: one REST answer, with its body as JSON, frames, errors and timing.

Strictly private. Everything is derived lazily from the raw bytes: nothing is parsed until
asked, and the frame is built once. Of the request, only what `to_curl` repeats is kept
(method, URL, version header, Idempotency-Key, body): never the Authorization header.
`_jsonapi` (and with it pandas) is imported on first use, so `import dailypay_nb` stays light.
"""

from __future__ import annotations

import html
import json as _json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from ._exceptions import ApiError, ArgumentError, DocumentError
from ._operations import operation_for, scope_hint
from ._redact import REDACTOR, redact_tree

if TYPE_CHECKING:
    import pandas as pd

    from ._curl import Sent
    from ._timings import TimingRow

__all__ = ["ApiResponse"]

_UNSET: Any = object()


class ApiResponse:
    """The answer to one API request.

    `.json()` is the parsed body, `.frame` its primary data as a DataFrame (built once),
    `.included` the included resources, `.errors` the error objects (a list of dicts) and
    `.errors_frame` the same as a DataFrame, `.timing` the exchange's timing row and
    `.request_id` DailyPay's request id.

    Server text is untrusted: header values are redacted when first read, an error answer's
    body and members are redacted on arrival, and a 2xx body has the session's live secrets
    masked (see the README's Secrets section). `to_curl()` gives a command that repeats the
    request; the Authorization header (so the token) is never kept.
    """

    def __init__(
        self,
        *,
        status: int,
        headers: httpx.Headers,
        body: bytes,
        method: str,
        url: str,
        endpoint: str | None,
        timing: dict[str, Any] | TimingRow | None,
        request: Sent | None = None,
    ) -> None:
        self._sent = request
        self._status = status
        self._raw_headers = headers
        self._headers: httpx.Headers | None = None
        self.method = method.upper()
        self.url = url
        self.path = urlsplit(url).path or url
        self.endpoint = endpoint or _template(self.method, self.path)
        self._timing = timing
        self._json: Any = _UNSET
        self._frame: pd.DataFrame | None = None
        if 200 <= status < 300:
            self.body = REDACTOR.scrub_body(body)
        else:  # an error answer: parsed and redacted now (small, rare, and shown everywhere)
            self._json = self._parse(body, redacted=True)
            self.body = REDACTOR.redact(body, limit=None).encode() if body.strip() else b""

    # -- basics ------------------------------------------------------------------------------

    @property
    def status(self) -> int:
        """The HTTP status code."""
        return self._status

    @property
    def ok(self) -> bool:
        """True for a 2xx status."""
        return 200 <= self._status < 300

    @property
    def headers(self) -> httpx.Headers:
        """The response headers, each value redacted."""
        if self._headers is None:
            self._headers = httpx.Headers(
                [(k, REDACTOR.redact(v, limit=None)) for k, v in self._raw_headers.items()], encoding="utf-8"
            )
            self._raw_headers = self._headers
        return self._headers

    @property
    def timing(self) -> dict[str, Any] | None:
        """This exchange's timing row (phases in ms), when timings were recorded."""
        timing = self._timing
        if timing is not None and not isinstance(timing, dict):  # a row as recorded: named now
            timing = self._timing = timing._asdict()
        return timing

    @property
    def content_type(self) -> str:
        """The media type of the body, without parameters."""
        value: str = self.headers.get("content-type", "")
        return value.split(";")[0].strip().lower()

    def json(self) -> Any:
        """The parsed body (None for an empty body). A body that is not JSON raises `DocumentError`."""
        if self._json is _UNSET:
            self._json = self._parse(self.body)
        if isinstance(self._json, DocumentError):
            raise self._json
        return self._json

    def _parse(self, body: bytes, redacted: bool = False) -> Any:
        if not body.strip():
            return None
        try:
            value = _json.loads(body)
        except (ValueError, RecursionError):
            snippet = REDACTOR.redact(body[:2000], limit=120)
            return DocumentError(
                f"{self._where()} → {self._status}: the body is not JSON "
                f"({self.content_type or 'no content type'}): {snippet!r}"
            )
        return redact_tree(value) if redacted else value

    def _safe_json(self) -> Any:
        try:
            return self.json()
        except DocumentError:
            return None

    def _snippet(self, limit: int = 120) -> str:
        return REDACTOR.redact(self.body[:2000], limit=limit)

    # -- frames ------------------------------------------------------------------------------

    @property
    def resource_type(self) -> str | None:
        """The resource type the operation returns (`jobs`, …), when the endpoint is known."""
        op = operation_for(self.method, self.endpoint or self.path)
        return op.resource_type if op else None

    @property
    def frame(self) -> pd.DataFrame:
        """The primary data as a DataFrame (see `_jsonapi`); built on first access, then cached."""
        from . import _jsonapi

        if self._frame is None:
            self._frame = _jsonapi.to_frame(self.json(), resource_type=self.resource_type)
        return self._frame

    def to_frame(self, *, links: bool = False) -> pd.DataFrame:
        """The primary data as a new DataFrame, with `links.self` when `links=True`."""
        from . import _jsonapi

        return _jsonapi.to_frame(self.json(), links=links, resource_type=self.resource_type)

    @property
    def included(self) -> pd.DataFrame:
        """The `included` resources as a DataFrame (empty when none were asked for)."""
        from . import _jsonapi

        return _jsonapi.included_frame(self.json())

    @property
    def errors(self) -> list[dict[str, Any]]:
        """The error objects of the body, as dicts (`[]` when there are none)."""
        from . import _jsonapi

        return _jsonapi.errors(self._safe_json())

    @property
    def errors_frame(self) -> pd.DataFrame:
        """The error objects of the body, one row each (empty when there are none)."""
        from . import _jsonapi

        return _jsonapi.errors_frame(self.errors)

    @property
    def request_id(self) -> str | None:
        """`X-Request-Id` of the response, else `meta.request_id` of the first error."""
        found = self._header_request_id()
        if found:
            return found
        items = self.errors
        meta = items[0].get("meta") if items else None
        value = meta.get("request_id") if isinstance(meta, dict) else None
        return str(value) if value is not None else None

    def _header_request_id(self) -> str | None:
        value: str | None = self.headers.get("x-request-id")
        return value

    # -- errors ------------------------------------------------------------------------------

    def _where(self) -> str:
        return f"{self.method} {self.path}"

    def raise_for_status(self) -> ApiResponse:
        """Raise `ApiError` for a non-2xx status; return self otherwise."""
        if self.ok:
            return self
        raise self.to_error()

    def to_error(self, note: str | None = None) -> ApiError:
        """The `ApiError` this response stands for (whatever its status); `note` ends its message."""
        items = self.errors
        first = items[0] if items else {}
        code = _str_or_none(first.get("code"))
        detail = _str_or_none(first.get("detail"))
        source = first.get("source") if isinstance(first.get("source"), dict) else None
        request_id = self.request_id
        return ApiError(
            _message(
                self._where(),
                self._status,
                code,
                detail,
                request_id,
                self._plain_detail(),
                attempts=(self.timing or {}).get("attempt") or 1,
            )
            + (f"; {note}" if note else ""),
            status=self._status,
            code=code,
            detail=detail,
            source=source,
            request_id=request_id,
            errors=items,
            timing=self.timing,
            method=self.method,
            url=self.url,
            attempts=(self.timing or {}).get("attempt") or 1,
            hint=self._hint(code, source) if not note else "wait until then, or raise DAILYPAY_RETRY_TIMEOUT",
        )

    def _plain_detail(self) -> str | None:
        """For bodies that are not a JSON:API error document: a short snippet."""
        if self.errors or not self.body.strip():
            return None
        doc = self._safe_json()
        if isinstance(doc, dict):
            for key in ("error_description", "error", "detail", "message"):
                if isinstance(doc.get(key), str):
                    return REDACTOR.redact(doc[key], limit=120)
        return self._snippet(80)

    def _hint(self, code: str | None, source: dict[str, Any] | None) -> str:
        op = operation_for(self.method, self.endpoint or self.path)
        status = self._status
        if status == 401:
            return (
                "the token was refused: it expired, was revoked, or belongs to another "
                "environment (check DAILYPAY_ENVIRONMENT, the API and token URLs)"
            )
        if status == 403:
            if op is None:
                return "the token lacks a scope or type this operation needs"
            if op.user_token_required:
                return (
                    f"{scope_hint(op)}: use session.with_user_token(token) "
                    "(sandbox: dp.sandbox.as_user(session))"
                )
            return f"{scope_hint(op)}; connect with scope={' '.join(op.client_scopes)!r}"
        if status == 404 and code == "RECORD_NOT_FOUND":
            return "no record with that id in this environment; ids differ between environments"
        if status == 409 and code == "IDEMPOTENCY_KEY_LOCKED":
            return "another request with this Idempotency-Key is in flight; retry with the same key"
        if status == 400 and source:
            where = source.get("parameter") or source.get("pointer") or source.get("header")
            if where:
                return f"look at {where}"
        if status >= 500:
            return "a server-side failure; retry later and quote the request id"
        return ""

    # -- repeating it ------------------------------------------------------------------------

    def to_curl(self, token: str = "$DAILYPAY_TOKEN") -> str:
        """A curl command that repeats this request, the token as the shell variable `token`.

        It carries the method, URL, `Accept`, `DailyPay-API-Version`, the `Idempotency-Key`
        of a write and the JSON body; never the token itself (`token` must be a variable such
        as `$DAILYPAY_TOKEN`). Body members holding credentials or card and account numbers
        are masked. A request that went without a token (the card tokenizer) has no
        Authorization header.
        """
        from ._curl import check_variable, render
        from ._har import mask_body

        variable = check_variable("token", token)
        sent = self._sent
        if sent is None:
            raise ArgumentError(
                f"{self._where()}: this response was not made by a session, so its request is unknown",
                hint="use a response from session.request() or session.get()",
            )
        content_type = next((v for n, v in sent.headers if n.lower() == "content-type"), "")
        body = mask_body(sent.body, content_type) if sent.body else None
        return render(
            sent.method, sent.url, sent.headers, body, token=variable if sent.authenticated else None
        )

    # -- display -----------------------------------------------------------------------------

    def _total_ms(self) -> float | None:
        value = (self.timing or {}).get("total_ms")
        return float(value) if isinstance(value, (int, float)) else None

    def __repr__(self) -> str:
        ms = self._total_ms()
        took = f", {ms:.1f} ms" if ms is not None else ""
        return f"<ApiResponse {self._where()} → {self._status}{took}>"

    def _repr_html_(self) -> str:
        ms = self._total_ms()
        facts = [
            f"<b>{html.escape(self._where())}</b> → {self._status}",
            f"{ms:.1f} ms" if ms is not None else "",
            f"request {html.escape(self.request_id or '')}" if self.request_id else "",
        ]
        head = "<p>" + " · ".join(f for f in facts if f) + "</p>"
        return head + self._body_html()

    def _body_html(self) -> str:
        from . import _jsonapi

        if not self.ok:
            items = self.errors
            if items:
                return str(_jsonapi.errors_frame(items).to_html(index=False))
            return f"<pre>{html.escape(self._snippet())}</pre>"
        try:
            frame = self.frame
        except Exception as exc:  # a display must not raise
            return f"<pre>{html.escape(str(exc))}</pre>"
        more = f"<p>{len(frame)} rows; first 5 shown</p>" if len(frame) > 5 else ""
        return str(frame.head(5).to_html()) + more


def _template(method: str, path: str) -> str | None:
    op = operation_for(method, path)
    return op.path if op else None


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _message(
    where: str,
    status: int,
    code: str | None,
    detail: str | None,
    request_id: str | None,
    plain: str | None,
    attempts: int = 1,
) -> str:
    """`GET /rest/jobs/… → 404 RECORD_NOT_FOUND: Could not find … (request 3c526bf4…)`."""
    text = f"{where} → {status}"
    if code:
        text += f" {code}"
    if detail or plain:
        text += f": {REDACTOR.redact(detail or plain or '', limit=160)}"
    if request_id:
        text += f" (request {request_id[:8]}…)" if len(request_id) > 8 else f" (request {request_id})"
    if attempts > 1:
        text += f", after {attempts} attempts"
    return " ".join(text.split())
