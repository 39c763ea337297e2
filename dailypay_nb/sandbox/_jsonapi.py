"""Records to JSON:API resource objects, in the shapes openapi.yaml (beta.117) documents."""

from __future__ import annotations

import json
from typing import Any

from ._dates import format_millis, format_seconds
from ._records import Account, FundingSource, Job, Organization, Paycheck, Person, Transfer

Doc = dict[str, Any]


def _ref(kind: str, ident: str) -> Doc:
    return {"data": {"type": kind, "id": ident}}


def _links(base: str, kind: str, ident: str) -> Doc:
    return {"self": f"{base}/rest/{kind}/{ident}"}


def organization(org: Organization, base: str) -> Doc:
    return {
        "type": "organizations",
        "id": org.id,
        "attributes": {"name": org.name, "products": list(org.products)},
        "links": _links(base, "organizations", org.id),
    }


def person(p: Person, base: str) -> Doc:
    attributes: Doc = {"disallow_reason": p.disallow_reason}
    if p.state_of_residence is not None:
        attributes["state_of_residence"] = p.state_of_residence
    attributes["products"] = {"dailypay_card": {"eligible": p.card_eligible, "enrolled": p.card_enrolled}}
    return {
        "type": "people",
        "id": p.id,
        "attributes": attributes,
        "links": _links(base, "people", p.id),
    }


def job(j: Job, base: str) -> Doc:
    relationships: Doc = {
        "person": _ref("people", j.person_id),
        "organization": _ref("organizations", j.organization_id),
    }
    if j.default_depository_id is not None:
        relationships["direct_deposit_default_depository"] = _ref("accounts", j.default_depository_id)
    if j.default_card_id is not None:
        relationships["direct_deposit_default_card"] = _ref("accounts", j.default_card_id)
    return {
        "type": "jobs",
        "id": j.id,
        "attributes": {
            "external_identifiers": dict(j.external_identifiers),
            "first_name": j.first_name,
            "last_name": j.last_name,
            "activation_status": j.activation_status,
            "wage_rate": {"amount": j.wage_amount, "currency": "USD", "frequency": j.wage_frequency},
            "title": j.title,
            "department": j.department,
            "location": j.location,
            "direct_deposit_status": j.direct_deposit_status,
        },
        "relationships": relationships,
        "links": _links(base, "jobs", j.id),
    }


def account(a: Account, base: str) -> Doc:
    return {
        "type": "accounts",
        "id": a.id,
        "attributes": {
            "name": a.name,
            "account_type": a.account_type,
            "subtype": a.subtype,
            "verification_status": a.verification_status,
            "balances": {"available": a.available, "current": a.current, "currency": "USD"},
            "capabilities": {
                "transfer_destination": [
                    {"schedule": s, "fee": fee, "currency": "USD"} for s, fee in a.capabilities
                ]
            },
            "details": dict(a.details),
        },
        "relationships": {"person": _ref("people", a.person_id)},
        "links": _links(base, "accounts", a.id),
    }


def paycheck(p: Paycheck, base: str) -> Doc:
    return {
        "type": "paychecks",
        "id": p.id,
        "attributes": {
            "status": p.status,
            "pay_period_starts_at": format_seconds(p.starts_at),
            "pay_period_ends_at": format_seconds(p.ends_at),
            "deposit_expected_at": format_seconds(p.deposit_expected_at),
            "total_debited": p.total_debited,
            "gross_earnings": p.gross_earnings,
            "employer_withholdings": p.employer_withholdings,
            "net_earnings": p.net_earnings,
            "currency": "USD",
        },
        "relationships": {
            "person": _ref("people", p.person_id),
            "job": _ref("jobs", p.job_id),
        },
        "links": _links(base, "paychecks", p.id),
    }


def _sources(items: list[FundingSource]) -> Doc:
    return {"data": [{"type": "funding_sources", "id": fs.id} for fs in items]}


def transfer(t: Transfer, base: str) -> Doc:
    return {
        "type": "transfers",
        "id": t.id,
        "attributes": {
            "preview": t.preview,
            "amount": t.amount,
            "currency": "USD",
            "schedule": t.schedule,
            "status": t.status,
            "submitted_at": format_millis(t.submitted_at),
            "resolved_at": format_millis(t.resolved_at) if t.resolved_at else None,
            "fee": t.fee,
        },
        "relationships": {
            "origin": _ref(t.origin_type, t.origin_id),
            "destination": _ref("accounts", t.destination_id),
            "person": _ref("people", t.person_id),
            "estimated_funding_sources": _sources(t.estimated),
            "final_funding_sources": _sources(t.final),
        },
        "links": _links(base, "transfers", t.id),
    }


def funding_source(fs: FundingSource) -> Doc:
    return {
        "type": "funding_sources",
        "id": fs.id,
        "attributes": {"amount": fs.amount, "currency": "USD"},
        "relationships": {
            "source": _ref("paychecks", fs.paycheck_id),
            "transfer": _ref("transfers", fs.transfer_id),
        },
    }


def included(transfers: list[Transfer], include: frozenset[str]) -> list[Doc]:
    """Funding sources named by `include`, once each, in first-seen order."""
    seen: dict[str, Doc] = {}
    for t in transfers:
        if "estimated_funding_sources" in include:
            for fs in t.estimated:
                seen.setdefault(fs.id, funding_source(fs))
        if "final_funding_sources" in include:
            for fs in t.final:
                seen.setdefault(fs.id, funding_source(fs))
    return list(seen.values())


def dumps(document: object) -> bytes:
    """Compact UTF-8 JSON, the encoding of every sandbox response."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
