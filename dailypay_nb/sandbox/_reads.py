"""Read and list operations (health aside): what each token may see, filtered as documented."""

from __future__ import annotations

from datetime import datetime

from . import _filters, _jsonapi
from ._calls import Call, FilterParam, Reply, includes, not_found, structured_filters
from ._errors import ApiError
from ._filters import Field
from ._records import Account, Job, Organization, Paycheck, Transfer

_UUID = FilterParam("uuid")
_TEXT = FilterParam("text")
_DATE = FilterParam("datetime")

JOB_FILTERS = {
    "filter[external_identifiers.primary_identifier]": _TEXT,
    "filter[external_identifiers.employee_id]": _TEXT,
    "filter[external_identifiers.group]": _TEXT,
    "filter[person.id]": _UUID,
    "filter[organization.id]": FilterParam("unsupported"),
}
ACCOUNT_FILTERS = {
    "filter[person.id]": _UUID,
    "filter[account_type]": FilterParam("enum", frozenset({"EARNINGS_BALANCE", "DEPOSITORY", "CARD"})),
    "filter[subtype]": _TEXT,
}
TRANSFER_FILTERS = {"filter[submitted_at__gt]": _DATE}
PAYCHECK_STATUSES = frozenset({"ESTIMATED", "PROCESSING", "IN_TRANSIT", "DEPOSITED"})
PAYCHECK_FILTERS = {
    "filter[job.id]": _UUID,
    "filter[status]": FilterParam("enum", PAYCHECK_STATUSES),
    **{
        f"filter[{name}__{op}]": _DATE
        for name in ("deposit_expected_at", "pay_period_ends_at", "pay_period_starts_at")
        for op in ("gte", "lt")
    },
}

ORG_FIELDS: dict[str, Field[Organization]] = {
    "name": Field(lambda o, _: o.name, partial=True),
}
JOB_FIELDS: dict[str, Field[Job]] = {
    "person_id": Field(lambda j, _: j.person_id),
    "first_name": Field(lambda j, _: j.first_name),
    "last_name": Field(lambda j, _: j.last_name),
    "external_identifiers[]": Field(
        lambda j, name: j.external_identifiers.get(name.partition("[")[2].rstrip("]"))
    ),
}
ACCOUNT_FIELDS: dict[str, Field[Account]] = {"person_id": Field(lambda a, _: a.person_id)}
TRANSFER_FIELDS: dict[str, Field[Transfer]] = {"person_id": Field(lambda t, _: t.person_id)}
PAYCHECK_FIELDS: dict[str, Field[Paycheck]] = {
    "job_id": Field(lambda p, _: p.job_id),
    "status": Field(lambda p, _: p.status, choices=PAYCHECK_STATUSES),
}


def _deprecated(call: Call) -> str | None:
    return call.param("filter")


# organizations ----------------------------------------------------------------------------


def list_organizations(call: Call) -> Reply:
    structured_filters(call.params, {})
    orgs = _filters.apply(_deprecated(call), list(call.store.organizations.values()), ORG_FIELDS)
    return Reply(document={"data": [_jsonapi.organization(o, call.base) for o in orgs]})


def read_organization(call: Call) -> Reply:
    org = call.store.organizations.get(call.path["organization_id"])
    if org is None:
        raise not_found("organization")
    return Reply(document={"data": _jsonapi.organization(org, call.base)})


# people -----------------------------------------------------------------------------------


def read_person(call: Call) -> Reply:
    person_id = call.path["person_id"].lower()
    person = call.store.people.get(person_id)
    if person is None or call.person_scope not in (None, person_id):
        raise not_found("person")
    return Reply(document={"data": _jsonapi.person(person, call.base)})


# jobs -------------------------------------------------------------------------------------


def _visible_jobs(call: Call) -> list[Job]:
    store = call.store
    person = call.person_scope
    if person is None:
        return list(store.jobs.values())
    return [store.jobs[j] for j in store.jobs_by_person.get(person, [])]


def list_jobs(call: Call) -> Reply:
    filters = structured_filters(call.params, JOB_FILTERS)
    jobs = _visible_jobs(call)
    for key, value in filters.items():
        if key == "filter[person.id]":
            jobs = [j for j in jobs if j.person_id == value]
        else:
            name = key[len("filter[external_identifiers.") : -1]
            jobs = [j for j in jobs if j.external_identifiers.get(name) == value]
    jobs = _filters.apply(_deprecated(call), jobs, JOB_FIELDS)
    return Reply(document={"data": [_jsonapi.job(j, call.base) for j in jobs]})


def find_job(call: Call) -> Job:
    """The job named in the path, if this token may see it."""
    job_id = call.path["job_id"].lower()
    job = call.store.jobs.get(job_id)
    if job is None or call.person_scope not in (None, job.person_id):
        raise not_found("job")
    return job


def read_job(call: Call) -> Reply:
    return Reply(document={"data": _jsonapi.job(find_job(call), call.base)})


# accounts ---------------------------------------------------------------------------------


def _account_visible(call: Call, account: Account) -> bool:
    if call.token.kind == "client":
        # With client credentials only earnings-balance accounts are returned (beta.117).
        return account.account_type == "EARNINGS_BALANCE"
    return account.person_id == call.token.person_id


def list_accounts(call: Call) -> Reply:
    filters = structured_filters(call.params, ACCOUNT_FILTERS)
    text = _deprecated(call)
    node = _filters.parse(text) if text else None
    by_person = filters.get("filter[person.id]")
    named = node is not None and "person_id" in _filters.fields(node)
    if call.token.kind == "client" and by_person is None and not named:
        raise ApiError(
            400,
            "INVALID_PARAMETERS",
            "filter[person.id] is required when listing accounts with a client-credentials token.",
            parameter="filter[person.id]",
        )
    store = call.store
    if isinstance(by_person, str):
        ids = store.accounts_by_person.get(by_person, [])
        accounts = [store.accounts[a] for a in ids]
    elif call.person_scope is not None:
        accounts = [store.accounts[a] for a in store.accounts_by_person.get(call.person_scope, [])]
    else:
        accounts = list(store.accounts.values())
    accounts = [a for a in accounts if _account_visible(call, a)]
    if "filter[account_type]" in filters:
        accounts = [a for a in accounts if a.account_type == filters["filter[account_type]"]]
    if "filter[subtype]" in filters:
        accounts = [a for a in accounts if a.subtype == filters["filter[subtype]"]]
    accounts = _filters.apply(text, accounts, ACCOUNT_FIELDS)
    return Reply(document={"data": [_jsonapi.account(a, call.base) for a in accounts]})


def find_account(call: Call) -> Account:
    """The account named in the path, if this token may see it."""
    account = call.store.accounts.get(call.path["account_id"].lower())
    if account is None or not _account_visible(call, account):
        raise not_found("account")
    return account


def read_account(call: Call) -> Reply:
    return Reply(document={"data": _jsonapi.account(find_account(call), call.base)})


# transfers --------------------------------------------------------------------------------


def transfer_document(call: Call, transfers: list[Transfer], single: bool) -> Reply:
    """Serialise transfers with the funding sources `include` asks for."""
    wanted = includes(call)
    data = [_jsonapi.transfer(t, call.base) for t in transfers]
    document: dict[str, object] = {"data": data[0] if single else data}
    if wanted:
        document["included"] = _jsonapi.included(transfers, wanted)
    return Reply(document=document)


def list_transfers(call: Call) -> Reply:
    filters = structured_filters(call.params, TRANSFER_FILTERS)
    store = call.store
    ids = store.transfers_by_person.get(call.token.person_id or "", [])
    transfers = [store.transfers[t] for t in ids]
    after = filters.get("filter[submitted_at__gt]")
    if isinstance(after, datetime):
        transfers = [t for t in transfers if t.submitted_at > after]
    transfers = _filters.apply(_deprecated(call), transfers, TRANSFER_FIELDS)
    return transfer_document(call, transfers, single=False)


def read_transfer(call: Call) -> Reply:
    transfer = call.store.transfers.get(call.path["transfer_id"].lower())
    if transfer is None or transfer.person_id != call.token.person_id:
        raise not_found("transfer")
    return transfer_document(call, [transfer], single=True)


# paychecks --------------------------------------------------------------------------------


def list_paychecks(call: Call) -> Reply:
    filters = structured_filters(call.params, PAYCHECK_FILTERS)
    store = call.store
    ids = store.paychecks_by_person.get(call.token.person_id or "", [])
    paychecks = [store.paychecks[p] for p in ids]
    for key, value in filters.items():
        if key == "filter[job.id]":
            paychecks = [p for p in paychecks if p.job_id == value]
        elif key == "filter[status]":
            paychecks = [p for p in paychecks if p.status == value]
        elif isinstance(value, datetime):
            name, _, op = key[len("filter[") : -1].rpartition("__")
            paychecks = [p for p in paychecks if _compare(_paycheck_date(p, name), op, value)]
    paychecks = _filters.apply(_deprecated(call), paychecks, PAYCHECK_FIELDS)
    return Reply(document={"data": [_jsonapi.paycheck(p, call.base) for p in paychecks]})


def _paycheck_date(p: Paycheck, name: str) -> datetime:
    if name == "deposit_expected_at":
        return p.deposit_expected_at
    return p.ends_at if name == "pay_period_ends_at" else p.starts_at


def _compare(actual: datetime, op: str, bound: datetime) -> bool:
    return actual >= bound if op == "gte" else actual < bound


def read_paycheck(call: Call) -> Reply:
    paycheck = call.store.paychecks.get(call.path["paycheck_id"].lower())
    if paycheck is None or paycheck.person_id != call.token.person_id:
        raise not_found("paycheck")
    return Reply(document={"data": _jsonapi.paycheck(paycheck, call.base)})
