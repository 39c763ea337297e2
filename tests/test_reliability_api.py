"""API fault matrix on /rest/* against the real sandbox: GETs are retried, writes only with an
Idempotency-Key, 401 means one refetch and one retry, and every attempt is a timing row."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import dailypay_nb as dp

ORGS = "/rest/organizations"
ROUTE = "GET /rest/organizations"
HTML_502 = "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"

#: (id, inject kwargs, session settings)
RECOVERS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("500", {"status": 500}, {}),
    ("502-html", {"status": 502, "body": HTML_502, "content_type": "text/html"}, {}),
    ("503-retry-after", {"status": 503, "headers": {"Retry-After": "1"}}, {}),
    ("504", {"status": 504}, {}),
    (
        "429-retry-after-json",
        {"status": 429, "headers": {"Retry-After": "1"}},
        {},
    ),
    (
        "429-retry-after-text",
        {"status": 429, "body": "Slow down", "content_type": "text/plain", "headers": {"Retry-After": "1"}},
        {},
    ),
    ("drop-before-response", {"drop": True}, {}),
    ("drop-mid-response", {"drop": "mid"}, {}),
    ("read-timeout", {"delay_ms": 1200}, {"timeout": 0.4}),
]


def api_rows(session: dp.Session) -> Any:
    return session.timings.query("kind == 'api'")


def route_count(h: Any, route: str) -> int:
    return sum(h.stats()["routes"].get(route, {}).values())


def settle(check: Any, timeout: float = 5.0) -> bool:
    """Poll until `check()` holds: a timed-out answer reaches the server's counters only once sent."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def assert_one_line(err: BaseException) -> None:
    text = str(err)
    assert text
    assert "\n" not in text, text
    assert "Traceback" not in text, text
    assert len(text) < 600, text


@pytest.mark.parametrize(
    ("fault", "settings"), [(f, s) for _, f, s in RECOVERS], ids=[i for i, _, _ in RECOVERS]
)
def test_get_fault_then_success(
    sandbox: Any, connect_to: Any, fault: dict[str, Any], settings: dict[str, Any]
) -> None:
    """A GET meeting one fault is retried once and succeeds; both attempts are api rows."""
    session = connect_to(sandbox, retry_attempts=3, retry_timeout=10, **settings)
    session.token()
    sandbox.reset_stats()
    sandbox.inject(ORGS, times=1, **fault)
    frame = session.organizations()
    assert len(frame) == 3
    rows = api_rows(session)
    assert list(rows["attempt"]) == [1, 2]
    assert rows["error"].isna().tolist() == [False, True]
    assert settle(lambda: route_count(sandbox, ROUTE) == 2)


@pytest.mark.parametrize("fault", [f for _, f, _ in RECOVERS[:6]], ids=[i for i, _, _ in RECOVERS[:6]])
def test_get_persistent_fault_is_an_api_error(sandbox: Any, connect_to: Any, fault: dict[str, Any]) -> None:
    """A fault that never clears: ApiError with the status after retry_attempts attempts, in bounded time."""
    sandbox.inject(ORGS, **{**fault, "headers": {"Retry-After": "0"}})
    session = connect_to(sandbox, retry_attempts=3, retry_timeout=5)
    session.token()
    started = time.monotonic()
    with pytest.raises(dp.ApiError) as info:
        session.organizations()
    assert time.monotonic() - started < 6
    assert info.value.status == fault["status"]
    assert info.value.message.endswith(", after 3 attempts")
    assert_one_line(info.value)
    assert list(api_rows(session)["attempt"]) == [1, 2, 3]
    assert route_count(sandbox, ROUTE) == 3


@pytest.mark.parametrize(
    ("fault", "settings", "text"),
    [
        ({"drop": "mid"}, {}, "connection dropped|ReadError"),
        ({"drop": True}, {}, "connection dropped|ReadError"),
        ({"delay_ms": 800}, {"timeout": 0.2}, "timed out"),
    ],
    ids=["drop-mid", "drop-before", "read-timeout"],
)
def test_get_persistent_transport_fault(
    sandbox: Any, connect_to: Any, fault: dict[str, Any], settings: dict[str, Any], text: str
) -> None:
    """Transport failures on every attempt: ApiTransportError naming what happened, one row per attempt."""
    session = connect_to(sandbox, retry_attempts=3, retry_timeout=5, **settings)
    session.token()
    sandbox.inject(ORGS, **fault)
    with pytest.raises(dp.ApiTransportError, match=text) as info:
        session.organizations()
    assert_one_line(info.value)
    assert "after 3 attempts" in str(info.value)
    rows = api_rows(session)
    assert list(rows["attempt"]) == [1, 2, 3]
    assert rows["error"].notna().all()
    assert settle(lambda: route_count(sandbox, ROUTE) == 3)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_api_connect_refused(sandbox: Any, connect_to: Any) -> None:
    """Nothing listens on the API port: ApiTransportError after the budget, ConnectError rows."""
    session = connect_to(
        sandbox, api_url=f"http://127.0.0.1:{free_port()}", retry_attempts=3, retry_timeout=5
    )
    with pytest.raises(dp.ApiTransportError, match="could not connect") as info:
        session.get("/rest/health")
    assert_one_line(info.value)
    rows = api_rows(session)
    assert list(rows["attempt"]) == [1, 2, 3]
    assert rows["error"].str.startswith("ConnectError").all()


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 200, "body": "<html>maintenance</html>", "content_type": "text/html"},
        {"status": 200, "malformed": True},
        {"status": 200, "body": b"\xff\xfe\x00garbage", "content_type": "application/vnd.api+json"},
        {"status": 200, "body": "[1, 2, 3]", "content_type": "application/vnd.api+json"},
    ],
    ids=["html", "truncated-json", "bytes", "json-array"],
)
def test_unusable_200_is_a_typed_error_without_retry(
    sandbox: Any, connect_to: Any, fault: dict[str, Any]
) -> None:
    """A 200 whose body is not a JSON:API document: a DailyPayError at once, one attempt."""
    session = connect_to(sandbox, retry_attempts=3)
    session.token()
    sandbox.inject(ORGS, **fault)
    with pytest.raises(dp.DailyPayError) as info:
        session.organizations()
    assert_one_line(info.value)
    response = session.get(ORGS)  # the raw response is still usable
    assert response.status == 200
    assert repr(response)
    assert response._repr_html_()
    assert list(api_rows(session)["attempt"]) == [1, 1]


def test_401_after_revocation_refetches_once(sandbox: Any, connect_to: Any) -> None:
    """A revoked token: 401, one new token, one retry, success; rows show both attempts."""
    session = connect_to(sandbox)
    old = session.token()
    sandbox.revoke_all()
    assert len(session.organizations()) == 3
    assert session.token() is not old
    assert sandbox.stats()["token_requests"] == 2
    rows = api_rows(session)
    assert list(rows["status"]) == [401, 200]
    assert list(rows["attempt"]) == [1, 2]


@pytest.mark.parametrize("times", [2, None], ids=["twice", "always"])
def test_401_twice_surfaces_without_loop(sandbox: Any, connect_to: Any, times: int | None) -> None:
    """401 to the retry too: ApiError 401 after exactly two API attempts and two tokens."""
    session = connect_to(sandbox, retry_attempts=5)
    session.token()
    sandbox.inject(ORGS, status=401, times=times)
    with pytest.raises(dp.ApiError) as info:
        session.organizations()
    assert info.value.status == 401
    assert_one_line(info.value)
    assert list(api_rows(session)["status"]) == [401, 401]
    assert sandbox.stats()["token_requests"] == 2


def test_401_then_503_still_succeeds(sandbox: Any, connect_to: Any) -> None:
    """Revoked token and a 503 on the retry: refetch, retry after 503, success; three api rows."""
    session = connect_to(sandbox, retry_attempts=3)
    session.token()
    sandbox.revoke_all()
    sandbox.inject(ORGS, status=503, times=1, headers={"Retry-After": "0"})
    # the 503 answers first (faults come before auth), then 401, then 200
    assert len(session.organizations()) == 3
    rows = api_rows(session)
    assert list(rows["status"]) == [503, 401, 200]
    assert sandbox.stats()["token_requests"] == 2


@pytest.mark.real_backoff  # the 0.1 s waits spread the 429s over the threads, as in real life
def test_429_burst_under_concurrency(sandbox: Any, connect_to: Any) -> None:
    """A burst of 429s while 8 threads call: every call succeeds, rows equal server requests."""
    session = connect_to(sandbox, retry_attempts=6, retry_timeout=20)
    session.token()
    sandbox.reset_stats()
    sandbox.inject(ORGS, status=429, headers={"Retry-After": "0.1"}, times=24)
    failures: list[BaseException] = []

    def work() -> None:
        for _ in range(5):
            try:
                session.get(ORGS)
            except BaseException as exc:
                failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not failures
    assert sandbox.stats()["routes"][ROUTE] == {"429": 24, "200": 40}
    assert len(api_rows(session)) == 64


def test_persistent_429_is_bounded(sandbox: Any, connect_to: Any) -> None:
    """A 429 that never clears with Retry-After: 3600 ends within about retry_timeout."""
    session = connect_to(sandbox, retry_attempts=5, retry_timeout=1)
    session.token()
    sandbox.inject(ORGS, status=429, headers={"Retry-After": "3600"})
    started = time.monotonic()
    with pytest.raises(dp.ApiError) as info:
        session.get(ORGS)
    assert time.monotonic() - started < 4
    assert info.value.status == 429


# --- writes ---------------------------------------------------------------------------------


@pytest.fixture
def user(fresh_sandbox: Any) -> Iterator[tuple[Any, dp.Session]]:
    """A private sandbox and a user-token session on its first person."""
    h = fresh_sandbox
    with dp.connect(
        environment="sandbox",
        api_url=h.url,
        token_url=h.token_url,
        client_id=h.client_id,
        client_secret=h.client_secret,
        retry_attempts=6,
        retry_timeout=15,
    ) as session:
        yield h, session.with_user_token(h.user_token())


def transfer_body(h: Any, amount: int = 500) -> dict[str, Any]:
    return {
        "data": {
            "type": "transfers",
            "attributes": {"amount": amount, "currency": "USD", "schedule": "NEXT_BUSINESS_DAY"},
            "relationships": {"origin": {"data": {"type": "accounts", "id": h.data.earnings_account_id()}}},
        }
    }


@pytest.mark.parametrize(
    "fault", [{"status": 503}, {"drop": True}, {"status": 502, "body": HTML_502}], ids=["503", "drop", "502"]
)
def test_post_with_idempotency_key_is_retried(user: tuple[Any, dp.Session], fault: dict[str, Any]) -> None:
    """POST with an Idempotency-Key meeting one fault: sent twice, one transfer created."""
    h, session = user
    before = set(h.data.transfers_of())
    h.inject("/rest/transfers", method="POST", times=1, **fault)
    key = str(uuid.uuid4())
    response = session.request(
        "POST", "/rest/transfers", json=transfer_body(h), headers={"Idempotency-Key": key}
    )
    assert response.status in (200, 201)
    assert route_count(h, "POST /rest/transfers") == 2
    assert len(set(h.data.transfers_of()) - before) == 1
    assert list(api_rows(session)["attempt"]) == [1, 2]


@pytest.mark.real_backoff  # the retries must wait while the first request is still in flight
def test_lost_write_response_replays_not_duplicates(user: tuple[Any, dp.Session]) -> None:
    """The server creates the transfer but the answer times out: the retry replays it, one transfer."""
    h, session = user
    fast = session.with_user_token(h.user_token())
    before = set(h.data.transfers_of())
    h.inject("/rest/transfers", method="POST", delay_ms=1500, times=1)
    slow = dp.connect(session.settings.replace(timeout=0.5, retry_attempts=8, retry_timeout=20))
    try:
        frame = slow.with_user_token(h.user_token()).create_transfer(
            amount=600, origin_id=h.data.earnings_account_id(), schedule="NEXT_BUSINESS_DAY"
        )
        created = set(h.data.transfers_of()) - before
        assert created == {frame.loc[0, "id"]}
        rows = api_rows(slow)
        assert rows["error"].iloc[0].startswith("ReadTimeout")
        assert rows["status"].iloc[-1] in (200, 201)
    finally:
        slow.close()
    assert fast.transfers()["id"].isin(list(created)).sum() == 1


@pytest.mark.parametrize("retry", [None, False], ids=["default", "retry-false"])
def test_patch_without_key_is_not_retried(user: tuple[Any, dp.Session], retry: bool | None) -> None:
    """PATCH without an Idempotency-Key meeting a 503 is sent once and surfaces as ApiError."""
    h, session = user
    h.inject("/rest/people", method="PATCH", status=503, times=1)
    body = {"data": {"type": "people", "id": h.data.person_id, "attributes": {"state_of_residence": "NJ"}}}
    with pytest.raises(dp.ApiError) as info:
        session.request("PATCH", f"/rest/people/{h.data.person_id}", json=body, retry=retry)
    assert info.value.status == 503
    assert_one_line(info.value)
    assert route_count(h, "PATCH /rest/people/{person_id}") == 1
    assert list(api_rows(session)["attempt"]) == [1]


def test_retry_true_retries_a_write_without_a_key(user: tuple[Any, dp.Session]) -> None:
    """retry=True is the caller vouching that a write is safe to repeat: the 503 is retried."""
    h, session = user
    h.inject("/rest/people", method="PATCH", status=503, times=1)
    body = {"data": {"type": "people", "id": h.data.person_id, "attributes": {"state_of_residence": "NJ"}}}
    response = session.request("PATCH", f"/rest/people/{h.data.person_id}", json=body, retry=True)
    assert response.status == 200
    assert route_count(h, "PATCH /rest/people/{person_id}") == 2
    assert list(api_rows(session)["attempt"]) == [1, 2]


def test_retry_false_never_retries_a_get(user: tuple[Any, dp.Session]) -> None:
    """retry=False sends a GET once, whatever the answer."""
    h, session = user
    h.inject("/rest/health", status=503, times=1)
    with pytest.raises(dp.ApiError):
        session.request("GET", "/rest/health", retry=False)
    assert list(api_rows(session)["attempt"]) == [1]


def test_post_without_key_is_not_retried(user: tuple[Any, dp.Session]) -> None:
    """POST without an Idempotency-Key meeting a dropped connection: one attempt, a transport error."""
    h, session = user
    h.inject("/rest/accounts", method="POST", drop=True, times=1)
    body = {"data": {"type": "accounts", "attributes": {}}}
    with pytest.raises(dp.ApiTransportError) as info:
        session.request("POST", "/rest/accounts", json=body)
    assert_one_line(info.value)
    assert "after" not in str(info.value)
    assert list(api_rows(session)["attempt"]) == [1]


def test_update_person_helper_not_retried(user: tuple[Any, dp.Session]) -> None:
    """The update_person helper (no key) meeting a 502 is not retried."""
    h, session = user
    h.inject("/rest/people", method="PATCH", status=502, times=1)
    with pytest.raises(dp.ApiError) as info:
        session.update_person(h.data.person_id, state_of_residence="NJ")
    assert info.value.status == 502
    assert route_count(h, "PATCH /rest/people/{person_id}") == 1


# --- malformed transport-level answers and requests -----------------------------------------


def test_broken_content_encoding_is_a_typed_error(sandbox: Any, connect_to: Any) -> None:
    """A body that claims gzip but is not: a DailyPayError, not httpx.DecodingError."""
    session = connect_to(sandbox, retry_attempts=2, retry_timeout=2)
    session.token()
    sandbox.inject(ORGS, status=200, body=b"not-gzip-at-all", headers={"Content-Encoding": "gzip"})
    with pytest.raises(dp.DailyPayError) as info:
        session.get(ORGS)
    assert_one_line(info.value)


@pytest.mark.parametrize("path", ["/rest/health\n", "http://[::1", "/rest/\x00health"])
def test_unusable_path_is_a_typed_error(sandbox: Any, connect_to: Any, path: str) -> None:
    """A path httpx cannot turn into a URL is refused with a DailyPayError before anything is sent."""
    session = connect_to(sandbox)
    with pytest.raises(dp.DailyPayError):
        session.get(path)
    assert sandbox.stats()["requests"] == 0


def test_async_get_retried_and_post_without_key_not(user: tuple[Any, dp.Session]) -> None:
    """AsyncSession follows the same rules: GET retried after a 503, POST without key sent once."""
    import asyncio

    h, session = user

    async def main() -> None:
        async with await dp.connect_async(session.settings) as client:
            await client.atoken()
            h.inject(ORGS, status=503, times=1, headers={"Retry-After": "0"})
            assert len(await client.organizations()) == 3
            as_user = client.with_user_token(h.user_token())
            h.inject("/rest/accounts", method="POST", status=503, times=1)
            with pytest.raises(dp.ApiError):
                await as_user.request("POST", "/rest/accounts", json={"data": {"type": "accounts"}})
            rows = client.timings.query("kind == 'api'")
            assert list(rows["attempt"]) == [1, 2, 1]

    asyncio.run(main())
    assert route_count(h, "POST /rest/accounts") == 1


def test_delete_without_key_is_not_retried(user: tuple[Any, dp.Session]) -> None:
    """A DELETE (a write) without a key whose answer is lost is not re-sent: no bogus 404 after success."""
    h, session = user
    account = h.data.depository_account_id()
    h.inject("/rest/accounts", method="DELETE", delay_ms=1500, times=1)
    with dp.connect(session.settings.replace(timeout=0.5)) as client:
        as_user = client.with_user_token(h.user_token())
        with pytest.raises(dp.ApiTransportError):  # the answer was lost: say so, do not guess
            as_user.delete_account(account)
        assert list(api_rows(client)["attempt"]) == [1]
    assert account not in h.data.account_ids  # the server did delete it
