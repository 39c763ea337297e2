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
INCLUDABLE = frozenset({"estimated_funding_sources", "final_funding_sources"})


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


def includes(call: Call) -> frozenset[str]:
    """The `include` relationship paths of a transfers call."""
    value = call.param("include")
    if value is None:
        return frozenset()
    paths = frozenset(p.strip() for p in value.split(",") if p.strip())
    unknown = paths - INCLUDABLE
    if unknown:
        raise ApiError(
            400,
            "INVALID_PARAMETERS",
            f"Cannot include {', '.join(sorted(unknown))}; choose from {', '.join(sorted(INCLUDABLE))}.",
            parameter="include",
        )
    return paths


def not_found(kind: str) -> ApiError:
    return ApiError(404, "RECORD_NOT_FOUND", f"Could not find a {kind} with the provided ID.")
