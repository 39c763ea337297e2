"""What a request or a response must be, per the document: status, media type, parameters, body.

Strictly private; `dailypay_nb.contract` is the public face and `_contract_log` the session's.
Each check returns violations and never raises for a bad message. A body whose media type the
document does not list is reported once (`content-type`) and not checked further: its schema
is unknown, and one fault should read as one violation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import httpx

from ._contract_document import Spec, document, excerpt, schema_violations, snippet, spec_for
from ._redact import redact
from .contract import Violation

__all__ = ["media_type", "request_violations", "response_violations"]

_COERCE: dict[str, Callable[[str], Any]] = {
    "integer": int,
    "number": float,
    "boolean": lambda text: {"true": True, "false": False}[text],
}


def media_type(value: str | None) -> str:
    """`application/json; charset=utf-8` → `application/json`."""
    return (value or "").split(";", 1)[0].strip().lower()


def _documented(media: Mapping[str, Any]) -> str:
    return ", ".join(media) or "none"


def request_violations(request: httpx.Request) -> list[Violation]:
    """How `request` (method, path, query, headers, body) departs from its operation."""
    path = request.url.path
    spec = spec_for(request.method, path)
    if spec is None:
        shown = redact(f"{request.method} {path}", limit=120)
        return [
            Violation(
                None,
                "request",
                None,
                "path",
                "",
                "operation",
                f"{shown} is not an operation of the document",
                "",
            )
        ]
    found: list[Violation] = []
    found += _parameters(spec, request)
    found += _request_body(spec, request)
    return found


def _parameters(spec: Spec, request: httpx.Request) -> list[Violation]:
    found: list[Violation] = []
    query = request.url.params
    path_values = spec.path_values(request.url.path)
    documented_query = set()
    for p in spec.parameters:
        if p.where == "query":
            documented_query.add(p.name)
            values = query.get_list(p.name)
        elif p.where == "path":
            values = [path_values[p.name]] if p.name in path_values else []
        elif p.where == "header":
            values = request.headers.get_list(p.name)
        else:  # cookie parameters: none in this document
            continue
        if not values:
            if p.required:
                found.append(
                    _violation(spec, p.where, p.name, "required", f"required {p.where} parameter is missing")
                )
            continue
        check = document().validator(p.schema, request=True)
        for text in values:
            found += schema_violations(
                check,
                _coerce(text, p.schema),
                operation_id=spec.operation_id,
                direction="request",
                status=None,
                location=p.where,
                root=p.name,
            )
    for name in dict.fromkeys(query.keys()):
        if name not in documented_query:
            found.append(
                _violation(
                    spec,
                    "query",
                    redact(name, limit=80),
                    "parameter",
                    f"the document lists no query parameter of this name for {spec.operation_id}",
                    excerpt(query.get(name)),
                )
            )
    return found


def _coerce(text: str, schema: Mapping[str, Any]) -> Any:
    """A parameter's text as the type its schema names (left as text when it does not parse)."""
    kind = schema.get("type")
    convert = _COERCE.get(kind) if isinstance(kind, str) else None
    if convert is None:
        return text
    try:
        return convert(text.strip())
    except (ValueError, KeyError):
        return text


def _request_body(spec: Spec, request: httpx.Request) -> list[Violation]:
    content = request.content
    if spec.request is None:
        if content:
            return [
                _violation(
                    spec, "body", "", "body", "the operation documents no request body", snippet(content)
                )
            ]
        return []
    if not content.strip():
        if spec.request_required:
            return [_violation(spec, "body", "", "required", "the operation requires a request body")]
        return []
    raw_type = request.headers.get("content-type")
    schema = spec.request.get(media_type(raw_type))
    if schema is None:
        return [
            _violation(
                spec,
                "header",
                "Content-Type",
                "content-type",
                f"{media_type(raw_type) or 'no media type'} is not documented for the request body "
                f"(documented: {_documented(spec.request)})",
                snippet(raw_type),
            )
        ]
    try:
        value = _json_loads(content)
    except ValueError:
        return [_violation(spec, "body", "", "json", "the request body is not JSON", snippet(content))]
    return schema_violations(
        document().validator(schema, request=True),
        value,
        operation_id=spec.operation_id,
        direction="request",
        status=None,
    )


def response_violations(
    spec: Spec, status: int, content_type: str | None, body: bytes, parse: Callable[[], Any]
) -> list[Violation]:
    """How an answer departs from what `spec` documents for it.

    `parse()` returns the parsed body or raises ValueError; the session passes its
    `ApiResponse.json`, so a body is parsed once for the check and the caller alike.
    """
    documented = spec.response_for(status)
    op = spec.operation_id
    if documented is None:
        listed = ", ".join(spec.responses)
        return [
            Violation(
                op,
                "response",
                status,
                "status",
                "",
                "status",
                f"{status} is not a documented status of {op} (documented: {listed})",
                snippet(body) if body.strip() else "",
            )
        ]
    if not documented:
        if body.strip():
            return [
                Violation(
                    op,
                    "response",
                    status,
                    "body",
                    "",
                    "body",
                    f"the document describes {status} without a body",
                    snippet(body),
                )
            ]
        return []
    if not body.strip():
        return [
            Violation(
                op,
                "response",
                status,
                "body",
                "",
                "body",
                f"the body is empty; the document describes {_documented(documented)}",
                "",
            )
        ]
    schema = documented.get(media_type(content_type))
    if schema is None:
        return [
            Violation(
                op,
                "response",
                status,
                "header",
                "Content-Type",
                "content-type",
                f"{media_type(content_type) or 'no media type'} is not documented for {status} "
                f"(documented: {_documented(documented)})",
                snippet(content_type),
            )
        ]
    try:
        value = parse()
    except ValueError:
        return [Violation(op, "response", status, "body", "", "json", "the body is not JSON", snippet(body))]
    return schema_violations(
        document().validator(schema, request=False),
        value,
        operation_id=op,
        direction="response",
        status=status,
    )


def _violation(
    spec: Spec, location: str, pointer: str, rule: str, message: str, shown: str = ""
) -> Violation:
    return Violation(spec.operation_id, "request", None, location, pointer, rule, message, shown)


def _json_loads(content: bytes) -> Any:
    import json

    try:
        return json.loads(content)
    except RecursionError:
        raise ValueError("nested too deeply") from None
