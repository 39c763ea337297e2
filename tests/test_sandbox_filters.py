"""Filters (structured and the deprecated grammar) and the shape of the seeded data."""

from __future__ import annotations

import re
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from dailypay_nb import sandbox as sb
from dailypay_nb.sandbox import _filters
from dailypay_nb.sandbox._errors import ApiError

ROWS = [
    SimpleNamespace(name="DailyPay", status="DEPOSITED"),
    SimpleNamespace(name='Acme "Best" Foods', status="ESTIMATED"),
    SimpleNamespace(name="Globex", status="PROCESSING"),
]
FIELDS: dict[str, _filters.Field[Any]] = {
    "name": _filters.Field(lambda r, _: r.name, partial=True),
    "status": _filters.Field(
        lambda r, _: r.status, choices=frozenset({"DEPOSITED", "ESTIMATED", "PROCESSING"})
    ),
}


@pytest.mark.parametrize(
    ("expression", "names"),
    [
        ('name:"DailyPay"', ["DailyPay"]),
        ('name:"dailypay"', []),
        ('name~"lob"', ["Globex"]),
        ('name~"ACME"', ['Acme "Best" Foods']),
        ('name:"Acme \\"Best\\" Foods"', ['Acme "Best" Foods']),
        ('name:"DailyPay","Globex"', ["DailyPay", "Globex"]),
        ('name~"a" AND status:"DEPOSITED"', ["DailyPay"]),
        ('name~"a" and status:"ESTIMATED"', ['Acme "Best" Foods']),
        ('name:"Globex" OR status:"DEPOSITED"', ["DailyPay", "Globex"]),
        ('name:"Globex" & status:"PROCESSING"', ["Globex"]),
        ('name:"Globex" OR name:"DailyPay" AND status:"DEPOSITED"', ["DailyPay"]),  # left to right
        ('name:"Globex" OR (name:"DailyPay" AND status:"DEPOSITED")', ["DailyPay", "Globex"]),
        ('((status:"ESTIMATED"))', ['Acme "Best" Foods']),
        ("   ", ["DailyPay", 'Acme "Best" Foods', "Globex"]),
    ],
)
def test_filter_grammar(expression: str, names: list[str]) -> None:
    """Exact and partial matches, value lists, escapes, AND/OR/& and parentheses."""
    assert [r.name for r in _filters.apply(expression, ROWS, FIELDS)] == names


@pytest.mark.parametrize(
    ("expression", "code"),
    [
        ('name:"open', "INVALID_FILTER_QUERY"),
        ('name="DailyPay"', "INVALID_FILTER_QUERY"),
        ('(name:"DailyPay"', "INVALID_FILTER_QUERY"),
        ('name:"a" XOR name:"b"', "INVALID_FILTER_QUERY"),
        ('city:"Austin"', "INVALID_FILTER_FIELD"),
        ('status~"DEP"', "INVALID_FIELD_OPERATION"),
        ('status:"LOST"', "INVALID_FILTER_VALUE"),
    ],
)
def test_filter_errors(expression: str, code: str) -> None:
    """Malformed expressions, unknown fields, bad operations and values get their codes."""
    with pytest.raises(ApiError) as caught:
        _filters.apply(expression, ROWS, FIELDS)
    assert caught.value.code == code
    assert caught.value.source == {"parameter": "filter"}


@pytest.fixture
def cc(sandbox: sb.Sandbox) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {sandbox.client_token()}"}
    with httpx.Client(base_url=sandbox.url, headers=headers) as c:
        yield c


@pytest.fixture
def user(sandbox: sb.Sandbox) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {sandbox.user_token(scope='user:read')}"}
    with httpx.Client(base_url=sandbox.url, headers=headers) as c:
        yield c


def test_organization_name_filter(cc: httpx.Client) -> None:
    """The deprecated filter finds the DailyPay organization by exact and partial name."""
    exact = cc.get("/rest/organizations", params={"filter": 'name:"DailyPay"'}).json()["data"]
    assert [o["attributes"]["name"] for o in exact] == ["DailyPay"]
    partial = cc.get("/rest/organizations", params={"filter": 'name~"pay"'}).json()["data"]
    assert "DailyPay" in [o["attributes"]["name"] for o in partial]


def test_percent_encoded_bracket_keys(sandbox: sb.Sandbox, cc: httpx.Client) -> None:
    """`filter%5Bperson.id%5D=` works like `filter[person.id]=` (the SDK encodes brackets)."""
    person = sandbox.data.person_id
    response = cc.get(f"/rest/jobs?filter%5Bperson.id%5D={person}")
    jobs = response.json()["data"]
    assert [j["id"] for j in jobs] == sandbox.data.jobs_of(person)


def test_job_external_identifier_filters(sandbox: sb.Sandbox, cc: httpx.Client) -> None:
    """Each filter[external_identifiers.*] matches exactly; the grammar reaches them too."""
    job = cc.get(f"/rest/jobs/{sandbox.data.job_ids[0]}").json()["data"]
    ids = job["attributes"]["external_identifiers"]
    for key in ("primary_identifier", "employee_id"):
        found = cc.get("/rest/jobs", params={f"filter[external_identifiers.{key}]": ids[key]}).json()
        assert [j["id"] for j in found["data"]] == [job["id"]]
    expression = f'external_identifiers[employee_id]:"{ids["employee_id"]}"'
    assert len(cc.get("/rest/jobs", params={"filter": expression}).json()["data"]) == 1


def test_unsupported_and_unknown_filters(cc: httpx.Client) -> None:
    """filter[organization.id] is 'not yet supported'; unknown filter keys name the parameter."""
    for key in ("filter[organization.id]", "filter[city]"):
        error = cc.get("/rest/jobs", params={key: "x"}).json()["errors"][0]
        assert error["code"] == "INVALID_FILTER_FIELD"
        assert error["source"] == {"parameter": key}


def test_client_credentials_see_only_earnings_accounts(sandbox: sb.Sandbox, cc: httpx.Client) -> None:
    """With a CC token listAccounts needs filter[person.id] and returns EARNINGS_BALANCE only."""
    missing = cc.get("/rest/accounts").json()["errors"][0]
    assert missing["source"] == {"parameter": "filter[person.id]"}
    data = cc.get("/rest/accounts", params={"filter[person.id]": sandbox.data.person_id}).json()["data"]
    assert {a["attributes"]["account_type"] for a in data} == {"EARNINGS_BALANCE"}


def test_paycheck_date_filters_accept_milliseconds(user: httpx.Client) -> None:
    """Date filters take `...000Z` values; __gte and __lt bound the results."""
    everything = user.get("/rest/paychecks").json()["data"]
    starts = sorted(p["attributes"]["pay_period_starts_at"] for p in everything)
    cut = starts[len(starts) // 2].replace("Z", ".000Z")
    later = user.get("/rest/paychecks", params={"filter[pay_period_starts_at__gte]": cut}).json()["data"]
    earlier = user.get("/rest/paychecks", params={"filter[pay_period_starts_at__lt]": cut}).json()["data"]
    assert len(later) + len(earlier) == len(everything)
    assert all(p["attributes"]["pay_period_starts_at"] >= starts[len(starts) // 2] for p in later)


def test_paycheck_status_filter(user: httpx.Client) -> None:
    """filter[status] keeps one status; the deprecated `status:"..."` does the same."""
    structured = user.get("/rest/paychecks", params={"filter[status]": "DEPOSITED"}).json()["data"]
    grammar = user.get("/rest/paychecks", params={"filter": 'status:"DEPOSITED"'}).json()["data"]
    assert structured == grammar
    assert structured
    assert {p["attributes"]["status"] for p in structured} == {"DEPOSITED"}


def test_transfers_include_and_submitted_filter(user: httpx.Client) -> None:
    """include adds funding sources once each; filter[submitted_at__gt] is strict."""
    doc = user.get(
        "/rest/transfers", params={"include": "estimated_funding_sources,final_funding_sources"}
    ).json()
    wanted = {
        ref["id"]
        for t in doc["data"]
        for rel in ("estimated_funding_sources", "final_funding_sources")
        for ref in t["relationships"][rel]["data"]
    }
    assert {fs["id"] for fs in doc["included"]} == wanted
    assert len(doc["included"]) == len(wanted)
    newest = max(t["attributes"]["submitted_at"] for t in doc["data"])
    later = user.get("/rest/transfers", params={"filter[submitted_at__gt]": newest}).json()["data"]
    assert later == []


MILLIS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
DAY = re.compile(r"^\d{4}-\d\d-\d\dT0[45]:00:00Z$")


def test_seeded_data_is_consistent(sandbox: sb.Sandbox, user: httpx.Client) -> None:
    """Relationships point at existing records; money is integer cents; dates use DailyPay's formats."""
    data = sandbox.data
    accounts = user.get("/rest/accounts").json()["data"]
    assert {a["attributes"]["account_type"] for a in accounts} == {"EARNINGS_BALANCE", "DEPOSITORY", "CARD"}
    for account in accounts:
        assert account["links"]["self"] == f"{sandbox.url}/rest/accounts/{account['id']}"
        balances = account["attributes"]["balances"]
        assert balances["available"] is None or isinstance(balances["available"], int)
    for transfer in user.get("/rest/transfers").json()["data"]:
        attributes, relationships = transfer["attributes"], transfer["relationships"]
        assert MILLIS.match(attributes["submitted_at"])
        assert attributes["resolved_at"] is None or MILLIS.match(attributes["resolved_at"])
        assert isinstance(attributes["amount"], int)
        origin = relationships["origin"]["data"]
        assert origin["id"] in (data.account_ids if origin["type"] == "accounts" else data.paycheck_ids)
        assert relationships["destination"]["data"]["id"] in data.account_ids
    for paycheck in user.get("/rest/paychecks").json()["data"]:
        for name in ("pay_period_starts_at", "pay_period_ends_at", "deposit_expected_at"):
            assert DAY.match(paycheck["attributes"][name]), paycheck["attributes"][name]
        assert paycheck["relationships"]["job"]["data"]["id"] in data.job_ids
