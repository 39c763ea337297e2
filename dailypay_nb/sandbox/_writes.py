"""Write operations: they change the in-memory store (under its lock) and enforce DailyPay's rules."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone

from . import _jsonapi
from ._bodies import Obj, document_data, member, only, reference, same_id
from ._calls import UUID_RE, Call, Reply, not_found
from ._data import DAILYPAY_CARD_CAPABILITIES, DEBIT_CAPABILITIES, DEPOSITORY_CAPABILITIES, mask
from ._errors import ApiError, error_body
from ._reads import find_job, transfer_document
from ._records import Account, FundingSource, Transfer

JOB_STATUSES = frozenset(
    {"DEACTIVATED", "DEACTIVATION_PENDING", "ACTIVATION_REQUIRED", "ACTIVATION_UNDER_REVIEW", "ACTIVATED"}
)
MINIMUM_TRANSFER = 500  # "generally $5"
MAXIMUM_TRANSFER = 100_000
BLOCKED_ROUTING = "000000000"  # sandbox convention: bank accounts with it are blocked
BLOCKED_ISSUER = "000000"  # sandbox convention: cards with this BIN are blocked
_STATE = re.compile(r"^[A-Z]{2}$")
_DIGITS = re.compile(r"^\d+$")


def _bad(code: str, detail: str, pointer: str) -> ApiError:
    return ApiError(400, code, detail, pointer=pointer)


# jobs -------------------------------------------------------------------------------------


def update_job(call: Call) -> Reply:
    job = find_job(call)
    data = document_data(call, "jobs")
    same_id(data, job.id)
    only(data, {"type", "id", "attributes", "relationships"}, "/data")
    attributes = member(data, "attributes", "/data", dict, required=False) or {}
    only(attributes, {"activation_status"}, "/data/attributes")
    relationships = member(data, "relationships", "/data", dict, required=False) or {}
    only(
        relationships,
        {"direct_deposit_default_depository", "direct_deposit_default_card"},
        "/data/relationships",
    )
    status = member(attributes, "activation_status", "/data/attributes", str, required=False)
    if status is not None:
        if status not in JOB_STATUSES:
            raise _bad(
                "INVALID_PARAMETERS",
                f"Unknown activation_status {status!r}.",
                "/data/attributes/activation_status",
            )
        if status not in ("DEACTIVATED", job.activation_status):
            raise _bad(
                "INVALID_PARAMETERS",
                "Only DEACTIVATED can be requested; activation happens on DailyPay's side.",
                "/data/attributes/activation_status",
            )
    store = call.store
    defaults: dict[str, str] = {}
    for name, kind in (
        ("direct_deposit_default_depository", "DEPOSITORY"),
        ("direct_deposit_default_card", "CARD"),
    ):
        ident = reference(relationships, name, "accounts", required=False)
        if ident is None:
            continue
        account = store.accounts.get(ident)
        if account is None or account.person_id != job.person_id or account.account_type != kind:
            raise _bad(
                "INVALID_RESOURCE_LINK",
                f"{name} must be one of this person's {kind} accounts.",
                f"/data/relationships/{name}/data/id",
            )
        defaults[name] = ident
    if defaults and (job.activation_status != "ACTIVATED" or status == "DEACTIVATED"):
        raise _bad(
            "ACTIVE_JOB_REQUIRED",
            "The job must be ACTIVATED before setting default accounts.",
            "/data/relationships",
        )
    if status is not None:
        job.activation_status = status
    if "direct_deposit_default_depository" in defaults:
        job.default_depository_id = defaults["direct_deposit_default_depository"]
        job.direct_deposit_status = "SETUP_COMPLETE"
    if "direct_deposit_default_card" in defaults:
        job.default_card_id = defaults["direct_deposit_default_card"]
    return Reply(document={"data": _jsonapi.job(job, call.base)})


# people -----------------------------------------------------------------------------------


def update_person(call: Call) -> Reply:
    person_id = call.path["person_id"].lower()
    person = call.store.people.get(person_id)
    if person is None or call.token.person_id != person_id:
        raise not_found("person")
    data = document_data(call, "people")
    same_id(data, person.id)
    attributes = member(data, "attributes", "/data", dict, required=True)
    only(attributes, {"state_of_residence"}, "/data/attributes")
    state = member(attributes, "state_of_residence", "/data/attributes", str, required=True)
    if not _STATE.match(state):
        raise _bad(
            "INVALID_PARAMETERS",
            "state_of_residence must be two upper-case letters.",
            "/data/attributes/state_of_residence",
        )
    person.state_of_residence = state
    return Reply(document={"data": _jsonapi.person(person, call.base)})


# accounts ---------------------------------------------------------------------------------

_SUBTYPES = {"DEPOSITORY": ("CHECKING", "SAVINGS"), "CARD": ("DEBIT", "DAILYPAY")}


def _details_field(details: Obj, name: str) -> str:
    value: str = member(details, name, "/data/attributes/details", str, required=True, code="INVALID_FIELDS")
    return value


def create_account(call: Call) -> Reply:
    data = document_data(call, "accounts")
    person_id = call.token.person_id or ""
    code = "MISSING_REQUIRED_FIELD"
    attributes = member(data, "attributes", "/data", dict, required=True, code=code)
    relationships = member(data, "relationships", "/data", dict, required=True, code=code)
    owner = reference(relationships, "person", "people", required=True, code=code)
    if owner != person_id:
        raise _bad(
            "INVALID_RESOURCE_LINK",
            "Accounts can only be created for the token's person.",
            "/data/relationships/person/data/id",
        )
    account_type = member(attributes, "account_type", "/data/attributes", str, required=True, code=code)
    subtype = member(attributes, "subtype", "/data/attributes", str, required=True, code=code)
    if account_type not in _SUBTYPES:
        raise _bad(
            "ACCOUNT_TYPE_INVALID",
            "account_type must be DEPOSITORY or CARD.",
            "/data/attributes/account_type",
        )
    if subtype not in ("CHECKING", "SAVINGS", "DEBIT", "DAILYPAY"):
        raise _bad(
            "ACCOUNT_SUBTYPE_INVALID",
            "subtype must be CHECKING, SAVINGS, DEBIT or DAILYPAY.",
            "/data/attributes/subtype",
        )
    if subtype not in _SUBTYPES[account_type]:
        raise _bad(
            "ACCOUNT_TYPE_SUBTYPE_MISMATCH",
            f"{subtype} is not a subtype of {account_type}.",
            "/data/attributes/subtype",
        )
    name = member(attributes, "name", "/data/attributes", str, required=True, code=code)
    details = member(attributes, "details", "/data/attributes", dict, required=True, code=code)
    kind = _depository(details) if account_type == "DEPOSITORY" else _card(call, subtype, details)
    account = Account(
        id=str(uuid.uuid4()),
        person_id=person_id,
        name=name,
        account_type=account_type,
        subtype=subtype,
        verification_status="VERIFIED",
        details=kind.details,
        capabilities=list(kind.capabilities),
        fingerprint=kind.fingerprint,
    )
    for other in call.store.accounts_by_person.get(person_id, []):
        if call.store.accounts[other].fingerprint == account.fingerprint:
            raise _bad(
                "DUPLICATE_ACCOUNT",
                "This account already exists for this person.",
                "/data/attributes/details",
            )
    call.store.add_account(account)
    return Reply(document={"data": _jsonapi.account(account, call.base)})


@dataclass(frozen=True, slots=True)
class _Kind:
    """What the account type decides about a new account: stored details, capabilities, identity."""

    details: dict[str, str]
    capabilities: Sequence[tuple[str, int]]
    fingerprint: str


def _depository(details: Obj) -> _Kind:
    fields = {
        f: _details_field(details, f) for f in ("first_name", "last_name", "routing_number", "account_number")
    }
    routing, number = fields["routing_number"], fields["account_number"]
    if len(routing) != 9 or not _DIGITS.match(routing):
        raise _bad(
            "INVALID_FIELDS", "routing_number must be 9 digits.", "/data/attributes/details/routing_number"
        )
    if not 4 <= len(number) <= 17 or not _DIGITS.match(number):
        raise _bad(
            "INVALID_FIELDS",
            "account_number must be 4 to 17 digits.",
            "/data/attributes/details/account_number",
        )
    if routing == BLOCKED_ROUTING:
        raise _bad(
            "BANK_ACCOUNT_CREATION_BLOCKED",
            "Bank accounts with this routing number are blocked.",
            "/data/attributes/details/routing_number",
        )
    return _Kind(
        details={
            "first_name": fields["first_name"],
            "last_name": fields["last_name"],
            "routing_number": mask(routing),
            "account_number": mask(number),
        },
        capabilities=DEPOSITORY_CAPABILITIES,
        fingerprint=f"dep:{routing}:{number}",
    )


def _card(call: Call, subtype: str, details: Obj) -> _Kind:
    names = (
        "token",
        "first_name",
        "last_name",
        "expiration_month",
        "expiration_year",
        "address_line_one",
        "address_city",
        "address_state",
        "address_zip_code",
        "address_country",
        "issuer",
    )
    fields = {f: _details_field(details, f) for f in names}
    pointer = "/data/attributes/details"
    if not _STATE.match(fields["address_state"]):
        raise _bad(
            "INVALID_FIELDS", "address_state must be two upper-case letters.", f"{pointer}/address_state"
        )
    if not 6 <= len(fields["issuer"]) <= 8:
        raise _bad("INVALID_FIELDS", "issuer must be 6 to 8 characters.", f"{pointer}/issuer")
    month, year = fields["expiration_month"], fields["expiration_year"]
    if not (len(month) == 2 and month.isdigit() and 1 <= int(month) <= 12):
        raise _bad("INVALID_FIELDS", "expiration_month must be 01-12.", f"{pointer}/expiration_month")
    if not (len(year) == 4 and year.isdigit()):
        raise _bad("INVALID_FIELDS", "expiration_year must be four digits.", f"{pointer}/expiration_year")
    card = call.store.card_tokens.get(fields["token"])
    if card is None:
        raise _bad(
            "INVALID_CARD_TOKEN",
            "Unknown card token; obtain one from POST /cards/generic.",
            f"{pointer}/token",
        )
    today = date.today()
    if (int(year), int(month)) < (today.year, today.month):
        raise _bad("INVALID_DEBIT_CARD", "The card has expired.", f"{pointer}/expiration_year")
    if fields["issuer"].startswith(BLOCKED_ISSUER):
        raise _bad("DEBIT_CARD_CREATION_BLOCKED", "Cards with this BIN are blocked.", f"{pointer}/issuer")
    capabilities = DEBIT_CAPABILITIES if subtype == "DEBIT" else DAILYPAY_CARD_CAPABILITIES
    return _Kind(
        details={
            "last_four": card["last_four"],
            "issuer": fields["issuer"],
            "first_name": fields["first_name"],
            "last_name": fields["last_name"],
            "expiration_month": month,
            "expiration_year": year,
        },
        capabilities=capabilities,
        fingerprint=f"card:{fields['issuer']}:{card['last_four']}:{month}/{year}",
    )


def delete_account(call: Call) -> Reply:
    account = call.store.accounts.get(call.path["account_id"].lower())
    if account is None or account.person_id != call.token.person_id:
        raise not_found("account")
    if account.account_type == "EARNINGS_BALANCE":
        raise ApiError(400, "INVALID_PARAMETERS", "Earnings balance accounts cannot be deleted.")
    call.store.remove_account(account.id)
    return Reply(status=204)


# transfers --------------------------------------------------------------------------------


def _fingerprint(call: Call) -> str:
    """What a replay must repeat besides the key: method, path and body (not the query string)."""
    try:
        canonical = json.dumps(json.loads(call.body), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError):
        canonical = call.body
    return hashlib.sha256(b"\0".join([call.method.encode(), call.url_path.encode(), canonical])).hexdigest()


def create_transfer(call: Call) -> Reply:
    """createTransfer with Idempotency-Key: replay, 400 on a changed payload, 409 while in flight."""
    raw_key = call.headers.get("idempotency-key")
    if raw_key is None or not raw_key.strip():
        raise ApiError(
            400,
            "INVALID_IDEMPOTENCY_KEY",
            "The Idempotency-Key header is required.",
            header="Idempotency-Key",
        )
    key = raw_key.strip().lower()
    if not UUID_RE.match(key):
        raise ApiError(
            400, "INVALID_IDEMPOTENCY_KEY", "The Idempotency-Key must be a UUID.", header="Idempotency-Key"
        )
    owner = call.token.person_id or ""
    keys = call.store.idempotency
    outcome, entry = keys.begin(owner, key, _fingerprint(call))
    if outcome == "locked":
        raise ApiError(409, "IDEMPOTENCY_KEY_LOCKED", header="Idempotency-Key")
    if outcome == "mismatch":
        raise ApiError(
            400,
            "INVALID_IDEMPOTENCY_KEY",
            "This Idempotency-Key was used with a different payload.",
            header="Idempotency-Key",
        )
    if outcome == "replay":
        assert entry.status is not None
        assert entry.body is not None
        return Reply(status=entry.status, raw=entry.body, headers={"Idempotent-Replayed": "true"})
    try:
        try:
            reply = _create_transfer(call)
            body = _jsonapi.dumps(reply.document)
            status = reply.status
        except ApiError as error:
            if error.status >= 500:
                raise
            body, status = error_body([error], call.request_id), error.status
        keys.complete(owner, key, status, body)
    except BaseException:
        keys.release(owner, key)
        raise
    return Reply(status=status, raw=body, on_sent=lambda: keys.release(owner, key))


def _create_transfer(call: Call) -> Reply:
    store = call.store
    data = document_data(call, "transfers")
    person = store.people[call.token.person_id or ""]
    transfer_id = member(data, "id", "/data", str, required=False)
    if transfer_id is not None:
        if not UUID_RE.match(transfer_id) or transfer_id != transfer_id.lower():
            raise _bad("INVALID_PARAMETERS", "data.id must be a lower-case UUID.", "/data/id")
        if transfer_id in store.transfers:
            raise _bad("INVALID_PARAMETERS", "A transfer with this id already exists.", "/data/id")
    attributes = member(data, "attributes", "/data", dict, required=True)
    relationships = member(data, "relationships", "/data", dict, required=True)
    amount = member(attributes, "amount", "/data/attributes", int, required=True)
    currency = member(attributes, "currency", "/data/attributes", str, required=True)
    schedule = member(attributes, "schedule", "/data/attributes", str, required=True)
    preview = bool(member(attributes, "preview", "/data/attributes", bool, required=False))
    if amount < 0:
        raise _bad("INVALID_PARAMETERS", "amount must be >= 0 (cents).", "/data/attributes/amount")
    if currency != "USD":
        raise _bad("INVALID_PARAMETERS", "Only USD transfers are supported.", "/data/attributes/currency")
    if schedule not in ("WITHIN_THIRTY_MINUTES", "NEXT_BUSINESS_DAY"):
        raise _bad(
            "INVALID_PARAMETERS",
            "schedule must be WITHIN_THIRTY_MINUTES or NEXT_BUSINESS_DAY.",
            "/data/attributes/schedule",
        )
    origin_id = reference(relationships, "origin", "accounts", required=True)
    origin = store.accounts.get(origin_id or "")
    if origin is None or origin.person_id != person.id:
        raise _bad(
            "INVALID_RESOURCE_LINK",
            "origin must be one of the person's accounts.",
            "/data/relationships/origin/data/id",
        )
    if origin.account_type != "EARNINGS_BALANCE" or origin.job_id is None:
        raise _bad(
            "INELIGIBLE_ORIGIN",
            "Transfers must originate from an EARNINGS_BALANCE account.",
            "/data/relationships/origin/data/id",
        )
    named_person = reference(relationships, "person", "people", required=False)
    if named_person is not None and named_person != person.id:
        raise _bad(
            "INVALID_RESOURCE_LINK",
            "person must be the token's person.",
            "/data/relationships/person/data/id",
        )
    job = store.jobs[origin.job_id]
    destination_id = reference(relationships, "destination", "accounts", required=False)
    if destination_id is None:
        destination_id = job.default_depository_id
        if destination_id is None:
            raise _bad(
                "MISSING_DEFAULT_DEPOSITORY_ACCOUNT",
                "Set a default bank account on the job first.",
                "/data/relationships/destination",
            )
    destination = store.accounts.get(destination_id)
    if (
        destination is None
        or destination.person_id != person.id
        or destination.account_type == "EARNINGS_BALANCE"
    ):
        raise _bad(
            "INVALID_DESTINATION",
            "destination must be one of the person's DEPOSITORY or CARD accounts.",
            "/data/relationships/destination/data/id",
        )
    if person.disallow_reason is not None:
        raise _bad("TRANSFERS_DISABLED", f"Transfers are disabled ({person.disallow_reason}).", "/data")
    if person.state_of_residence is None:
        raise _bad("MISSING_STATE_OF_RESIDENCE", "Set the person's state_of_residence first.", "/data")
    if job.activation_status != "ACTIVATED":
        raise _bad(
            "INELIGIBLE_ORIGIN",
            "The job behind this earnings balance is not ACTIVATED.",
            "/data/relationships/origin/data/id",
        )
    if job.direct_deposit_status != "SETUP_COMPLETE":
        raise _bad("INVALID_DIRECT_DEPOSIT_STATUS", "Direct deposit is not set up for this job.", "/data")
    if job.default_depository_id is None:
        raise _bad(
            "MISSING_DEFAULT_DEPOSITORY_ACCOUNT", "Set a default bank account on the job first.", "/data"
        )
    fees = dict(destination.capabilities)
    if schedule not in fees:
        raise _bad(
            "INVALID_TRANSFER_SCHEDULE",
            f"{schedule} is not available for this destination.",
            "/data/attributes/schedule",
        )
    if amount < MINIMUM_TRANSFER:
        raise _bad("MINIMUM_AMOUNT_SUBCEEDED", "The minimum transfer is $5.00.", "/data/attributes/amount")
    if amount > MAXIMUM_TRANSFER:
        raise _bad("MAXIMUM_AMOUNT_EXCEEDED", "The maximum transfer is $1,000.00.", "/data/attributes/amount")
    if amount > (origin.available or 0):
        raise _bad(
            "EARNINGS_BALANCE_EXCEEDED",
            "The amount exceeds the available earnings balance.",
            "/data/attributes/amount",
        )
    transfer = Transfer(
        id=transfer_id or str(uuid.uuid4()),
        person_id=person.id,
        origin_type="accounts",
        origin_id=origin.id,
        destination_id=destination.id,
        amount=amount,
        fee=fees[schedule],
        schedule=schedule,
        status="PENDING",
        submitted_at=datetime.now(timezone.utc),
        resolved_at=None,
        preview=preview,
    )
    estimated = next(
        (
            store.paychecks[p]
            for p in store.paychecks_by_person.get(person.id, [])
            if store.paychecks[p].job_id == job.id and store.paychecks[p].status == "ESTIMATED"
        ),
        None,
    )
    if estimated is not None:
        transfer.estimated = [FundingSource(uuid.uuid4().hex, amount, estimated.id, transfer.id)]
    if not preview:
        store.add_transfer(transfer)
        origin.available = (origin.available or 0) - amount
    return transfer_document(call, [transfer], single=True)
