"""The 18 operations of DailyPay's REST contract (3.0.0-beta.117) as a static, typed table.

Strictly private. The table is checked against `openapi.yaml` by `tests/test_operations.py`,
so it cannot drift from the document (shipped in `dailypay_nb/openapi/`).

Filters are keyword arguments with plain Python names. The mapping to the wire:

| operation       | keyword                     | wire parameter                                   |
|-----------------|-----------------------------|--------------------------------------------------|
| listJobs        | `primary_identifier`        | `filter[external_identifiers.primary_identifier]`|
|                 | `employee_id`               | `filter[external_identifiers.employee_id]`       |
|                 | `group`                     | `filter[external_identifiers.group]`             |
|                 | `person_id`                 | `filter[person.id]`                              |
|                 | `organization_id`           | `filter[organization.id]` (not yet supported)    |
| listAccounts    | `person_id`                 | `filter[person.id]`                              |
|                 | `account_type`              | `filter[account_type]` (enum)                    |
|                 | `subtype`                   | `filter[subtype]`                                |
| listTransfers   | `submitted_after`           | `filter[submitted_at__gt]` (date-time)           |
| listPaychecks   | `job_id`                    | `filter[job.id]`                                 |
|                 | `status`                    | `filter[status]` (enum)                          |
|                 | `deposit_expected_from`     | `filter[deposit_expected_at__gte]` (date-time)   |
|                 | `deposit_expected_before`   | `filter[deposit_expected_at__lt]` (date-time)    |
|                 | `pay_period_ends_from`      | `filter[pay_period_ends_at__gte]` (date-time)    |
|                 | `pay_period_ends_before`    | `filter[pay_period_ends_at__lt]` (date-time)     |
|                 | `pay_period_starts_from`    | `filter[pay_period_starts_at__gte]` (date-time)  |
|                 | `pay_period_starts_before`  | `filter[pay_period_starts_at__lt]` (date-time)   |
| listOrganizations | `name` / `name_contains`  | `filter=name:"…"` / `filter=name~"…"`            |
| all lists       | `filter_by`                 | `filter` (deprecated free-form expression)       |

`_after` is strictly greater, `_from` greater or equal, `_before` strictly less. A filter may
also be named by its wire name (`filter[person.id]`) or its field (`person.id`).
"""

from __future__ import annotations

import difflib
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timezone
from functools import lru_cache
from typing import Literal
from urllib.parse import quote, urlsplit

from ._exceptions import ArgumentError, FilterError, ScopeError

__all__ = [
    "OPERATIONS",
    "ArgumentError",
    "Filter",
    "FilterError",
    "Operation",
    "build_query",
    "check_access",
    "endpoint_for",
    "iso_utc",
    "operation_for",
    "scope_hint",
]

FilterKind = Literal["text", "id", "enum", "datetime", "expression", "raw"]


@dataclass(frozen=True, slots=True)
class Filter:
    """One filter keyword of an operation and the query parameter it becomes.

    `values` is a closed enum (checked); `suggested` lists documented values of an open field
    (not checked). `expression` is a template for the deprecated free-form `filter`.
    """

    kwarg: str
    wire: str
    kind: FilterKind = "text"
    values: tuple[str, ...] = ()
    suggested: tuple[str, ...] = ()
    expression: str = ""
    note: str = ""

    @property
    def field(self) -> str:
        """The field inside the brackets: `person.id` for `filter[person.id]`."""
        return self.wire[7:-1] if self.wire.startswith("filter[") else self.wire

    def describe(self) -> str:
        """`person_id (filter[person.id])`, plus the enum values when closed."""
        text = f"{self.kwarg} ({self.wire})"
        if self.values:
            text += " one of " + "|".join(self.values)
        return text


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation of the contract: where it lives, who may call it, what it accepts."""

    operation_id: str
    method: str
    path: str
    summary: str
    client_scopes: tuple[str, ...] = ()
    user_scopes: tuple[str, ...] = ()
    resource_type: str | None = None
    filters: tuple[Filter, ...] = ()
    includes: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()
    success_status: int = 200
    server: str | None = None

    @property
    def write(self) -> bool:
        """True for POST, PATCH, PUT and DELETE."""
        return self.method != "GET"

    @property
    def authenticated(self) -> bool:
        """False only for operations declared with `security: []`."""
        return bool(self.client_scopes or self.user_scopes)

    @property
    def user_token_required(self) -> bool:
        """True when a client-credentials token cannot call this operation."""
        return not self.client_scopes and bool(self.user_scopes)

    @property
    def path_param(self) -> str | None:
        """The name of the `{…}` placeholder in the path, if any."""
        match = _PLACEHOLDER.search(self.path)
        return match.group(1) if match else None

    def filter_named(self, name: str) -> Filter | None:
        """The filter called `name` by keyword, wire name or bracketed field."""
        for item in self.filters:
            if name in (item.kwarg, item.wire) or (item.kind != "expression" and name == item.field):
                return item
        return None

    def format_path(self, resource_id: object = None) -> str:
        """The concrete path, with the id percent-encoded into the placeholder."""
        param = self.path_param
        if param is None:
            return self.path
        if isinstance(resource_id, uuid.UUID):
            resource_id = str(resource_id)
        if not isinstance(resource_id, str) or not resource_id.strip():
            raise ArgumentError(
                f"{self.operation_id} needs {param} as a non-empty string, got {resource_id!r}"
            )
        return self.path.replace("{" + param + "}", quote(resource_id.strip(), safe=""))


_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")

_CC_READ = ("client:lookup", "client:admin")
_ADMIN = ("client:admin",)
_READ = ("user:read",)
_WRITE = ("user:read_write",)
_FILTER_BY = Filter("filter_by", "filter", "raw", note="deprecated free-form expression")
_TRANSFER_INCLUDES = ("estimated_funding_sources", "final_funding_sources")


def _dt(kwarg: str, field: str) -> Filter:
    return Filter(kwarg, f"filter[{field}]", "datetime")


OPERATIONS: dict[str, Operation] = {
    op.operation_id: op
    for op in (
        Operation("readJob", "GET", "/rest/jobs/{job_id}", "one job", _CC_READ, _READ, "jobs"),
        Operation("updateJob", "PATCH", "/rest/jobs/{job_id}", "change a job", (), _WRITE, "jobs"),
        Operation(
            "listJobs",
            "GET",
            "/rest/jobs",
            "jobs, optionally filtered",
            _CC_READ,
            _READ,
            "jobs",
            filters=(
                Filter("primary_identifier", "filter[external_identifiers.primary_identifier]"),
                Filter("employee_id", "filter[external_identifiers.employee_id]"),
                Filter("group", "filter[external_identifiers.group]"),
                Filter("person_id", "filter[person.id]", "id"),
                Filter("organization_id", "filter[organization.id]", "id", note="not yet supported"),
                _FILTER_BY,
            ),
        ),
        Operation(
            "readAccount",
            "GET",
            "/rest/accounts/{account_id}",
            "one account",
            _CC_READ,
            _READ,
            "accounts",
        ),
        Operation(
            "deleteAccount",
            "DELETE",
            "/rest/accounts/{account_id}",
            "remove a depository or card",
            (),
            _WRITE,
            None,
            success_status=204,
        ),
        Operation(
            "listAccounts",
            "GET",
            "/rest/accounts",
            "accounts, optionally filtered",
            _CC_READ,
            _READ,
            "accounts",
            filters=(
                Filter("person_id", "filter[person.id]", "id"),
                Filter(
                    "account_type",
                    "filter[account_type]",
                    "enum",
                    values=("EARNINGS_BALANCE", "DEPOSITORY", "CARD"),
                ),
                Filter(
                    "subtype",
                    "filter[subtype]",
                    suggested=("ODP", "CHECKING", "SAVINGS", "DAILYPAY", "DEBIT"),
                ),
                _FILTER_BY,
            ),
        ),
        Operation("createAccount", "POST", "/rest/accounts", "add an account", (), _WRITE, "accounts"),
        Operation(
            "readTransfer",
            "GET",
            "/rest/transfers/{transfer_id}",
            "one transfer",
            (),
            _READ,
            "transfers",
            includes=_TRANSFER_INCLUDES,
        ),
        Operation(
            "listTransfers",
            "GET",
            "/rest/transfers",
            "transfers, optionally filtered",
            (),
            _READ,
            "transfers",
            filters=(_dt("submitted_after", "submitted_at__gt"), _FILTER_BY),
            includes=_TRANSFER_INCLUDES,
        ),
        Operation(
            "createTransfer",
            "POST",
            "/rest/transfers",
            "request a transfer",
            (),
            _WRITE,
            "transfers",
            includes=_TRANSFER_INCLUDES,
            headers=("Idempotency-Key",),
        ),
        Operation(
            "readPaycheck",
            "GET",
            "/rest/paychecks/{paycheck_id}",
            "one paycheck",
            (),
            _READ,
            "paychecks",
        ),
        Operation(
            "listPaychecks",
            "GET",
            "/rest/paychecks",
            "paychecks, optionally filtered",
            (),
            _READ,
            "paychecks",
            filters=(
                Filter("job_id", "filter[job.id]", "id"),
                Filter(
                    "status",
                    "filter[status]",
                    "enum",
                    values=("ESTIMATED", "PROCESSING", "IN_TRANSIT", "DEPOSITED"),
                ),
                _dt("deposit_expected_from", "deposit_expected_at__gte"),
                _dt("deposit_expected_before", "deposit_expected_at__lt"),
                _dt("pay_period_ends_from", "pay_period_ends_at__gte"),
                _dt("pay_period_ends_before", "pay_period_ends_at__lt"),
                _dt("pay_period_starts_from", "pay_period_starts_at__gte"),
                _dt("pay_period_starts_before", "pay_period_starts_at__lt"),
                _FILTER_BY,
            ),
        ),
        Operation(
            "readOrganization",
            "GET",
            "/rest/organizations/{organization_id}",
            "one organization",
            _ADMIN,
            (),
            "organizations",
        ),
        Operation(
            "listOrganizations",
            "GET",
            "/rest/organizations",
            "organizations this client can see",
            _ADMIN,
            (),
            "organizations",
            filters=(
                Filter("name", "filter", "expression", expression='name:"{}"'),
                Filter("name_contains", "filter", "expression", expression='name~"{}"'),
                _FILTER_BY,
            ),
        ),
        Operation("readPerson", "GET", "/rest/people/{person_id}", "one person", _ADMIN, _READ, "people"),
        Operation(
            "updatePerson",
            "PATCH",
            "/rest/people/{person_id}",
            "change a person",
            (),
            _WRITE,
            "people",
        ),
        Operation(
            "createGenericCardToken",
            "POST",
            "/cards/generic",
            "tokenize a card (no auth)",
            server="https://payments.dailypay.com/v2",
        ),
        Operation("getHealth", "GET", "/rest/health", "service health", ("health:read",)),
    )
}


# --- path templates -------------------------------------------------------------------------


def _template_regex(path: str) -> str:
    return _PLACEHOLDER.sub("[^/]+", re.escape(path).replace(r"\{", "{").replace(r"\}", "}"))


_TEMPLATES: tuple[str, ...] = tuple(dict.fromkeys(op.path for op in OPERATIONS.values()))
# One alternation, longest templates first; `search` also finds a template after a base path.
_ORDERED = sorted(_TEMPLATES, key=len, reverse=True)
_MATCHER = re.compile(
    "(?:" + "|".join(f"(?P<t{i}>{_template_regex(p)})" for i, p in enumerate(_ORDERED)) + ")/?$"
)
_BY_METHOD: dict[tuple[str, str], Operation] = {(op.method, op.path): op for op in OPERATIONS.values()}


@lru_cache(maxsize=4096)
def operation_for(method: str, path: str) -> Operation | None:
    """The operation a concrete request belongs to (`GET`, `/rest/jobs/e9d8…` → readJob).

    Accepts a path or a full URL; a query string and a trailing slash are ignored, and so is
    any base path in front of the template.
    """
    if "://" in path or "?" in path or "#" in path:
        path = urlsplit(path).path
    match = _MATCHER.search(path)
    if match is None or match.lastgroup is None:
        return None
    template = _ORDERED[int(match.lastgroup[1:])]
    return _BY_METHOD.get((method.upper(), template))


def endpoint_for(method: str, path: str) -> str | None:
    """The path template of a concrete request, or None when no documented operation matches."""
    op = operation_for(method, path)
    return op.path if op is not None else None


# --- access ---------------------------------------------------------------------------------

_USER_IMPLIES = {"user:read_write": frozenset({"user:read"})}


def _user_grants(granted: Iterable[str]) -> frozenset[str]:
    expanded = set(granted)
    for scope in list(expanded):
        expanded |= _USER_IMPLIES.get(scope, frozenset())
    return frozenset(expanded)


def scope_hint(op: Operation) -> str:
    """One sentence: which token type and scopes `op` needs."""
    parts = []
    if op.client_scopes:
        parts.append("a client-credentials token with " + " + ".join(op.client_scopes))
    if op.user_scopes:
        parts.append("a user token with " + " + ".join(op.user_scopes))
    if not parts:
        return f"{op.operation_id} needs no token"
    return f"{op.operation_id} needs " + " or ".join(parts)


def check_access(op: Operation, token_kind: str, granted: Iterable[str]) -> None:
    """Raise `ScopeError` when a `token_kind` token with `granted` scopes cannot call `op`.

    `user:read_write` is taken to include `user:read`. An empty `granted` means unknown, and
    only the token type is checked.
    """
    granted = frozenset(granted)
    if token_kind == "user":
        if not op.user_scopes:
            raise ScopeError(
                f"{op.operation_id} does not accept user tokens",
                hint=f"{scope_hint(op)}; use the client-credentials session it came from",
            )
        missing = set(op.user_scopes) - _user_grants(granted) if granted else set()
        if missing:
            raise ScopeError(
                f"{op.operation_id} needs user scope {' + '.join(sorted(missing))}; "
                f"this user token has {' '.join(sorted(granted))}",
                hint="ask for a token with scope='user:read_write'",
            )
        return
    if not op.client_scopes:
        raise ScopeError(
            f"{op.operation_id} needs a user token ({' + '.join(op.user_scopes)}); "
            "this session holds a client-credentials token",
            hint="pass one with session.with_user_token(token), "
            "or in the sandbox use dp.sandbox.as_user(session)",
        )
    missing = set(op.client_scopes) - granted if granted else set()
    if missing:
        wanted = " ".join(dict.fromkeys([*sorted(granted), *op.client_scopes]))
        raise ScopeError(
            f"{op.operation_id} needs client scope {' + '.join(sorted(missing))}, "
            f"which this session did not request",
            hint=f"connect with scope={wanted!r}",
        )


# --- query parameters -----------------------------------------------------------------------


def iso_utc(value: object, *, name: str = "value") -> str:
    """A date-time as ISO-8601 UTC with `Z` (`2023-03-15T04:00:00Z`).

    Accepts `datetime` (naive = UTC), `date` (midnight UTC) and ISO strings (`Z` or offset).
    """
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in "zZ" else text)
        except ValueError:
            raise FilterError(
                f"{name} must be a datetime or an ISO-8601 string such as "
                f"'2023-03-15T04:00:00Z', got {value!r}"
            ) from None
        value = parsed
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        moment = moment.astimezone(timezone.utc)
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    else:
        raise FilterError(f"{name} must be a datetime, date or ISO string, got {value!r}")
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        fraction = f"{moment.microsecond:06d}"
        text += "." + (fraction[:3] if fraction.endswith("000") else fraction)
    return text + "Z"


def _text(item: Filter, value: object) -> str:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise FilterError(f"{item.kwarg} must be a non-empty string, got {value!r}")


def _enum(item: Filter, value: object) -> str:
    text = _text(item, value)
    for allowed in item.values:
        if text.upper() == allowed:
            return allowed
    raise FilterError(f"{item.kwarg} must be one of {', '.join(item.values)}; got {value!r}")


def _encode(item: Filter, value: object) -> str:
    if item.kind == "enum":
        return _enum(item, value)
    if item.kind == "datetime":
        return iso_utc(value, name=item.kwarg)
    text = _text(item, value)
    if item.kind == "expression":
        return item.expression.format(text.replace("\\", "\\\\").replace('"', '\\"'))
    return text


def _unknown(op: Operation, name: str) -> FilterError:
    if not op.filters:
        return FilterError(f"{op.operation_id} takes no filters, got {name!r}")
    valid = "; ".join(f.describe() for f in op.filters)
    close = difflib.get_close_matches(name, [f.kwarg for f in op.filters], n=1)
    guess = f" (did you mean {close[0]!r}?)" if close else ""
    return FilterError(f"{op.operation_id} has no filter {name!r}{guess}; valid filters: {valid}")


def _includes(op: Operation, include: str | Iterable[str]) -> str:
    names = include.split(",") if isinstance(include, str) else list(include)
    cleaned = [n.strip() for n in names if isinstance(n, str) and n.strip()]
    if len(cleaned) != len(names) or not cleaned:
        raise FilterError(f"include must be names or a comma-separated string, got {include!r}")
    if not op.includes:
        raise FilterError(f"{op.operation_id} takes no include")
    bad = [n for n in cleaned if n not in op.includes]
    if bad:
        raise FilterError(
            f"{op.operation_id} cannot include {', '.join(bad)}; valid: {', '.join(op.includes)}"
        )
    return ",".join(dict.fromkeys(cleaned))


def build_query(
    op: Operation,
    filters: Mapping[str, object],
    include: str | Iterable[str] | None = None,
) -> dict[str, str]:
    """Validate keyword filters and `include` for `op` and return the query parameters.

    `None` values are skipped. Several expressions for the deprecated `filter` are joined
    as `(a) AND (b)`.
    """
    params: dict[str, str] = {}
    expressions: list[str] = []
    for name, value in filters.items():
        item = op.filter_named(name)
        if item is None:
            raise _unknown(op, name)
        if value is None:
            continue
        encoded = _encode(item, value)
        if item.wire == "filter":
            expressions.append(encoded)
        else:
            params[item.wire] = encoded
    if len(expressions) == 1:
        params["filter"] = expressions[0]
    elif expressions:  # parenthesised: the grammar evaluates left to right
        params["filter"] = " AND ".join(f"({e})" for e in expressions)
    if include is not None:
        params["include"] = _includes(op, include)
    return params
