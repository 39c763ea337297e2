"""Token-endpoint fault matrix against the real sandbox: every fault ends in a retried success
within the retry budget or a typed one-line error, and every attempt is its own timing row."""

from __future__ import annotations

import email.utils
import socket
import time
from typing import Any

import pytest

import dailypay_nb as dp

TOKEN = "/oauth2/token"
HTML_502 = "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"

#: (id, inject kwargs, seconds the retry must at least have waited)
RECOVERS: list[tuple[str, dict[str, Any], float]] = [
    ("500", {"status": 500}, 0.0),
    ("502-html", {"status": 502, "body": HTML_502, "content_type": "text/html"}, 0.0),
    ("503-retry-after", {"status": 503, "headers": {"Retry-After": "0.5"}}, 0.45),
    (
        "429-retry-after-json",
        {
            "status": 429,
            "body": '{"error": "slow_down", "error_description": "too many"}',
            "content_type": "application/json",
            "headers": {"Retry-After": "0.5"},
        },
        0.45,
    ),
    (
        "429-retry-after-text",
        {"status": 429, "body": "Too many requests", "headers": {"Retry-After": "0.5"}},
        0.45,
    ),
    ("504", {"status": 504}, 0.0),
    ("drop-before-response", {"drop": True}, 0.0),
    ("drop-mid-response", {"drop": "mid"}, 0.0),
]

#: (id, inject kwargs, error class, text the message must hold)
FAILS: list[tuple[str, dict[str, Any], type[dp.TokenError], str]] = [
    (
        "200-not-json",
        {"status": 200, "body": "<html>login page</html>", "content_type": "text/html"},
        dp.TokenError,
        "unusable body",
    ),
    ("200-truncated-json", {"status": 200, "malformed": True}, dp.TokenError, "unusable body"),
    (
        "200-no-access-token",
        {
            "status": 200,
            "body": '{"token_type": "bearer", "expires_in": 60}',
            "content_type": "application/json",
        },
        dp.TokenError,
        "no access_token",
    ),
    (
        "200-token-type-mac",
        {
            "status": 200,
            "body": '{"access_token": "tok-mac-9a8b7c", "token_type": "mac", "expires_in": 60}',
            "content_type": "application/json",
        },
        dp.TokenError,
        "token_type",
    ),
    (
        "200-empty",
        {"status": 200, "body": "", "content_type": "application/json"},
        dp.TokenError,
        "empty body",
    ),
]


def token_rows(session: dp.Session) -> Any:
    return session.timings.query("kind == 'token'")


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
    ("fault", "wait"),
    [pytest.param(f, w, id=i, marks=[pytest.mark.real_backoff] if w else []) for i, f, w in RECOVERS],
)
def test_fault_then_success(sandbox: Any, connect_to: Any, fault: dict[str, Any], wait: float) -> None:
    """One fault, then the real endpoint: a token after two attempts, two token timing rows."""
    sandbox.inject(TOKEN, times=1, **fault)
    session = connect_to(sandbox, retry_attempts=3, retry_timeout=10)
    started = time.monotonic()
    token = session.token()
    assert time.monotonic() - started >= wait
    assert token.access_token
    rows = token_rows(session)
    assert list(rows["attempt"]) == [1, 2]
    assert rows["error"].isna().tolist() == [False, True]
    assert sandbox.stats()["token_requests"] == 2 == len(rows)
    assert sandbox.stats()["tokens_issued"] == 1
    assert len(session.tokens) == 1


@pytest.mark.parametrize("fault", [f for _, f, _ in RECOVERS[:6]], ids=[i for i, _, _ in RECOVERS[:6]])
def test_persistent_fault_is_a_typed_error_within_budget(
    sandbox: Any, connect_to: Any, fault: dict[str, Any]
) -> None:
    """A fault that never clears: a TokenError after exactly retry_attempts attempts, one row each."""
    sandbox.inject(TOKEN, **{**fault, "headers": {"Retry-After": "0"}})
    session = connect_to(sandbox, retry_attempts=3, retry_timeout=5)
    started = time.monotonic()
    with pytest.raises(dp.TokenError) as info:
        session.token()
    assert time.monotonic() - started < 6
    err = info.value
    assert type(err) is dp.TokenError  # the public class, not a private retry marker
    assert err.status == fault["status"]
    assert "after 3 attempts" in str(err)
    assert_one_line(err)
    rows = token_rows(session)
    assert list(rows["attempt"]) == [1, 2, 3]
    assert list(rows["status"]) == [fault["status"]] * 3
    assert sandbox.stats()["token_requests"] == 3


def test_persistent_drop_is_a_transport_error(sandbox: Any, connect_to: Any) -> None:
    """A connection dropped on every attempt ends as TokenTransportError after the budget."""
    sandbox.inject(TOKEN, drop="mid")
    session = connect_to(sandbox, retry_attempts=3, retry_timeout=5)
    with pytest.raises(dp.TokenTransportError) as info:
        session.token()
    assert_one_line(info.value)
    assert "after 3 attempts" in str(info.value)
    rows = token_rows(session)
    assert list(rows["attempt"]) == [1, 2, 3]
    assert rows["error"].str.contains("RemoteProtocolError|ReadError").all()  # a reset or a cut body
    assert sandbox.stats()["token_requests"] == 3


def test_long_retry_after_is_capped_by_retry_timeout(sandbox: Any, connect_to: Any) -> None:
    """Retry-After: 3600 does not hang the caller: the wait is capped by retry_timeout."""
    sandbox.inject(TOKEN, status=503, headers={"Retry-After": "3600"})
    session = connect_to(sandbox, retry_attempts=3, retry_timeout=1)
    started = time.monotonic()
    with pytest.raises(dp.TokenError) as info:
        session.token()
    assert time.monotonic() - started < 4
    assert info.value.status == 503
    assert_one_line(info.value)


@pytest.mark.real_backoff
def test_retry_after_http_date(sandbox: Any, connect_to: Any) -> None:
    """Retry-After as an HTTP date two seconds ahead is honoured as a wait of about that long."""
    when = email.utils.formatdate(time.time() + 2, usegmt=True)
    sandbox.inject(TOKEN, status=503, headers={"Retry-After": when}, times=1)
    session = connect_to(sandbox, retry_attempts=3, retry_timeout=10)
    started = time.monotonic()
    session.token()
    assert 0.9 <= time.monotonic() - started < 5  # HTTP dates have one-second resolution
    assert list(token_rows(session)["status"]) == [503, 200]


@pytest.mark.parametrize(
    ("fault", "cls", "text"), [(f, c, t) for _, f, c, t in FAILS], ids=[i for i, *_ in FAILS]
)
def test_unusable_200_is_a_typed_error_without_retry(
    sandbox: Any, connect_to: Any, fault: dict[str, Any], cls: type[dp.TokenError], text: str
) -> None:
    """A 200 the client cannot use is a TokenError at once: one attempt, one row, one line."""
    sandbox.inject(TOKEN, **fault)
    session = connect_to(sandbox, retry_attempts=3, retry_timeout=5)
    with pytest.raises(cls, match=text) as info:
        session.token()
    err = info.value
    assert err.status == 200
    assert_one_line(err)
    assert "tok-mac-9a8b7c" not in str(err)
    assert "tok-mac-9a8b7c" not in repr(err.__dict__)
    rows = token_rows(session)
    assert list(rows["attempt"]) == [1]
    assert sandbox.stats()["token_requests"] == 1


def test_read_timeout_is_a_transport_error(sandbox: Any, connect_to: Any) -> None:
    """A token endpoint slower than the timeout: TokenTransportError naming the URL, ReadTimeout rows."""
    sandbox.inject(TOKEN, delay_ms=1500)
    session = connect_to(sandbox, timeout=0.3, retry_attempts=3, retry_timeout=5)
    started = time.monotonic()
    with pytest.raises(dp.TokenTransportError) as info:
        session.token()
    assert time.monotonic() - started < 3
    assert sandbox.token_url in str(info.value)
    assert "(sandbox)" in str(info.value)
    assert_one_line(info.value)
    rows = token_rows(session)
    assert list(rows["attempt"]) == [1, 2, 3]  # a token request that timed out is sent again
    assert "after 3 attempts" in str(info.value)
    assert rows["error"].str.startswith("ReadTimeout").all()
    assert rows["status"].isna().all()
    assert settle(lambda: sandbox.stats()["token_requests"] == len(rows))


def test_read_timeout_once_then_success(sandbox: Any, connect_to: Any) -> None:
    """One slow answer, then a fast one: the retry gets the token."""
    sandbox.inject(TOKEN, delay_ms=1200, times=1)
    session = connect_to(sandbox, timeout=0.3, retry_attempts=3, retry_timeout=5)
    assert session.token().access_token.reveal()
    assert list(token_rows(session)["attempt"]) == [1, 2]
    assert settle(lambda: sandbox.stats()["token_requests"] == len(token_rows(session)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_connect_refused_retried_then_typed(sandbox: Any, connect_to: Any) -> None:
    """Nothing listens on the token port: every attempt is a ConnectError row, then TokenTransportError."""
    port = free_port()
    session = connect_to(
        sandbox, token_url=f"http://127.0.0.1:{port}/oauth2/token", retry_attempts=4, retry_timeout=5
    )
    with pytest.raises(dp.TokenTransportError, match="could not connect") as info:
        session.token()
    assert_one_line(info.value)
    assert info.value.environment == "sandbox"
    assert str(port) in str(info.value)
    rows = token_rows(session)
    assert list(rows["attempt"]) == [1, 2, 3, 4]
    assert rows["error"].str.startswith("ConnectError").all()


def test_single_flight_holds_while_retrying(sandbox: Any, connect_to: Any) -> None:
    """Eight threads on a cold cache while the endpoint fails twice: one fetch of three attempts."""
    import threading

    sandbox.inject(TOKEN, status=503, times=2, headers={"Retry-After": "0.2"})
    session = connect_to(sandbox, retry_attempts=4, retry_timeout=10)
    barrier = threading.Barrier(8)
    got: list[Any] = []

    def ask() -> None:
        barrier.wait()
        got.append(session.token())

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)
    assert len(got) == 8
    assert len({id(t) for t in got}) == 1
    assert sandbox.stats()["token_requests"] == 3
    assert list(token_rows(session)["attempt"]) == [1, 2, 3]


def test_broken_content_encoding_is_a_token_error(sandbox: Any, connect_to: Any) -> None:
    """A token answer that claims gzip but is not: a TokenError, not httpx.DecodingError."""
    sandbox.inject(
        TOKEN,
        status=200,
        body=b"not-gzip",
        headers={"Content-Encoding": "gzip"},
        content_type="application/json",
    )
    session = connect_to(sandbox, retry_attempts=2, retry_timeout=2)
    with pytest.raises(dp.TokenError) as info:
        session.token()
    assert_one_line(info.value)
