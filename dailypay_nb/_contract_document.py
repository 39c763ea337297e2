"""The OpenAPI document as checks: each operation's parameters, bodies and responses, compiled.

Strictly private; `dailypay_nb.contract` is the public face. The document is read once per
process (`dailypay_nb.openapi.load()`, which repairs its one known defect) and each schema is
compiled on first use, once, by `jsonschema_rs` (JSON Schema 2020-12, the dialect of OpenAPI
3.1, formats asserted). It was chosen on measurement: a 100-record `listJobs` page validates in
about 0.1 ms with it, 1 ms with `fastjsonschema` (draft 7 only, which ignores keywords beside a
`$ref`) and 30 ms with `jsonschema` (see `bench/bench_contract.py`).

Request bodies are checked against a view of the schemas in which `readOnly` members are not
required (OpenAPI: they are sent by the server only). Nothing here raises for a bad message:
every finding is a `Violation`.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from ._operations import OPERATIONS, operation_for
from ._redact import redact
from .contract import Violation

__all__ = [
    "MAX_PER_CHECK",
    "Spec",
    "document",
    "excerpt",
    "schema_violations",
    "snippet",
    "spec_for",
    "spec_of",
]

_SCHEMA_REF = "#/components/schemas/"
#: Violations translated from one schema check at most (a list of 10 000 broken records would
#: otherwise yield 10 000 rows); the rest are counted in one row of rule `more`.
MAX_PER_CHECK = 50
#: Beyond the listed ones, violations are counted up to this many (then "at least").
_COUNT_AT_MOST = 10_000
_EXCERPT = 80


@dataclass(frozen=True, slots=True)
class Parameter:
    """One documented parameter: where it goes, whether it must be there, its value schema."""

    name: str
    where: str  # path | query | header
    required: bool
    schema: Mapping[str, Any]


@dataclass(slots=True)
class Spec:
    """One operation as the document states it."""

    operation_id: str
    method: str
    path: str
    parameters: tuple[Parameter, ...]
    #: media type -> schema; None when the operation takes no body.
    request: dict[str, Mapping[str, Any]] | None
    request_required: bool
    #: status key ("200", "4XX", "default") -> media type -> schema ({} for no body).
    responses: dict[str, dict[str, Mapping[str, Any]]]
    _path_pattern: re.Pattern[str] | None = field(default=None, repr=False)

    def response_for(self, status: int) -> dict[str, Mapping[str, Any]] | None:
        """The documented response for `status` (exact, then `4XX`-style, then `default`)."""
        for key in (str(status), f"{status // 100}XX", "default"):
            if key in self.responses:
                return self.responses[key]
        return None

    def path_values(self, path: str) -> dict[str, str]:
        """The path parameters of a concrete path (percent-decoded)."""
        if self._path_pattern is None:
            pattern = re.escape(self.path)
            pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]*)", pattern)
            self._path_pattern = re.compile(pattern + "/?$")
        match = self._path_pattern.search(path)
        return {k: unquote(v) for k, v in match.groupdict().items()} if match else {}


# -- the document --------------------------------------------------------------------------------


class _Document:
    """The parsed document, its operations and the compiled validators (built on first use)."""

    def __init__(self) -> None:
        from . import openapi

        self.raw = openapi.load()
        components = self.raw.get("components", {})
        self.schemas: dict[str, Any] = components.get("schemas", {})
        self.request_schemas = _request_view(self.schemas)
        self.specs: dict[str, Spec] = {}
        for path, item in self.raw.get("paths", {}).items():
            shared = item.get("parameters", [])
            for method, op in item.items():
                if method == "parameters" or not isinstance(op, dict) or "operationId" not in op:
                    continue
                self.specs[op["operationId"]] = self._spec(method.upper(), path, op, shared)
        self._validators: dict[tuple[bool, int], Any] = {}
        self._lock = threading.Lock()

    def _resolve(self, node: Any) -> Any:
        """A `$ref` into `components` followed (parameters, bodies, responses; not schemas)."""
        while isinstance(node, dict) and "$ref" in node and not node["$ref"].startswith(_SCHEMA_REF):
            target: Any = self.raw
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node

    def _spec(self, method: str, path: str, op: dict[str, Any], shared: list[Any]) -> Spec:
        params: dict[tuple[str, str], Parameter] = {}
        for raw in [*shared, *op.get("parameters", [])]:
            p = self._resolve(raw)
            where, name = p["in"], p["name"]
            key = (where, name.lower() if where == "header" else name)
            params[key] = Parameter(name, where, bool(p.get("required")), p.get("schema", {}))
        body = self._resolve(op["requestBody"]) if "requestBody" in op else None
        responses = {}
        for status, response in op.get("responses", {}).items():
            resolved = self._resolve(response)
            responses[str(status).upper()] = {
                media.lower(): content.get("schema", {})
                for media, content in resolved.get("content", {}).items()
            }
        return Spec(
            operation_id=op["operationId"],
            method=method,
            path=path,
            parameters=tuple(params.values()),
            request=(
                {m.lower(): c.get("schema", {}) for m, c in body.get("content", {}).items()}
                if body is not None
                else None
            ),
            request_required=bool(body and body.get("required")),
            responses=responses,
        )

    def validator(self, schema: Mapping[str, Any], request: bool) -> Any:
        """The compiled validator of `schema`, a part of this document (one per part and direction).

        Keyed by identity: the document lives as long as the process, so its parts do too, and
        many operations share one (the error responses).
        """
        key = (request, id(schema))
        found = self._validators.get(key)
        if found is not None:
            return found
        import jsonschema_rs  # imported on first use: validation is off by default

        root = {
            **schema,
            "components": {"schemas": self.request_schemas if request else self.schemas},
        }
        compiled = jsonschema_rs.Draft202012Validator(root, validate_formats=True)
        with self._lock:
            self._validators[key] = compiled
        return compiled


def _request_view(schemas: dict[str, Any]) -> dict[str, Any]:
    """The schemas with `readOnly` members taken out of `required` (they are never sent)."""

    def read_only(node: Any) -> bool:
        if isinstance(node, dict) and "$ref" in node and node["$ref"].startswith(_SCHEMA_REF):
            node = schemas.get(node["$ref"][len(_SCHEMA_REF) :], {})
        return isinstance(node, dict) and node.get("readOnly") is True

    def strip(node: Any) -> Any:
        if isinstance(node, list):
            return [strip(x) for x in node]
        if not isinstance(node, dict):
            return node
        out = {k: strip(v) for k, v in node.items()}
        props = node.get("properties")
        if isinstance(props, dict) and isinstance(node.get("required"), list):
            out["required"] = [r for r in node["required"] if not read_only(props.get(r))]
        return out

    view: dict[str, Any] = strip(schemas)
    return view


_DOCUMENT: list[_Document] = []
_DOCUMENT_LOCK = threading.Lock()


def document() -> _Document:
    """The document of this process, parsed once (needs the `contract` extra).

    Locked: validators are keyed by the identity of the document's parts, so there must never
    be two documents.
    """
    if not _DOCUMENT:
        with _DOCUMENT_LOCK:
            if not _DOCUMENT:
                _DOCUMENT.append(_Document())
    return _DOCUMENT[0]


def spec_of(operation_id: str) -> Spec:
    """The document's operation `operation_id`."""
    return document().specs[operation_id]


def spec_for(method: str, path: str) -> Spec | None:
    """The document's operation for a concrete request, or None when none matches."""
    op = operation_for(method, path)
    if op is None or op.operation_id not in OPERATIONS:
        return None
    return document().specs.get(op.operation_id)


# -- turning validator errors into violations ----------------------------------------------------


def _escape(part: object) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


def pointer_of(parts: Iterable[object]) -> str:
    """An RFC 6901 JSON pointer ("" is the whole value)."""
    return "".join("/" + _escape(p) for p in parts)


def excerpt(value: Any) -> str:
    """A short, redacted rendering of an offending value (server text is untrusted)."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)[: _EXCERPT * 4]
    except (ValueError, RecursionError):
        text = repr(value)[: _EXCERPT * 4]
    return redact(text, limit=_EXCERPT)


def snippet(text: str | bytes | None) -> str:
    """The start of a body or header value, redacted."""
    if isinstance(text, bytes):
        text = text[: _EXCERPT * 4].decode("utf-8", "replace")
    return redact((text or "")[: _EXCERPT * 4], limit=_EXCERPT)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _listed(values: Iterable[Any], limit: int = 8) -> str:
    items = [json.dumps(v) for v in values]
    return ", ".join(items[:limit]) + (f" (and {len(items) - limit} more)" if len(items) > limit else "")


_WORDS = {
    "minLength": "shorter than {limit} characters",
    "maxLength": "longer than {limit} characters",
    "minimum": "less than the minimum {limit}",
    "maximum": "more than the maximum {limit}",
    "exclusiveMinimum": "not more than {limit}",
    "exclusiveMaximum": "not less than {limit}",
    "minItems": "fewer than {limit} items",
    "maxItems": "more than {limit} items",
    "minProperties": "fewer than {limit} members",
    "maxProperties": "more than {limit} members",
}


def _message(rule: str, detail: dict[str, Any], instance: Any, fallback: str) -> str:
    """What went wrong in words, from the schema's side (the instance goes to the excerpt)."""
    if rule == "required":
        return f"required member {detail.get('property')!r} is missing"
    if rule == "type":
        return f"expected {' or '.join(map(str, detail.get('types', [])))}, got {_json_type(instance)}"
    if rule == "enum":
        return f"not one of {_listed(detail.get('options', []))}"
    if rule == "const":
        return f"expected {json.dumps(detail.get('expected_value'))}"
    if rule == "format":
        return f"not a valid {detail.get('format')}"
    if rule == "pattern":
        return f"does not match {detail.get('pattern')}"
    if rule == "additionalProperties":
        return "undocumented members: " + redact(", ".join(map(str, detail.get("unexpected", []))), limit=120)
    if rule in _WORDS:
        return _WORDS[rule].format(limit=detail.get("limit"))
    return redact(fallback, limit=200)


def _best_branch(branches: list[list[Any]]) -> tuple[int, list[Any]]:
    """The alternative of a failed oneOf/anyOf the value was most likely meant to be.

    One whose discriminating `const`/`enum` members matched, then the fewest errors, then the
    deepest (the error furthest inside the value is the most specific).
    """

    def score(item: tuple[int, list[Any]]) -> tuple[int, int, int]:
        errors = item[1]
        mismatched = sum(1 for e in errors if e.kind.name in ("const", "enum"))
        depth = max((len(e.instance_path) for e in errors), default=0)
        return mismatched, len(errors), -depth

    return min(enumerate(branches), key=score)


def _flatten(errors: Iterable[Any], via: str = "") -> Iterator[tuple[Any, str]]:
    for error in errors:
        name = error.kind.name
        if name in ("oneOf", "anyOf") and error.kind.context:
            index, branch = _best_branch(error.kind.context)
            yield from _flatten(branch, f"{via}{name} alternative {index + 1}: ")
        else:
            yield error, via


def schema_violations(
    validator: Any,
    value: Any,
    *,
    operation_id: str,
    direction: str,
    status: int | None,
    location: str = "body",
    root: str = "",
) -> list[Violation]:
    """Every way `value` breaks `validator`'s schema, as violations (at most MAX_PER_CHECK).

    The pointer is a JSON pointer into a body; for a parameter it starts with the parameter's
    name (`root`).
    """
    if validator.is_valid(value):  # the common case, and the cheapest check
        return []
    found: list[Violation] = []
    extra = 0
    for error, via in _flatten(validator.iter_errors(value)):
        if len(found) >= MAX_PER_CHECK:
            extra += 1
            if extra >= _COUNT_AT_MOST:
                break
            continue
        rule = error.kind.name
        detail = error.kind.as_dict() if rule not in ("oneOf", "anyOf") else {}
        parts = list(error.instance_path)
        if rule == "required":  # point at the missing member, as JSON:API's source.pointer does
            parts.append(detail.get("property", ""))
        found.append(
            Violation(
                operation_id=operation_id,
                direction=direction,
                status=status,
                location=location,
                pointer=redact(root + pointer_of(parts), limit=300),
                rule=rule,
                message=via + _message(rule, detail, error.instance, error.message),
                excerpt=excerpt(error.instance),
            )
        )
    if extra:
        counted = f"{extra}" if extra < _COUNT_AT_MOST else f"at least {extra}"
        found.append(
            Violation(
                operation_id,
                direction,
                status,
                location,
                root,
                "more",
                f"{counted} more violations not listed",
                "",
            )
        )
    return found
