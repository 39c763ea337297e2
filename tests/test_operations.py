"""The operation table: checked against openapi.yaml, plus filters, paths and access rules."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from dailypay_nb import openapi
from dailypay_nb._exceptions import ScopeError
from dailypay_nb._operations import (
    OPERATIONS,
    ArgumentError,
    FilterError,
    Operation,
    build_query,
    check_access,
    endpoint_for,
    iso_utc,
    operation_for,
)

METHODS = ("get", "post", "patch", "put", "delete")


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return openapi.load()


def deref(spec: dict[str, Any], node: Any) -> Any:
    """Follow `$ref`s until a concrete node."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = spec
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def spec_operations(spec: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any], list[Any]]]:
    """operationId -> (method, path, operation, parameters incl. path-level ones)."""
    found = {}
    for path, item in spec["paths"].items():
        shared = item.get("parameters", [])
        for method in METHODS:
            if method in item:
                op = item[method]
                params = [deref(spec, p) for p in [*shared, *op.get("parameters", [])]]
                found[op["operationId"]] = (method.upper(), path, op, params)
    return found


def scopes(op: dict[str, Any], scheme: str) -> tuple[str, ...]:
    for requirement in op.get("security", []):
        if scheme in requirement:
            return tuple(requirement[scheme])
    return ()


def test_every_operation_is_in_the_table(spec: dict[str, Any]) -> None:
    """The table has exactly the document's 18 operationIds."""
    assert set(OPERATIONS) == set(spec_operations(spec))
    assert len(OPERATIONS) == 18


@pytest.mark.parametrize("operation_id", sorted(OPERATIONS))
def test_method_path_scopes_match(spec: dict[str, Any], operation_id: str) -> None:
    """Method, path, server and both scope lists are the document's."""
    method, path, op, _ = spec_operations(spec)[operation_id]
    ours = OPERATIONS[operation_id]
    servers = op.get("servers")
    assert (ours.method, ours.path) == (method, path)
    assert ours.server == (servers[0]["url"] if servers else None)
    assert ours.client_scopes == scopes(op, "oauth_client_credentials_token")
    assert ours.user_scopes == scopes(op, "oauth_user_token")
    assert ours.authenticated == bool(op.get("security"))


@pytest.mark.parametrize("operation_id", sorted(OPERATIONS))
def test_filters_headers_includes_match(spec: dict[str, Any], operation_id: str) -> None:
    """Filter wire names, enums, formats, include values and required headers agree."""
    _, _, _, params = spec_operations(spec)[operation_id]
    ours = OPERATIONS[operation_id]
    query = {p["name"]: p for p in params if p["in"] == "query" and p["name"] != "include"}
    assert {f.wire for f in ours.filters} == set(query)
    for item in ours.filters:
        schema = query[item.wire]["schema"]
        assert item.values == tuple(schema.get("enum", ()))
        assert item.suggested == tuple(schema.get("x-enumDescriptions", ()))
        assert (item.kind == "datetime") == (schema.get("format") == "date-time")
        assert (item.kind == "id") == (schema.get("format") == "uuid")
    include = [p for p in params if p["in"] == "query" and p["name"] == "include"]
    expected = tuple(include[0]["schema"]["example"].split(",")) if include else ()
    assert ours.includes == expected
    headers = tuple(p["name"] for p in params if p["in"] == "header" and p.get("required"))
    assert ours.headers == headers


@pytest.mark.parametrize("operation_id", sorted(OPERATIONS))
def test_success_status_and_resource_type(spec: dict[str, Any], operation_id: str) -> None:
    """The 2xx status and the type of the returned resources are the document's."""
    _, _, op, _ = spec_operations(spec)[operation_id]
    ours = OPERATIONS[operation_id]
    success = [code for code in op["responses"] if str(code).startswith("2")]
    assert [str(ours.success_status)] == [str(c) for c in success]
    body = deref(spec, op["responses"][success[0]]).get("content", {})
    schema = deref(spec, body.get("application/vnd.api+json", {}).get("schema"))
    data = deref(spec, (schema or {}).get("properties", {}).get("data"))
    if data and data.get("type") == "array":
        data = deref(spec, data["items"])
    type_schema = (data or {}).get("properties", {}).get("type", {})
    assert ours.resource_type == type_schema.get("const")


# --- path templates -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/rest/jobs", "/rest/jobs"),
        ("GET", "/rest/jobs/", "/rest/jobs"),
        ("GET", "/rest/jobs/e9d84b0d-92ba-43c9-93bf-7c993313fa6f", "/rest/jobs/{job_id}"),
        ("patch", "/rest/jobs/e9d84b0d", "/rest/jobs/{job_id}"),
        ("DELETE", "/rest/accounts/2bc7", "/rest/accounts/{account_id}"),
        ("GET", "https://api.dailypay.com/rest/people/aa86?x=1", "/rest/people/{person_id}"),
        ("GET", "/rest/organizations/f0b3", "/rest/organizations/{organization_id}"),
        ("GET", "/rest/health", "/rest/health"),
        ("POST", "/v2/cards/generic", "/cards/generic"),
        ("GET", "/rest/jobs/a/b", None),
        ("DELETE", "/rest/jobs/abc", None),
        ("GET", "/rest/people", None),
        ("GET", "/", None),
        ("GET", "", None),
    ],
)
def test_endpoint_for(method: str, path: str, expected: str | None) -> None:
    """A concrete path maps to its template, or None when no operation matches."""
    assert endpoint_for(method, path) == expected


def test_every_template_maps_to_itself() -> None:
    """Each operation's own path (with ids filled in) finds that operation."""
    for op in OPERATIONS.values():
        concrete = op.format_path("0123-abc") if op.path_param else op.path
        assert operation_for(op.method, concrete) is op


@pytest.mark.parametrize(
    ("resource_id", "expected"),
    [
        ("e9d84b0d", "/rest/jobs/e9d84b0d"),
        (" e9d84b0d ", "/rest/jobs/e9d84b0d"),
        ("a/b?c", "/rest/jobs/a%2Fb%3Fc"),
    ],
)
def test_format_path_encodes_ids(resource_id: str, expected: str) -> None:
    """Ids are stripped and percent-encoded into the placeholder."""
    assert OPERATIONS["readJob"].format_path(resource_id) == expected


@pytest.mark.parametrize("resource_id", [None, "", "  ", 5])
def test_format_path_refuses_empty_ids(resource_id: object) -> None:
    """A missing id is refused instead of turning `job(id)` into a list call."""
    with pytest.raises(ArgumentError, match="job_id"):
        OPERATIONS["readJob"].format_path(resource_id)


# --- query parameters -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation_id", "filters", "include", "expected"),
    [
        ("listJobs", {"person_id": "p1"}, None, {"filter[person.id]": "p1"}),
        ("listJobs", {"person_id": None}, None, {}),
        ("listJobs", {"filter[person.id]": "p1"}, None, {"filter[person.id]": "p1"}),
        ("listJobs", {"person.id": "p1"}, None, {"filter[person.id]": "p1"}),
        (
            "listJobs",
            {"primary_identifier": "X1", "employee_id": 123},
            None,
            {
                "filter[external_identifiers.primary_identifier]": "X1",
                "filter[external_identifiers.employee_id]": "123",
            },
        ),
        ("listAccounts", {"account_type": "card"}, None, {"filter[account_type]": "CARD"}),
        ("listAccounts", {"subtype": "ANYTHING"}, None, {"filter[subtype]": "ANYTHING"}),
        ("listPaychecks", {"status": "Deposited"}, None, {"filter[status]": "DEPOSITED"}),
        (
            "listPaychecks",
            {"deposit_expected_from": date(2023, 3, 15)},
            None,
            {"filter[deposit_expected_at__gte]": "2023-03-15T00:00:00Z"},
        ),
        (
            "listTransfers",
            {"submitted_after": "2023-03-15T00:00:00-04:00"},
            ["final_funding_sources"],
            {"filter[submitted_at__gt]": "2023-03-15T04:00:00Z", "include": "final_funding_sources"},
        ),
        (
            "readTransfer",
            {},
            "estimated_funding_sources, final_funding_sources",
            {"include": "estimated_funding_sources,final_funding_sources"},
        ),
        ("listOrganizations", {"name": "DailyPay"}, None, {"filter": 'name:"DailyPay"'}),
        ("listOrganizations", {"name_contains": 'Da"ily'}, None, {"filter": 'name~"Da\\"ily"'}),
        (
            "listOrganizations",
            {"name": "A", "filter_by": 'name:"B"'},
            None,
            {"filter": '(name:"A") AND (name:"B")'},
        ),
    ],
)
def test_build_query(
    operation_id: str, filters: dict[str, Any], include: Any, expected: dict[str, str]
) -> None:
    """Keyword filters become the documented wire parameters."""
    assert build_query(OPERATIONS[operation_id], filters, include) == expected


@pytest.mark.parametrize(
    ("operation_id", "filters", "include", "message"),
    [
        ("listJobs", {"persn_id": "p"}, None, r"did you mean 'person_id'.*person_id \(filter"),
        ("listJobs", {"status": "X"}, None, r"no filter 'status'.*primary_identifier"),
        ("readJob", {"person_id": "p"}, None, "takes no filters"),
        ("listAccounts", {"account_type": "SAVINGS"}, None, "EARNINGS_BALANCE, DEPOSITORY, CARD"),
        ("listPaychecks", {"status": "PAID"}, None, "ESTIMATED, PROCESSING, IN_TRANSIT, DEPOSITED"),
        ("listPaychecks", {"job_id": ""}, None, "non-empty"),
        ("listPaychecks", {"job_id": True}, None, "non-empty"),
        ("listTransfers", {"submitted_after": "yesterday"}, None, "ISO-8601"),
        ("listTransfers", {"submitted_after": 5}, None, "datetime"),
        ("listTransfers", {}, "origin", "valid: estimated_funding_sources"),
        ("listTransfers", {}, "", "include must be"),
        ("listJobs", {}, "person", "takes no include"),
    ],
)
def test_build_query_refuses(operation_id: str, filters: dict[str, Any], include: Any, message: str) -> None:
    """Unknown filters, bad enum values and bad includes are refused with the valid ones."""
    with pytest.raises(FilterError, match=message):
        build_query(OPERATIONS[operation_id], filters, include)


def test_filter_error_is_a_value_error() -> None:
    """Notebook code catching ValueError keeps working."""
    assert issubclass(FilterError, ValueError)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2023-03-15T04:00:00Z", "2023-03-15T04:00:00Z"),
        ("2023-03-15T04:00:00.051Z", "2023-03-15T04:00:00.051Z"),
        ("2023-03-15", "2023-03-15T00:00:00Z"),
        (datetime(2023, 3, 15, 4), "2023-03-15T04:00:00Z"),
        (datetime(2023, 3, 15, tzinfo=timezone(timedelta(hours=-4))), "2023-03-15T04:00:00Z"),
        (datetime(2023, 3, 15, 4, 0, 0, 123456, tzinfo=timezone.utc), "2023-03-15T04:00:00.123456Z"),
        (date(2023, 3, 15), "2023-03-15T00:00:00Z"),
    ],
)
def test_iso_utc(value: object, expected: str) -> None:
    """Dates go out as ISO-8601 UTC with Z; naive datetimes are taken as UTC."""
    assert iso_utc(value) == expected


# --- access ---------------------------------------------------------------------------------

CC = frozenset({"client:admin", "client:lookup", "health:read"})


@pytest.mark.parametrize(
    ("operation_id", "kind", "granted"),
    [
        ("listJobs", "client", CC),
        ("getHealth", "client", {"health:read"}),
        ("listJobs", "client", frozenset()),
        ("listJobs", "user", {"user:read"}),
        ("listTransfers", "user", {"user:read_write"}),
        ("createTransfer", "user", {"user:read_write"}),
        ("readPerson", "user", frozenset()),
    ],
)
def test_access_allowed(operation_id: str, kind: str, granted: frozenset[str]) -> None:
    """The right token type with the right scopes (or unknown scopes) passes."""
    check_access(OPERATIONS[operation_id], kind, granted)


@pytest.mark.parametrize(
    ("operation_id", "kind", "granted", "message"),
    [
        ("listTransfers", "client", CC, r"needs a user token \(user:read\).*with_user_token"),
        ("createTransfer", "client", CC, r"user:read_write.*as_user\(session\)"),
        ("listJobs", "client", {"client:admin"}, "needs client scope client:lookup"),
        ("getHealth", "client", {"client:admin"}, "scope='client:admin health:read'"),
        ("listOrganizations", "user", {"user:read_write"}, "does not accept user tokens"),
        ("updatePerson", "user", {"user:read"}, "needs user scope user:read_write"),
    ],
)
def test_access_refused(operation_id: str, kind: str, granted: frozenset[str], message: str) -> None:
    """A missing token type or scope is refused with what to do about it."""
    with pytest.raises(ScopeError, match=message):
        check_access(OPERATIONS[operation_id], kind, granted)


def test_writes_and_user_only_flags() -> None:
    """Writes are the non-GET operations; user-only ones have no client scopes."""
    writes = {op.operation_id for op in OPERATIONS.values() if op.write}
    assert writes == {
        "updateJob",
        "deleteAccount",
        "createAccount",
        "createTransfer",
        "updatePerson",
        "createGenericCardToken",
    }
    user_only = {op.operation_id for op in OPERATIONS.values() if op.user_token_required}
    assert user_only == writes - {"createGenericCardToken"} | {
        "readTransfer",
        "listTransfers",
        "readPaycheck",
        "listPaychecks",
    }


def test_operation_is_frozen() -> None:
    """The table cannot be changed by accident."""
    op: Operation = OPERATIONS["listJobs"]
    with pytest.raises(AttributeError):
        op.path = "/elsewhere"  # type: ignore[misc]
