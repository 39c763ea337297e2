"""Write operations: Idempotency-Key semantics and the business rules behind the 400 codes."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from dailypay_nb import sandbox as sb

JSONAPI = "application/vnd.api+json"


@pytest.fixture
def user(fresh_sandbox: sb.Sandbox) -> Iterator[httpx.Client]:
    """A client acting as the first person with user:read_write."""
    headers = {"Authorization": f"Bearer {fresh_sandbox.user_token()}", "Content-Type": JSONAPI}
    with httpx.Client(base_url=fresh_sandbox.url, headers=headers, timeout=10) as c:
        yield c


def _transfer(h: sb.Sandbox, amount: int = 1500, **extra: Any) -> dict[str, Any]:
    attributes = {"amount": amount, "currency": "USD", "schedule": "NEXT_BUSINESS_DAY", **extra}
    return {
        "data": {
            "type": "transfers",
            "attributes": attributes,
            "relationships": {
                "origin": {"data": {"type": "accounts", "id": h.data.earnings_account_id()}},
                "destination": {"data": {"type": "accounts", "id": h.data.depository_account_id()}},
            },
        }
    }


def _post_transfer(c: httpx.Client, body: Any, key: str | None = None) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return c.post("/rest/transfers", content=json.dumps(body), headers=headers)


def _available(c: httpx.Client, account_id: str) -> int:
    value: int = c.get(f"/rest/accounts/{account_id}").json()["data"]["attributes"]["balances"]["available"]
    return value


def test_same_key_same_body_replays_the_response(fresh_sandbox: sb.Sandbox, user: httpx.Client) -> None:
    """A retry with the same key and payload gets identical bytes and creates nothing new."""
    key = str(uuid.uuid4())
    before = len(fresh_sandbox.data.transfers_of())
    first = _post_transfer(user, _transfer(fresh_sandbox), key)
    again = user.post(
        "/rest/transfers",
        content=json.dumps(_transfer(fresh_sandbox), indent=2, sort_keys=True),  # same JSON, other bytes
        headers={"Idempotency-Key": key.upper()},
    )
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert len(fresh_sandbox.data.transfers_of()) == before + 1


def test_same_key_other_body_is_400(fresh_sandbox: sb.Sandbox, user: httpx.Client) -> None:
    """Reusing a key with a different payload is 400 INVALID_IDEMPOTENCY_KEY."""
    key = str(uuid.uuid4())
    assert _post_transfer(user, _transfer(fresh_sandbox, 1500), key).status_code == 200
    response = _post_transfer(user, _transfer(fresh_sandbox, 1600), key)
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["code"] == "INVALID_IDEMPOTENCY_KEY"
    assert error["source"] == {"header": "Idempotency-Key"}


@pytest.mark.parametrize("key", [None, "not-a-uuid"], ids=["missing", "malformed"])
def test_missing_or_bad_key_is_400(fresh_sandbox: sb.Sandbox, user: httpx.Client, key: str | None) -> None:
    """createTransfer needs a UUID Idempotency-Key."""
    response = _post_transfer(user, _transfer(fresh_sandbox), key)
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "INVALID_IDEMPOTENCY_KEY"


def test_concurrent_same_key_is_409_then_replays(fresh_sandbox: sb.Sandbox, user: httpx.Client) -> None:
    """While a request holds the key another gets 409; after it finishes the key replays."""
    key = str(uuid.uuid4())
    body = _transfer(fresh_sandbox)
    fresh_sandbox.inject("/rest/transfers", method="POST", delay_ms=800, times=1)
    results: list[httpx.Response] = []
    worker = threading.Thread(target=lambda: results.append(_post_transfer(user, body, key)))
    worker.start()
    time.sleep(0.25)
    locked = _post_transfer(user, body, key)
    worker.join()
    assert locked.status_code == 409
    assert locked.json()["errors"][0]["code"] == "IDEMPOTENCY_KEY_LOCKED"
    assert results[0].status_code == 200
    assert _post_transfer(user, body, key).content == results[0].content


def test_business_errors_are_replayed_too(fresh_sandbox: sb.Sandbox, user: httpx.Client) -> None:
    """A 400 outcome is remembered under its key like a success."""
    key = str(uuid.uuid4())
    first = _post_transfer(user, _transfer(fresh_sandbox, 100), key)
    second = _post_transfer(user, _transfer(fresh_sandbox, 100), key)
    assert first.status_code == second.status_code == 400
    assert first.json()["errors"][0]["code"] == "MINIMUM_AMOUNT_SUBCEEDED"
    assert second.content == first.content


def test_keys_belong_to_one_person(fresh_sandbox: sb.Sandbox, user: httpx.Client) -> None:
    """Another person's use of the same key is a fresh request (here: their own 400)."""
    key = str(uuid.uuid4())
    assert _post_transfer(user, _transfer(fresh_sandbox), key).status_code == 200
    other = fresh_sandbox.user_token(fresh_sandbox.data.person_ids[1])
    response = user.post(
        "/rest/transfers",
        content=json.dumps(_transfer(fresh_sandbox)),
        headers={"Idempotency-Key": key, "Authorization": f"Bearer {other}"},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] != "INVALID_IDEMPOTENCY_KEY"


def test_transfer_reduces_available_and_preview_does_not(
    fresh_sandbox: sb.Sandbox, user: httpx.Client
) -> None:
    """A transfer lowers the earnings balance by its amount; a preview changes nothing."""
    origin = fresh_sandbox.data.earnings_account_id()
    start = _available(user, origin)
    preview = _post_transfer(user, _transfer(fresh_sandbox, 2000, preview=True), str(uuid.uuid4()))
    attributes = preview.json()["data"]["attributes"]
    assert (attributes["preview"], attributes["fee"], attributes["status"]) == (True, 299, "PENDING")
    assert _available(user, origin) == start
    created = _post_transfer(user, _transfer(fresh_sandbox, 2000), str(uuid.uuid4())).json()["data"]
    assert _available(user, origin) == start - 2000
    assert created["attributes"]["submitted_at"].endswith("Z")
    assert created["attributes"]["resolved_at"] is None
    assert user.get(f"/rest/transfers/{created['id']}").status_code == 200


@pytest.mark.parametrize(
    ("amount", "schedule", "code"),
    [
        (100, "NEXT_BUSINESS_DAY", "MINIMUM_AMOUNT_SUBCEEDED"),
        (100_001, "NEXT_BUSINESS_DAY", "MAXIMUM_AMOUNT_EXCEEDED"),
        (99_000, "NEXT_BUSINESS_DAY", "EARNINGS_BALANCE_EXCEEDED"),
        (1500, "WITHIN_THIRTY_MINUTES", "INVALID_TRANSFER_SCHEDULE"),
    ],
)
def test_transfer_rules(
    fresh_sandbox: sb.Sandbox, user: httpx.Client, amount: int, schedule: str, code: str
) -> None:
    """Amount limits, balance and the destination's schedules give DailyPay's 400 codes."""
    body = _transfer(fresh_sandbox, amount)
    body["data"]["attributes"]["schedule"] = schedule
    response = _post_transfer(user, body, str(uuid.uuid4()))
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == code


def test_transfer_origin_must_be_earnings_balance(fresh_sandbox: sb.Sandbox, user: httpx.Client) -> None:
    """A depository origin is INELIGIBLE_ORIGIN, pointing at the origin id."""
    body = _transfer(fresh_sandbox)
    body["data"]["relationships"]["origin"]["data"]["id"] = fresh_sandbox.data.card_account_id()
    error = _post_transfer(user, body, str(uuid.uuid4())).json()["errors"][0]
    assert error["code"] == "INELIGIBLE_ORIGIN"
    assert error["source"]["pointer"] == "/data/relationships/origin/data/id"


def test_deactivated_job_cannot_get_defaults(fresh_sandbox: sb.Sandbox, user: httpx.Client) -> None:
    """After DEACTIVATED, setting a default account is 400 ACTIVE_JOB_REQUIRED."""
    job = fresh_sandbox.data.jobs_of()[0]
    off = {"data": {"type": "jobs", "id": job, "attributes": {"activation_status": "DEACTIVATED"}}}
    response = user.patch(f"/rest/jobs/{job}", json=off)
    assert response.json()["data"]["attributes"]["activation_status"] == "DEACTIVATED"
    card = {"data": {"type": "accounts", "id": fresh_sandbox.data.card_account_id()}}
    body = {"data": {"type": "jobs", "id": job, "relationships": {"direct_deposit_default_card": card}}}
    response = user.patch(f"/rest/jobs/{job}", json=body)
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "ACTIVE_JOB_REQUIRED"


def test_deleting_the_default_depository_resets_direct_deposit(
    fresh_sandbox: sb.Sandbox, user: httpx.Client
) -> None:
    """deleteAccount answers 204, the account is gone and the job needs direct deposit again."""
    account = fresh_sandbox.data.depository_account_id()
    job = fresh_sandbox.data.jobs_of()[0]
    response = user.delete(f"/rest/accounts/{account}")
    assert (response.status_code, response.content) == (204, b"")
    assert user.get(f"/rest/accounts/{account}").status_code == 404
    attributes = user.get(f"/rest/jobs/{job}").json()["data"]
    assert attributes["attributes"]["direct_deposit_status"] == "SETUP_REQUIRED"
    assert "direct_deposit_default_depository" not in attributes["relationships"]


def _depository(h: sb.Sandbox, **details: str) -> dict[str, Any]:
    fields = {"first_name": "Edith", "last_name": "Clarke", "routing_number": "021000021",
              "account_number": "1234567890", **details}  # fmt: skip
    return {
        "data": {
            "type": "accounts",
            "attributes": {
                "name": "Chk",
                "account_type": "DEPOSITORY",
                "subtype": "CHECKING",
                "details": fields,
            },
            "relationships": {"person": {"data": {"type": "people", "id": h.data.person_id}}},
        }
    }


def test_created_depository_is_masked(fresh_sandbox: sb.Sandbox, user: httpx.Client) -> None:
    """Routing and account numbers come back masked to the last four digits."""
    details = user.post("/rest/accounts", json=_depository(fresh_sandbox)).json()["data"]["attributes"][
        "details"
    ]
    assert details["routing_number"] == "XXXXX0021"
    assert details["account_number"] == "XXXXXX7890"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"account_type": "EARNINGS_BALANCE"}, "ACCOUNT_TYPE_INVALID"),
        ({"subtype": "GOLD"}, "ACCOUNT_SUBTYPE_INVALID"),
        ({"subtype": "DEBIT"}, "ACCOUNT_TYPE_SUBTYPE_MISMATCH"),
        ({"name": None}, "MISSING_REQUIRED_FIELD"),
        ({"details": {"routing_number": "12"}}, "INVALID_FIELDS"),
        ({"details": {"routing_number": "000000000"}}, "BANK_ACCOUNT_CREATION_BLOCKED"),
        ({"details": {}}, "DUPLICATE_ACCOUNT"),
    ],
)
def test_create_account_rules(
    fresh_sandbox: sb.Sandbox, user: httpx.Client, change: dict[str, Any], code: str
) -> None:
    """createAccount answers the AccountCreate400 codes."""
    if code == "DUPLICATE_ACCOUNT":
        assert user.post("/rest/accounts", json=_depository(fresh_sandbox)).status_code == 200
    body = _depository(fresh_sandbox, **change.pop("details", {}))
    body["data"]["attributes"].update(change)
    if change.get("name", "") is None:
        del body["data"]["attributes"]["name"]
    response = user.post("/rest/accounts", json=body)
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == code


def test_update_person(fresh_sandbox: sb.Sandbox, user: httpx.Client) -> None:
    """updatePerson stores a new state_of_residence."""
    person = fresh_sandbox.data.person_id
    body = {"data": {"type": "people", "id": person, "attributes": {"state_of_residence": "CA"}}}
    assert user.patch(f"/rest/people/{person}", json=body).status_code == 200
    assert user.get(f"/rest/people/{person}").json()["data"]["attributes"]["state_of_residence"] == "CA"


def test_bad_json_points_at_the_problem(fresh_sandbox: sb.Sandbox, user: httpx.Client) -> None:
    """Unparseable bodies and wrong types are 400 with a JSON pointer."""
    person = fresh_sandbox.data.person_id
    response = user.patch(f"/rest/people/{person}", content=b"{not json")
    assert response.json()["errors"][0]["code"] == "INVALID_USER_INPUT"
    body = {"data": {"type": "jobs", "id": person, "attributes": {"state_of_residence": "CA"}}}
    error = user.patch(f"/rest/people/{person}", json=body).json()["errors"][0]
    assert error["source"] == {"pointer": "/data/type"}
