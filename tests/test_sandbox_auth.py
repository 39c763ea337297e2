"""The sandbox's token endpoint and bearer-token checks."""

from __future__ import annotations

import base64
import time
from urllib.parse import quote_plus

import httpx
import pytest

from dailypay_nb import sandbox as sb

FORM = "application/x-www-form-urlencoded"


def _grant(h: sb.Sandbox, **fields: str) -> dict[str, str]:
    form = {
        "grant_type": "client_credentials",
        "client_id": h.client_id,
        "client_secret": h.client_secret,
        "scope": sb.DEMO_SCOPES,
    }
    form.update(fields)
    return {k: v for k, v in form.items() if v is not None and v != "<omit>"}


def _basic(client_id: str, secret: str) -> str:
    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_client_secret_post_issues_a_bearer_token(sandbox: sb.Sandbox) -> None:
    """A form-encoded client-credentials grant returns DailyPay's token fields as JSON."""
    response = httpx.post(sandbox.token_url, data=_grant(sandbox))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "created_at", "scope"}
    assert body["access_token"].startswith("dpo_")
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert abs(body["created_at"] - time.time()) < 5
    assert body["scope"] == sb.DEMO_SCOPES


def test_client_secret_basic_is_accepted(sandbox: sb.Sandbox) -> None:
    """HTTP Basic with form-urlencoded id and secret (RFC 6749 §2.3.1) authenticates the client."""
    sandbox.register_client("team a:b", "s3cr3t:+/ %", ["health:read"])
    data = {"grant_type": "client_credentials", "scope": "health:read"}
    headers = {"Authorization": _basic("team a:b", "s3cr3t:+/ %")}
    response = httpx.post(sandbox.token_url, data=data, headers=headers)
    assert response.status_code == 200, response.text
    health = httpx.get(f"{sandbox.url}/rest/health", headers=_bearer(response.json()["access_token"]))
    assert health.json() == {"status": "UP", "version": "3.0.0"}


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"grant_type": "<omit>"}, "invalid_request"),
        ({"scope": "<omit>"}, "invalid_request"),
        ({"client_id": "<omit>"}, "invalid_request"),
        ({"client_secret": "<omit>"}, "invalid_request"),
        ({"grant_type": "authorization_code"}, "unsupported_grant_type"),
        ({"scope": "client:admin payroll:write"}, "invalid_scope"),
        ({"scope": 'client:admin "quoted"'}, "invalid_scope"),
        ({"scope": "user:read"}, "invalid_scope"),
    ],
    ids=["no-grant", "no-scope", "no-id", "no-secret", "grant", "unknown", "malformed", "not-allowed"],
)
def test_token_errors_are_rfc6749_json(sandbox: sb.Sandbox, fields: dict[str, str], error: str) -> None:
    """Each bad request gets 400 with `error` and `error_description` only."""
    response = httpx.post(sandbox.token_url, data=_grant(sandbox, **fields))
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["error"] == error
    assert set(body) == {"error", "error_description"}


@pytest.mark.parametrize("basic", [False, True], ids=["post", "basic"])
@pytest.mark.parametrize(
    ("client_id", "secret"),
    [("nobody", "x"), (sb.DEMO_CLIENT_ID, "wrong")],
    ids=["unknown-client", "wrong-secret"],
)
def test_bad_client_credentials_get_401_invalid_client(
    sandbox: sb.Sandbox, client_id: str, secret: str, basic: bool
) -> None:
    """Unknown ids and wrong secrets are invalid_client (401), with a Basic challenge for Basic."""
    if basic:
        data = {"grant_type": "client_credentials", "scope": "health:read"}
        response = httpx.post(
            sandbox.token_url, data=data, headers={"Authorization": _basic(client_id, secret)}
        )
    else:
        data = _grant(sandbox, client_id=client_id, client_secret=secret)
        response = httpx.post(sandbox.token_url, data=data)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert ("www-authenticate" in response.headers) is basic


def test_wrong_content_type_is_invalid_request(sandbox: sb.Sandbox) -> None:
    """A JSON token request is refused: the grant must be form-encoded."""
    response = httpx.post(sandbox.token_url, json=_grant(sandbox))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_two_client_authentication_methods_are_refused(sandbox: sb.Sandbox) -> None:
    """Basic plus client_secret in the body is invalid_request."""
    headers = {"Authorization": _basic(sandbox.client_id, sandbox.client_secret)}
    response = httpx.post(sandbox.token_url, data=_grant(sandbox), headers=headers)
    assert response.json()["error"] == "invalid_request"


def test_repeated_parameter_is_invalid_request(sandbox: sb.Sandbox) -> None:
    """A form field sent twice is invalid_request."""
    body = "grant_type=client_credentials&grant_type=client_credentials&client_id=a&client_secret=b"
    response = httpx.post(sandbox.token_url, content=body, headers={"Content-Type": FORM})
    assert response.json()["error"] == "invalid_request"


def test_error_code_field_switch() -> None:
    """With error_code_field=True token errors also carry DailyPay's older error_code."""
    with sb.start(error_code_field=True) as h:
        response = httpx.post(h.token_url, data=_grant(h, scope="nope:nope"))
    body = response.json()
    assert body["error"] == body["error_code"] == "invalid_scope"


def test_granted_scope_is_the_requested_subset(sandbox: sb.Sandbox) -> None:
    """A client may ask for fewer scopes than it is allowed, and gets exactly those."""
    response = httpx.post(sandbox.token_url, data=_grant(sandbox, scope="health:read"))
    assert response.json()["scope"] == "health:read"


def test_token_stats_count_requests_and_issues(sandbox: sb.Sandbox) -> None:
    """stats() counts every token request and every token issued."""
    httpx.post(sandbox.token_url, data=_grant(sandbox))
    httpx.post(sandbox.token_url, data=_grant(sandbox, client_secret="bad"))
    stats = sandbox.stats()
    assert (stats["token_requests"], stats["tokens_issued"]) == (2, 1)
    assert stats["routes"]["POST /oauth2/token"] == {"200": 1, "401": 1}


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer dpo_not_issued", "Basic Zm9vOmJhcg==", "Bearer"],
    ids=["missing", "unknown", "wrong-scheme", "empty"],
)
def test_bad_bearer_gets_401_invalid_token(sandbox: sb.Sandbox, authorization: str | None) -> None:
    """Missing, unknown or malformed bearer tokens get 401 INVALID_TOKEN in JSON:API."""
    headers = {"Authorization": authorization} if authorization else {}
    response = httpx.get(f"{sandbox.url}/rest/jobs", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/vnd.api+json"
    assert response.json()["errors"][0]["code"] == "INVALID_TOKEN"
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_expired_token_gets_401() -> None:
    """A token is refused once token_ttl has passed on the server clock."""
    with sb.start(token_ttl=1) as h:
        token = httpx.post(h.token_url, data=_grant(h)).json()
        assert token["expires_in"] == 1
        url = f"{h.url}/rest/health"
        assert httpx.get(url, headers=_bearer(token["access_token"])).status_code == 200
        time.sleep(1.1)
        response = httpx.get(url, headers=_bearer(token["access_token"]))
    assert response.status_code == 401
    assert "expired" in response.json()["errors"][0]["detail"]


def test_revoked_tokens_get_401(fresh_sandbox: sb.Sandbox) -> None:
    """revoke() and revoke_all() make tokens unusable at once (on a private sandbox)."""
    first, second = fresh_sandbox.client_token(), fresh_sandbox.client_token()
    url = f"{fresh_sandbox.url}/rest/health"
    assert fresh_sandbox.revoke(first) is True
    assert httpx.get(url, headers=_bearer(first)).status_code == 401
    assert httpx.get(url, headers=_bearer(second)).status_code == 200
    fresh_sandbox.revoke_all()
    assert httpx.get(url, headers=_bearer(second)).status_code == 401


def test_missing_scope_gets_403(sandbox: sb.Sandbox) -> None:
    """A token without client:lookup may not list jobs (both listed scopes are required)."""
    token = sandbox.client_token("client:admin health:read")
    response = httpx.get(f"{sandbox.url}/rest/jobs", headers=_bearer(token))
    assert response.status_code == 403
    error = response.json()["errors"][0]
    assert error["code"] == "FORBIDDEN"
    assert "client:lookup" in error["detail"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/rest/transfers"),
        ("GET", "/rest/paychecks"),
        ("POST", "/rest/transfers"),
        ("POST", "/rest/accounts"),
        ("PATCH", "/rest/people/{person}"),
        ("PATCH", "/rest/jobs/{job}"),
        ("DELETE", "/rest/accounts/{account}"),
    ],
)
def test_client_credentials_refused_on_user_operations(sandbox: sb.Sandbox, method: str, path: str) -> None:
    """User-token-only operations answer 403 to a client-credentials token."""
    data = sandbox.data
    url = sandbox.url + path.format(person=data.person_id, job=data.job_ids[0], account=data.account_ids[0])
    response = httpx.request(method, url, headers=_bearer(sandbox.client_token()))
    assert response.status_code == 403
    assert "user token" in response.json()["errors"][0]["detail"]


def test_user_tokens_refused_on_client_only_operations(sandbox: sb.Sandbox) -> None:
    """Organizations and health accept only client-credentials tokens."""
    headers = _bearer(sandbox.user_token())
    for path in ("/rest/organizations", "/rest/health"):
        assert httpx.get(sandbox.url + path, headers=headers).status_code == 403


def test_user_token_sees_only_its_person(sandbox: sb.Sandbox) -> None:
    """A user token lists its own jobs and gets 404 for another person's records."""
    data = sandbox.data
    other = data.person_ids[1]
    headers = _bearer(sandbox.user_token(data.person_id, "user:read"))
    jobs = httpx.get(f"{sandbox.url}/rest/jobs", headers=headers).json()["data"]
    assert {j["relationships"]["person"]["data"]["id"] for j in jobs} == {data.person_id}
    assert httpx.get(f"{sandbox.url}/rest/people/{other}", headers=headers).status_code == 404
    job = data.jobs_of(other)[0]
    assert httpx.get(f"{sandbox.url}/rest/jobs/{job}", headers=headers).status_code == 404


def test_user_read_cannot_write(sandbox: sb.Sandbox) -> None:
    """user:read is not enough for updatePerson (user:read_write is)."""
    person = sandbox.data.person_id
    body = {"data": {"type": "people", "id": person, "attributes": {"state_of_residence": "NY"}}}
    url = f"{sandbox.url}/rest/people/{person}"
    read_only = httpx.patch(url, json=body, headers=_bearer(sandbox.user_token(scope="user:read")))
    assert read_only.status_code == 403


def test_helpers_validate_their_arguments(sandbox: sb.Sandbox) -> None:
    """user_token, client_token and register_client refuse unknown people, scopes and clients."""
    with pytest.raises(ValueError, match="no person"):
        sandbox.user_token("00000000-0000-4000-8000-000000000000")
    with pytest.raises(ValueError, match="not a user scope"):
        sandbox.user_token(scope="client:admin")
    with pytest.raises(ValueError, match="unknown scopes"):
        sandbox.register_client("x", "y", ["payroll:write"])
    with pytest.raises(ValueError, match="may not have"):
        sandbox.client_token("user:read")


def test_version_header_is_checked(sandbox: sb.Sandbox) -> None:
    """DailyPay-API-Version 3 (or none) is fine; anything else is 400 INVALID_VERSION_HEADER."""
    headers = _bearer(sandbox.client_token())
    url = f"{sandbox.url}/rest/organizations"
    assert httpx.get(url, headers={**headers, "DailyPay-API-Version": "3"}).status_code == 200
    response = httpx.get(url, headers={**headers, "DailyPay-API-Version": "2"})
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["code"] == "INVALID_VERSION_HEADER"
    assert error["source"] == {"header": "DailyPay-API-Version"}
