"""Never hang, never balloon: deadlines, size limits, token lifetimes and Retry-After, against an
independent misbehaving server (`tests/_bad_server.py`, which shares no code with the client)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _bad_server import BadServer, bad_server

import dailypay_nb as dp

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def bad() -> Iterator[BadServer]:
    with bad_server() as server:
        yield server


@pytest.fixture
def connect(bad: BadServer) -> Iterator[Any]:
    """`connect(token_path, **settings)`: a session on the bad server; closed after the test."""
    sessions: list[dp.Session] = []

    def make(token_path: str = "/token/3600", **overrides: Any) -> dp.Session:
        settings: dict[str, Any] = {
            "environment": "sandbox",
            "api_url": bad.url,
            "token_url": bad.url + token_path,
            "client_id": "limits-client",
            "client_secret": "limits-secret-value",
        }
        session = dp.connect(**(settings | overrides))
        sessions.append(session)
        return session

    bad.hits.clear()
    yield make
    for session in sessions:
        session.close()


def timed(call: Any) -> tuple[BaseException | None, float]:
    started = time.monotonic()
    try:
        call()
    except BaseException as exc:
        return exc, time.monotonic() - started
    return None, time.monotonic() - started


@pytest.mark.parametrize("path", ["/drip", "/drip-headers", "/hang"])
def test_a_slow_or_silent_server_ends_at_the_deadline(connect: Any, path: str) -> None:
    """A body or headers dripped a byte every 0.5 s, or no answer at all: the call ends at its
    deadline (not per-read timeouts that each byte resets), with a typed error naming it."""
    session = connect(timeout=2, retry_timeout=5)
    session.token()
    error, elapsed = timed(lambda: session.get(path, deadline=1.5))
    assert isinstance(error, dp.ApiTransportError), error
    assert "deadline of 1.5s passed while" in str(error)
    assert 1.4 < elapsed < 3.0


def test_the_deadline_setting_bounds_a_call_at_the_defaults(connect: Any) -> None:
    """DAILYPAY_DEADLINE bounds a call whose per-step timeout is longer (a hung server)."""
    session = connect(deadline=1.5)  # timeout stays at its 10 s default
    session.token()
    error, elapsed = timed(lambda: session.get("/hang"))
    assert isinstance(error, dp.ApiTransportError)
    assert "deadline of 1.5s passed while waiting for or reading the response" in str(error)
    assert elapsed < 3.0


def test_a_dripping_token_endpoint_ends_at_the_deadline(connect: Any) -> None:
    """The token fetch an API call waits on is inside that call's deadline."""
    session = connect("/token/drip")
    error, elapsed = timed(lambda: session.get("/rest/health", deadline=2))
    assert isinstance(error, dp.TokenTransportError), error
    assert "deadline of 2s passed" in str(error)
    assert elapsed < 3.5


def test_waiters_on_the_single_flight_token_give_up_at_their_own_deadline(connect: Any) -> None:
    """While one caller's token request drips, others waiting for it stop at their own deadline."""
    session = connect("/token/drip")
    holder = threading.Thread(target=lambda: timed(lambda: session.token(deadline=6)), daemon=True)
    holder.start()
    time.sleep(0.3)  # the holder is inside the token request
    results: list[tuple[BaseException | None, float]] = []
    waiters = [
        threading.Thread(target=lambda: results.append(timed(lambda: session.token(deadline=1))))
        for _ in range(4)
    ]
    for waiter in waiters:
        waiter.start()
    for waiter in waiters:
        waiter.join(5)
    assert len(results) == 4
    for error, elapsed in results:
        assert isinstance(error, dp.TokenTransportError)
        assert "waiting for another call's token request" in str(error)
        assert elapsed < 2.0


_MEMORY_PROBE = """
import json, resource, sys
import dailypay_nb as dp
session = dp.connect(environment="sandbox", api_url=sys.argv[1], token_url=sys.argv[1] + "/token/3600",
                     client_id="c", client_secret="limits-secret-value")
session.token()
session.get("/rest/health")
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    session.get(sys.argv[2])
    outcome = "no error"
except dp.DailyPayError as exc:
    outcome = f"{type(exc).__name__}: {exc}"
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"growth_mb": (after - before) / 1024, "outcome": outcome}))
"""


@pytest.mark.parametrize("path", ["/gzip-bomb", "/huge"])
def test_an_oversized_answer_is_refused_with_memory_bounded(bad: BadServer, path: str) -> None:
    """A 1 MB gzip that inflates to 1 GiB, or a 300 MB body: a typed error, memory < 200 MB more."""
    out = subprocess.run(
        [sys.executable, "-c", _MEMORY_PROBE, bad.url, path],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["outcome"].startswith("ApiTransportError: GET " + path), result
    assert "larger than max_response_bytes" in result["outcome"]
    assert result["growth_mb"] < 200, result


def test_retry_after_beyond_the_budget_is_an_error_at_once(connect: Any) -> None:
    """A Retry-After of ten days is not waited for nor shortened: one attempt, then a typed error
    saying when the server asked to be called again."""
    session = connect()
    session.token()
    error, elapsed = timed(lambda: session.get("/retry-after"))
    assert isinstance(error, dp.ApiError)
    assert error.status == 503
    assert "asked to retry after 864,000s (at 20" in str(error)
    assert elapsed < 1.0
    assert session.timings.query("kind == 'api'")["attempt"].tolist() == [1]


def test_a_short_lived_token_is_reused_not_fetched_per_call(connect: Any, bad: BadServer) -> None:
    """expires_in=30 with the default 60 s skew: 20 calls share one token (refreshed at 3/4 of
    its lifetime), never one token request per call."""
    session = connect("/token/30")
    for _ in range(20):
        session.get("/rest/health")
    assert bad.hits["/token/30"] == 1
    assert 22 < session.current_token.seconds_left <= 30 if session.current_token else False


def test_a_token_that_expires_on_arrival_is_a_typed_error(connect: Any, bad: BadServer) -> None:
    """expires_in=0: a TokenError saying so, after one request (not retried, never cached)."""
    session = connect("/token/0")
    with pytest.raises(dp.TokenError, match="expires_in=0"):
        session.token()
    assert bad.hits["/token/0"] == 1
    assert session.current_token is None


def test_the_sandbox_hint_is_given_only_when_nothing_answers(connect: Any, bad: BadServer) -> None:
    """In sandbox mode "is the sandbox running?" is the hint for a port nothing listens on; a
    server that takes the request and drops the connection gets the network hint instead."""
    session = connect()
    session.token()
    with pytest.raises(dp.ApiTransportError) as dropped:
        session.get("/drop", retry=False)
    assert "connection dropped" in dropped.value.message, dropped.value.message
    assert "sandbox running" not in dropped.value.hint
    assert "DAILYPAY_API_URL" in dropped.value.hint

    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    nothing = connect(api_url=f"http://127.0.0.1:{port}")
    nothing.token()
    with pytest.raises(dp.ApiTransportError) as refused:
        nothing.get("/rest/health", retry=False)
    assert "refused" in refused.value.message
    assert "is the sandbox running?" in refused.value.hint
