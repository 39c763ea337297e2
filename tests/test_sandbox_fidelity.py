"""Request-side fidelity to the contract: explicit nulls, unsupported JSON:API query parameters,
and what an Idempotency-Key replay must repeat."""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from dailypay_nb import openapi
from dailypay_nb import sandbox as sb
from dailypay_nb.sandbox._bodies import DECLARED, NULLABLE

DOCUMENT = openapi.load()
JSONAPI = {"Content-Type": "application/vnd.api+json"}


def _resolve(node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        section, name = node["$ref"].split("/")[-2:]
        node = DOCUMENT["components"][section][name]
    return node


def _allows_null(schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    return schema.get("nullable") is True or kind == "null" or (isinstance(kind, list) and "null" in kind)


def _members(schema: Any, pointer: str = "") -> dict[str, bool]:
    """Every member declared under `schema` (through allOf/oneOf/anyOf too): pointer → nullable."""
    schema = _resolve(schema)
    found: dict[str, bool] = {}
    if not isinstance(schema, dict):
        return found
    for keyword in ("allOf", "oneOf", "anyOf"):
        for branch in schema.get(keyword, []):
            found.update(_members(branch, pointer))
    for name, sub in schema.get("properties", {}).items():
        where = f"{pointer}/{name}"
        found[where] = found.get(where, False) or _allows_null(_resolve(sub))
        found.update(_members(sub, where))
    assert "items" not in schema  # no request body has arrays; first_null would need them
    return found


def _write_operations() -> dict[str, Any]:
    """operationId → request body schema, for every operation with a body."""
    out = {}
    for item in DOCUMENT["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and "requestBody" in operation:
                content = _resolve(operation["requestBody"])["content"]
                out[operation["operationId"]] = next(iter(content.values()))["schema"]
    return out


def test_declared_and_nullable_members_are_the_contracts() -> None:
    """The sandbox's tables of declared members, and of those that may be null, are the document's."""
    members = {op: _members(schema) for op, schema in _write_operations().items()}
    assert {op: frozenset(m) for op, m in members.items()} == DECLARED
    assert {op: frozenset(p for p, null in m.items() if null) for op, m in members.items()} == NULLABLE
    assert NULLABLE["createGenericCardToken"] == {"/cvv", "/address_line_two"}  # the walk finds some


# --- explicit nulls, on every member of a valid body of every write operation ---------------


@pytest.fixture(scope="module")
def box() -> Iterator[sb.Sandbox]:
    with sb.start(seed=11) as handle:
        yield handle


def _pointers(value: Any, pointer: str = "") -> Iterator[str]:
    """Every member of a JSON value, depth first, as JSON pointers."""
    if isinstance(value, dict):
        for name, item in value.items():
            where = f"{pointer}/{name}"
            yield where
            yield from _pointers(item, where)


def _nulled(body: Any, pointer: str) -> Any:
    copied = copy.deepcopy(body)
    *parents, last = pointer.strip("/").split("/")
    node = copied
    for name in parents:
        node = node[name]
    node[last] = None
    return copied


def _card_payload() -> dict[str, Any]:
    return {
        "first_name": "Edith", "last_name": "Clarke", "card_number": "4007589999999912",
        "expiration_year": "2031", "expiration_month": "02", "address_line_one": "123 Kebly Street",
        "address_city": "Fort Lee", "address_state": "NJ", "address_zip_code": "07237",
        "address_country": "US", "cvv": "123", "address_line_two": "Unit C",
    }  # fmt: skip


def _ref(kind: str, ident: str) -> dict[str, Any]:
    return {"data": {"type": kind, "id": ident}}


Request = tuple[str, str, dict[str, Any]]  # method, path, body


def _valid_requests(h: sb.Sandbox) -> dict[str, Request]:
    """One request per JSON:API write operation that the sandbox accepts (2xx)."""
    d = h.data
    job = d.jobs_of()[0]
    card_token = httpx.post(f"{h.url}/cards/generic", json=_card_payload()).json()["token"]
    return {
        "updateJob": ("PATCH", f"/rest/jobs/{job}", {"data": {
            "type": "jobs", "id": job, "attributes": {"activation_status": "ACTIVATED"},
            "relationships": {
                "direct_deposit_default_depository": _ref("accounts", d.depository_account_id())},
        }}),
        "updatePerson": ("PATCH", f"/rest/people/{d.person_id}", {"data": {
            "type": "people", "id": d.person_id, "attributes": {"state_of_residence": "NJ"}}}),
        "createAccount (DEPOSITORY)": ("POST", "/rest/accounts", {"data": {
            "type": "accounts",
            "attributes": {"name": "Checking", "account_type": "DEPOSITORY", "subtype": "CHECKING",
                           "details": {"first_name": "Edith", "last_name": "Clarke",
                                       "routing_number": "021000021", "account_number": "55501234"}},
            "relationships": {"person": _ref("people", d.person_id)}}}),
        "createAccount (CARD)": ("POST", "/rest/accounts", {"data": {
            "type": "accounts",
            "attributes": {"name": "Debit", "account_type": "CARD", "subtype": "DEBIT", "details": {
                "token": card_token, "first_name": "Edith", "last_name": "Clarke",
                "expiration_month": "02", "expiration_year": "2031", "address_line_one": "1 Main St",
                "address_line_two": "Unit C", "address_city": "Fort Lee", "address_state": "NJ",
                "address_zip_code": "07237", "address_country": "US", "issuer": "400758"}},
            "relationships": {"person": _ref("people", d.person_id)}}}),
        "createTransfer": ("POST", "/rest/transfers", {"data": {
            "type": "transfers", "id": str(uuid.uuid4()),
            "attributes": {"amount": 1500, "currency": "USD", "schedule": "NEXT_BUSINESS_DAY",
                           "preview": True},
            "relationships": {"origin": _ref("accounts", d.earnings_account_id()),
                              "destination": _ref("accounts", d.depository_account_id()),
                              "person": _ref("people", d.person_id)}}}),
    }  # fmt: skip


def _send(h: sb.Sandbox, token: str, method: str, path: str, body: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}", **JSONAPI, "Idempotency-Key": str(uuid.uuid4())}
    return httpx.request(method, h.url + path, json=body, headers=headers)


def _snapshot(h: sb.Sandbox) -> Any:
    """What a write could change: ids of every table, and the person's records as served."""
    admin = httpx.get(f"{h.url}/_sandbox/data").json()
    token = h.user_token()
    reads = [
        httpx.get(f"{h.url}/rest/{path}", headers={"Authorization": f"Bearer {token}"}).json()
        for path in ("jobs", "accounts", "transfers", f"people/{h.data.person_id}")
    ]
    return admin, reads


NAMES = ["updateJob", "updatePerson", "createAccount (DEPOSITORY)", "createAccount (CARD)", "createTransfer"]


@pytest.mark.parametrize("name", NAMES)
def test_every_member_set_to_null_is_refused(box: sb.Sandbox, name: str) -> None:
    """For each member of a valid body, `null` is a 400 pointing at that member; nothing changes."""
    method, path, body = _valid_requests(box)[name]
    token = box.user_token()
    before = _snapshot(box)
    pointers = list(_pointers(body))
    assert len(pointers) >= 5
    for pointer in pointers:
        response = _send(box, token, method, path, _nulled(body, pointer))
        assert response.status_code == 400, (pointer, response.text)
        error = response.json()["errors"][0]
        assert error["source"] == {"pointer": pointer}, pointer
    assert _snapshot(box) == before
    assert _send(box, token, method, path, body).status_code == 200  # the body itself is fine


def test_null_preview_moves_no_money(box: sb.Sandbox) -> None:
    """`"preview": null` is not `preview: false`: 400 at /data/attributes/preview, no transfer."""
    _, path, body = _valid_requests(box)["createTransfer"]
    body["data"]["attributes"]["preview"] = None
    before = _snapshot(box)
    response = _send(box, box.user_token(), "POST", path, body)
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"] == {"pointer": "/data/attributes/preview"}
    assert _snapshot(box) == before


def test_null_in_an_undeclared_member_is_ignored(box: sb.Sandbox) -> None:
    """The contract says nothing of members it does not declare, so a null there is no error."""
    _, path, body = _valid_requests(box)["createTransfer"]
    body["note"] = None
    body["data"]["attributes"]["memo"] = None
    body["data"]["relationships"]["origin"]["meta"] = None
    assert _send(box, box.user_token(), "POST", path, body).status_code == 200
    card = {**_card_payload(), "nickname": None, "extra": {"inner": None}}
    assert httpx.post(f"{box.url}/cards/generic", json=card).status_code == 200


def test_card_tokenization_nulls(box: sb.Sandbox) -> None:
    """cvv and address_line_two may be null (the document says so); any other null is refused."""
    payload = _card_payload()
    url = f"{box.url}/cards/generic"
    assert httpx.post(url, json={**payload, "cvv": None, "address_line_two": None}).status_code == 200
    for name in payload:
        if f"/{name}" not in NULLABLE["createGenericCardToken"]:
            response = httpx.post(url, json={**payload, name: None})
            assert response.status_code == 400, name
            assert name in response.json()["error_description"]


# --- JSON:API query parameters an operation does not support --------------------------------


def _operations() -> Iterator[tuple[str, str, str, list[dict[str, Any]]]]:
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and path.startswith("/rest") and path != "/rest/health":
                yield operation["operationId"], method.upper(), path, operation.get("security", [])


OPERATIONS = {op: (method, path, security) for op, method, path, security in _operations()}
TRANSFER_OPERATIONS = {"listTransfers", "readTransfer", "createTransfer"}


def _token_for(h: sb.Sandbox, security: list[dict[str, Any]]) -> str:
    schemes = {name for requirement in security for name in requirement}
    if "oauth_user_token" in schemes:
        return h.user_token()
    return h.client_token()


def _path_with_ids(path: str) -> str:
    return re.sub(r"\{\w+\}", lambda _: str(uuid.uuid4()), path)


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
@pytest.mark.parametrize(
    ("parameter", "value"),
    [("include", "person"), ("sort", "-id"), ("page[size]", "10"), ("fields[jobs]", "title")],
)
def test_unsupported_jsonapi_parameters_are_400(
    box: sb.Sandbox, operation: str, parameter: str, value: str
) -> None:
    """An include the operation cannot honour (and sort, page, fields anywhere) is a JSON:API 400
    naming the parameter, on every operation, before any other work."""
    method, path, security = OPERATIONS[operation]
    token = _token_for(box, security)
    response = httpx.request(
        method,
        box.url + _path_with_ids(path),
        params={parameter: value},
        headers={"Authorization": f"Bearer {token}", **JSONAPI},
        content=b"{}" if method in ("POST", "PATCH") else None,
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/vnd.api+json"
    assert response.json()["errors"][0]["source"] == {"parameter": parameter}


def test_transfer_includes_still_work(box: sb.Sandbox) -> None:
    """The three transfer operations honour their documented include paths."""
    token = box.user_token()
    response = httpx.get(
        f"{box.url}/rest/transfers",
        params={"include": "estimated_funding_sources,final_funding_sources"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200
    assert response.json()["included"]
    assert set(OPERATIONS) >= TRANSFER_OPERATIONS


# --- what an Idempotency-Key replay must repeat ----------------------------------------------


def test_replay_ignores_the_query_string(box: sb.Sandbox) -> None:
    """Same key, method, path and body with another ?include= is a replay, not a new payload."""
    _, path, body = _valid_requests(box)["createTransfer"]
    key = str(uuid.uuid4())
    headers = {"Authorization": f"Bearer {box.user_token()}", **JSONAPI, "Idempotency-Key": key}
    first = httpx.post(box.url + path, json=body, headers=headers)
    again = httpx.post(
        box.url + path, json=body, headers=headers, params={"include": "estimated_funding_sources"}
    )
    assert first.status_code == 200
    assert again.status_code == 200, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    changed = copy.deepcopy(body)
    changed["data"]["attributes"]["amount"] = 1600
    mismatch = httpx.post(box.url + path, json=changed, headers=headers)
    assert mismatch.status_code == 400
    assert mismatch.json()["errors"][0]["code"] == "INVALID_IDEMPOTENCY_KEY"
