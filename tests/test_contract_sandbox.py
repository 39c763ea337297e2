"""`connect(validate=True)` against a real sandbox on 127.0.0.1: untouched, it breaks nothing
but its listed deviations; made to misbehave, each fault is one violation with its pointer."""

from __future__ import annotations

import asyncio
import uuid
import warnings
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
import stamina

import dailypay_nb as dp
from dailypay_nb import sandbox as sb
from dailypay_nb._operations import OPERATIONS, operation_for
from dailypay_nb.sandbox._deviations import deviations

#: The sandbox README's table: the only violations an untouched sandbox may show.
DEVIATIONS = deviations()
NOBODY = "00000000-0000-4000-8000-000000000000"
CARD = {
    "first_name": "Edith", "last_name": "Clarke", "card_number": "4007589999999912",
    "expiration_year": "2031", "expiration_month": "02", "address_line_one": "123 Kebly Street",
    "address_city": "Fort Lee", "address_state": "NJ", "address_zip_code": "07237", "address_country": "US",
}  # fmt: skip
#: What `/cards/generic` documents (the session sends it there by default; said here all the same).
PLAIN_JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def box() -> Iterator[sb.Sandbox]:
    """A private sandbox: these tests write, and inject faults."""
    with sb.start(seed=11) as handle:
        yield handle


@pytest.fixture
def clean(box: sb.Sandbox) -> Iterator[sb.Sandbox]:
    box.clear_faults()
    yield box
    box.clear_faults()


def connect(box: sb.Sandbox, **settings: Any) -> dp.Session:
    return dp.connect(
        environment="sandbox",
        api_url=box.url,
        token_url=box.token_url,
        client_id=box.client_id,
        client_secret=box.client_secret,
        **settings,
    )


@pytest.fixture
def session(clean: sb.Sandbox) -> Iterator[dp.Session]:
    s = connect(clean, validate=True)
    yield s
    s.close()


@pytest.fixture(autouse=True)
def quiet_contract_warnings() -> Iterator[None]:
    """Warnings are tested where they are the point; elsewhere they would only be noise."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dp.ContractWarning)
        yield


def not_deviations(frame: Any) -> Any:
    """Violations other than the statuses the deviation table lists."""
    listed = [
        row.rule == "status" and (row.operation_id, row.status) in DEVIATIONS for row in frame.itertuples()
    ]
    return frame[[not x for x in listed]]


def single(frame: Any) -> dict[str, Any]:
    assert len(frame) == 1, frame.to_string()
    row: dict[str, Any] = frame.iloc[0].to_dict()
    return row


# -- the untouched sandbox -------------------------------------------------------------------------


def every_operation(box: sb.Sandbox, session: dp.Session) -> list[dict[str, Any]]:
    """One valid request per operation, with this session's token (documented errors welcome)."""
    d = box.data
    person, job = d.person_id, d.jobs_of()[0]
    card = session.request("POST", "/cards/generic", json=CARD, headers=PLAIN_JSON)
    depository = {
        "data": {
            "type": "accounts",
            "attributes": {
                "name": "Hudson Checking",
                "account_type": "DEPOSITORY",
                "subtype": "CHECKING",
                "details": {
                    "first_name": "Edith",
                    "last_name": "Clarke",
                    "routing_number": "021000021",
                    "account_number": str(uuid.uuid4().int)[:12],
                },
            },
            "relationships": {"person": {"data": {"type": "people", "id": person}}},
        }
    }
    card_account = {
        "data": {
            "type": "accounts",
            "attributes": {
                "name": "Debit",
                "account_type": "CARD",
                "subtype": "DEBIT",
                "details": {
                    "token": card.json()["token"],
                    "first_name": "Edith",
                    "last_name": "Clarke",
                    "expiration_month": "02",
                    "expiration_year": "2031",
                    "address_line_one": "1 Main St",
                    "address_city": "Fort Lee",
                    "address_state": "NJ",
                    "address_zip_code": "07237",
                    "address_country": "US",
                    "issuer": "400758",
                },
            },
            "relationships": {"person": {"data": {"type": "people", "id": person}}},
        }
    }
    transfer = {
        "data": {
            "type": "transfers",
            "attributes": {"amount": 1500, "currency": "USD", "schedule": "NEXT_BUSINESS_DAY"},
            "relationships": {
                "origin": {"data": {"type": "accounts", "id": d.earnings_account_id()}},
                "destination": {"data": {"type": "accounts", "id": d.depository_account_id()}},
                "person": {"data": {"type": "people", "id": person}},
            },
        }
    }
    key = {"Idempotency-Key": str(uuid.uuid4())}
    return [
        {"method": "GET", "path": "/rest/health"},
        {"method": "GET", "path": "/rest/organizations"},
        {"method": "GET", "path": "/rest/organizations", "params": {"filter": 'name:"DailyPay"'}},
        {"method": "GET", "path": f"/rest/organizations/{d.organization_ids[0]}"},
        {"method": "GET", "path": f"/rest/organizations/{NOBODY}"},
        {"method": "GET", "path": f"/rest/people/{person}"},
        {
            "method": "PATCH",
            "path": f"/rest/people/{person}",
            "json": {"data": {"type": "people", "id": person, "attributes": {"state_of_residence": "NY"}}},
        },
        {"method": "GET", "path": "/rest/jobs"},
        {"method": "GET", "path": "/rest/jobs", "params": {"filter[person.id]": person}},
        {"method": "GET", "path": "/rest/jobs", "params": {"filter[organization.id]": NOBODY}},
        {"method": "GET", "path": f"/rest/jobs/{job}"},
        {"method": "GET", "path": f"/rest/jobs/{NOBODY}"},
        {
            "method": "PATCH",
            "path": f"/rest/jobs/{job}",
            "json": {
                "data": {
                    "type": "jobs",
                    "id": job,
                    "relationships": {
                        "direct_deposit_default_depository": {
                            "data": {"type": "accounts", "id": d.depository_account_id()}
                        }
                    },
                }
            },
        },
        {"method": "GET", "path": "/rest/accounts", "params": {"filter[person.id]": person}},
        {"method": "GET", "path": "/rest/accounts", "params": {"filter[account_type]": "CARD"}},
        {"method": "GET", "path": f"/rest/accounts/{d.earnings_account_id()}"},
        {"method": "POST", "path": "/rest/accounts", "json": depository},
        {"method": "POST", "path": "/rest/accounts", "json": card_account},
        {"method": "DELETE", "path": f"/rest/accounts/{NOBODY}"},
        {"method": "GET", "path": "/rest/transfers", "params": {"include": "estimated_funding_sources"}},
        {"method": "GET", "path": f"/rest/transfers/{d.transfers_of()[0]}"},
        {"method": "POST", "path": "/rest/transfers", "json": transfer, "headers": key},
        {"method": "GET", "path": "/rest/paychecks", "params": {"filter[status]": "DEPOSITED"}},
        {"method": "GET", "path": f"/rest/paychecks/{d.paychecks_of()[0]}"},
    ]


def test_untouched_sandbox_breaks_only_its_listed_deviations(box: sb.Sandbox, session: dp.Session) -> None:
    """Every one of the 18 operations, with a client and a user token: the only violations are
    the deviation table's rows (reported, by design), so the client agrees with the document."""
    user = sb.as_user(session)
    for s in (session, user):
        for call in every_operation(box, s):
            s.request(call.pop("method"), call.pop("path"), raise_for_status=False, **call)
        # a depository account made for the purpose, then deleted (204, no body)
        created = user.request("POST", "/rest/accounts", json=_depository(box))
        s.request("DELETE", f"/rest/accounts/{created.json()['data']['id']}", raise_for_status=False)

    api = session.timings.query("kind == 'api'")
    called = {operation_for(m, u).operation_id for m, u in zip(api["method"], api["url"], strict=True)}  # type: ignore[union-attr]
    assert called == set(OPERATIONS), set(OPERATIONS) - called
    assert {"client", "user"} == {session.token_kind, user.token_kind}
    statuses = set(zip(api["endpoint"], api["status"], strict=True))
    assert ("/rest/accounts/{account_id}", 204) in statuses  # the no-body answer was checked too
    assert any(s in (401, 403) for _, s in statuses)  # and documented errors

    found = session.contract_violations
    assert not_deviations(found).empty, not_deviations(found).to_string()
    # The deviations are reported, not hidden: a user token's getHealth is a 403 the document lacks.
    health = found[found["operation_id"] == "getHealth"]
    assert single(health)["status"] == 403
    assert set(found["rule"]) == {"status"}


def _depository(box: sb.Sandbox) -> dict[str, Any]:
    return {
        "data": {
            "type": "accounts",
            "attributes": {
                "name": "Spare",
                "account_type": "DEPOSITORY",
                "subtype": "SAVINGS",
                "details": {
                    "first_name": "Edith",
                    "last_name": "Clarke",
                    "routing_number": "021000021",
                    "account_number": str(uuid.uuid4().int)[:10],
                },
            },
            "relationships": {"person": {"data": {"type": "people", "id": box.data.person_id}}},
        }
    }


def test_card_token_deviation_is_reported_with_the_request_that_caused_it(session: dp.Session) -> None:
    """A card body without `card_number`: the request breaks `required`, and the sandbox's 400
    (listed in its deviation table) is reported as an undocumented status."""
    body = {k: v for k, v in CARD.items() if k != "card_number"}
    answer = session.request("POST", "/cards/generic", json=body, headers=PLAIN_JSON, raise_for_status=False)
    assert answer.status == 400
    found = session.contract_violations
    request = single(found[found["direction"] == "request"])
    assert (request["pointer"], request["rule"], request["location"]) == ("/card_number", "required", "body")
    response = single(found[found["direction"] == "response"])
    assert (response["operation_id"], response["status"], response["rule"]) == (
        "createGenericCardToken",
        400,
        "status",
    )
    assert ("createGenericCardToken", 400) in DEVIATIONS
    assert not_deviations(found[found["direction"] == "response"]).empty


# -- faults ----------------------------------------------------------------------------------------


def test_each_injected_fault_is_one_violation_with_its_pointer(box: sb.Sandbox, session: dp.Session) -> None:
    """A missing required member, an undocumented status, an undocumented media type: one row each."""
    real = session.get("/rest/jobs").json()
    del real["data"][1]["attributes"]["activation_status"]
    box.inject("/rest/jobs", status=200, body=real, times=1)
    session.get("/rest/jobs")
    box.inject("/rest/organizations", status=418, times=1)
    with pytest.raises(dp.ApiError):
        session.organizations()
    box.inject(
        "/rest/health", status=200, body={"status": "OK", "version": "3"}, content_type="text/plain", times=1
    )
    session.get("/rest/health")

    found = session.contract_violations
    assert len(found) == 3, found.to_string()
    missing, status, media = (row for _, row in found.iterrows())
    assert (missing["operation_id"], missing["pointer"], missing["rule"]) == (
        "listJobs", "/data/1/attributes/activation_status", "required",
    )  # fmt: skip
    assert "activation_status" in missing["message"]
    assert (status["operation_id"], status["status"], status["rule"], status["pointer"]) == (
        "listOrganizations", 418, "status", "",
    )  # fmt: skip
    assert "418" in status["message"]
    assert "200" in status["message"]
    assert (media["operation_id"], media["location"], media["pointer"], media["rule"]) == (
        "getHealth", "header", "Content-Type", "content-type",
    )  # fmt: skip
    assert media["excerpt"].startswith("text/plain")


def test_enum_and_type_violations_read_well(box: sb.Sandbox, session: dp.Session) -> None:
    """A value outside an enum and a value of the wrong type, each named with what was documented."""
    real = session.get(f"/rest/jobs/{box.data.job_ids[0]}").json()
    real["data"]["attributes"]["activation_status"] = "SLEEPING"
    real["data"]["attributes"]["wage_rate"] = "lots"
    box.inject("/rest/jobs/", status=200, body=real, times=1)
    session.job(box.data.job_ids[0])
    found = session.contract_violations.set_index("rule")
    enum, kind = found.loc["enum"], found.loc["type"]
    assert enum["pointer"] == "/data/attributes/activation_status"
    assert '"ACTIVATED"' in enum["message"]
    assert enum["excerpt"] == '"SLEEPING"'
    assert kind["pointer"] == "/data/attributes/wage_rate"
    assert kind["message"].endswith("got string")


def test_seq_joins_to_the_timings_of_the_exchange(box: sb.Sandbox, session: dp.Session) -> None:
    box.inject("/rest/organizations", status=200, body={"data": [{"type": "people"}]}, times=1)
    session.health()
    session.get("/rest/organizations")
    joined = session.contract_violations.merge(session.timings, on="seq")
    assert len(joined) == len(session.contract_violations) > 0
    assert set(joined["endpoint"]) == {"/rest/organizations"}
    assert set(joined["status_y"]) == {200}


def test_a_retried_answer_is_checked_with_the_seq_of_its_own_attempt(
    box: sb.Sandbox, session: dp.Session
) -> None:
    """503 is documented for no operation: the first attempt is reported, the retry that
    succeeded is not, and each joins to its own timing row."""
    stamina.set_testing(True, attempts=3)
    try:
        box.inject("/rest/health", status=503, times=1)
        session.health()
    finally:
        stamina.set_testing(False)
    row = single(session.contract_violations)
    assert (row["status"], row["rule"]) == (503, "status")
    attempts = session.timings.set_index("seq")
    assert attempts.loc[row["seq"], "attempt"] == 1
    assert attempts.loc[row["seq"], "status"] == 503


# -- strict ----------------------------------------------------------------------------------------


def test_strict_raises_a_contract_error_naming_operation_pointer_and_rule(
    box: sb.Sandbox, clean: sb.Sandbox
) -> None:
    strict = connect(clean, validate="strict")
    real = strict.get("/rest/organizations").json()
    del real["data"][0]["id"]
    box.inject("/rest/organizations", status=200, body=real, times=1)
    with pytest.raises(dp.ContractError) as caught:
        strict.organizations()
    error = caught.value
    assert (error.operation_id, error.pointer, error.rule, error.status) == (
        "listOrganizations", "/data/0/id", "required", 200,
    )  # fmt: skip
    assert "listOrganizations" in str(error)
    assert "/data/0/id" in str(error)
    assert "[required]" in str(error)
    assert isinstance(error, dp.DailyPayError)
    assert single(strict.contract_violations)["pointer"] == "/data/0/id"  # recorded too


def test_strict_leaves_the_api_error_path_alone(box: sb.Sandbox, clean: sb.Sandbox) -> None:
    """An undocumented 418 still raises ApiError (its violation is recorded); a documented 404 too."""
    strict = connect(clean, validate="strict")
    box.inject("/rest/organizations", status=418, times=1)
    with pytest.raises(dp.ApiError) as caught:
        strict.organizations()
    assert not isinstance(caught.value, dp.ContractError)
    assert caught.value.status == 418
    with pytest.raises(dp.ApiError) as missing:
        strict.organization(NOBODY)
    assert missing.value.status == 404
    assert list(strict.contract_violations["rule"]) == ["status"]


def test_strict_refuses_a_request_that_breaks_the_contract_before_sending(clean: sb.Sandbox) -> None:
    strict = connect(clean, validate="strict")
    strict.token()
    clean.reset_stats()
    with pytest.raises(dp.ContractError, match=r"nothing was sent") as caught:
        strict.get("/rest/jobs", params={"filter[person.id]": "not-a-uuid"})
    assert (caught.value.operation_id, caught.value.pointer, caught.value.rule, caught.value.direction) == (
        "listJobs", "filter[person.id]", "format", "request",
    )  # fmt: skip
    assert clean.stats()["routes"] == {}
    assert len(strict.timings.query("kind == 'api'")) == 0
    row = single(strict.contract_violations)
    assert pd.isna(row["seq"])  # refused before sending: no exchange to join


# -- warnings, sharing, async ----------------------------------------------------------------------


def test_one_warning_per_operation_and_rule(box: sb.Sandbox, session: dp.Session) -> None:
    real = session.get("/rest/jobs").json()
    for record in real["data"]:
        record["attributes"]["activation_status"] = "SLEEPING"
    box.inject("/rest/jobs", status=200, body=real, times=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        session.get("/rest/jobs")
        session.get("/rest/jobs")
        session.get("/rest/jobs", params={"filter[bogus]": "1"}, raise_for_status=False)
    shown = [w for w in caught if issubclass(w.category, dp.ContractWarning)]
    assert len(shown) == 2, [str(w.message) for w in shown]  # listJobs enum, listJobs parameter
    assert "listJobs" in str(shown[0].message)
    assert "[enum]" in str(shown[0].message)
    assert shown[0].filename == __file__  # pointed at the caller, not at the toolkit
    assert (session.contract_violations["rule"] == "enum").sum() == 2 * len(real["data"])


def test_user_sessions_share_the_violations_and_their_seq(box: sb.Sandbox, session: dp.Session) -> None:
    user = sb.as_user(session)
    box.inject("/rest/paychecks", status=200, body={"data": {}}, times=1)
    user.get("/rest/paychecks")
    assert single(session.contract_violations)["operation_id"] == "listPaychecks"
    assert session.contract_violations.equals(user.contract_violations)


def test_async_sessions_check_too(box: sb.Sandbox, clean: sb.Sandbox) -> None:
    async def main() -> Any:
        async with await dp.connect_async(
            environment="sandbox",
            api_url=box.url,
            token_url=box.token_url,
            client_id=box.client_id,
            client_secret=box.client_secret,
            validate=True,
        ) as s:
            box.inject(
                "/rest/health", status=200, body={"status": 1}, content_type="application/json", times=1
            )
            await s.get("/rest/health")
            return s.contract_violations

    found = asyncio.run(main())
    assert set(zip(found["pointer"], found["rule"], strict=True)) == {
        ("/status", "type"),
        ("/version", "required"),
    }


def test_off_by_default(box: sb.Sandbox, clean: sb.Sandbox) -> None:
    plain = connect(clean)
    assert plain.settings.validate is False
    box.inject("/rest/health", status=418, times=1)
    with pytest.raises(dp.ApiError):
        plain.health()
    assert plain.contract_violations.empty
    assert list(plain.contract_violations.columns) == list(dp.contract.COLUMNS)
