"""The rules of `dailypay_nb.contract`, each shown by a real exchange with the sandbox on 127.0.0.1:
request parameters, media types and bodies, redacted excerpts, bounds, the setting, laziness."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pandas as pd
import pytest

import dailypay_nb as dp
from dailypay_nb import contract
from dailypay_nb import sandbox as sb
from dailypay_nb._contract_document import MAX_PER_CHECK, _request_view

NOBODY = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def box() -> Iterator[sb.Sandbox]:
    with sb.start(seed=5) as handle:
        yield handle


@pytest.fixture
def session(box: sb.Sandbox) -> Iterator[dp.Session]:
    box.clear_faults()
    s = dp.connect(
        environment="sandbox",
        api_url=box.url,
        token_url=box.token_url,
        client_id=box.client_id,
        client_secret=box.client_secret,
        validate=True,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dp.ContractWarning)
        yield s
    s.close()
    box.clear_faults()


def rows(session: dp.Session, direction: str | None = None) -> list[dict[str, Any]]:
    frame = session.contract_violations
    if direction:
        frame = frame[frame["direction"] == direction]
    return [dict(r) for _, r in frame.iterrows()]


def brief(session: dp.Session, direction: str | None = None) -> set[tuple[Any, ...]]:
    return {
        (None if pd.isna(r["operation_id"]) else r["operation_id"], r["location"], r["pointer"], r["rule"])
        for r in rows(session, direction)
    }


# -- the setting -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", True),
        ("1", True),
        ("false", False),
        ("", False),
        ("strict", "strict"),
        (" Strict ", "strict"),
    ],
)
def test_validate_setting_values(value: str, expected: object) -> None:
    assert dp.load_settings(env_file=False, validate=value).validate == expected


def test_validate_setting_from_the_environment_and_refused_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAILYPAY_VALIDATE", "strict")
    settings = dp.load_settings(env_file=False)
    assert settings.validate == "strict"
    assert settings.sources["validate"] == "env:DAILYPAY_VALIDATE"
    with pytest.raises(dp.SettingsError, match="DAILYPAY_VALIDATE must be true, false or strict") as caught:
        dp.load_settings(env_file=False, validate="loud")
    assert caught.value.variable == "DAILYPAY_VALIDATE"
    monkeypatch.delenv("DAILYPAY_VALIDATE")
    assert dp.load_settings(env_file=False).validate is False


# -- requests --------------------------------------------------------------------------------------


def test_query_parameters_enum_format_and_undocumented(box: sb.Sandbox, session: dp.Session) -> None:
    filters = {"filter[person.id]": box.data.person_id, "filter[account_type]": "GOLD"}
    session.get("/rest/accounts", params=filters, raise_for_status=False)
    session.get("/rest/jobs", params={"filter[person.id]": "42", "page[size]": "10"}, raise_for_status=False)
    assert brief(session, "request") == {
        ("listAccounts", "query", "filter[account_type]", "enum"),
        ("listJobs", "query", "filter[person.id]", "format"),
        ("listJobs", "query", "page[size]", "parameter"),
    }


def test_path_parameter_format(session: dp.Session) -> None:
    session.get("/rest/jobs/not-a-job", raise_for_status=False)
    (row,) = rows(session, "request")
    assert (row["operation_id"], row["location"], row["pointer"], row["rule"]) == (
        "readJob", "path", "job_id", "format",
    )  # fmt: skip
    assert row["excerpt"] == '"not-a-job"'


def test_request_body_media_type_required_header_and_stray_body(box: sb.Sandbox, session: dp.Session) -> None:
    """JSON:API's media type where the document says application/json; a transfer
    without its Idempotency-Key; a body on an operation that takes none; an unknown path."""
    user = sb.as_user(session)
    card = {"first_name": "E", "last_name": "C", "card_number": "4007589999999912", "expiration_year": "2031",
            "expiration_month": "02", "address_line_one": "1", "address_city": "F", "address_state": "NJ",
            "address_zip_code": "07237", "address_country": "US"}  # fmt: skip
    session.request("POST", "/cards/generic", json=card, headers={"Content-Type": "application/vnd.api+json"})
    transfer = {"data": {"type": "transfers", "attributes": {"amount": 1500, "currency": "USD",
                "schedule": "NEXT_BUSINESS_DAY"}, "relationships": {"origin": {"data": {"type": "accounts",
                "id": box.data.earnings_account_id()}}}}}  # fmt: skip
    user.request("POST", "/rest/transfers", json=transfer, raise_for_status=False)
    user.request("DELETE", f"/rest/accounts/{NOBODY}", json={"why": "not"}, raise_for_status=False)
    session.get("/rest/nothing-here", raise_for_status=False)
    assert brief(session, "request") == {
        ("createGenericCardToken", "header", "Content-Type", "content-type"),
        ("createTransfer", "header", "Idempotency-Key", "required"),
        ("deleteAccount", "body", "", "body"),
        (None, "path", "", "operation"),
    }
    media = next(r for r in rows(session, "request") if r["rule"] == "content-type")
    assert "application/vnd.api+json" in media["message"]
    assert "application/json" in media["message"]


def test_request_body_schema(box: sb.Sandbox, session: dp.Session) -> None:
    user = sb.as_user(session)
    patch = {"data": {"type": "person", "id": box.data.person_id, "attributes": {"state_of_residence": 7}}}
    user.request("PATCH", f"/rest/people/{box.data.person_id}", json=patch, raise_for_status=False)
    found = {(r["pointer"], r["rule"]) for r in rows(session, "request")}
    assert found == {("/data/type", "const"), ("/data/attributes/state_of_residence", "type")}


def test_read_only_members_are_not_required_in_requests() -> None:
    schemas = {
        "Thing": {
            "type": "object",
            "required": ["id", "name", "links"],
            "properties": {
                "id": {"type": "string", "readOnly": True},
                "name": {"type": "string"},
                "links": {"$ref": "#/components/schemas/Links"},
            },
        },
        "Links": {"type": "object", "readOnly": True},
    }
    assert _request_view(schemas)["Thing"]["required"] == ["name"]
    assert schemas["Thing"]["required"] == ["id", "name", "links"]  # the response view is untouched


# -- responses -------------------------------------------------------------------------------------


def test_one_of_names_the_alternative_meant(box: sb.Sandbox, session: dp.Session) -> None:
    """A CARD account without `last_four`: the failed oneOf is reported as the Card alternative's
    missing member, not as 'valid under none of the alternatives'."""
    user = sb.as_user(session)
    answer = user.get(f"/rest/accounts/{box.data.card_account_id()}").json()
    del answer["data"]["attributes"]["details"]["last_four"]
    box.inject("/rest/accounts/", status=200, body=answer, times=1)
    user.get(f"/rest/accounts/{box.data.card_account_id()}")
    (row,) = rows(session, "response")
    assert (row["pointer"], row["rule"]) == ("/data/attributes/details/last_four", "required")
    assert row["message"].startswith("oneOf alternative 1: ")


def test_a_body_documented_as_absent_and_an_empty_body(box: sb.Sandbox, session: dp.Session) -> None:
    user = sb.as_user(session)
    box.inject("/rest/accounts/", method="DELETE", status=204, times=1)
    user.request("DELETE", f"/rest/accounts/{NOBODY}")  # a 204 with no body: fine
    box.inject("/rest/health", status=200, body=b"", content_type="application/json", times=1)
    session.get("/rest/health")
    box.inject("/rest/health", status=200, body="up", content_type="application/json", times=1)
    with pytest.raises(dp.DocumentError):
        session.health()
    assert brief(session) == {("getHealth", "body", "", "body"), ("getHealth", "body", "", "json")}


def test_excerpts_and_messages_are_redacted(box: sb.Sandbox, session: dp.Session) -> None:
    """A server echoing the client secret into an offending value: masked in the frame and the
    warning alike."""
    secret = box.client_secret
    box.inject("/rest/health", status=200, body={"status": "UP", "version": 3, "note": secret},
               content_type="application/json", times=1)  # fmt: skip
    box.inject(
        "/rest/organizations", status=200, body={"data": [{"type": "organizations", "id": secret}]}, times=1
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        session.get("/rest/health")
        session.get("/rest/organizations")
    frame = session.contract_violations
    assert len(frame) > 1
    shown = (
        frame.to_string() + json.dumps(frame.astype(str).to_dict()) + " ".join(str(w.message) for w in caught)
    )
    assert secret not in shown
    assert secret[:12] not in shown
    assert any("••" in text for text in frame["excerpt"])


def test_a_flood_of_violations_is_bounded_per_answer(box: sb.Sandbox, session: dp.Session) -> None:
    records = [{"type": "jobs", "id": str(uuid.UUID(int=i))} for i in range(200)]
    box.inject("/rest/jobs", status=200, body={"data": records}, times=1)
    session.get("/rest/jobs")
    frame = session.contract_violations
    assert len(frame) == MAX_PER_CHECK + 1
    last = frame.iloc[-1]
    assert last["rule"] == "more"
    assert int(last["message"].split()[0]) == 3 * 200 - MAX_PER_CHECK  # attributes, relationships, links


def test_the_frame_is_built_from_memory(box: sb.Sandbox) -> None:
    """A property never does I/O: the violations are there after the server is gone."""
    with sb.start() as gone:
        s = dp.connect(environment="sandbox", api_url=gone.url, token_url=gone.token_url,
                       client_id=gone.client_id, client_secret=gone.client_secret, validate=True)  # fmt: skip
        gone.inject("/rest/health", status=418, times=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", dp.ContractWarning)
            with pytest.raises(dp.ApiError):
                s.health()
    assert list(s.contract_violations["status"]) == [418]


# -- the public functions, for any httpx client -----------------------------------------------------


def test_check_request_and_response_of_a_plain_httpx_exchange(box: sb.Sandbox) -> None:
    token = box.client_token()
    with httpx.Client(base_url=box.url, headers={"Authorization": f"Bearer {token}"}) as client:
        good = client.get("/rest/organizations")
        assert contract.check_request(good.request) == []
        assert contract.check_response(good) == []
        box.inject("/rest/organizations", status=200, body={"data": [{"type": "people"}]}, times=1)
        bad = client.get("/rest/organizations", params={"sort": "name"})
    found = contract.check_request(bad.request) + contract.check_response(bad)
    table = contract.frame(found)
    assert list(table.columns) == list(contract.COLUMNS)
    assert table["seq"].isna().all()
    assert ("query", "sort", "parameter") in set(
        zip(table["location"], table["pointer"], table["rule"], strict=True)
    )
    assert ("/data/0/type", "const") in set(zip(table["pointer"], table["rule"], strict=True))
    assert all(isinstance(v, contract.Violation) for v in found)
    assert "[const]" in next(v for v in found if v.rule == "const").describe()
    box.clear_faults()


def test_contract_error_is_in_the_tree() -> None:
    assert issubclass(dp.ContractError, dp.DailyPayError)
    assert dp.contract.ContractError is dp.ContractError
    assert issubclass(dp.ContractWarning, UserWarning)
    assert "ContractError" in dp._exceptions.__doc__  # type: ignore[operator]


def test_validation_is_lazy_and_off_by_default() -> None:
    """Without validate, a session's calls load neither the validator nor the document's parser."""
    code = (
        "import sys, dailypay_nb as dp\n"
        "s = dp.connect()\n"
        "s.health(); s.jobs()\n"
        "assert s.contract_violations.empty\n"
        "print(sorted(m for m in ('jsonschema_rs', 'yaml') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "[]", out.stderr
