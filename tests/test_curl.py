"""`to_curl()`: the command is run with the real curl binary against the sandbox.

The credential comes from the environment (`$DAILYPAY_TOKEN`, `$DAILYPAY_CLIENT_SECRET`), never
from the command, and the command gets the same status and body as the session did.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

import dailypay_nb as dp
from dailypay_nb._secret import MASK

CURL = shutil.which("curl")
pytestmark = pytest.mark.skipif(CURL is None, reason="needs the curl binary")


def run_curl(command: str, tmp_path: Path, **env: str) -> tuple[int, bytes]:
    """Run `command` in bash with `env` added; return the HTTP status and the body curl got."""
    body = tmp_path / f"body-{uuid.uuid4().hex}"
    full = f"{command} -o {body} -w '%{{http_code}}'"
    done = subprocess.run(
        ["bash", "-c", full],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout), body.read_bytes()


def test_get_repeated_by_curl(sandbox: Any, connect_to: Any, tmp_path: Path) -> None:
    """A GET with a filter: same status, same body; the token only in the environment."""
    session = connect_to(sandbox)
    response = session.get("/rest/jobs", params={"filter[person.id]": sandbox.data.person_id})
    command = response.to_curl()
    token = session.token().access_token.reveal()
    assert token not in command
    assert '-H "Authorization: Bearer $DAILYPAY_TOKEN"' in command
    assert "DailyPay-API-Version: 3" in command
    status, body = run_curl(command, tmp_path, DAILYPAY_TOKEN=token)
    assert status == response.status == 200
    assert json.loads(body) == response.json()
    status, _ = run_curl(command, tmp_path, DAILYPAY_TOKEN="not-a-token")
    assert status == 401  # the variable really is what authenticates


def test_a_write_repeated_by_curl_replays_with_its_idempotency_key(
    fresh_sandbox: Any, connect_to: Any, tmp_path: Path
) -> None:
    """createTransfer: the command carries the key and the body, so the server replays the answer."""
    session = connect_to(fresh_sandbox)
    user = dp.sandbox.as_user(session)
    before = len(fresh_sandbox.data.transfers_of())
    key = str(uuid.uuid4())
    response = user.request(
        "POST",
        "/rest/transfers",
        json={
            "data": {
                "type": "transfers",
                "attributes": {
                    "amount": 700,
                    "currency": "USD",
                    "schedule": "NEXT_BUSINESS_DAY",
                    "preview": False,
                },
                "relationships": {
                    "origin": {"data": {"type": "accounts", "id": fresh_sandbox.data.earnings_account_id()}},
                    "destination": {
                        "data": {"type": "accounts", "id": fresh_sandbox.data.depository_account_id()}
                    },
                },
            }
        },
        headers={"Idempotency-Key": key},
    )
    command = response.to_curl()
    assert f"Idempotency-Key: {key}" in command
    assert "--data-raw" in command
    user_token = user._user_token.reveal()
    assert user_token not in command
    status, body = run_curl(command, tmp_path, DAILYPAY_TOKEN=user_token)
    assert status == response.status == 200
    assert json.loads(body) == response.json()
    assert len(fresh_sandbox.data.transfers_of()) == before + 1  # replayed, not made twice


def test_session_to_curl_of_an_exchange(sandbox: Any, connect_to: Any, tmp_path: Path) -> None:
    """`session.to_curl(seq)` repeats a recorded exchange, the latest by default."""
    session = connect_to(sandbox)
    session.health()
    command = session.to_curl()
    assert "Accept: application/json" in command
    status, body = run_curl(command, tmp_path, DAILYPAY_TOKEN=session.token().access_token.reveal())
    assert status == 200
    assert json.loads(body)["status"]


@pytest.mark.parametrize("method", ["client_secret_post", "client_secret_basic"])
def test_token_request_renders_with_the_client_secret_variable(
    fresh_sandbox: Any, connect_to: Any, tmp_path: Path, method: str
) -> None:
    """A token request repeats with `$DAILYPAY_CLIENT_SECRET`, and curl gets a token with it."""
    secret = "curl-Secret-" + uuid.uuid4().hex[:12]
    fresh_sandbox.register_client("curl-client", secret, ["health:read"])
    session = connect_to(
        fresh_sandbox,
        client_id="curl-client",
        client_secret=secret,
        scope="health:read",
        token_auth_method=method,
    )
    session.token()
    seq = int(session.timings["seq"].iloc[0])
    command = session.to_curl(seq)
    assert secret not in command
    assert "$DAILYPAY_CLIENT_SECRET" in command
    status, body = run_curl(command, tmp_path, DAILYPAY_CLIENT_SECRET=secret)
    assert status == 200
    assert json.loads(body)["token_type"].lower() == "bearer"
    status, _ = run_curl(command, tmp_path, DAILYPAY_CLIENT_SECRET="wrong")
    assert status == 401


def test_the_card_tokenizer_command_has_no_token_and_no_card(sandbox: Any, connect_to: Any) -> None:
    """A request that went without a token renders without one; card members are masked."""
    session = connect_to(sandbox)
    response = session.request(
        "POST",
        f"{session.settings.payments_url}/cards/generic",
        json={"card_number": "4007589999999912", "cvv": "123", "first_name": "Edith"},
        raise_for_status=False,
    )
    command = response.to_curl()
    assert "Authorization" not in command
    assert "4007589999999912" not in command
    assert '"cvv": "123"' not in command
    assert f'"card_number": "{MASK}"' in command
    seq = int(session.timings["seq"].iloc[-1])
    assert "Authorization" not in session.to_curl(seq)


def test_quotes_in_the_body_survive_the_shell(fresh_sandbox: Any, connect_to: Any, tmp_path: Path) -> None:
    """A value with a single quote is quoted so that bash hands curl the same bytes."""
    session = connect_to(fresh_sandbox)
    user = dp.sandbox.as_user(session)
    frame = user.update_person(fresh_sandbox.data.person_id, state_of_residence="NY")
    assert frame.loc[0, "state_of_residence"] == "NY"
    response = user.request(
        "PATCH",
        f"/rest/people/{fresh_sandbox.data.person_id}",
        json={
            "data": {
                "type": "people",
                "id": fresh_sandbox.data.person_id,
                "attributes": {"state_of_residence": "NJ"},
                "meta": {"note": "it's $HOME `x`"},
            }
        },
    )
    command = response.to_curl()
    status, body = run_curl(command, tmp_path, DAILYPAY_TOKEN=user._user_token.reveal())
    assert status == response.status
    assert json.loads(body) == response.json()


@pytest.mark.parametrize("value", ["dpo_abc123", "Bearer x", "$(cat ~/.token)", "${TOKEN", ""])
def test_the_token_argument_must_be_a_variable(sandbox: Any, connect_to: Any, value: str) -> None:
    """Anything but `$NAME`/`${NAME}` is refused: the command never carries a credential."""
    session = connect_to(sandbox)
    response = session.get("/rest/health")
    with pytest.raises(dp.ArgumentError, match="shell variable"):
        response.to_curl(token=value)
    with pytest.raises(dp.ArgumentError, match="shell variable"):
        session.to_curl(token=value)
    assert "${TOKEN}" in response.to_curl(token="${TOKEN}")


def test_a_response_not_made_by_a_session_says_so() -> None:
    """An ApiResponse built by hand has no request to repeat."""
    import httpx

    response = dp.ApiResponse(
        status=200,
        headers=httpx.Headers(),
        body=b"{}",
        method="GET",
        url="http://x/rest/health",
        endpoint=None,
        timing=None,
    )
    with pytest.raises(dp.ArgumentError, match="not made by a session"):
        response.to_curl()
