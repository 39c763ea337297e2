"""Reading JSON:API request bodies, with 400 errors that point at the offending member."""

from __future__ import annotations

import json
from typing import Any

from ._calls import UUID_RE, Call
from ._constants import JSON, JSONAPI
from ._errors import ApiError

Obj = dict[str, Any]

Tree = dict[str, "Tree"]
_REF: Tree = {"data": {"type": {}, "id": {}}}
_CARD_FIELDS = (
    "first_name", "last_name", "expiration_month", "expiration_year", "address_line_one",
    "address_line_two", "address_city", "address_state", "address_zip_code", "address_country",
)  # fmt: skip


def _pointers(tree: Tree, pointer: str = "") -> frozenset[str]:
    out: set[str] = set()
    for name, sub in tree.items():
        out.add(f"{pointer}/{name}")
        out |= _pointers(sub, f"{pointer}/{name}")
    return frozenset(out)


#: The members each request body of the contract declares (JSON pointers), per operation.
DECLARED: dict[str, frozenset[str]] = {
    "updateJob": _pointers({"data": {
        "type": {}, "id": {}, "attributes": {"activation_status": {}},
        "relationships": {"direct_deposit_default_depository": _REF, "direct_deposit_default_card": _REF},
    }}),
    "createAccount": _pointers({"data": {
        "type": {},
        "attributes": {"name": {}, "account_type": {}, "subtype": {}, "details": {
            name: {} for name in ("token", "issuer", "routing_number", "account_number", *_CARD_FIELDS)
        }},
        "relationships": {"person": _REF},
    }}),
    "createTransfer": _pointers({"data": {
        "type": {}, "id": {},
        "attributes": {"preview": {}, "amount": {}, "currency": {}, "schedule": {}},
        "relationships": {"origin": _REF, "destination": _REF, "person": _REF},
    }}),
    "updatePerson": _pointers({"data": {"type": {}, "id": {}, "attributes": {"state_of_residence": {}}}}),
    "createGenericCardToken": _pointers({name: {} for name in ("card_number", "cvv", *_CARD_FIELDS)}),
}  # fmt: skip

#: The declared members whose schema allows an explicit null. A null in any other declared
#: member is a 400 pointing at it, never the same as leaving the member out (members the
#: contract does not declare are ignored, whatever their value).
NULLABLE: dict[str, frozenset[str]] = {
    "updateJob": frozenset(),
    "createAccount": frozenset(),
    "createTransfer": frozenset(),
    "updatePerson": frozenset(),
    "createGenericCardToken": frozenset({"/cvv", "/address_line_two"}),
}


def first_null(value: object, operation: str, pointer: str = "") -> str | None:
    """The pointer of the first null in a declared member that may not be null, or None."""
    if not isinstance(value, dict):
        return None
    declared = DECLARED.get(operation, frozenset())
    for name, item in value.items():
        where = f"{pointer}/{name}"
        if where not in declared:
            continue
        if item is None:
            if where not in NULLABLE.get(operation, frozenset()):
                return where
        else:
            found = first_null(item, operation, where)
            if found is not None:
                return found
    return None


def refuse_nulls(document: object, operation: str) -> None:
    """400 at the first explicit null the operation's body schema does not allow."""
    where = first_null(document, operation)
    if where is not None:
        raise ApiError(400, "INVALID_PARAMETERS", f"{where} must not be null.", pointer=where)


def document_data(call: Call, kind: str) -> Obj:
    """Parse the body and return its `data` object, checking `data.type`."""
    media = call.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media not in (JSONAPI, JSON):
        raise ApiError(
            400,
            "INVALID_USER_INPUT",
            f"Send the body as {JSONAPI}.",
            header="Content-Type",
        )
    try:
        document = json.loads(call.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "INVALID_USER_INPUT", "The body is not valid JSON.", pointer="") from exc
    if not isinstance(document, dict):
        raise ApiError(400, "INVALID_USER_INPUT", "The body must be a JSON object.", pointer="")
    refuse_nulls(document, call.operation)
    data = document.get("data")
    if not isinstance(data, dict):
        raise ApiError(400, "INVALID_USER_INPUT", "The body needs a data object.", pointer="/data")
    if data.get("type") != kind:
        raise ApiError(400, "INVALID_PARAMETERS", f"data.type must be {kind!r}.", pointer="/data/type")
    return data


def member(
    obj: Obj, name: str, pointer: str, kind: type, *, required: bool, code: str = "INVALID_PARAMETERS"
) -> Any:
    """obj[name] checked to be of `kind` (bool is not an int); None when absent and optional.

    An explicit null is not absent: it fails the type check (refuse_nulls normally sees it first).
    """
    where = f"{pointer}/{name}"
    if name not in obj:
        if required:
            missing = "MISSING_REQUIRED_FIELD" if code != "INVALID_PARAMETERS" else code
            raise ApiError(400, missing, f"{where} is required.", pointer=where)
        return None
    value = obj[name]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ApiError(400, code, f"{where} must be a {kind.__name__}.", pointer=where)
    return value


def only(obj: Obj, allowed: set[str], pointer: str) -> None:
    """Reject members the operation does not let a client write."""
    for name in obj:
        if name not in allowed:
            raise ApiError(
                400,
                "INVALID_PARAMETERS",
                f"{pointer}/{name} cannot be written.",
                pointer=f"{pointer}/{name}",
            )


def reference(
    relationships: Obj, name: str, kind: str, *, required: bool, code: str = "INVALID_PARAMETERS"
) -> str | None:
    """The id in relationships[name].data, which must be {"type": kind, "id": <uuid>}."""
    pointer = f"/data/relationships/{name}"
    rel = member(relationships, name, "/data/relationships", dict, required=required, code=code)
    if rel is None:
        return None
    data = rel.get("data")
    if not isinstance(data, dict) or data.get("type") != kind:
        raise ApiError(
            400,
            "INVALID_RESOURCE_LINK",
            f"{pointer}/data must be a {kind} resource identifier.",
            pointer=f"{pointer}/data",
        )
    ident = data.get("id")
    if not isinstance(ident, str) or not UUID_RE.match(ident):
        raise ApiError(
            400,
            "INVALID_RESOURCE_LINK",
            f"{pointer}/data/id must be a UUID.",
            pointer=f"{pointer}/data/id",
        )
    return ident.lower()


def same_id(data: Obj, expected: str) -> None:
    """data.id must be present and name the resource of the path."""
    ident = member(data, "id", "/data", str, required=True)
    if ident.lower() != expected.lower():
        raise ApiError(
            400, "INVALID_PARAMETERS", "data.id must match the id in the path.", pointer="/data/id"
        )
