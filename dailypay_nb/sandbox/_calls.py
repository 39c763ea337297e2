"""The framework-free shape of one REST call and its reply, shared by the handlers."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from ._auth import Token
from ._data import Store
from ._dates import parse_datetime
from ._errors import ApiError

UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_FUNDING = frozenset({"estimated_funding_sources", "final_funding_sources"})
#: The `include` paths each operation supports; an include anywhere else is a 400 (JSON:API).
INCLUDABLE: dict[str, frozenset[str]] = {
    "listTransfers": _FUNDING,
    "readTransfer": _FUNDING,
    "createTransfer": _FUNDING,
}


@dataclass(slots=True)
class Call:
    """What a handler sees: the store, the caller's token and the request's parts."""

    store: Store
    token: Token
    base: str
    params: list[tuple[str, str]]
    path: dict[str, str]
    headers: Mapping[str, str]
    body: bytes = b""
    request_id: str = ""
    operation: str = ""  # the operationId, e.g. "createTransfer"
    method: str = "GET"
    url_path: str = ""  # the request's path, e.g. /rest/transfers

    def param(self, name: str) -> str | None:
        """The last value of a query parameter, or None."""
        value = None
        for key, item in self.params:
            if key == name:
                value = item
        return value

    @property
    def person_scope(self) -> str | None:
        """The only person a user token may see; None for client-credentials tokens."""
        return self.token.person_id if self.token.kind == "user" else None


@dataclass(slots=True)
class Reply:
    """A handler's answer: a JSON:API document (or none, for 204)."""

    status: int = 200
    document: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # an earlier reply replayed byte for byte
    on_sent: Callable[[], None] | None = None


@dataclass(frozen=True, slots=True)
class FilterParam:
    """One documented `filter[...]` query parameter and the values it takes."""

    kind: Literal["uuid", "text", "enum", "datetime", "unsupported"]
    choices: frozenset[str] | None = None


FilterValue = str | datetime


def structured_filters(
    params: list[tuple[str, str]], allowed: Mapping[str, FilterParam]
) -> dict[str, FilterValue]:
    """Check every `filter[...]` parameter against the operation's list and parse its value."""
    out: dict[str, FilterValue] = {}
    for key, value in params:
        if not key.startswith("filter["):
            continue
        spec = allowed.get(key)
        if spec is None or spec.kind == "unsupported":
            why = "is not yet supported by DailyPay" if spec else "is not a filter of this operation"
            raise ApiError(400, "INVALID_FILTER_FIELD", f"{key} {why}.", parameter=key)
        if spec.kind == "uuid":
            if not UUID_RE.match(value):
                raise ApiError(400, "INVALID_FILTER_VALUE", f"{key} must be a UUID.", parameter=key)
            out[key] = value.lower()
        elif spec.kind == "enum":
            assert spec.choices is not None
            if value not in spec.choices:
                choices = ", ".join(sorted(spec.choices))
                raise ApiError(400, "INVALID_FILTER_VALUE", f"{key} must be one of {choices}.", parameter=key)
            out[key] = value
        elif spec.kind == "datetime":
            try:
                out[key] = parse_datetime(value)
            except ValueError as exc:
                raise ApiError(
                    400,
                    "INVALID_FILTER_VALUE",
                    f"{key} must be an ISO 8601 date-time such as 2023-03-15T04:00:00Z.",
                    parameter=key,
                ) from exc
        else:
            out[key] = value
    return out


def _include_paths(value: str) -> frozenset[str]:
    return frozenset(p.strip() for p in value.split(",") if p.strip())


def check_jsonapi_parameters(operation: str, params: list[tuple[str, str]]) -> None:
    """Refuse the JSON:API query parameters an operation does not support (400, JSON:API 1.1).

    `include` is honoured where INCLUDABLE lists paths; sorting, sparse fieldsets and
    pagination are supported nowhere in DailyPay's API.
    """
    allowed = INCLUDABLE.get(operation, frozenset())
    for key, value in params:
        if key == "include":
            if not allowed:
                raise ApiError(
                    400, "INVALID_PARAMETERS", f"{operation} does not support include.", parameter="include"
                )
            unknown = _include_paths(value) - allowed
            if unknown:
                raise ApiError(
                    400,
                    "INVALID_PARAMETERS",
                    f"Cannot include {', '.join(sorted(unknown))}; choose from {', '.join(sorted(allowed))}.",
                    parameter="include",
                )
        elif key in ("sort", "fields", "page") or key.startswith(("fields[", "page[")):
            raise ApiError(
                400, "INVALID_PARAMETERS", f"{key} is not supported by {operation}.", parameter=key
            )


def includes(call: Call) -> frozenset[str]:
    """The `include` relationship paths of a call (already checked by check_jsonapi_parameters)."""
    value = call.param("include")
    return (
        frozenset() if value is None else _include_paths(value) & INCLUDABLE.get(call.operation, frozenset())
    )


def not_found(kind: str) -> ApiError:
    return ApiError(404, "RECORD_NOT_FOUND", f"Could not find a {kind} with the provided ID.")
