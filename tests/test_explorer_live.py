"""The explorer against a live sandbox: every operation, joins, errors, writes, async."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
import pytest

import dailypay_nb as dp
from dailypay_nb._explorer import HELPERS
from dailypay_nb._operations import OPERATIONS, FilterError

SCOPE = "client:admin client:lookup health:read"
Args = tuple[tuple[Any, ...], dict[str, Any]]


def settings_for(h: Any, **overrides: Any) -> dict[str, Any]:
    return {
        "api_url": h.url,
        "token_url": h.token_url,
        "client_id": h.client_id,
        "client_secret": h.client_secret,
        "scope": SCOPE,
        "environment": "sandbox",
        **overrides,
    }


@pytest.fixture
def session(sandbox: Any) -> Iterator[dp.Session]:
    with dp.connect(**settings_for(sandbox)) as s:
        yield s


@pytest.fixture
def user(session: dp.Session, sandbox: Any) -> dp.Session:
    return session.with_user_token(sandbox.user_token())


@pytest.fixture
def fresh(fresh_sandbox: Any) -> Iterator[tuple[Any, dp.Session]]:
    """A private sandbox (its data may change) and a user session for its first person."""
    with dp.connect(**settings_for(fresh_sandbox)) as s:
        yield fresh_sandbox, s.with_user_token(fresh_sandbox.user_token())


# --- reads ----------------------------------------------------------------------------------


def test_health(session: dp.Session) -> None:
    """health() is a one-row frame with status and version."""
    frame = session.health()
    assert list(frame.columns) == ["status", "version"]
    assert frame.loc[0, "status"] == "UP"


def test_organizations_match_the_seed(session: dp.Session, sandbox: Any) -> None:
    """Every seeded organization, one row each; name filters narrow it down."""
    frame = session.organizations()
    assert list(frame.columns) == ["id", "type", "name", "products"]
    assert set(frame["id"]) == set(sandbox.data.organization_ids)
    first = sandbox.data.organization_names[0]
    assert list(session.organizations(first)["name"]) == [first]
    assert first in set(session.organizations(name_contains=first[:4])["name"])
    one = session.organization(sandbox.data.organization_ids[0])
    assert len(one) == 1
    assert one.loc[0, "name"] == first


def test_jobs_match_the_seed(session: dp.Session, sandbox: Any) -> None:
    """All jobs, then one person's, then one job, with the contract's columns."""
    data = sandbox.data
    frame = session.jobs()
    assert set(frame["id"]) == set(data.job_ids)
    assert list(frame.columns[:2]) == ["id", "type"]
    for column in ("wage_rate.amount", "wage_rate.amount_display", "person_id", "organization_id"):
        assert column in frame.columns
    assert str(frame["wage_rate.amount"].dtype) == "Int64"
    mine = session.jobs(person_id=data.person_id)
    assert set(mine["id"]) == set(data.jobs_of())
    assert set(mine["person_id"]) == {data.person_id}
    job = session.job(data.jobs_of()[0])
    assert list(job["id"]) == [data.jobs_of()[0]]


def test_jobs_by_external_identifier(session: dp.Session) -> None:
    """Filtering by an identifier taken from the list finds that job."""
    jobs = session.jobs()
    row = jobs.iloc[0]
    found = session.jobs(primary_identifier=row["external_identifiers.primary_identifier"])
    assert row["id"] in set(found["id"])


def test_jobs_join_people_on_person_id(session: dp.Session) -> None:
    """Every job's person_id finds its person: jobs ⋈ people loses and doubles nothing."""
    jobs = session.jobs()
    people = pd.concat([session.person(p) for p in jobs["person_id"].unique()], ignore_index=True)
    joined = jobs.merge(
        people, left_on="person_id", right_on="id", suffixes=("", "_person"), validate="many_to_one"
    )
    assert len(joined) == len(jobs)
    assert (joined["id_person"] == joined["person_id"]).all()
    assert "products.dailypay_card.eligible" in joined.columns


def test_jobs_join_default_accounts(user: dp.Session) -> None:
    """A job's default depository id finds a DEPOSITORY account of the user."""
    jobs = user.jobs()
    accounts = user.accounts()
    joined = jobs.merge(
        accounts, left_on="direct_deposit_default_depository_id", right_on="id", suffixes=("", "_acct")
    )
    assert len(joined) >= 1
    assert set(joined["account_type"]) == {"DEPOSITORY"}


def test_accounts_with_client_credentials(session: dp.Session, sandbox: Any) -> None:
    """A client-credentials token sees a person's earnings-balance accounts."""
    data = sandbox.data
    frame = session.accounts(person_id=data.person_id)
    assert set(frame["id"]) == set(data.accounts_of(data.person_id, "EARNINGS_BALANCE"))
    assert str(frame["balances.available"].dtype) == "Int64"
    one = session.account(data.earnings_account_id())
    assert one.loc[0, "account_type"] == "EARNINGS_BALANCE"


def test_user_reads_match_the_seed(user: dp.Session, sandbox: Any) -> None:
    """A user token sees the person's accounts, transfers and paychecks."""
    data = sandbox.data
    assert set(user.accounts()["id"]) == set(data.accounts_of())
    cards = user.accounts(account_type="card")
    assert set(cards["id"]) == set(data.accounts_of(None, "CARD"))
    transfers = user.transfers()
    assert set(transfers["id"]) == set(data.transfers_of())
    assert str(transfers["submitted_at"].dtype) == "datetime64[us, UTC]"
    assert list(user.transfer(data.transfers_of()[0])["id"]) == [data.transfers_of()[0]]
    paychecks = user.paychecks()
    assert set(paychecks["id"]) == set(data.paychecks_of())
    assert list(user.paycheck(data.paychecks_of()[0])["id"]) == [data.paychecks_of()[0]]
    assert list(user.person(data.person_id)["id"]) == [data.person_id]


def test_paycheck_filters(user: dp.Session) -> None:
    """Status and date filters agree with filtering the full list locally."""
    everything = user.paychecks()
    status = everything["status"].iloc[0]
    assert set(user.paychecks(status=status.lower())["id"]) == set(
        everything.loc[everything["status"] == status, "id"]
    )
    cut = everything["pay_period_ends_at"].median()
    later = user.paychecks(pay_period_ends_from=cut.to_pydatetime())
    assert set(later["id"]) == set(everything.loc[everything["pay_period_ends_at"] >= cut, "id"])
    job_id = everything["job_id"].iloc[0]
    assert set(user.paychecks(job_id=job_id)["job_id"]) == {job_id}


def test_transfers_include_funding_sources(user: dp.Session) -> None:
    """include= returns the funding sources in attrs, joinable on the to-many id lists."""
    frame = user.transfers(include="estimated_funding_sources,final_funding_sources")
    included = frame.attrs["included"].frame
    listed = {i for ids in frame["estimated_funding_sources_ids"] for i in ids}
    listed |= {i for ids in frame["final_funding_sources_ids"] for i in ids}
    assert set(included["id"]) == listed
    assert set(included["type"]) <= {"funding_sources"}


def test_submitted_after(user: dp.Session) -> None:
    """submitted_after keeps only later transfers."""
    everything = user.transfers()
    cut = everything["submitted_at"].median()
    later = user.transfers(submitted_after=cut.isoformat())
    assert set(later["id"]) == set(everything.loc[everything["submitted_at"] > cut, "id"])


# --- errors ---------------------------------------------------------------------------------


def test_401_from_the_server(session: dp.Session) -> None:
    """A token the sandbox does not know: 401 INVALID_TOKEN, one line, with a hint."""
    stranger = session.with_user_token("not-a-real-token")
    with pytest.raises(dp.ApiError) as info:
        stranger.transfers()
    error = info.value
    assert (error.status, error.code) == (401, "INVALID_TOKEN")
    assert error.message.startswith("GET /rest/transfers → 401 INVALID_TOKEN: ")
    assert "\n" not in str(error)
    assert "expired" in error.hint
    assert error.timing is not None


def test_403_from_the_server(session: dp.Session) -> None:
    """A raw request past the local checks: 403 FORBIDDEN and a hint naming the token type."""
    with pytest.raises(dp.ApiError) as info:
        session.get("/rest/transfers")
    error = info.value
    assert (error.status, error.code) == (403, "FORBIDDEN")
    assert "listTransfers needs a user token with user:read" in error.hint
    assert "\n" not in str(error)


def test_404_from_the_server(session: dp.Session) -> None:
    """An unknown id: 404 RECORD_NOT_FOUND with the request id in the message."""
    missing = str(uuid.uuid4())
    with pytest.raises(dp.ApiError) as info:
        session.job(missing)
    error = info.value
    assert (error.status, error.code) == (404, "RECORD_NOT_FOUND")
    assert error.message.startswith(f"GET /rest/jobs/{missing} → 404 RECORD_NOT_FOUND")
    assert error.request_id
    assert f"(request {error.request_id[:8]}" in error.message
    assert error.errors_frame.loc[0, "code"] == "RECORD_NOT_FOUND"


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda s: s.accounts(), "INVALID_PARAMETERS"),
        (lambda s: s.jobs(organization_id=str(uuid.uuid4())), "INVALID_FILTER_FIELD"),
        (lambda s: s.organizations(filter_by='name:"unclosed'), "INVALID_FILTER_QUERY"),
    ],
    ids=["accounts-without-person", "unsupported-filter", "bad-expression"],
)
def test_400_from_the_server(session: dp.Session, call: Callable[[dp.Session], Any], code: str) -> None:
    """Requests the sandbox rejects surface as ApiError 400 with its code."""
    with pytest.raises(dp.ApiError) as info:
        call(session)
    assert (info.value.status, info.value.code) == (400, code)
    assert "\n" not in str(info.value)


def test_errors_without_raising(session: dp.Session) -> None:
    """raise_for_status=False keeps the response, with its errors as a frame."""
    response = session.get(f"/rest/jobs/{uuid.uuid4()}", raise_for_status=False)
    assert response.status == 404
    assert list(response.errors_frame["code"]) == ["RECORD_NOT_FOUND"]
    assert response.request_id


def test_filters_refused_before_sending(fresh_sandbox: Any) -> None:
    """Unknown filters and bad enum values never reach the server."""
    h = fresh_sandbox
    with dp.connect(**settings_for(h)) as session:
        with pytest.raises(FilterError, match="valid filters: primary_identifier"):
            session.jobs(first_name="Edith")
        with pytest.raises(FilterError, match="EARNINGS_BALANCE, DEPOSITORY, CARD"):
            session.accounts(person_id=h.data.person_id, account_type="SAVINGS")
        with pytest.raises(dp.ScopeError, match="as_user"):
            session.paychecks()
    assert h.stats()["requests"] == 0
    assert h.stats()["token_requests"] == 0


# --- user tokens ----------------------------------------------------------------------------


def test_as_user_in_the_sandbox(session: dp.Session, sandbox: Any) -> None:
    """A session that knows its sandbox mints user tokens; the user sees their paychecks."""
    embedded = dp.Session(session.settings, sandbox=sandbox)
    try:
        person = sandbox.data.person_ids[1]
        as_them = dp.sandbox.as_user(embedded, person)
        assert as_them.token_kind == "user"
        assert set(as_them.paychecks()["id"]) == set(sandbox.data.paychecks_of(person))
    finally:
        embedded.close()


def test_as_user_with_a_sandbox_in_another_process(session: dp.Session, sandbox: Any) -> None:
    """Without a handle (a sandbox started by `dailypay-nb sandbox`), as_user mints over HTTP."""
    detached = dp.Session(session.settings, sandbox=None)
    try:
        person = sandbox.data.person_ids[2]
        as_them = dp.sandbox.as_user(detached, person, scope="user:read")
        assert (as_them.token_kind, as_them.granted_scopes) == ("user", frozenset({"user:read"}))
        assert set(as_them.paychecks()["id"]) == set(sandbox.data.paychecks_of(person))
        secret = as_them._user_token
        assert secret.reveal() not in repr(as_them) + as_them._repr_html_()
        assert f"user token: {secret.fingerprint}" in repr(as_them)  # not the client token's
        assert "<td>user:read</td>" in as_them._repr_html_()
        assert secret.masked in as_them._repr_html_()
        with pytest.raises(dp.ArgumentError, match="no person with id 'nobody'"):
            dp.sandbox.as_user(detached, "nobody")
    finally:
        detached.close()


def test_as_user_when_the_sandbox_is_unreachable_or_not_one(session: dp.Session, sandbox: Any) -> None:
    """A sandbox-environment URL with nothing behind it, or a server that is not our sandbox."""
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    gone = dp.Session(session.settings.replace(api_url="http://127.0.0.1:9"), sandbox=None)
    other = ThreadingHTTPServer(("127.0.0.1", 0), SimpleHTTPRequestHandler)  # answers POST with 501
    threading.Thread(target=other.serve_forever, daemon=True).start()
    stranger = dp.Session(
        session.settings.replace(api_url=f"http://127.0.0.1:{other.server_address[1]}"), sandbox=None
    )
    try:
        with pytest.raises(dp.ApiTransportError, match="dailypay-nb sandbox"):
            dp.sandbox.as_user(gone)
        with pytest.raises(dp.ScopeError, match=r"does not mint user tokens .*501.*with_user_token"):
            dp.sandbox.as_user(stranger)
    finally:
        gone.close()
        stranger.close()
        other.shutdown()
        other.server_close()


def test_connect_attaches_a_sandbox_of_this_process(session: dp.Session, sandbox: Any) -> None:
    """connect() with the URLs of a sandbox this process runs attaches its handle."""
    assert session.sandbox is sandbox


# --- writes ---------------------------------------------------------------------------------


def test_every_operation_answers(fresh: tuple[Any, dp.Session]) -> None:
    """All seventeen helpers reach their operation and get a 2xx."""
    h, user = fresh
    data = h.data
    with dp.connect(**settings_for(h)) as client:
        client.health()
        client.organizations()
        client.organization(data.organization_ids[0])
        client.jobs()
        client.job(data.jobs_of()[0])
        client.accounts(person_id=data.person_id)
        client.account(data.earnings_account_id())
        client.person(data.person_id)
    user.transfers()
    user.transfer(data.transfers_of()[0])
    user.paychecks()
    user.paycheck(data.paychecks_of()[0])
    job = user.update_job(data.jobs_of()[0], default_depository_id=data.depository_account_id())
    assert job.loc[0, "direct_deposit_default_depository_id"] == data.depository_account_id()
    person = user.update_person(data.person_id, state_of_residence="nj")
    assert person.loc[0, "state_of_residence"] == "NJ"
    account = user.create_account(
        data.person_id,
        account_type="DEPOSITORY",
        subtype="SAVINGS",
        name="Rainy day",
        details={
            "first_name": "Edith",
            "last_name": "Clarke",
            "routing_number": "021000021",
            "account_number": "987654321",
        },
    )
    assert account.loc[0, "details.account_number"].endswith("4321")
    assert user.delete_account(account.loc[0, "id"]) is None
    user.create_transfer(amount=500, origin_id=data.earnings_account_id(), schedule="NEXT_BUSINESS_DAY")
    routes = h.stats()["routes"]
    for name, operation_id in HELPERS.items():
        op = OPERATIONS[operation_id]
        answers = routes.get(f"{op.method} {op.path}", {})
        assert any(status.startswith("2") for status in answers), name


def test_create_transfer_twice_with_one_key(fresh: tuple[Any, dp.Session]) -> None:
    """The same key and payload twice: the same transfer, created once."""
    h, user = fresh
    before = set(h.data.transfers_of())
    key = str(uuid.uuid4())
    call = {
        "amount": 600,
        "origin_id": h.data.earnings_account_id(),
        "destination_id": h.data.depository_account_id(),
        "schedule": "NEXT_BUSINESS_DAY",
        "idempotency_key": key,
    }
    first = user.create_transfer(**call)
    second = user.create_transfer(**call)
    assert first.loc[0, "id"] == second.loc[0, "id"]
    assert first.loc[0, "idempotency_key"] == second.attrs["idempotency_key"] == key
    assert set(h.data.transfers_of()) - before == {first.loc[0, "id"]}
    assert (user.transfers()["id"] == first.loc[0, "id"]).sum() == 1


def test_create_transfer_key_reused_with_other_payload(fresh: tuple[Any, dp.Session]) -> None:
    """Reusing a key for a different transfer is refused by the server."""
    h, user = fresh
    key = str(uuid.uuid4())
    origin = h.data.earnings_account_id()
    user.create_transfer(amount=700, origin_id=origin, schedule="NEXT_BUSINESS_DAY", idempotency_key=key)
    with pytest.raises(dp.ApiError) as info:
        user.create_transfer(amount=800, origin_id=origin, schedule="NEXT_BUSINESS_DAY", idempotency_key=key)
    assert info.value.code == "INVALID_IDEMPOTENCY_KEY"


def test_production_writes_refused_before_any_request(fresh_sandbox: Any) -> None:
    """Production settings pointed at a sandbox: every write is refused, nothing is sent."""
    h = fresh_sandbox
    data = h.data
    with dp.connect(**settings_for(h, environment="production")) as client:
        user = client.with_user_token(h.user_token())
        writes: list[Callable[[], Any]] = [
            lambda: user.update_job(data.jobs_of()[0], activation_status="DEACTIVATED"),
            lambda: user.update_person(data.person_id, state_of_residence="NJ"),
            lambda: user.delete_account(data.card_account_id()),
            lambda: user.create_transfer(
                amount=500, origin_id=data.earnings_account_id(), schedule="NEXT_BUSINESS_DAY"
            ),
            lambda: client.create_transfer(
                amount=500, origin_id=data.earnings_account_id(), schedule="NEXT_BUSINESS_DAY"
            ),
        ]
        for write in writes:
            with pytest.raises(dp.WriteRefusedError, match="production; nothing was sent"):
                write()
        assert h.stats()["requests"] == 0
        assert h.stats()["token_requests"] == 0
        user.update_person(data.person_id, state_of_residence="NJ", allow_writes=True)
        assert h.stats()["requests"] == 1


# --- async ----------------------------------------------------------------------------------


def _first(ids: list[str]) -> str:
    return ids[0]


READS: list[tuple[str, str, Callable[[Any], Args]]] = [
    ("health", "client", lambda d: ((), {})),
    ("organizations", "client", lambda d: ((), {})),
    ("organization", "client", lambda d: ((_first(d.organization_ids),), {})),
    ("jobs", "client", lambda d: ((), {"person_id": d.person_id})),
    ("job", "client", lambda d: ((_first(d.jobs_of()),), {})),
    ("person", "client", lambda d: ((d.person_id,), {})),
    ("accounts", "client", lambda d: ((), {"person_id": d.person_id})),
    ("account", "client", lambda d: ((d.earnings_account_id(),), {})),
    ("accounts", "user", lambda d: ((), {"account_type": "DEPOSITORY"})),
    ("transfers", "user", lambda d: ((), {})),
    ("transfer", "user", lambda d: ((_first(d.transfers_of()),), {})),
    ("paychecks", "user", lambda d: ((), {})),
    ("paycheck", "user", lambda d: ((_first(d.paychecks_of()),), {})),
]


@pytest.mark.parametrize(("helper", "kind", "arguments"), READS, ids=[f"{r[0]}-{r[1]}" for r in READS])
def test_async_frames_equal_sync_frames(
    sandbox: Any, helper: str, kind: str, arguments: Callable[[Any], Args]
) -> None:
    """Each read helper gives the same frame from AsyncSession as from Session."""
    args, kwargs = arguments(sandbox.data)
    token = sandbox.user_token() if kind == "user" else None
    with dp.connect(**settings_for(sandbox)) as sync:
        s = sync.with_user_token(token) if token else sync
        expected = getattr(s, helper)(*args, **kwargs)

    async def run() -> pd.DataFrame:
        async with await dp.connect_async(**settings_for(sandbox)) as asession:
            a = asession.with_user_token(token) if token else asession
            frame: pd.DataFrame = await getattr(a, helper)(*args, **kwargs)
            return frame

    pd.testing.assert_frame_equal(asyncio.run(run()), expected)


def test_twenty_concurrent_calls_one_token(sandbox: Any) -> None:
    """Twenty gathered calls on a cold session fetch one token between them."""

    async def run() -> list[pd.DataFrame]:
        async with await dp.connect_async(**settings_for(sandbox)) as asession:
            return list(await asyncio.gather(*(asession.jobs() for _ in range(20))))

    frames = asyncio.run(run())
    stats = sandbox.stats()
    assert stats["token_requests"] == 1
    assert stats["routes"]["GET /rest/jobs"] == {"200": 20}
    assert all(frame.equals(frames[0]) for frame in frames)
