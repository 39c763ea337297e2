"""Injected faults, added latency and keep-alive, observed by a real HTTP client."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from dailypay_nb import sandbox as sb


@pytest.fixture
def client(sandbox: sb.Sandbox) -> Iterator[httpx.Client]:
    """A keep-alive client with a valid client-credentials token."""
    headers = {"Authorization": f"Bearer {sandbox.client_token()}"}
    with httpx.Client(base_url=sandbox.url, headers=headers, timeout=10) as c:
        yield c


def test_status_fault_with_retry_after(sandbox: sb.Sandbox, client: httpx.Client) -> None:
    """A 503 fault sends Retry-After and a JSON:API error whose request_id matches X-Request-Id."""
    sandbox.inject("/rest/jobs", status=503, headers={"Retry-After": "2"})
    response = client.get("/rest/jobs")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert response.headers["content-type"] == "application/vnd.api+json"
    error = response.json()["errors"][0]
    assert error["status"] == "503"
    assert error["meta"]["request_id"] == response.headers["x-request-id"]


def test_text_429(sandbox: sb.Sandbox, client: httpx.Client) -> None:
    """A plain-text 429 arrives as text/plain with the given body."""
    sandbox.inject("/rest", status=429, body="Too Many Requests", content_type="text/plain")
    response = client.get("/rest/health")
    assert (response.status_code, response.text) == (429, "Too Many Requests")
    assert response.headers["content-type"] == "text/plain"


def test_html_502(sandbox: sb.Sandbox, client: httpx.Client) -> None:
    """A string body starting with '<' is served as HTML, like a proxy's error page."""
    sandbox.inject("/rest/health", status=502, body="<html><body>Bad Gateway</body></html>")
    response = client.get("/rest/health")
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")


def test_token_endpoint_fault_is_plain_json(sandbox: sb.Sandbox) -> None:
    """Faults on /oauth2/token default to an OAuth-style JSON error body."""
    sandbox.inject("/oauth2/token", status=503, times=1)
    response = httpx.post(sandbox.token_url, data={"grant_type": "client_credentials"})
    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"
    assert sandbox.stats()["token_requests"] == 1


def test_times_limits_a_fault_to_the_next_n_requests(sandbox: sb.Sandbox, client: httpx.Client) -> None:
    """times=2 fails two requests, then the rule disappears."""
    sandbox.inject("/rest/health", status=500, times=2)
    statuses = [client.get("/rest/health").status_code for _ in range(4)]
    assert statuses == [500, 500, 200, 200]
    assert sandbox.faults() == []
    assert sandbox.stats()["routes"]["GET /rest/health"] == {"500": 2, "200": 2}


def test_rate_faults_a_fraction(fresh_sandbox: sb.Sandbox) -> None:
    """rate=0.3 fails roughly 30% of matching requests (seeded, so repeatable)."""
    fresh_sandbox.inject("/rest/health", status=503, rate=0.3)
    headers = {"Authorization": f"Bearer {fresh_sandbox.client_token()}"}
    with httpx.Client(base_url=fresh_sandbox.url, headers=headers) as c:
        statuses = [c.get("/rest/health").status_code for _ in range(200)]
    assert 35 <= statuses.count(503) <= 85
    assert statuses.count(503) + statuses.count(200) == 200


def test_method_restricts_a_fault(sandbox: sb.Sandbox, client: httpx.Client) -> None:
    """A fault for POST leaves GET on the same prefix alone."""
    sandbox.inject("/rest/transfers", status=500, method="POST")
    user = {"Authorization": f"Bearer {sandbox.user_token()}"}
    assert client.get("/rest/transfers", headers=user).status_code == 200
    assert client.post("/rest/transfers", headers=user).status_code == 500


@pytest.mark.parametrize("mode", [True, "mid"], ids=["before-response", "mid-response"])
def test_drop_closes_the_connection(sandbox: sb.Sandbox, client: httpx.Client, mode: bool | str) -> None:
    """A dropped request raises a protocol error; the next request works on a new connection."""
    sandbox.inject("/rest/health", drop=mode, times=1)
    with pytest.raises(httpx.RemoteProtocolError):
        client.get("/rest/health")
    assert client.get("/rest/health").status_code == 200
    assert sandbox.stats()["routes"]["GET /rest/health"] == {"dropped": 1, "200": 1}


def test_malformed_body(sandbox: sb.Sandbox, client: httpx.Client) -> None:
    """malformed=True gives a 200 whose JSON:API body does not parse."""
    sandbox.inject("/rest/jobs", malformed=True, times=1)
    response = client.get("/rest/jobs")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.api+json"
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


def test_clear_faults(sandbox: sb.Sandbox, client: httpx.Client) -> None:
    """clear_faults() removes every rule."""
    sandbox.inject("/rest", status=500)
    sandbox.inject("/oauth2", status=500)
    sandbox.clear_faults()
    assert client.get("/rest/health").status_code == 200


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"status": 99}, "status"),
        ({"times": 0}, "times"),
        ({"rate": 1.5}, "rate"),
        ({"delay_ms": -1}, "delay_ms"),
        ({"drop": "sideways"}, "drop"),
    ],
)
def test_inject_validates_arguments(sandbox: sb.Sandbox, kwargs: dict[str, object], message: str) -> None:
    """Nonsense fault arguments raise ValueError instead of misbehaving later."""
    with pytest.raises(ValueError, match=message):
        sandbox.inject("/rest", **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="prefix"):
        sandbox.inject("rest")


def _added_delay_ms(client: httpx.Client, slow: Callable[[], None], fast: Callable[[], None]) -> float:
    """Delay added by `slow()` over `fast()`: interleaved pairs, compared by their minimum.

    Scheduling noise only ever adds time, so the fastest of many requests is the best estimate
    of each configuration; interleaving keeps both sides under the same background load.
    """
    client.get("/rest/health")  # warm the connection
    slow_ms, fast_ms = [], []
    for _ in range(25):
        for configure, bucket in ((slow, slow_ms), (fast, fast_ms)):
            configure()
            start = time.perf_counter()
            client.get("/rest/health")
            bucket.append((time.perf_counter() - start) * 1000)
    return min(slow_ms) - min(fast_ms)


@pytest.mark.timing
def test_latency_is_added_within_2ms(sandbox: sb.Sandbox, client: httpx.Client) -> None:
    """set_latency(50) adds 50 ms ± 2 ms to a request."""
    try:
        added = _added_delay_ms(client, lambda: sandbox.set_latency(50), lambda: sandbox.set_latency(0))
    finally:
        sandbox.set_latency(0)
    assert 48 <= added <= 52, added


@pytest.mark.timing
def test_fault_delay_is_added_within_2ms(sandbox: sb.Sandbox, client: httpx.Client) -> None:
    """A delay-only fault adds its delay (± 2 ms) and still returns the real response."""
    added = _added_delay_ms(
        client, lambda: sandbox.inject("/rest/health", delay_ms=50, times=1), lambda: None
    )
    assert 48 <= added <= 52, added
    sandbox.inject("/rest/health", delay_ms=50, times=1)
    assert client.get("/rest/health").json()["status"] == "UP"


def test_jitter_spreads_the_delay(sandbox: sb.Sandbox, client: httpx.Client) -> None:
    """jitter_ms draws an extra 0..N ms per request."""
    sandbox.set_latency(5, jitter_ms=30)
    try:
        times = []
        for _ in range(30):
            start = time.perf_counter()
            client.get("/rest/health")
            times.append((time.perf_counter() - start) * 1000)
    finally:
        sandbox.set_latency(0)
    assert min(times) >= 5
    assert max(times) - min(times) > 10


def test_keep_alive_reuses_one_connection(sandbox: sb.Sandbox, client: httpx.Client) -> None:
    """Several requests on one client open a single TCP connection."""
    connects: list[str] = []

    def trace(event: str, info: dict[str, object]) -> None:
        if event == "connection.connect_tcp.complete":
            connects.append(event)

    for _ in range(5):
        assert client.get("/rest/health", extensions={"trace": trace}).status_code == 200
    assert len(connects) <= 1
