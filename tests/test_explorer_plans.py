"""The explorer helpers without a server: what they send, and what they refuse to send."""

from __future__ import annotations

import asyncio
import inspect
import json
import uuid
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import httpx
import pandas as pd
import pytest

import dailypay_nb as dp
from dailypay_nb import openapi
from dailypay_nb._exceptions import ScopeError, WriteRefusedError
from dailypay_nb._explorer import (
    ACCOUNT_SUBTYPES,
    ACTIVATION_STATUSES,
    HELPERS,
    TRANSFER_SCHEDULES,
    AsyncExplorer,
    Included,
    SyncExplorer,
    operations_table,
)
from dailypay_nb._operations import OPERATIONS, ArgumentError, FilterError
from dailypay_nb._response import ApiResponse

CC = ("client:admin", "client:lookup", "health:read")
P = "aa860051-c411-4709-9685-c1b716df611b"
KEY = "e2736aa1-78c4-4cc6-b0a6-848e733f232a"
TRANSFER = {
    "data": {
        "type": "transfers",
        "id": "t1",
        "attributes": {"amount": 500, "currency": "USD"},
        "relationships": {"estimated_funding_sources": {"data": []}},
    },
    "included": [{"type": "funding_sources", "id": "f1", "attributes": {"amount": 500}}],
}


@dataclass
class Sent:
    method: str
    path: str
    params: Any
    json: Any
    headers: Any
    endpoint: Any


@dataclass
class Fake(SyncExplorer):
    """A stand-in session: records what would be sent and answers `reply`."""

    environment: str = "sandbox"
    token_kind: str = "client"
    scopes: tuple[str, ...] = CC
    allow_writes: bool = False
    sandbox: Any = None
    reply: dict[str, Any] = field(default_factory=lambda: {"data": []})
    sent: list[Sent] = field(default_factory=list)

    @property
    def settings(self) -> Any:
        return SimpleNamespace(environment=self.environment, allow_writes=self.allow_writes)

    @property
    def granted_scopes(self) -> frozenset[str]:
        return frozenset(self.scopes)

    def request(self, method: str, path: str, **kw: Any) -> ApiResponse:
        self.sent.append(Sent(method, path, **kw))
        body = json.dumps(self.reply).encode() if self.reply is not None else b""
        return ApiResponse(
            status=200,
            headers=httpx.Headers({"content-type": "application/vnd.api+json"}),
            body=body,
            method=method,
            url=f"http://sandbox.test{path}",
            endpoint=kw.get("endpoint"),
            timing=None,
        )

    def with_user_token(self, token: str, scope: str = "user:read_write") -> Fake:
        return Fake(token_kind="user", scopes=tuple(scope.split()), sandbox=token)


@dataclass
class AsyncFake(AsyncExplorer):
    """The async twin of `Fake`."""

    inner: Fake = field(default_factory=Fake)

    @property
    def settings(self) -> Any:
        return self.inner.settings

    @property
    def token_kind(self) -> str:
        return self.inner.token_kind

    @property
    def granted_scopes(self) -> frozenset[str]:
        return self.inner.granted_scopes

    @property
    def sandbox(self) -> Any:
        return None

    async def request(self, method: str, path: str, **kw: Any) -> ApiResponse:
        await asyncio.sleep(0)
        return self.inner.request(method, path, **kw)


def user(**kw: Any) -> Fake:
    return Fake(token_kind="user", scopes=("user:read_write",), **kw)


def test_every_authenticated_operation_has_a_helper() -> None:
    """Seventeen helpers cover every operation that takes a token."""
    authenticated = {op.operation_id for op in OPERATIONS.values() if op.authenticated}
    assert set(HELPERS.values()) == authenticated
    for name in HELPERS:
        assert callable(getattr(SyncExplorer, name))
        assert callable(getattr(AsyncExplorer, name))


@pytest.mark.parametrize("helper", sorted(HELPERS))
def test_helper_keywords_are_the_operations_filters(helper: str) -> None:
    """Each list helper's keywords are its operation's filters (plus include)."""
    op = OPERATIONS[HELPERS[helper]]
    params = inspect.signature(getattr(SyncExplorer, helper)).parameters
    if op.filters:
        keywords = {n for n, p in params.items() if p.kind is p.KEYWORD_ONLY and n != "include"}
        named = {n for n, p in params.items() if p.kind is p.POSITIONAL_OR_KEYWORD} - {"self"}
        assert keywords | named == {f.kwarg for f in op.filters}
        assert "unknown" in params
    assert ("include" in params) == bool(op.includes)
    assert ("allow_writes" in params) == op.write


PLANS: list[tuple[str, Any, dict[str, Any], tuple[str, str], dict[str, Any] | None, Any]] = [
    # (id, session, call kwargs, (method, path), params, json)
    ("health", Fake(), {"helper": "health"}, ("GET", "/rest/health"), None, None),
    (
        "organizations-by-name",
        Fake(),
        {"helper": "organizations", "args": ("DailyPay",)},
        ("GET", "/rest/organizations"),
        {"filter": 'name:"DailyPay"'},
        None,
    ),
    (
        "jobs-by-person",
        Fake(),
        {"helper": "jobs", "person_id": P, "employee_id": "E1"},
        ("GET", "/rest/jobs"),
        {"filter[person.id]": P, "filter[external_identifiers.employee_id]": "E1"},
        None,
    ),
    (
        "job-id-encoded",
        Fake(),
        {"helper": "job", "args": ("a/b",)},
        ("GET", "/rest/jobs/a%2Fb"),
        None,
        None,
    ),
    (
        "accounts-enum-normalised",
        Fake(),
        {"helper": "accounts", "person_id": P, "account_type": "earnings_balance"},
        ("GET", "/rest/accounts"),
        {"filter[person.id]": P, "filter[account_type]": "EARNINGS_BALANCE"},
        None,
    ),
    (
        "paychecks-dates",
        user(),
        {"helper": "paychecks", "status": "deposited", "pay_period_ends_before": "2026-03-01"},
        ("GET", "/rest/paychecks"),
        {"filter[status]": "DEPOSITED", "filter[pay_period_ends_at__lt]": "2026-03-01T00:00:00Z"},
        None,
    ),
    (
        "transfers-include",
        user(),
        {"helper": "transfers", "include": ["estimated_funding_sources"]},
        ("GET", "/rest/transfers"),
        {"include": "estimated_funding_sources"},
        None,
    ),
    (
        "update-job",
        user(),
        {
            "helper": "update_job",
            "args": ("j1",),
            "activation_status": "deactivated",
            "default_card_id": "c1",
        },
        ("PATCH", "/rest/jobs/j1"),
        None,
        {
            "data": {
                "type": "jobs",
                "id": "j1",
                "attributes": {"activation_status": "DEACTIVATED"},
                "relationships": {"direct_deposit_default_card": {"data": {"type": "accounts", "id": "c1"}}},
            }
        },
    ),
    (
        "update-person",
        user(),
        {"helper": "update_person", "args": (P,), "state_of_residence": "nj"},
        ("PATCH", f"/rest/people/{P}"),
        None,
        {"data": {"type": "people", "id": P, "attributes": {"state_of_residence": "NJ"}}},
    ),
    (
        "create-account",
        user(),
        {
            "helper": "create_account",
            "args": (P,),
            "account_type": "DEPOSITORY",
            "subtype": "checking",
            "name": "Checking",
            "details": {"routing_number": "021000021"},
        },
        ("POST", "/rest/accounts"),
        None,
        {
            "data": {
                "type": "accounts",
                "attributes": {
                    "name": "Checking",
                    "account_type": "DEPOSITORY",
                    "subtype": "CHECKING",
                    "details": {"routing_number": "021000021"},
                },
                "relationships": {"person": {"data": {"type": "people", "id": P}}},
            }
        },
    ),
    (
        "delete-account",
        user(reply=None),
        {"helper": "delete_account", "args": ("a1",)},
        ("DELETE", "/rest/accounts/a1"),
        None,
        None,
    ),
]


@pytest.mark.parametrize(
    ("session", "call", "request_line", "params", "body"),
    [case[1:] for case in PLANS],
    ids=[case[0] for case in PLANS],
)
def test_what_is_sent(
    session: Fake,
    call: dict[str, Any],
    request_line: tuple[str, str],
    params: dict[str, Any] | None,
    body: Any,
) -> None:
    """A helper sends the documented method, path, query and body, with its template."""
    call = dict(call)
    helper, args = call.pop("helper"), call.pop("args", ())
    getattr(session, helper)(*args, **call)
    (sent,) = session.sent
    assert (sent.method, sent.path) == request_line
    assert sent.params == params
    assert sent.json == body
    assert sent.endpoint == OPERATIONS[HELPERS[helper]].path


def test_create_transfer_generates_and_returns_the_key() -> None:
    """Without a key, a fresh UUID4 is sent and handed back in a column and in attrs."""
    session = user(reply=TRANSFER)
    frame = session.create_transfer(amount=500, origin_id="o1", schedule="next_business_day")
    (sent,) = session.sent
    key = sent.headers["Idempotency-Key"]
    assert uuid.UUID(key).version == 4
    assert frame.loc[0, "idempotency_key"] == key
    assert frame.attrs["idempotency_key"] == key
    assert sent.json["data"]["attributes"] == {
        "amount": 500,
        "currency": "USD",
        "schedule": "NEXT_BUSINESS_DAY",
        "preview": False,
    }


def test_create_transfer_uses_the_given_key() -> None:
    """A caller's key is sent as is, with the optional relationships and id."""
    session = user(reply=TRANSFER)
    session.create_transfer(
        amount=500,
        origin_id="o1",
        destination_id="d1",
        person_id=P,
        schedule="WITHIN_THIRTY_MINUTES",
        transfer_id="t1",
        idempotency_key=uuid.UUID(KEY),
    )
    (sent,) = session.sent
    assert sent.headers == {"Idempotency-Key": KEY}
    assert sent.json["data"]["id"] == "t1"
    assert set(sent.json["data"]["relationships"]) == {"origin", "destination", "person"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"amount": 72.5}, "integer cents"),
        ({"amount": True}, "integer cents"),
        ({"amount": -1}, ">= 0"),
        ({"schedule": "NOW"}, "WITHIN_THIRTY_MINUTES, NEXT_BUSINESS_DAY"),
        ({"idempotency_key": "not-a-uuid"}, "must be a UUID"),
        ({"origin_id": ""}, "origin_id"),
        ({"include": "person"}, "valid: estimated_funding_sources"),
    ],
)
def test_create_transfer_refuses_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    """Bad amounts, schedules, keys and ids are refused before sending."""
    session = user()
    call = {"amount": 500, "origin_id": "o1", "schedule": "NEXT_BUSINESS_DAY", **kwargs}
    with pytest.raises(ArgumentError, match=message):
        session.create_transfer(**call)
    assert session.sent == []


WRITES: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ("update_job", ("j1",), {"activation_status": "DEACTIVATED"}),
    (
        "create_account",
        (P,),
        {"account_type": "CARD", "subtype": "DEBIT", "name": "n", "details": {"a": "b"}},
    ),
    ("delete_account", ("a1",), {}),
    ("create_transfer", (), {"amount": 500, "origin_id": "o1", "schedule": "NEXT_BUSINESS_DAY"}),
    ("update_person", (P,), {"state_of_residence": "NY"}),
]


@pytest.mark.parametrize(("helper", "args", "kwargs"), WRITES, ids=[w[0] for w in WRITES])
def test_production_writes_are_refused(helper: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Against production, every write is refused before anything is sent."""
    session = user(environment="production")
    with pytest.raises(WriteRefusedError, match="production; nothing was sent"):
        getattr(session, helper)(*args, **kwargs)
    assert session.sent == []


@pytest.mark.parametrize(("helper", "args", "kwargs"), WRITES, ids=[w[0] for w in WRITES])
def test_production_writes_when_allowed(helper: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """`allow_writes=True` on the call or in the settings lets a production write through."""
    per_call = user(environment="production", reply=TRANSFER)
    getattr(per_call, helper)(*args, **kwargs, allow_writes=True)
    in_settings = user(environment="production", allow_writes=True, reply=TRANSFER)
    getattr(in_settings, helper)(*args, **kwargs)
    assert len(per_call.sent) == len(in_settings.sent) == 1


def test_write_refusal_comes_before_the_scope_check() -> None:
    """A client-credentials session writing to production hears about production first."""
    with pytest.raises(WriteRefusedError):
        Fake(environment="production").delete_account("a1")


@pytest.mark.parametrize(
    "helper", ["transfers", "paychecks", "transfer", "paycheck", "update_person", "delete_account"]
)
def test_user_operations_refused_with_client_token(helper: str) -> None:
    """User-only helpers with a client-credentials token explain how to get a user token."""
    session = Fake()
    op = OPERATIONS[HELPERS[helper]]
    args = ("x1",) if op.path_param else ()
    kwargs = {"state_of_residence": "NY"} if helper == "update_person" else {}
    with pytest.raises(ScopeError, match=r"needs a user token.*as_user\(session\)"):
        getattr(session, helper)(*args, **kwargs)
    assert session.sent == []


def test_missing_client_scope_is_named() -> None:
    """A client session without client:lookup is told to request it."""
    session = Fake(scopes=("client:admin",))
    with pytest.raises(ScopeError, match="client:lookup"):
        session.jobs()
    assert session.sent == []


@pytest.mark.parametrize(
    ("helper", "kwargs", "message"),
    [
        ("jobs", {"first_name": "Edith"}, r"no filter 'first_name'.*valid filters: primary_identifier"),
        ("accounts", {"account_type": "SAVINGS"}, "EARNINGS_BALANCE, DEPOSITORY, CARD"),
        ("organizations", {"products": "ODP"}, "valid filters: name"),
    ],
)
def test_filters_refused_with_valid_ones(helper: str, kwargs: dict[str, Any], message: str) -> None:
    """Unknown filters and bad enum values are refused, listing what is valid."""
    session = Fake()
    with pytest.raises(FilterError, match=message):
        getattr(session, helper)(**kwargs)
    assert session.sent == []


@pytest.mark.parametrize(
    ("helper", "args", "kwargs", "message"),
    [
        ("update_job", ("j1",), {}, "needs activation_status"),
        ("update_job", ("j1",), {"activation_status": "ON"}, "DEACTIVATED, DEACTIVATION_PENDING"),
        ("update_person", (P,), {"state_of_residence": "New York"}, "two letters"),
        (
            "create_account",
            (P,),
            {"account_type": "EARNINGS_BALANCE", "subtype": "ODP", "name": "n", "details": {"a": "b"}},
            "DEPOSITORY, CARD",
        ),
        (
            "create_account",
            (P,),
            {"account_type": "CARD", "subtype": "CHECKING", "name": "n", "details": {"a": "b"}},
            "DEBIT, DAILYPAY",
        ),
        (
            "create_account",
            (P,),
            {"account_type": "CARD", "subtype": "DEBIT", "name": "n", "details": {}},
            "details",
        ),
        ("job", ("",), {}, "job_id"),
    ],
)
def test_bad_arguments_refused(
    helper: str, args: tuple[Any, ...], kwargs: dict[str, Any], message: str
) -> None:
    """Write bodies and ids are checked before sending."""
    session = user()
    with pytest.raises(ArgumentError, match=message):
        getattr(session, helper)(*args, **kwargs)
    assert session.sent == []


def test_include_lands_in_attrs_and_survives_concat() -> None:
    """Included resources ride along in attrs without breaking pandas operations."""
    session = user(reply={"data": [TRANSFER["data"]], "included": TRANSFER["included"]})
    first = session.transfers(include="estimated_funding_sources")
    second = session.transfers(include="estimated_funding_sources")
    included = first.attrs["included"]
    assert isinstance(included, Included)
    assert list(included.frame["id"]) == ["f1"]
    assert len(pd.concat([first, second])) == 2
    assert first.head(1).attrs["included"] is included


def test_as_user_outside_the_sandbox() -> None:
    """Without an embedded sandbox, as_user explains where user tokens come from."""
    with pytest.raises(ScopeError, match="with_user_token"):
        dp.sandbox.as_user(Fake(environment="uat"))


def test_as_user_in_the_sandbox() -> None:
    """In the sandbox, as_user mints a token for the person and wraps it in a user session."""
    minted: list[tuple[Any, str]] = []

    class Handle:
        def user_token(self, person_id: Any = None, scope: str = "user:read_write") -> str:
            minted.append((person_id, scope))
            return "tok"

    session = dp.sandbox.as_user(Fake(sandbox=Handle()), P, scope="user:read")
    assert minted == [(P, "user:read")]
    assert session.token_kind == "user"
    assert session.granted_scopes == {"user:read"}


def test_async_helpers_send_the_same_plans() -> None:
    """The async helpers send what the sync ones do and return the same frame."""
    sync = user(reply=TRANSFER)
    async_session = AsyncFake(user(reply=TRANSFER))
    expected = sync.transfer("t1", include="estimated_funding_sources")
    got = asyncio.run(async_session.transfer("t1", include="estimated_funding_sources"))
    pd.testing.assert_frame_equal(got, expected)
    assert async_session.inner.sent == sync.sent


def test_async_checks_happen_at_call_time() -> None:
    """An async helper refuses bad input when called, before any coroutine exists."""
    with pytest.raises(FilterError):
        AsyncFake(user()).paychecks(status="PAID")


# --- body enums against the contract ---------------------------------------------------------


def test_body_enums_match_the_contract() -> None:
    """Activation statuses, schedules and account subtypes are the document's."""
    schemas = openapi.load()["components"]["schemas"]
    job = schemas["JobUpdateData"]["properties"]["data"]["properties"]["attributes"]
    assert tuple(job["properties"]["activation_status"]["enum"]) == ACTIVATION_STATUSES
    schedule = schemas["TransferCreateAttributes"]["properties"]["schedule"]["enum"]
    assert tuple(schedule) == TRANSFER_SCHEDULES
    for name, kind in (
        ("AccountCreateAttributes_Depository", "DEPOSITORY"),
        ("AccountCreateAttributes_Card", "CARD"),
    ):
        props = schemas[name]["properties"]
        assert props["account_type"]["const"] == kind
        assert tuple(props["subtype"]["enum"]) == ACCOUNT_SUBTYPES[kind]


def test_operations_table() -> None:
    """One row per operation, naming the helper that calls it."""
    table = operations_table()
    assert len(table) == len(OPERATIONS)
    row = table.set_index("operation_id").loc["listJobs"]
    assert row["helper"] == "jobs"
    assert "person_id=filter[person.id]" in row["filters"]
    assert table.set_index("operation_id").loc["createGenericCardToken", "helper"] == "create_card_token"
