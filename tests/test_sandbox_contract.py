"""Every sandbox response to every operation validates against DailyPay's openapi.yaml."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from dailypay_nb import openapi
from dailypay_nb import sandbox as sb
from dailypay_nb.sandbox._deviations import deviations

API_HOST = "https://api.dailypay.com"
CARDS_HOST = "https://payments.dailypay.com"
DOCUMENT = openapi.load()
#: The sandbox README's table of deliberate deviations: the only undocumented statuses allowed.
DEVIATIONS = deviations()


def operation_of(method: str, path: str) -> dict[str, Any]:
    """The document's operation for a concrete request path (the card endpoint under any prefix)."""
    if path.endswith("/cards/generic"):
        path = "/cards/generic"
    for template, item in DOCUMENT["paths"].items():
        pattern = "^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and method.lower() in item:
            operation: dict[str, Any] = item[method.lower()]
            return operation
    raise LookupError(f"no operation for {method} {path}")


def documented(method: str, path: str, status: int) -> bool:
    return str(status) in operation_of(method, path)["responses"]


@pytest.fixture(scope="module")
def api() -> Any:
    """The vendored contract (its duplicate `required` entry repaired by `load()`), spec validation off.

    openapi_core is imported in the fixtures: with jsonschema it takes ~2 s, which a run of other
    tests (`-m timing`) need not pay."""
    import openapi_core

    return openapi_core.OpenAPI.from_dict(openapi.load(), config=openapi_core.Config(spec_validator_cls=None))


@pytest.fixture(scope="module")
def box() -> Iterator[sb.Sandbox]:
    """A private sandbox: these tests create, change and delete records."""
    with sb.start(seed=7) as handle:
        yield handle


def validate(api: Any, response: httpx.Response) -> None:
    """Validate one real response (status, media type, body) against the document.

    A status the document does not list passes only if the deviation table lists it for the
    operation (its body is then checked by the test that causes it).
    """
    path = response.request.url.path
    operation_id = operation_of(response.request.method, path)["operationId"]
    if not documented(response.request.method, path, response.status_code):
        assert (operation_id, response.status_code) in DEVIATIONS, (
            f"{operation_id} answered {response.status_code}, which neither the document nor the "
            "deviation table in dailypay_nb/sandbox/README.md lists"
        )
        return
    from openapi_core.testing import MockRequest, MockResponse

    host = CARDS_HOST if path.endswith("/cards/generic") else API_HOST
    if host == CARDS_HOST:
        path = "/v2/cards/generic"
    request = MockRequest(host, response.request.method, path)
    mock = MockResponse(
        response.content,
        status_code=response.status_code,
        headers=dict(response.headers),
        content_type=response.headers.get("content-type", ""),
    )
    api.validate_response(request, mock)


def test_validator_rejects_a_wrong_body(api: Any, sandbox: sb.Sandbox) -> None:
    """The validator is live: a health body with a wrong-typed field fails."""
    response = httpx.get(f"{sandbox.url}/rest/health", headers=_bearer(sandbox.client_token()))
    broken = httpx.Response(200, json={"status": 1, "version": "3"}, request=response.request)
    with pytest.raises(Exception, match=r"(?i)invalid|valid"):
        validate(api, broken)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Tokens:
    """The tokens the cases use, minted once per sandbox."""

    def __init__(self, h: sb.Sandbox) -> None:
        self.cc = h.client_token()
        self.health_only = h.client_token("health:read")
        self.admin_only = h.client_token("client:admin")
        self.user = h.user_token()
        self.user_ro = h.user_token(scope="user:read")
        self.other_user = h.user_token(h.data.person_ids[1])


@pytest.fixture(scope="module")
def tokens(box: sb.Sandbox) -> Tokens:
    return Tokens(box)


Case = Callable[[sb.Sandbox, Tokens], dict[str, Any]]
JSONAPI_HEADERS = {"Content-Type": "application/vnd.api+json"}
NOBODY = "00000000-0000-4000-8000-000000000000"


def _card_token(h: sb.Sandbox) -> str:
    card = {
        "first_name": "Edith", "last_name": "Clarke", "card_number": "4007589999999912",
        "expiration_year": "2031", "expiration_month": "02", "address_line_one": "123 Kebly Street",
        "address_city": "Fort Lee", "address_state": "NJ", "address_zip_code": "07237",
        "address_country": "US",
    }  # fmt: skip
    token: str = httpx.post(f"{h.url}/cards/generic", json=card).json()["token"]
    return token


def _transfer_body(h: sb.Sandbox, amount: int = 1500, schedule: str = "NEXT_BUSINESS_DAY") -> Any:
    return {
        "data": {
            "type": "transfers",
            "attributes": {"amount": amount, "currency": "USD", "schedule": schedule},
            "relationships": {
                "origin": {"data": {"type": "accounts", "id": h.data.earnings_account_id()}},
                "destination": {"data": {"type": "accounts", "id": h.data.depository_account_id()}},
                "person": {"data": {"type": "people", "id": h.data.person_id}},
            },
        }
    }


def _depository_body(h: sb.Sandbox, routing: str = "021000021", number: str = "99887766") -> Any:
    return {
        "data": {
            "type": "accounts",
            "attributes": {
                "name": "Hudson Checking",
                "account_type": "DEPOSITORY",
                "subtype": "CHECKING",
                "details": {
                    "first_name": "Edith",
                    "last_name": "Clarke",
                    "routing_number": routing,
                    "account_number": number,
                },
            },
            "relationships": {"person": {"data": {"type": "people", "id": h.data.person_id}}},
        }
    }


def _card_body(h: sb.Sandbox, token: str) -> Any:
    details = {
        "token": token, "first_name": "Edith", "last_name": "Clarke", "expiration_month": "02",
        "expiration_year": "2031", "address_line_one": "123 Kebly Street", "address_city": "Fort Lee",
        "address_state": "NJ", "address_zip_code": "07237", "address_country": "US", "issuer": "400758",
    }  # fmt: skip
    return {
        "data": {
            "type": "accounts",
            "attributes": {"name": "Debit", "account_type": "CARD", "subtype": "DEBIT", "details": details},
            "relationships": {"person": {"data": {"type": "people", "id": h.data.person_id}}},
        }
    }


def _job_patch(job_id: str, **data: Any) -> Any:
    return {"data": {"type": "jobs", "id": job_id, **data}}


def _person_patch(person_id: str, state: str) -> Any:
    return {"data": {"type": "people", "id": person_id, "attributes": {"state_of_residence": state}}}


def _new_account(h: sb.Sandbox, t: Tokens) -> str:
    body = _depository_body(h, number=str(uuid.uuid4().int)[:12])
    response = httpx.post(f"{h.url}/rest/accounts", json=body, headers=_bearer(t.user))
    account_id: str = response.json()["data"]["id"]
    return account_id


def _first_transfer(h: sb.Sandbox) -> str:
    return h.data.transfers_of()[0]


# (expected status, token attribute or None, method, path, extra request arguments)
CASES: dict[str, tuple[int, Case]] = {
    # health
    "health-200": (200, lambda h, t: {"token": t.cc, "path": "/rest/health"}),
    "health-401": (401, lambda h, t: {"path": "/rest/health"}),
    "health-403-user": (403, lambda h, t: {"token": t.user, "path": "/rest/health"}),  # deviation
    "health-403-scope": (403, lambda h, t: {"token": t.admin_only, "path": "/rest/health"}),  # deviation
    # organizations
    "orgs-200": (200, lambda h, t: {"token": t.cc, "path": "/rest/organizations"}),
    "orgs-200-exact": (200, lambda h, t: {"token": t.cc, "path": "/rest/organizations",
                                          "params": {"filter": 'name:"DailyPay"'}}),
    "orgs-200-partial": (200, lambda h, t: {"token": t.cc, "path": "/rest/organizations",
                                            "params": {"filter": 'name~"acme" OR name~"daily"'}}),
    "orgs-400": (400, lambda h, t: {"token": t.cc, "path": "/rest/organizations",
                                    "params": {"filter": 'name:"unclosed'}}),
    "orgs-401": (401, lambda h, t: {"token": "dpo_unknown", "path": "/rest/organizations"}),
    "orgs-403": (403, lambda h, t: {"token": t.user, "path": "/rest/organizations"}),
    "org-200": (200, lambda h, t: {"token": t.cc,
                                   "path": f"/rest/organizations/{h.data.organization_ids[0]}"}),
    "org-400": (400, lambda h, t: {"token": t.cc, "headers": {"DailyPay-API-Version": "2"},
                                   "path": f"/rest/organizations/{h.data.organization_ids[0]}"}),
    "org-401": (401, lambda h, t: {"path": f"/rest/organizations/{h.data.organization_ids[0]}"}),
    "org-403": (403, lambda h, t: {"token": t.health_only,
                                   "path": f"/rest/organizations/{h.data.organization_ids[0]}"}),
    "org-404": (404, lambda h, t: {"token": t.cc, "path": "/rest/organizations/nope"}),
    # jobs
    "jobs-200-cc": (200, lambda h, t: {"token": t.cc, "path": "/rest/jobs"}),
    "jobs-200-user": (200, lambda h, t: {"token": t.user_ro, "path": "/rest/jobs"}),
    "jobs-200-filter": (200, lambda h, t: {"token": t.cc, "path": "/rest/jobs",
                                           "params": {"filter[person.id]": h.data.person_id}}),
    "jobs-400": (400, lambda h, t: {"token": t.cc, "path": "/rest/jobs",
                                    "params": {"filter[salary]": "1"}}),
    "jobs-401": (401, lambda h, t: {"path": "/rest/jobs"}),
    "jobs-403": (403, lambda h, t: {"token": t.admin_only, "path": "/rest/jobs"}),
    "job-200": (200, lambda h, t: {"token": t.cc, "path": f"/rest/jobs/{h.data.job_ids[0]}"}),
    "job-400": (400, lambda h, t: {"token": t.cc, "path": f"/rest/jobs/{h.data.job_ids[0]}",
                                   "headers": {"DailyPay-API-Version": "v3"}}),
    "job-401": (401, lambda h, t: {"path": f"/rest/jobs/{h.data.job_ids[0]}"}),
    "job-403": (403, lambda h, t: {"token": t.health_only, "path": f"/rest/jobs/{h.data.job_ids[0]}"}),
    "job-404": (404, lambda h, t: {"token": t.other_user, "path": f"/rest/jobs/{h.data.job_ids[0]}"}),
    "job-patch-200": (200, lambda h, t: {"token": t.user, "method": "PATCH",
        "path": f"/rest/jobs/{h.data.jobs_of()[0]}",
        "json": _job_patch(h.data.jobs_of()[0], relationships={"direct_deposit_default_card": {
            "data": {"type": "accounts", "id": h.data.card_account_id()}}})}),
    "job-patch-400": (400, lambda h, t: {"token": t.user, "method": "PATCH",
        "path": f"/rest/jobs/{h.data.jobs_of()[0]}",
        "json": _job_patch(h.data.jobs_of()[0], attributes={"activation_status": "ACTIVATED!"})}),
    "job-patch-401": (401, lambda h, t: {"method": "PATCH", "path": f"/rest/jobs/{h.data.job_ids[0]}",
                                         "json": _job_patch(h.data.job_ids[0])}),
    "job-patch-403": (403, lambda h, t: {"token": t.cc, "method": "PATCH",
        "path": f"/rest/jobs/{h.data.job_ids[0]}", "json": _job_patch(h.data.job_ids[0])}),
    "job-patch-404": (404, lambda h, t: {"token": t.user, "method": "PATCH",
        "path": f"/rest/jobs/{NOBODY}", "json": _job_patch(NOBODY)}),
    # accounts
    "accounts-200-cc": (200, lambda h, t: {"token": t.cc, "path": "/rest/accounts",
                                           "params": {"filter[person.id]": h.data.person_id}}),
    "accounts-200-user": (200, lambda h, t: {"token": t.user, "path": "/rest/accounts",
                                             "params": {"filter[account_type]": "CARD"}}),
    "accounts-400-cc": (400, lambda h, t: {"token": t.cc, "path": "/rest/accounts"}),
    "accounts-400-enum": (400, lambda h, t: {"token": t.user, "path": "/rest/accounts",
                                             "params": {"filter[account_type]": "GOLD"}}),
    "accounts-401": (401, lambda h, t: {"path": "/rest/accounts"}),
    "accounts-403": (403, lambda h, t: {"token": t.health_only, "path": "/rest/accounts"}),
    "account-200": (200, lambda h, t: {"token": t.user,
                                       "path": f"/rest/accounts/{h.data.depository_account_id()}"}),
    "account-400": (400, lambda h, t: {"token": t.user, "headers": {"DailyPay-API-Version": "4"},
                                       "path": f"/rest/accounts/{h.data.depository_account_id()}"}),
    "account-401": (401, lambda h, t: {"path": f"/rest/accounts/{h.data.account_ids[0]}"}),
    "account-403": (403, lambda h, t: {"token": t.admin_only,
                                       "path": f"/rest/accounts/{h.data.account_ids[0]}"}),
    "account-404": (404, lambda h, t: {"token": t.cc,
                                       "path": f"/rest/accounts/{h.data.depository_account_id()}"}),
    "account-create-200-depository": (200, lambda h, t: {"token": t.user, "method": "POST",
        "path": "/rest/accounts", "json": _depository_body(h)}),
    "account-create-200-card": (200, lambda h, t: {"token": t.user, "method": "POST",
        "path": "/rest/accounts", "json": _card_body(h, _card_token(h))}),
    "account-create-400": (400, lambda h, t: {"token": t.user, "method": "POST",
        "path": "/rest/accounts", "json": _card_body(h, "not-a-card-token")}),
    "account-create-401": (401, lambda h, t: {"method": "POST", "path": "/rest/accounts",
                                              "json": _depository_body(h)}),
    "account-create-403": (403, lambda h, t: {"token": t.user_ro, "method": "POST",
        "path": "/rest/accounts", "json": _depository_body(h)}),
    "account-delete-204": (204, lambda h, t: {"token": t.user, "method": "DELETE",
        "path": f"/rest/accounts/{_new_account(h, t)}"}),
    "account-delete-400": (400, lambda h, t: {"token": t.user, "method": "DELETE",
        "path": f"/rest/accounts/{h.data.earnings_account_id()}"}),
    "account-delete-401": (401, lambda h, t: {"method": "DELETE",
        "path": f"/rest/accounts/{h.data.account_ids[0]}"}),
    "account-delete-403": (403, lambda h, t: {"token": t.cc, "method": "DELETE",
        "path": f"/rest/accounts/{h.data.account_ids[0]}"}),
    "account-delete-404": (404, lambda h, t: {"token": t.user, "method": "DELETE",
        "path": f"/rest/accounts/{NOBODY}"}),
    # transfers
    "transfers-200": (200, lambda h, t: {"token": t.user, "path": "/rest/transfers",
        "params": {"include": "estimated_funding_sources,final_funding_sources"}}),
    "transfers-200-since": (200, lambda h, t: {"token": t.user, "path": "/rest/transfers",
        "params": {"filter[submitted_at__gt]": "2026-02-20T05:00:00.000Z"}}),
    "transfers-400": (400, lambda h, t: {"token": t.user, "path": "/rest/transfers",
        "params": {"filter[submitted_at__gt]": "last tuesday"}}),
    "transfers-401": (401, lambda h, t: {"path": "/rest/transfers"}),
    "transfers-403": (403, lambda h, t: {"token": t.cc, "path": "/rest/transfers"}),
    "transfer-200": (200, lambda h, t: {"token": t.user, "path": f"/rest/transfers/{_first_transfer(h)}",
        "params": {"include": "final_funding_sources"}}),
    "transfer-400": (400, lambda h, t: {"token": t.user, "path": f"/rest/transfers/{_first_transfer(h)}",
        "params": {"include": "paychecks"}}),
    "transfer-401": (401, lambda h, t: {"path": f"/rest/transfers/{_first_transfer(h)}"}),
    "transfer-403": (403, lambda h, t: {"token": t.cc, "path": f"/rest/transfers/{_first_transfer(h)}"}),
    "transfer-404": (404, lambda h, t: {"token": t.other_user,
                                        "path": f"/rest/transfers/{_first_transfer(h)}"}),
    "transfer-create-200": (200, lambda h, t: {"token": t.user, "method": "POST",
        "path": "/rest/transfers", "json": _transfer_body(h),
        "headers": {"Idempotency-Key": str(uuid.uuid4())}}),
    "transfer-create-200-preview": (200, lambda h, t: {"token": t.user, "method": "POST",
        "path": "/rest/transfers", "params": {"include": "estimated_funding_sources"},
        "json": {"data": {**_transfer_body(h)["data"], "attributes": {
            "amount": 2500, "currency": "USD", "schedule": "NEXT_BUSINESS_DAY", "preview": True}}},
        "headers": {"Idempotency-Key": str(uuid.uuid4())}}),
    "transfer-create-400": (400, lambda h, t: {"token": t.user, "method": "POST",
        "path": "/rest/transfers", "json": _transfer_body(h, amount=100),
        "headers": {"Idempotency-Key": str(uuid.uuid4())}}),
    "transfer-create-401": (401, lambda h, t: {"method": "POST", "path": "/rest/transfers",
        "json": _transfer_body(h), "headers": {"Idempotency-Key": str(uuid.uuid4())}}),
    "transfer-create-403": (403, lambda h, t: {"token": t.cc, "method": "POST",
        "path": "/rest/transfers", "json": _transfer_body(h),
        "headers": {"Idempotency-Key": str(uuid.uuid4())}}),
    # paychecks
    "paychecks-200": (200, lambda h, t: {"token": t.user, "path": "/rest/paychecks",
        "params": {"filter[status]": "DEPOSITED",
                   "filter[pay_period_starts_at__gte]": "2026-01-01T05:00:00Z"}}),
    "paychecks-400": (400, lambda h, t: {"token": t.user, "path": "/rest/paychecks",
        "params": {"filter[status]": "LOST"}}),
    "paychecks-401": (401, lambda h, t: {"path": "/rest/paychecks"}),
    "paychecks-403": (403, lambda h, t: {"token": t.cc, "path": "/rest/paychecks"}),
    "paycheck-200": (200, lambda h, t: {"token": t.user,
                                        "path": f"/rest/paychecks/{h.data.paychecks_of()[0]}"}),
    "paycheck-400": (400, lambda h, t: {"token": t.user, "headers": {"DailyPay-API-Version": "x"},
                                        "path": f"/rest/paychecks/{h.data.paychecks_of()[0]}"}),
    "paycheck-401": (401, lambda h, t: {"path": f"/rest/paychecks/{h.data.paycheck_ids[0]}"}),
    "paycheck-403": (403, lambda h, t: {"token": t.cc, "path": f"/rest/paychecks/{h.data.paycheck_ids[0]}"}),
    "paycheck-404": (404, lambda h, t: {"token": t.user, "path": f"/rest/paychecks/{NOBODY}"}),
    # people
    "person-200-cc": (200, lambda h, t: {"token": t.cc, "path": f"/rest/people/{h.data.person_ids[2]}"}),
    "person-200-user": (200, lambda h, t: {"token": t.user, "path": f"/rest/people/{h.data.person_id}"}),
    "person-400": (400, lambda h, t: {"token": t.cc, "headers": {"DailyPay-API-Version": "1"},
                                      "path": f"/rest/people/{h.data.person_id}"}),
    "person-401": (401, lambda h, t: {"path": f"/rest/people/{h.data.person_id}"}),
    "person-403": (403, lambda h, t: {"token": t.health_only, "path": f"/rest/people/{h.data.person_id}"}),
    "person-404": (404, lambda h, t: {"token": t.user, "path": f"/rest/people/{h.data.person_ids[1]}"}),
    "person-patch-200": (200, lambda h, t: {"token": t.user, "method": "PATCH",
        "path": f"/rest/people/{h.data.person_id}", "json": _person_patch(h.data.person_id, "NJ")}),
    "person-patch-400": (400, lambda h, t: {"token": t.user, "method": "PATCH",
        "path": f"/rest/people/{h.data.person_id}", "json": _person_patch(h.data.person_id, "New York")}),
    "person-patch-401": (401, lambda h, t: {"method": "PATCH", "path": f"/rest/people/{h.data.person_id}",
                                            "json": _person_patch(h.data.person_id, "NJ")}),
    "person-patch-403": (403, lambda h, t: {"token": t.cc, "method": "PATCH",
        "path": f"/rest/people/{h.data.person_id}", "json": _person_patch(h.data.person_id, "NJ")}),
    "person-patch-404": (404, lambda h, t: {"token": t.user, "method": "PATCH",
        "path": f"/rest/people/{NOBODY}", "json": _person_patch(NOBODY, "NJ")}),
    # card tokenization (no auth, plain JSON)
    "card-token-200": (200, lambda h, t: {"method": "POST", "path": "/cards/generic",
        "json": {"first_name": "E", "last_name": "C", "card_number": "4111111111111111",
                 "expiration_year": "2030", "expiration_month": "01", "address_line_one": "1",
                 "address_city": "X", "address_state": "NY", "address_zip_code": "10001",
                 "address_country": "US", "cvv": None}}),
    "card-token-400-missing": (400, lambda h, t: {"method": "POST", "path": "/cards/generic",  # deviation
        "json": {"first_name": "E", "card_number": "4111111111111111"}}),
    "card-token-400-null": (400, lambda h, t: {"method": "POST", "path": "/cards/generic",  # deviation
        "json": {"first_name": None, "last_name": "C", "card_number": "4111111111111111",
                 "expiration_year": "2030", "expiration_month": "01", "address_line_one": "1",
                 "address_city": "X", "address_state": "NY", "address_zip_code": "10001",
                 "address_country": "US"}}),
}  # fmt: skip


def test_deviation_table_is_what_the_cases_show(box: sb.Sandbox, tokens: Tokens) -> None:
    """Every row of the deviation table is produced by a case here, and every undocumented status
    a case expects has a row: the table and the sandbox cannot drift apart."""
    undocumented = set()
    for expected, case in CASES.values():
        spec = case(box, tokens)
        method = spec.get("method", "GET")
        if not documented(method, spec["path"], expected):
            undocumented.add((operation_of(method, spec["path"])["operationId"], expected))
    assert undocumented == set(DEVIATIONS)


@pytest.mark.parametrize("name", list(CASES))
def test_response_matches_contract(name: str, api: Any, box: sb.Sandbox, tokens: Tokens) -> None:
    """The sandbox answers with the expected status and a body the document allows."""
    expected, case = CASES[name]
    spec = case(box, tokens)
    headers = dict(spec.get("headers", {}))
    if "token" in spec:
        headers.update(_bearer(spec["token"]))
    if "json" in spec and not spec["path"].endswith("/cards/generic"):
        headers.update(JSONAPI_HEADERS)
    response = httpx.request(
        spec.get("method", "GET"),
        box.url + spec["path"],
        params=spec.get("params"),
        headers=headers,
        json=spec.get("json"),
    )
    assert response.status_code == expected, response.text
    validate(api, response)
    operation_id = operation_of(response.request.method, response.request.url.path)["operationId"]
    if (operation_id, expected) in DEVIATIONS:
        _check_deviation_body(response)
    if response.request.url.path.startswith("/rest") and expected != 204:
        health_ok = name == "health-200"
        media = "application/json" if health_ok else "application/vnd.api+json"
        assert response.headers["content-type"] == media


def _check_deviation_body(response: httpx.Response) -> None:
    """A deviation keeps the operation's error style: JSON:API errors on /rest, OAuth-style on cards."""
    body = response.json()
    if response.request.url.path.startswith("/rest"):
        assert response.headers["content-type"] == "application/vnd.api+json"
        assert body["errors"][0]["status"] == str(response.status_code)
    else:
        assert response.headers["content-type"] == "application/json"
        assert body["error"] == "invalid_request"
        assert isinstance(body["error_description"], str)


def test_conflict_409_matches_contract(api: Any, box: sb.Sandbox, tokens: Tokens) -> None:
    """A second request with an in-flight Idempotency-Key gets a documented 409."""
    key = str(uuid.uuid4())
    headers = {**_bearer(tokens.user), **JSONAPI_HEADERS, "Idempotency-Key": key}
    body = _transfer_body(box, amount=700)
    box.inject("/rest/transfers", method="POST", delay_ms=1000, times=1)
    first: list[httpx.Response] = []
    url = f"{box.url}/rest/transfers"
    worker = threading.Thread(target=lambda: first.append(httpx.post(url, json=body, headers=headers)))
    worker.start()
    try:
        time.sleep(0.3)  # the first request now holds the key for about 0.7 s more
        second = httpx.post(url, json=body, headers=headers)
    finally:
        worker.join()
    assert second.status_code == 409, second.text
    assert second.json()["errors"][0]["code"] == "IDEMPOTENCY_KEY_LOCKED"
    validate(api, second)
    assert first[0].status_code == 200
    validate(api, first[0])


@pytest.mark.parametrize("path", ["/rest/health", "/rest/jobs", "/cards/generic"])
def test_injected_500_matches_contract(api: Any, box: sb.Sandbox, tokens: Tokens, path: str) -> None:
    """An injected 500 without a body gets the documented UNEXPECTED_ERROR envelope."""
    box.inject(path, status=500, times=1)
    method = "POST" if path == "/cards/generic" else "GET"
    response = httpx.request(method, box.url + path, headers=_bearer(tokens.cc), json={})
    assert response.status_code == 500
    validate(api, response)
