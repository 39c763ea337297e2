"""The /_sandbox admin routes steer a sandbox from another process."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from dailypay_nb import sandbox as sb


@pytest.fixture
def admin(fresh_sandbox: sb.Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{fresh_sandbox.url}/_sandbox") as c:
        yield c


def _health(h: sb.Sandbox, token: str) -> httpx.Response:
    return httpx.get(f"{h.url}/rest/health", headers={"Authorization": f"Bearer {token}"})


def test_index_describes_the_sandbox(fresh_sandbox: sb.Sandbox, admin: httpx.Client) -> None:
    """GET /_sandbox/ gives the URLs, demo credentials and a data summary."""
    info = admin.get("/").json()
    assert info["url"] == fresh_sandbox.url
    assert info["token_url"] == fresh_sandbox.token_url
    assert (info["client_id"], info["client_secret"]) == (sb.DEMO_CLIENT_ID, sb.DEMO_CLIENT_SECRET)
    assert info["data"]["people"] == 8


def test_faults_over_http(fresh_sandbox: sb.Sandbox, admin: httpx.Client) -> None:
    """POST /faults injects, GET lists, DELETE /faults/{id} and DELETE /faults remove."""
    token = fresh_sandbox.client_token()
    created = admin.post("/faults", json={"prefix": "/rest/health", "status": 503, "times": 5})
    fault_id = created.json()["id"]
    assert _health(fresh_sandbox, token).status_code == 503
    listed = admin.get("/faults").json()["faults"]
    assert listed[0]["times_left"] == 4
    assert admin.delete(f"/faults/{fault_id}").json() == {"removed": True}
    assert _health(fresh_sandbox, token).status_code == 200
    admin.post("/faults", json={"prefix": "/rest", "status": 500})
    assert admin.delete("/faults").json() == {"faults": []}
    assert _health(fresh_sandbox, token).status_code == 200


def test_bad_admin_payload_is_400(admin: httpx.Client) -> None:
    """Unknown keys or invalid values are refused with a JSON error."""
    assert admin.post("/faults", json={"prefix": "/rest", "colour": "red"}).status_code == 400
    assert admin.post("/faults", json={"prefix": "/rest", "rate": 7}).status_code == 400
    assert admin.post("/latency", content=b"[1]").status_code == 400


def test_stats_over_http(fresh_sandbox: sb.Sandbox, admin: httpx.Client) -> None:
    """GET /stats counts API requests (not admin ones); DELETE /stats resets them."""
    _health(fresh_sandbox, fresh_sandbox.client_token())
    assert admin.get("/stats").json()["routes"] == {"GET /rest/health": {"200": 1}}
    assert admin.delete("/stats").json()["requests"] == 0


def test_latency_over_http(fresh_sandbox: sb.Sandbox, admin: httpx.Client) -> None:
    """POST /latency sets the added delay for every API request."""
    assert admin.post("/latency", json={"latency_ms": 30}).json()["latency_ms"] == 30
    response = _health(fresh_sandbox, fresh_sandbox.client_token())
    assert response.elapsed.total_seconds() >= 0.03


def test_user_token_and_revoke_over_http(fresh_sandbox: sb.Sandbox, admin: httpx.Client) -> None:
    """POST /user-token mints a user token; POST /revoke takes tokens back."""
    minted = admin.post("/user-token", json={"scope": "user:read"}).json()
    assert minted["person_id"] == fresh_sandbox.data.person_id
    headers = {"Authorization": f"Bearer {minted['access_token']}"}
    url = f"{fresh_sandbox.url}/rest/paychecks"
    assert httpx.get(url, headers=headers).status_code == 200
    assert admin.post("/revoke", json={"token": minted["access_token"]}).json() == {"revoked": 1}
    assert httpx.get(url, headers=headers).status_code == 401
    token = fresh_sandbox.client_token()
    assert admin.post("/revoke", json={"all": True}).json()["revoked"] >= 1
    assert _health(fresh_sandbox, token).status_code == 401


def test_register_client_over_http(fresh_sandbox: sb.Sandbox, admin: httpx.Client) -> None:
    """POST /clients registers a client that can then use the token endpoint."""
    admin.post("/clients", json={"client_id": "ops", "client_secret": "pw", "scopes": "health:read"})
    form = {
        "grant_type": "client_credentials",
        "client_id": "ops",
        "client_secret": "pw",
        "scope": "health:read",
    }
    response = httpx.post(fresh_sandbox.token_url, data=form)
    assert response.status_code == 200
    form["scope"] = "client:admin"
    assert httpx.post(fresh_sandbox.token_url, data=form).json()["error"] == "invalid_scope"


def test_data_ids_over_http(fresh_sandbox: sb.Sandbox, admin: httpx.Client) -> None:
    """GET /data lists every id, matching h.data."""
    data = admin.get("/data").json()
    assert data["person_ids"] == fresh_sandbox.data.person_ids
    assert data["account_ids"] == fresh_sandbox.data.account_ids
