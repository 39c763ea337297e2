"""The client-credentials flow against the sandbox over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
import pytest

import dailypay_nb as dp


def test_token_success(sandbox: Any, connect_to: Any) -> None:
    """A token comes back with type, scopes, expiry and a masked repr."""
    session = connect_to(sandbox)
    token = session.token()
    assert token.token_type.lower() == "bearer"
    assert set(token.granted_scope) == {"client:admin", "client:lookup", "health:read"}
    assert token.expires_in == 3600
    assert 3500 < token.seconds_left <= 3600
    assert not token.expired
    assert token.access_token.reveal() not in repr(token)
    assert sandbox.stats()["token_requests"] == 1


def test_token_is_cached_and_force_refetches(sandbox: Any, connect_to: Any) -> None:
    """token() reuses the cached token; force=True fetches a new one."""
    session = connect_to(sandbox)
    first = session.token()
    assert session.token() is first
    assert session.token(force=True) is not first
    assert sandbox.stats()["token_requests"] == 2
    assert len(session.tokens) == 2


def test_client_secret_basic(sandbox: Any, connect_to: Any) -> None:
    """client_secret_basic sends the form-encoded id and secret in an Authorization header."""
    session = connect_to(sandbox, token_auth_method="client_secret_basic")
    assert session.token().access_token


def test_invalid_client(sandbox: Any, connect_to: Any) -> None:
    """A wrong secret is a TokenError with error=invalid_client and a hint about the credentials."""
    session = connect_to(sandbox, client_secret="wrong-secret-canary")
    with pytest.raises(dp.TokenError) as info:
        session.token()
    err = info.value
    assert err.error == "invalid_client"
    assert err.status in (400, 401)
    assert "DAILYPAY_CLIENT_SECRET" in err.hint
    assert "wrong-secret-canary" not in str(err)
    assert "\n" not in str(err)


def test_invalid_scope(sandbox: Any, connect_to: Any) -> None:
    """A scope the client may not have is invalid_scope, and the hint names what was requested."""
    session = connect_to(sandbox, scope="health:read user:read_write")
    with pytest.raises(dp.TokenError) as info:
        session.token()
    assert info.value.error == "invalid_scope"
    assert "user:read_write" in str(info.value)


def test_unsupported_grant_type(sandbox: Any, connect_to: Any) -> None:
    """An unsupported_grant_type answer (older error_code field) becomes a TokenError."""
    sandbox.inject(
        "/oauth2/token",
        status=400,
        body='{"error_code": "unsupported_grant_type", "error_description": "nope"}',
        content_type="application/json",
        times=1,
    )
    session = connect_to(sandbox)
    with pytest.raises(dp.TokenError) as info:
        session.token()
    assert info.value.error == "unsupported_grant_type"
    assert info.value.description == "nope"


@pytest.mark.parametrize("content_type", ["text/plain", "text/html"])
def test_text_429_is_a_token_error(sandbox: Any, connect_to: Any, content_type: str) -> None:
    """A non-JSON 429 that persists ends as a TokenError with status, type and a snippet."""
    sandbox.inject("/oauth2/token", status=429, body="<h1>Too many requests</h1>", content_type=content_type)
    session = connect_to(sandbox, retry_attempts=2, retry_timeout=2)
    with pytest.raises(dp.TokenError) as info:
        session.token()
    err = info.value
    assert err.status == 429
    assert content_type in (err.content_type or "")
    assert "Too many requests" in (err.snippet or "")
    assert "after 2 attempts" in str(err)


def test_expiry_with_skew_refetches(sandbox: Any, connect_to: Any) -> None:
    """A token is reused until expires_at minus the skew, then fetched anew (injected clock)."""
    now = [time.time() - 100_000]  # before the sandbox's created_at: our clock alone decides
    session = connect_to(sandbox, token_skew=60)
    session._provider.clock = lambda: now[0]
    first = session.token()  # the sandbox's tokens live 3600 s
    now[0] += 3600 - 61
    assert session.token() is first
    now[0] += 2  # 59 s left: inside the skew, not yet expired
    assert not first.expired
    second = session.token()
    assert second is not first
    assert sandbox.stats()["token_requests"] == 2


def test_token_without_expires_in_uses_default_ttl(sandbox: Any, connect_to: Any) -> None:
    """No expires_in: cached for default_token_ttl seconds, not forever and not zero."""
    sandbox.inject(
        "/oauth2/token",
        status=200,
        body='{"access_token": "abc-canary-token", "token_type": "Bearer"}',
        content_type="application/json",
        times=1,
    )
    session = connect_to(sandbox, default_token_ttl=120)
    token = session.token()
    assert token.expires_in is None
    assert 110 < token.seconds_left <= 120
    assert session.token() is token


@pytest.mark.parametrize(
    ("created_ago", "seconds_left"),
    [
        (7_200, (3_590, 3_600)),  # server clock 2 h behind: counted from when we asked
        (-7_200, (3_590, 3_600)),  # 2 h ahead: not stretched past our own hour
        (600, (2_990, 3_000)),  # an existing token handed out again: its clock started earlier
    ],
    ids=["server-behind", "server-ahead", "reused-token"],
)
def test_created_at_and_clock_skew(
    sandbox: Any, connect_to: Any, created_ago: int, seconds_left: tuple[int, int]
) -> None:
    """created_at from a skewed server neither expires the token at once nor extends it."""
    issued = sandbox.client_token()  # a token the sandbox's API accepts
    body = {"access_token": issued, "token_type": "bearer", "expires_in": 3600}
    sandbox.inject(
        "/oauth2/token",
        status=200,
        body=json.dumps({**body, "created_at": int(time.time()) - created_ago}),
        content_type="application/json",
        times=1,
    )
    session = connect_to(sandbox)
    token = session.token()
    low, high = seconds_left
    assert low < token.seconds_left <= high
    for _ in range(3):
        session.get("/rest/health")
    assert session.token() is token
    assert sandbox.stats()["token_requests"] == 1


def test_32_threads_cold_cache_one_token_request(sandbox: Any, connect_to: Any) -> None:
    """32 threads asking at once on a cold cache cause exactly one token request."""
    sandbox.set_latency(30)
    session = connect_to(sandbox)
    barrier = threading.Barrier(32)
    tokens: list[Any] = []

    def ask() -> None:
        barrier.wait()
        tokens.append(session.token())

    threads = [threading.Thread(target=ask) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sandbox.set_latency(0)
    assert len({id(t) for t in tokens}) == 1
    assert sandbox.stats()["token_requests"] == 1


def test_401_refetches_once_and_retries(sandbox: Any, connect_to: Any) -> None:
    """A revoked token: the API call gets 401, one new token, one retry, success."""
    session = connect_to(sandbox)
    old = session.token()
    sandbox.revoke_all()
    assert session.get("/rest/health").status == 200
    assert session.token() is not old
    assert sandbox.stats()["token_requests"] == 2
    statuses = list(session.timings.query("kind == 'api'")["status"])
    assert statuses == [401, 200]


def test_second_401_surfaces(sandbox: Any, connect_to: Any) -> None:
    """If the fresh token is refused too, the 401 surfaces as ApiError: no loop."""
    session = connect_to(sandbox)
    session.token()
    sandbox.inject("/rest/health", status=401, times=2, body=None)
    with pytest.raises(dp.ApiError) as info:
        session.get("/rest/health")
    assert info.value.status == 401
    assert sandbox.stats()["token_requests"] == 2


def test_auth_with_plain_httpx_client(sandbox: Any, connect_to: Any) -> None:
    """session.auth works with any httpx client."""
    session = connect_to(sandbox)
    with httpx.Client(base_url=sandbox.url, auth=session.auth) as client:
        assert client.get("/rest/health").status_code == 200


def test_http_to_non_loopback_refused() -> None:
    """connect() refuses plain http:// to a non-loopback host before any request."""
    with pytest.raises(dp.SettingsError, match="plain http"):
        dp.connect(environment="uat", client_id="a", client_secret="b", token_url="http://auth.example.com/t")


def test_import_does_not_load_widgets_or_server() -> None:
    """import dailypay_nb stays light: no ipywidgets, matplotlib or server stack."""
    import subprocess
    import sys

    code = (
        "import dailypay_nb, sys; heavy = [m for m in ('ipywidgets', 'matplotlib', 'starlette', 'uvicorn')"
        " if m in sys.modules]; assert not heavy, heavy; dailypay_nb.sandbox; "
        "assert 'starlette' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
