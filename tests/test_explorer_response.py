"""ApiResponse: lazy JSON and frames, request ids, and errors that read as one line."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dailypay_nb._exceptions import ApiError, DailyPayError, DocumentError
from dailypay_nb._response import ApiResponse

RID = "3c526bf4-f3c0-4c4a-a4cb-95f7db8b3bbe"
JSONAPI = {"content-type": "application/vnd.api+json"}


def error_body(status: int, code: str, detail: str, **extra: Any) -> bytes:
    item = {
        "status": str(status),
        "code": code,
        "detail": detail,
        "links": {"about": "https://developer.dailypay.com/tag/Errors"},
        "meta": {"request_id": RID, "trace_id": "4016616108459136584"},
        **extra,
    }
    return json.dumps({"errors": [item]}).encode()


def response(
    status: int = 200,
    body: bytes | str | dict[str, Any] = b"",
    *,
    method: str = "GET",
    path: str = "/rest/jobs",
    headers: dict[str, str] | None = None,
    timing: dict[str, Any] | None = None,
) -> ApiResponse:
    if isinstance(body, dict):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    return ApiResponse(
        status=status,
        headers=httpx.Headers(headers if headers is not None else JSONAPI),
        body=body,
        method=method,
        url=f"https://api.dailypay.com{path}?filter%5Bperson.id%5D=x",
        endpoint=None,
        timing=timing,
    )


def test_json_and_frame_are_lazy_and_cached() -> None:
    """The body is parsed once, and the frame built once, on first use."""
    r = response(body={"data": [{"type": "jobs", "id": "j1", "attributes": {"first_name": "E"}}]})
    assert r.frame is r.frame
    assert list(r.frame.columns[:3]) == ["id", "type", "first_name"]
    assert r.ok
    assert r.endpoint == "/rest/jobs"


def test_empty_list_frame_has_the_contract_columns() -> None:
    """An empty job list still shows the job columns (type known from the endpoint)."""
    frame = response(body={"data": []}).frame
    assert "wage_rate.amount" in frame.columns
    assert "person_id" in frame.columns


def test_no_content() -> None:
    """A 204 has no JSON and an empty frame."""
    r = response(204, b"", method="DELETE", path="/rest/accounts/a1")
    assert r.json() is None
    assert r.frame.empty
    assert r.errors_frame.empty
    assert r.raise_for_status() is r


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"<html>Bad gateway</html>", "text/html"),
        (b'{"data": [', "application/vnd.api+json"),
        (b"access_token=abcdefgh123", "text/plain"),
    ],
)
def test_unreadable_2xx_body_raises_document_error(body: bytes, content_type: str) -> None:
    """A 2xx body that is not JSON raises DocumentError (not ApiError: the call succeeded) with a
    short, redacted snippet."""
    r = response(200, body, headers={"content-type": content_type})
    with pytest.raises(DocumentError, match="body is not JSON") as info:
        r.json()
    assert not isinstance(info.value, ApiError)
    assert "abcdefgh123" not in str(info.value)


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ({"x-request-id": "hdr-1", **JSONAPI}, error_body(404, "RECORD_NOT_FOUND", "x"), "hdr-1"),
        (JSONAPI, error_body(404, "RECORD_NOT_FOUND", "x"), RID),
        (JSONAPI, b"{}", None),
        (JSONAPI, b"not json", None),
    ],
)
def test_request_id(headers: dict[str, str], body: bytes, expected: str | None) -> None:
    """The header wins; else the first error's meta.request_id; never an exception."""
    assert response(404, body, headers=headers).request_id == expected


ERRORS = [
    # (status, body, path, message, hint fragment)
    (
        404,
        error_body(404, "RECORD_NOT_FOUND", "Could not find a record with the provided ID"),
        "/rest/jobs/e9d84b0d",
        f"GET /rest/jobs/e9d84b0d → 404 RECORD_NOT_FOUND: Could not find a record with the "
        f"provided ID (request {RID[:8]}…)",
        "no record with that id",
    ),
    (
        401,
        error_body(401, "INVALID_TOKEN", "The token has expired."),
        "/rest/jobs",
        f"GET /rest/jobs → 401 INVALID_TOKEN: The token has expired. (request {RID[:8]}…)",
        "expired, was revoked, or belongs to another environment",
    ),
    (
        403,
        error_body(403, "FORBIDDEN", "Missing scope."),
        "/rest/transfers",
        f"GET /rest/transfers → 403 FORBIDDEN: Missing scope. (request {RID[:8]}…)",
        "listTransfers needs a user token with user:read",
    ),
    (
        400,
        error_body(
            400,
            "INVALID_FILTER_FIELD",
            "Unknown filter.",
            source={"parameter": "filter[first_name]"},
        ),
        "/rest/jobs",
        f"GET /rest/jobs → 400 INVALID_FILTER_FIELD: Unknown filter. (request {RID[:8]}…)",
        "look at filter[first_name]",
    ),
    (
        502,
        b"<html><body>Bad gateway</body></html>",
        "/rest/jobs",
        "GET /rest/jobs → 502: <html><body>Bad gateway</body></html>",
        "retry later",
    ),
    (
        400,
        b'{"error": "invalid_request", "access_token": "leaky-value-123"}',
        "/rest/jobs",
        "GET /rest/jobs → 400: invalid_request",
        "",
    ),
]


@pytest.mark.parametrize(
    ("status", "body", "path", "message", "hint"), ERRORS, ids=[str(e[0]) + e[2] for e in ERRORS]
)
def test_raise_for_status(status: int, body: bytes, path: str, message: str, hint: str) -> None:
    """Non-2xx raises ApiError: one readable line, the error's fields and a hint."""
    timing = {"total_ms": 12.5, "endpoint": path}
    r = response(status, body, path=path, timing=timing)
    with pytest.raises(ApiError) as info:
        r.raise_for_status()
    error = info.value
    assert error.message == message
    assert "\n" not in str(error)
    assert hint in error.hint
    assert error.status == status
    assert error.timing == timing
    assert "leaky-value-123" not in str(error)


def test_api_error_fields() -> None:
    """code, detail, source, request id and every error of the body are carried."""
    body = error_body(400, "INVALID_PARAMETERS", "Bad.", source={"pointer": "/data/attributes/x"})
    error = response(400, body).to_error()
    assert (error.code, error.detail, error.request_id) == ("INVALID_PARAMETERS", "Bad.", RID)
    assert error.source == {"pointer": "/data/attributes/x"}
    assert len(error.errors) == 1
    assert error.errors_frame.loc[0, "source.pointer"] == "/data/attributes/x"
    assert response(400, body).errors_frame.loc[0, "code"] == "INVALID_PARAMETERS"


def test_403_hint_names_client_scopes() -> None:
    """For a client-credentials operation the hint names the client scopes."""
    error = response(403, error_body(403, "FORBIDDEN", "No."), path="/rest/jobs/j1").to_error()
    assert "client:lookup + client:admin" in error.hint


def test_repr_and_html_show_status_and_timing_but_no_secrets() -> None:
    """The notebook view has the request line, status, timing and the frame's head."""
    body = {"data": [{"type": "jobs", "id": f"j{i}", "attributes": {}} for i in range(7)]}
    r = response(200, body, timing={"total_ms": 12.34})
    assert repr(r) == "<ApiResponse GET /rest/jobs → 200, 12.3 ms>"
    page = r._repr_html_()
    assert "12.3 ms" in page
    assert "j4" in page
    assert "j6" not in page
    assert "7 rows" in page
    assert "Bearer" not in page
    error_page = response(404, error_body(404, "RECORD_NOT_FOUND", "x"))._repr_html_()
    assert "RECORD_NOT_FOUND" in error_page


@settings(max_examples=200, deadline=None)
@given(
    status=st.sampled_from([200, 204, 400, 401, 403, 404, 409, 500, 502]),
    body=st.binary(max_size=64)
    | st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=6),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.sampled_from(["data", "errors", "meta", "code", "x"]), inner, max_size=3)
        ),
        max_leaves=12,
    ).map(lambda v: json.dumps(v).encode()),
)
def test_junk_bodies_only_raise_dailypay_errors(status: int, body: bytes) -> None:
    """Whatever the body, properties and raise_for_status raise nothing but DailyPayError."""
    r = response(status, body)
    for read in (
        lambda: r.json(),
        lambda: r.frame,
        lambda: r.included,
        lambda: r.errors_frame,
        lambda: r.request_id,
        r.raise_for_status,
        r._repr_html_,
        lambda: repr(r),
    ):
        with contextlib.suppress(DailyPayError):
            read()
