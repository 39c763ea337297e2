"""Fuzzing JSON:API bodies: whatever a server sends (missing data, nulls, wrong types, deep
nesting, not JSON at all), frames, errors and displays give a result or a DailyPayError."""

from __future__ import annotations

import json
from typing import Any

import httpx
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import dailypay_nb as dp
from dailypay_nb import _jsonapi
from dailypay_nb._response import ApiResponse

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([10**30, -(2**63) - 1, 2**64]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["2026-03-02T10:00:00Z", "9999-99-99", "0001-01-01T00:00:00Z", "USD", "id", "type"]),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
TYPES = st.one_of(st.sampled_from(sorted(_jsonapi.SHAPES)), st.text(max_size=8), SCALARS)
ATTRIBUTE_NAMES = st.one_of(
    st.sampled_from(
        ["amount", "currency", "created_at", "id", "type", "status", "wage_rate", "balances", "details"]
    ),
    st.text(max_size=10),
)
LINKAGE = st.one_of(
    st.none(),
    JSON,
    st.fixed_dictionaries(
        {"data": st.one_of(st.none(), JSON, st.fixed_dictionaries({"type": TYPES, "id": SCALARS}))}
    ),
    st.fixed_dictionaries(
        {"data": st.lists(st.fixed_dictionaries({"type": TYPES, "id": SCALARS}), max_size=3)}
    ),
)
RESOURCE = st.one_of(
    JSON,
    st.fixed_dictionaries(
        {},
        optional={
            "type": TYPES,
            "id": SCALARS,
            "attributes": st.one_of(JSON, st.dictionaries(ATTRIBUTE_NAMES, JSON, max_size=6)),
            "relationships": st.one_of(
                JSON,
                st.dictionaries(
                    st.sampled_from(["origin", "person", "job", "jobs", "x"]), LINKAGE, max_size=3
                ),
            ),
            "links": JSON,
        },
    ),
)
ERROR = st.one_of(
    JSON,
    st.fixed_dictionaries(
        {},
        optional={
            "status": SCALARS,
            "code": SCALARS,
            "detail": SCALARS,
            "source": st.one_of(
                JSON, st.fixed_dictionaries({}, optional={"pointer": SCALARS, "parameter": SCALARS})
            ),
            "meta": st.one_of(JSON, st.fixed_dictionaries({}, optional={"request_id": SCALARS})),
        },
    ),
)
DOCUMENTS = st.one_of(
    JSON,
    st.fixed_dictionaries(
        {},
        optional={
            "data": st.one_of(st.none(), RESOURCE, st.lists(RESOURCE, max_size=4), JSON),
            "included": st.one_of(st.none(), st.lists(RESOURCE, max_size=3), JSON),
            "errors": st.one_of(st.none(), st.lists(ERROR, max_size=3), JSON),
            "meta": JSON,
            "links": JSON,
        },
    ),
)
DEPTH = st.integers(min_value=1, max_value=3000)


def nested(depth: int, key: str = "a") -> bytes:
    """A document nested `depth` objects deep in `data.attributes` (built as text: json.dumps recurses)."""
    inner = f'{{"{key}":' * depth + "1" + "}" * depth
    return f'{{"data": {{"type": "jobs", "id": "j", "attributes": {inner}}}}}'.encode()


def safely(call: Any) -> Any:
    """Run call(): its value, or None after a DailyPayError; any other exception fails the test."""
    try:
        return call()
    except dp.DailyPayError as exc:
        message = str(exc)
    assert "\n" not in message
    return None


def exercise_frame(frame: Any) -> None:
    if frame is not None:
        frame.to_string()
        frame.to_html()
        repr(frame)


@FUZZ
@given(
    doc=DOCUMENTS,
    resource_type=st.one_of(st.none(), st.sampled_from(sorted(_jsonapi.SHAPES))),
    links=st.booleans(),
)
@example(doc={"data": None}, resource_type="jobs", links=False)
@example(doc={}, resource_type=None, links=True)
@example(
    doc={"data": [{"attributes": {"amount": 10**30, "currency": "USD"}, "type": "transfers"}]},
    resource_type=None,
    links=False,
)
def test_frames_of_any_document(doc: Any, resource_type: str | None, links: bool) -> None:
    """to_frame, included_frame, records and errors_frame: a frame or a DailyPayError."""
    exercise_frame(safely(lambda: _jsonapi.to_frame(doc, links=links, resource_type=resource_type)))
    exercise_frame(safely(lambda: _jsonapi.included_frame(doc, links=links)))
    safely(lambda: _jsonapi.records(doc.get("data") if isinstance(doc, dict) else doc, links=links))
    exercise_frame(safely(lambda: _jsonapi.errors_frame(_jsonapi.errors(doc))))


def response(
    body: bytes, status: int = 200, path: str = "/rest/jobs", content_type: str = "application/vnd.api+json"
) -> ApiResponse:
    return ApiResponse(
        status=status,
        headers=httpx.Headers({"content-type": content_type, "x-request-id": "req-123"}),
        body=body,
        method="GET",
        url="http://127.0.0.1:9" + path,
        endpoint=None,
        timing=None,
    )


def exercise_response(r: ApiResponse) -> None:
    """Everything a user may touch on a response: only values or DailyPayErrors."""
    safely(lambda: r.json())
    exercise_frame(safely(lambda: r.frame))
    exercise_frame(safely(lambda: r.to_frame(links=True)))
    exercise_frame(safely(lambda: r.included))
    exercise_frame(safely(lambda: r.errors_frame))
    safely(lambda: r.errors)
    safely(lambda: r.request_id)
    safely(lambda: r.resource_type)
    safely(lambda: r.raise_for_status())
    err = safely(r.to_error)
    if err is not None:
        str(err), repr(err), exercise_frame(err.errors_frame)
    repr(r)
    r._repr_html_()


@FUZZ
@given(
    doc=DOCUMENTS,
    status=st.sampled_from([200, 201, 204, 400, 401, 403, 404, 409, 422, 429, 500, 503]),
    path=st.sampled_from(["/rest/jobs", "/rest/jobs/j1", "/rest/transfers", "/rest/health", "/rest/x", "/"]),
)
def test_api_response_of_any_document(doc: Any, status: int, path: str) -> None:
    """ApiResponse over any JSON document and status: every property and display is safe."""
    exercise_response(response(json.dumps(doc).encode(), status, path))


@FUZZ
@given(
    body=st.one_of(st.binary(max_size=64), st.text(max_size=64).map(str.encode)),
    status=st.sampled_from([200, 404, 500]),
)
@example(body=b"\xff\xfe", status=200)
@example(body=b'{"data": [', status=200)
@example(body=b"NaN", status=200)
@example(body=b'{"data": {"attributes": {"a": 1e999}}}', status=200)
@example(body=b"1" * 5000, status=200)
def test_api_response_of_any_bytes(body: bytes, status: int) -> None:
    """ApiResponse over arbitrary bytes (not JSON, bad UTF-8, huge numbers)."""
    exercise_response(response(body, status))


@settings(max_examples=40, deadline=None)
@given(depth=DEPTH, status=st.sampled_from([200, 400]))
@example(depth=100_000, status=200)
@example(depth=990, status=200)
@example(depth=400, status=200)
def test_deep_nesting(depth: int, status: int) -> None:
    """Documents nested thousands deep: a frame (deep parts kept as one cell) or a DailyPayError."""
    exercise_response(response(nested(depth), status))
    try:
        doc = json.loads(nested(depth))
    except RecursionError:  # too deep for Python's own parser: ApiResponse covered it above
        return
    exercise_frame(safely(lambda: _jsonapi.to_frame(doc)))
