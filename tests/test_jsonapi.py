"""JSON:API documents → frames: columns, dtypes, relationships, errors, and junk."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import httpx
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dailypay_nb import openapi
from dailypay_nb._exceptions import DailyPayError
from dailypay_nb._jsonapi import (
    ERROR_COLUMNS,
    MAX_DEPTH,
    SHAPES,
    DocumentError,
    errors,
    errors_frame,
    format_money,
    included_frame,
    records,
    to_frame,
)
from dailypay_nb._operations import OPERATIONS

P1 = "3fa8f641-5717-4562-b3fc-2c963f66afa6"
ORG = "f0b30634-108c-439c-a8c1-c6a91197f022"
JOB = "e9d84b0d-92ba-43c9-93bf-7c993313fa6f"
ACC = "2bc7d781-3247-46f6-b60f-4090d214936a"
TR = "aba332a2-24a2-46de-8257-5040e71ab210"
FS = "b5393c00b7c113fc2e5ae3e80c785bb2"


def rel(kind: str, rid: str | None) -> dict[str, Any]:
    return {"data": None if rid is None else {"type": kind, "id": rid}}


JOB_RESOURCE: dict[str, Any] = {
    "type": "jobs",
    "id": JOB,
    "attributes": {
        "external_identifiers": {"primary_identifier": "0123456789"},
        "first_name": "Edith",
        "last_name": "Clarke",
        "activation_status": "ACTIVATED",
        "wage_rate": {"amount": 2500, "currency": "USD", "frequency": "HOURLY"},
        "title": "Computer",
        "department": "Finance",
        "location": "New York, New York",
        "direct_deposit_status": "SETUP_COMPLETE",
    },
    "relationships": {
        "person": rel("people", P1),
        "organization": rel("organizations", ORG),
        "direct_deposit_default_depository": rel("accounts", ACC),
        "direct_deposit_default_card": rel("accounts", None),
    },
    "links": {"self": f"https://api.dailypay.com/rest/jobs/{JOB}"},
}
JOB_COLUMNS = [
    "id",
    "type",
    "first_name",
    "last_name",
    "activation_status",
    "wage_rate.amount",
    "wage_rate.amount_display",
    "wage_rate.currency",
    "wage_rate.frequency",
    "title",
    "department",
    "location",
    "direct_deposit_status",
    "external_identifiers.primary_identifier",  # a map's keys (listJobs filters), even when absent,
    "external_identifiers.employee_id",  # after the declared attributes
    "external_identifiers.group",
    "person_id",
    "organization_id",
    "direct_deposit_default_depository_id",
    "direct_deposit_default_card_id",
]

TRANSFER_DOC: dict[str, Any] = {
    "data": [
        {
            "type": "transfers",
            "id": TR,
            "attributes": {
                "preview": False,
                "amount": 15000,
                "currency": "USD",
                "schedule": "WITHIN_THIRTY_MINUTES",
                "status": "PENDING",
                "submitted_at": "2021-04-21T21:30:58.051Z",
                "resolved_at": None,
                "fee": 300,
            },
            "relationships": {
                "origin": rel("paychecks", "pc1"),
                "destination": rel("accounts", ACC),
                "person": rel("people", P1),
                "estimated_funding_sources": {"data": [{"type": "funding_sources", "id": FS}]},
                "final_funding_sources": {"data": []},
            },
            "links": {"self": f"https://api.dailypay.com/rest/transfers/{TR}"},
        }
    ],
    "included": [
        {
            "type": "funding_sources",
            "id": FS,
            "attributes": {"amount": 15000, "currency": "USD"},
            "relationships": {"source": rel("paychecks", "pc1"), "transfer": rel("transfers", TR)},
        }
    ],
}


def plain(value: Any) -> Any:
    """Frame cells as comparable plain values: NA → None, timestamps → ISO strings."""
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, list):
        return value
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return value.item() if hasattr(value, "item") else value


def rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


CASES: list[tuple[str, Any, dict[str, Any], list[str] | None, dict[str, Any]]] = [
    # (id, document, to_frame kwargs, expected columns (None: skip), expected first row subset)
    (
        "job-list",
        {"data": [JOB_RESOURCE]},
        {},
        JOB_COLUMNS,
        {
            "wage_rate.amount": 2500,
            "wage_rate.amount_display": "$25.00",
            "person_id": P1,
            "direct_deposit_default_card_id": None,
        },
    ),
    ("single-resource", {"data": JOB_RESOURCE}, {}, JOB_COLUMNS, {"id": JOB, "type": "jobs"}),
    (
        "links-last",
        {"data": JOB_RESOURCE},
        {"links": True},
        [*JOB_COLUMNS, "links.self"],
        {"links.self": f"https://api.dailypay.com/rest/jobs/{JOB}"},
    ),
    (
        "transfer",
        TRANSFER_DOC,
        {},
        [
            "id",
            "type",
            "preview",
            "amount",
            "amount_display",
            "currency",
            "schedule",
            "status",
            "submitted_at",
            "resolved_at",
            "fee",
            "fee_display",
            "origin_id",
            "origin_type",
            "destination_id",
            "person_id",
            "estimated_funding_sources_ids",
            "final_funding_sources_ids",
        ],
        {
            "submitted_at": "2021-04-21T21:30:58.051000+00:00",
            "resolved_at": None,
            "origin_type": "paychecks",
            "estimated_funding_sources_ids": [FS],
            "final_funding_sources_ids": [],
            "fee_display": "$3.00",
        },
    ),
    (
        "person-nested-products",
        {
            "data": {
                "type": "people",
                "id": P1,
                "attributes": {
                    "products": {"dailypay_card": {"eligible": True, "enrolled": False}},
                    "state_of_residence": "NY",
                    "disallow_reason": None,
                },
            }
        },
        {},
        [
            "id",
            "type",
            "disallow_reason",
            "state_of_residence",
            "products.dailypay_card.eligible",
            "products.dailypay_card.enrolled",
        ],
        {"products.dailypay_card.eligible": True, "state_of_residence": "NY"},
    ),
    (
        "accounts-mixed-details",
        {
            "data": [
                {
                    "type": "accounts",
                    "id": "a1",
                    "attributes": {
                        "name": "Balance",
                        "account_type": "EARNINGS_BALANCE",
                        "balances": {"available": 7250, "current": -120, "currency": "USD"},
                        "details": {},
                    },
                },
                {
                    "type": "accounts",
                    "id": "a2",
                    "attributes": {
                        "details": {"last_four": "0003"},
                        "balances": {"available": None, "current": None, "currency": "USD"},
                    },
                },
            ]
        },
        {},
        [  # every declared column, whichever the rows happen to carry
            "id",
            "type",
            "name",
            "account_type",
            "subtype",
            "verification_status",
            "balances.available",
            "balances.available_display",
            "balances.current",
            "balances.current_display",
            "balances.currency",
            "capabilities.transfer_destination",
            "details.first_name",
            "details.last_name",
            "details.routing_number",
            "details.account_number",
            "details.last_four",
            "details.issuer",
            "details.expiration_month",
            "details.expiration_year",
            "person_id",
        ],
        {"balances.current_display": "-$1.20", "details.last_four": None},
    ),
    (
        "empty-list-known-type",
        {"data": []},
        {"resource_type": "paychecks"},
        [
            "id",
            "type",
            "status",
            "pay_period_ends_at",
            "pay_period_starts_at",
            "deposit_expected_at",
            "total_debited",
            "total_debited_display",
            "gross_earnings",
            "gross_earnings_display",
            "employer_withholdings",
            "employer_withholdings_display",
            "net_earnings",
            "net_earnings_display",
            "currency",
            "person_id",
            "job_id",
        ],
        {},
    ),
    ("data-null", {"data": None}, {}, ["id", "type"], {}),
    ("data-missing", {"meta": {"count": 0}}, {}, ["id", "type"], {}),
    ("empty-object", {}, {}, ["id", "type"], {}),
    ("empty-body", None, {}, ["id", "type"], {}),
    ("errors-document", {"errors": [{"status": "404"}]}, {}, ["id", "type"], {}),
    ("plain-object", {"status": "UP", "version": "3.0.0"}, {}, ["status", "version"], {}),
    (
        "unknown-type-document-order",
        {"data": [{"type": "widgets", "id": "w", "attributes": {"z": 1, "a": {"b": 2}}}]},
        {},
        ["id", "type", "z", "a.b"],
        {"z": 1, "a.b": 2},
    ),
    (
        "reserved-attribute-names",
        {"data": [{"type": "x", "id": "1", "attributes": {"id": "inner", "type": "t"}}]},
        {},
        ["id", "type", "attributes.id", "attributes.type"],
        {"id": "1", "attributes.id": "inner"},
    ),
    (
        "relationship-without-data",
        {"data": [{"type": "x", "id": "1", "relationships": {"owner": {"links": {}}}}]},
        {},
        ["id", "type", "owner_id"],
        {"owner_id": None},
    ),
    (
        "money-other-currency-and-junk",
        {
            "data": [
                {"type": "funding_sources", "id": "1", "attributes": {"amount": 7250, "currency": "EUR"}},
                {"type": "funding_sources", "id": "2", "attributes": {"amount": "12", "currency": None}},
            ]
        },
        {},
        ["id", "type", "amount", "amount_display", "currency", "source_id", "transfer_id"],
        {"amount": 7250, "amount_display": "72.50 EUR"},
    ),
]


@pytest.mark.parametrize(
    ("document", "kwargs", "columns", "first"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_to_frame(
    document: Any, kwargs: dict[str, Any], columns: list[str] | None, first: dict[str, Any]
) -> None:
    """Columns come in the documented order and cells hold the documented values."""
    frame = to_frame(document, **kwargs)
    if columns is not None:
        assert list(frame.columns) == columns
    if first:
        assert rows(frame)[0].items() >= first.items()


def test_dtypes() -> None:
    """Money is nullable Int64, timestamps are tz-aware UTC, ids are strings."""
    frame = to_frame(TRANSFER_DOC)
    assert str(frame["amount"].dtype) == "Int64"
    assert str(frame["submitted_at"].dtype) == "datetime64[us, UTC]"
    assert str(frame["resolved_at"].dtype) == "datetime64[us, UTC]"
    assert pd.api.types.is_string_dtype(frame["id"])


def test_empty_list_keeps_dtypes() -> None:
    """An empty list of a known type still has Int64 money and UTC datetimes."""
    frame = to_frame({"data": []}, resource_type="transfers")
    assert str(frame["amount"].dtype) == "Int64"
    assert str(frame["submitted_at"].dtype) == "datetime64[us, UTC]"
    assert "estimated_funding_sources_ids" in frame.columns
    assert "origin_type" in frame.columns


def test_junk_dates_become_nat() -> None:
    """An unparsable timestamp is NaT, not an exception."""
    doc = copy.deepcopy(TRANSFER_DOC)
    doc["data"][0]["attributes"]["submitted_at"] = "yesterday"
    assert to_frame(doc)["submitted_at"].isna().all()


def test_overflowing_money_stays_object() -> None:
    """An amount too big for Int64 is kept as is instead of failing."""
    doc = {"data": [{"type": "funding_sources", "id": "1", "attributes": {"amount": 10**30}}]}
    assert to_frame(doc)["amount"].iloc[0] == 10**30


def test_included_frame() -> None:
    """Included resources get their own frame, with relationship ids."""
    frame = included_frame(TRANSFER_DOC)
    assert list(frame.columns) == [
        "id",
        "type",
        "amount",
        "amount_display",
        "currency",
        "source_id",
        "transfer_id",
    ]
    assert included_frame({"data": []}).empty


def test_deep_nesting_stops_flattening() -> None:
    """Past MAX_DEPTH levels the rest stays one dict cell."""
    nested: dict[str, Any] = {"leaf": 1}
    for _ in range(MAX_DEPTH + 5):
        nested = {"n": nested}
    frame = to_frame({"data": [{"type": "x", "id": "1", "attributes": nested}]})
    (column,) = [c for c in frame.columns if c.startswith("n.")]
    assert column.count(".") == MAX_DEPTH - 1
    assert isinstance(frame[column].iloc[0], dict)


def test_records_are_plain_dicts() -> None:
    """`records` gives the flat rows without pandas types."""
    (row,) = records(JOB_RESOURCE)
    assert row["wage_rate.amount"] == 2500
    assert row["person_id"] == P1


def test_jobs_join_people_on_person_id() -> None:
    """Relationship id columns join to the related resources' `id`."""
    jobs = to_frame({"data": [JOB_RESOURCE]})
    people = to_frame({"data": {"type": "people", "id": P1, "attributes": {"state_of_residence": "NY"}}})
    joined = jobs.merge(people, left_on="person_id", right_on="id", suffixes=("", "_person"))
    assert joined.loc[0, "state_of_residence"] == "NY"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([1, 2], "expected a JSON object, got a list"),
        ("text", "expected a JSON object"),
        ({"data": "x"}, "data is a str"),
        ({"data": [1]}, r"data\[0\] is a int"),
        ({"data": [{"attributes": [1]}]}, r"data\[0\].attributes is a list"),
        ({"data": [{"relationships": "r"}]}, r"data\[0\].relationships is a str"),
    ],
)
def test_malformed_documents_raise_document_error(document: Any, message: str) -> None:
    """Structurally wrong documents raise DocumentError naming where."""
    with pytest.raises(DocumentError, match=message):
        to_frame(document)


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (7250, "USD", "$72.50"),
        (5, "USD", "$0.05"),
        (-120, "USD", "-$1.20"),
        (123456789, "USD", "$1,234,567.89"),
        (7250, "EUR", "72.50 EUR"),
        (7250, None, "72.50"),
        (None, "USD", None),
        (72.5, "USD", None),
        (True, "USD", None),
    ],
)
def test_format_money(amount: Any, currency: Any, expected: str | None) -> None:
    """Cents become a display string with the currency."""
    assert format_money(amount, currency) == expected


ERROR_DOC = {
    "errors": [
        {
            "status": "404",
            "code": "RECORD_NOT_FOUND",
            "detail": "Could not find a record with the provided ID",
            "links": {"about": "https://developer.dailypay.com/tag/Errors"},
            "meta": {"request_id": "3c526bf4-f3c0-4c4a-a4cb-95f7db8b3bbe", "trace_id": "4016"},
        },
        {"status": "400", "code": "INVALID_FILTER_FIELD", "source": {"parameter": "filter[x]"}},
        "junk",
    ]
}


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (ERROR_DOC, ["RECORD_NOT_FOUND", "INVALID_FILTER_FIELD"]),
        ({"errors": "nope"}, []),
        ({"data": []}, []),
        (None, []),
        ([{"code": "X"}], []),
    ],
)
def test_errors(document: Any, expected: list[str]) -> None:
    """Error objects are the dict items of `errors`, anything else is ignored."""
    assert [e.get("code") for e in errors(document)] == expected


def test_errors_frame() -> None:
    """One row per error, with source and meta flattened."""
    frame = errors_frame(errors(ERROR_DOC))
    assert list(frame.columns) == list(ERROR_COLUMNS)
    assert frame.loc[0, "request_id"] == "3c526bf4-f3c0-4c4a-a4cb-95f7db8b3bbe"
    assert frame.loc[1, "source.parameter"] == "filter[x]"
    assert errors_frame([]).empty


# --- the contract ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def schemas() -> dict[str, Any]:
    found: dict[str, Any] = openapi.load()["components"]["schemas"]
    return found


def deref(schemas: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = schemas[node["$ref"].rsplit("/", 1)[1]]
    return node


def merged(schemas: dict[str, Any], node: Any) -> dict[str, Any]:
    """Properties of a schema with allOf/oneOf branches merged, in order."""
    node = deref(schemas, node)
    props: dict[str, Any] = {}
    for branch in [*node.get("allOf", []), *node.get("oneOf", [])]:
        props.update(merged(schemas, branch))
    props.update(node.get("properties", {}))
    return props


def flat_attributes(schemas: dict[str, Any], node: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted attribute columns → leaf schema (with `_parent` for the money check)."""
    node = deref(schemas, node)
    out: dict[str, Any] = {}
    for branch in node.get("oneOf", []):  # a union: every branch's columns
        out.update(flat_attributes(schemas, branch, prefix))
    node = {k: v for k, v in node.items() if k != "oneOf"}
    props = merged(schemas, node)
    for name, sub in props.items():
        leaf = deref(schemas, sub)
        inner = merged(schemas, leaf)
        if leaf.get("type") == "object" and inner:
            out.update(flat_attributes(schemas, leaf, f"{prefix}{name}."))
        elif leaf.get("type") == "object" and leaf.get("maxProperties") == 0:
            continue
        else:
            out[prefix + name] = {**merged_leaf(schemas, leaf), "_parent": props}
    return out


def merged_leaf(schemas: dict[str, Any], leaf: Any) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for branch in leaf.get("allOf", []):
        result.update(deref(schemas, branch))
    result.update({k: v for k, v in leaf.items() if k != "allOf"})
    return result


def resources(schemas: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {}
    for name, schema in schemas.items():
        const = schema.get("properties", {}).get("type", {}).get("const")
        if name.endswith("Resource") and "Create" not in name and const:
            found[const] = schema
    return found


def test_every_resource_type_has_a_shape(schemas: dict[str, Any]) -> None:
    """Each resource type of the contract is known to the frame builder."""
    assert set(resources(schemas)) == set(SHAPES)


@pytest.mark.parametrize("kind", sorted(SHAPES))
def test_shape_matches_contract(schemas: dict[str, Any], kind: str) -> None:
    """Attribute columns, money, date-times and relationships are the contract's."""
    resource = resources(schemas)[kind]
    attrs = flat_attributes(schemas, resource["properties"]["attributes"])
    shape = SHAPES[kind]
    if "oneOf" in deref(schemas, resource["properties"]["attributes"]):
        assert set(shape.attributes) == set(attrs)
    else:
        assert shape.attributes == tuple(attrs)
    datetimes = {k for k, v in attrs.items() if v.get("format") == "date-time"}
    assert set(shape.datetimes) == datetimes
    money = {
        k
        for k, v in attrs.items()
        if ("integer" in str(v.get("type")) or v.get("minimum") == 0)
        and "currency" in v["_parent"]
        and k.rsplit(".", 1)[-1] != "currency"
    }
    assert {amount for amount, _ in shape.money} == money
    relationships = merged(schemas, resource["properties"].get("relationships", {}))
    assert shape.relationships == tuple(relationships)
    to_many = {
        name
        for name, sub in relationships.items()
        if merged(schemas, sub).get("data", {}).get("type") == "array"
        or deref(schemas, merged(schemas, sub).get("data", {})).get("type") == "array"
    }
    assert set(shape.to_many) == to_many
    polymorphic = {n for n, sub in relationships.items() if "oneOf" in deref(schemas, sub)}
    assert set(shape.polymorphic) == polymorphic


# --- junk -----------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)
RESOURCE = st.fixed_dictionaries(
    {},
    optional={
        "id": JSON,
        "type": st.sampled_from([*SHAPES, "x"]) | JSON,
        "attributes": st.dictionaries(
            st.sampled_from(["amount", "currency", "submitted_at", "wage_rate", "id", "n"]), JSON
        )
        | JSON,
        "relationships": st.dictionaries(
            st.sampled_from(["origin", "person", "estimated_funding_sources"]),
            st.fixed_dictionaries({}, optional={"data": JSON}) | JSON,
        )
        | JSON,
        "links": JSON,
    },
)
DOCUMENT = (
    st.fixed_dictionaries(
        {},
        optional={
            "data": st.lists(RESOURCE | JSON, max_size=4) | RESOURCE | JSON,
            "included": st.lists(RESOURCE, max_size=3) | JSON,
            "errors": st.lists(JSON, max_size=3) | JSON,
            "meta": JSON,
        },
    )
    | JSON
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=DOCUMENT, links=st.booleans())
def test_junk_gives_a_frame_or_a_dailypay_error(document: Any, links: bool) -> None:
    """Whatever the body, the result is a DataFrame or a DailyPayError, nothing else."""
    for convert in (
        lambda: to_frame(document, links=links),
        lambda: to_frame(document, resource_type="transfers"),
        lambda: included_frame(document, links=links),
        lambda: errors_frame(errors(document)),
    ):
        try:
            frame = convert()
        except DailyPayError:
            continue
        assert isinstance(frame, pd.DataFrame)
        assert frame.columns.is_unique


def test_round_trip_through_json_text() -> None:
    """Frames come from parsed JSON, so re-parsing gives the same frame."""
    again = json.loads(json.dumps(TRANSFER_DOC))
    pd.testing.assert_frame_equal(to_frame(again), to_frame(TRANSFER_DOC))


# --- columns depend on the operation, not on the data -----------------------------------------

LIST_OPERATIONS = sorted(
    op.operation_id for op in OPERATIONS.values() if op.operation_id.startswith("list") and op.resource_type
)


def _emptied(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource with every nested object of its attributes, and its relationships, empty."""
    out = copy.deepcopy(resource)
    attributes = out.get("attributes") or {}
    for name, value in attributes.items():
        if isinstance(value, dict):
            attributes[name] = {}
    out["relationships"] = {}
    return out


def _live_list(sandbox: Any, operation_id: str) -> dict[str, Any]:
    """One real answer of the sandbox to a list operation (with a token that may call it)."""
    op = OPERATIONS[operation_id]
    user = bool(op.user_scopes)
    token = sandbox.user_token() if user else sandbox.client_token()
    response = httpx.get(f"{sandbox.url}{op.path}", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    assert document["data"], f"{operation_id} gave no rows to test with"
    return document


@pytest.mark.parametrize("links", [False, True])
@pytest.mark.parametrize("operation_id", LIST_OPERATIONS)
def test_columns_depend_only_on_the_operation(sandbox: Any, operation_id: str, links: bool) -> None:
    """An empty list, a one-row list and a list whose nested objects are empty give the same
    columns: the ones the operation's resource type declares."""
    assert {"listJobs", "listAccounts", "listTransfers", "listPaychecks", "listOrganizations"} <= set(
        LIST_OPERATIONS
    )
    kind = OPERATIONS[operation_id].resource_type
    first = _live_list(sandbox, operation_id)["data"][0]
    frames = {
        "empty": to_frame({"data": []}, resource_type=kind, links=links),
        "one row": to_frame({"data": [first]}, resource_type=kind, links=links),
        "nested objects empty": to_frame({"data": [_emptied(first)]}, resource_type=kind, links=links),
        "both": to_frame({"data": [_emptied(first), first]}, resource_type=kind, links=links),
    }
    columns = {name: list(frame.columns) for name, frame in frames.items()}
    assert all(c == columns["empty"] for c in columns.values()), columns
    emptied = frames["nested objects empty"].iloc[0]
    assert all(pd.isna(emptied[c]) for c in columns["empty"] if "." in c and not c.startswith("links."))


def test_map_keys_are_the_ones_the_contract_names() -> None:
    """A job's external_identifiers is a free-form map; its columns are the keys listJobs filters on."""
    document = openapi.load()
    names = [
        document["components"]["parameters"][ref["$ref"].rsplit("/", 1)[1]]["name"]
        for ref in document["paths"]["/rest/jobs"]["parameters"]
        if "$ref" in ref
    ]
    keys = tuple(n[len("filter[external_identifiers.") : -1] for n in names if "external_identifiers." in n)
    assert dict(SHAPES["jobs"].map_keys) == {"external_identifiers": keys}
