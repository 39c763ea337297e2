"""The sandbox's in-memory records: plain mutable dataclasses, one per DailyPay resource type."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(slots=True)
class Organization:
    id: str
    name: str
    products: list[str]


@dataclass(slots=True)
class Person:
    id: str
    first_name: str
    last_name: str
    state_of_residence: str | None
    disallow_reason: str | None
    card_eligible: bool
    card_enrolled: bool


@dataclass(slots=True)
class Job:
    id: str
    person_id: str
    organization_id: str
    external_identifiers: dict[str, str]
    first_name: str
    last_name: str
    activation_status: str
    wage_amount: int
    wage_frequency: str
    title: str | None
    department: str | None
    location: str
    direct_deposit_status: str
    default_depository_id: str | None = None
    default_card_id: str | None = None


@dataclass(slots=True)
class Account:
    id: str
    person_id: str
    name: str
    account_type: str  # EARNINGS_BALANCE | DEPOSITORY | CARD
    subtype: str
    verification_status: str
    details: dict[str, str]
    capabilities: list[tuple[str, int]]  # (schedule, fee in cents)
    available: int | None = None
    current: int | None = None
    job_id: str | None = None  # earnings-balance accounts belong to one job
    fingerprint: str = ""  # what makes two accounts duplicates (never serialised)


@dataclass(slots=True)
class Paycheck:
    id: str
    person_id: str
    job_id: str
    status: str
    starts_at: datetime
    ends_at: datetime
    deposit_expected_at: datetime
    gross_earnings: int
    employer_withholdings: int | None
    net_earnings: int | None
    total_debited: int | None


@dataclass(slots=True)
class FundingSource:
    id: str
    amount: int
    paycheck_id: str
    transfer_id: str


@dataclass(slots=True)
class Transfer:
    id: str
    person_id: str
    origin_type: str  # "accounts" or "paychecks"
    origin_id: str
    destination_id: str
    amount: int
    fee: int
    schedule: str
    status: str
    submitted_at: datetime
    resolved_at: datetime | None
    preview: bool = False
    estimated: list[FundingSource] = field(default_factory=list)
    final: list[FundingSource] = field(default_factory=list)
