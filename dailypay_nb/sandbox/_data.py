"""Seeded, deterministic fake DailyPay data and the in-memory store that holds it.

Everything is drawn from `random.Random(seed)`, so the same seed and size give the same ids and
values. Dates are anchored to a fixed "as of" day rather than today, for the same reason; only
transfers created through the API carry the real clock.
"""

from __future__ import annotations

import random
import threading
from datetime import date, datetime, timedelta, timezone
from typing import Any

from ._dates import local_midnight_utc
from ._idempotency import IdempotencyStore
from ._records import Account, FundingSource, Job, Organization, Paycheck, Person, Transfer

AS_OF = date(2026, 3, 2)  # the seeded "today" (a Monday)
_PERIOD_ANCHOR = date(2026, 1, 3)  # a Saturday: bi-weekly pay periods start on Saturdays
_PERIOD_DAYS = 14

_ORG_NAMES = [
    "DailyPay", "Acme Logistics", "Globex Retail", "Initech Health", "Umbrella Foods",
    "Stark Manufacturing", "Wayne Hospitality", "Hooli Services", "Vandelay Imports",
    "Soylent Markets", "Cyberdyne Care", "Tyrell Warehousing",
]  # fmt: skip
_FIRST = [
    "Edith", "Grace", "Alan", "Ada", "Katherine", "Dorothy", "Mary", "Claude", "John",
    "Hedy", "Barbara", "Radia", "Frances", "Margaret", "Annie", "Evelyn", "Marian", "Lynn",
    "Dennis", "Ken", "Guido", "Linus", "Tim", "Vint", "Joan", "Sophie", "Karen", "Leslie",
]  # fmt: skip
_LAST = [
    "Clarke", "Hopper", "Turing", "Lovelace", "Johnson", "Vaughan", "Jackson", "Shannon",
    "Backus", "Lamarr", "Liskov", "Perlman", "Allen", "Hamilton", "Easley", "Boyd", "Croak",
    "Conway", "Ritchie", "Thompson", "Rossum", "Torvalds", "Lee", "Cerf", "Clarke", "Wilson",
]  # fmt: skip
_STATES = ["NY", "NJ", "CA", "TX", "FL", "IL", "PA", "OH", "GA", "WA", "MA", "AZ"]
_LOCATIONS = [
    "New York, New York", "Newark, New Jersey", "Austin, Texas", "Chicago, Illinois",
    "Miami, Florida", "Seattle, Washington", "Boston, Massachusetts", "Phoenix, Arizona",
]  # fmt: skip
_TITLES = ["Cashier", "Associate", "Shift Lead", "Nurse", "Driver", "Analyst", "Cook", None]
_DEPARTMENTS = ["Operations", "Finance", "Front of House", "Logistics", "Care", None]
_BANKS = ["Acme Bank", "First Federal", "Hudson Savings", "Granite Credit Union"]
_BINS = ["411600", "400758", "520082", "431940"]
_ACTIVATION = [
    ("ACTIVATED", 80), ("ACTIVATION_REQUIRED", 8), ("ACTIVATION_UNDER_REVIEW", 4),
    ("DEACTIVATED", 4), ("DEACTIVATION_PENDING", 4),
]  # fmt: skip

DEPOSITORY_CAPABILITIES = [("NEXT_BUSINESS_DAY", 299)]
DEBIT_CAPABILITIES = [("WITHIN_THIRTY_MINUTES", 300), ("NEXT_BUSINESS_DAY", 0)]
DAILYPAY_CARD_CAPABILITIES = [("WITHIN_THIRTY_MINUTES", 0), ("NEXT_BUSINESS_DAY", 0)]
EARNINGS_NAME = "DailyPay On-Demand Pay Balance"


def uuid_from(rng: random.Random) -> str:
    """A version-4 UUID string drawn from `rng` (fast; no uuid.UUID object)."""
    n = rng.getrandbits(128)
    n = (n & ~(0xF000 << 64)) | (0x4000 << 64)
    n = (n & ~(0xC000 << 48)) | (0x8000 << 48)
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def hex_id(rng: random.Random) -> str:
    """A 32-hex-character id (DailyPay's funding-source id format)."""
    return f"{rng.getrandbits(128):032x}"


def mask(number: str) -> str:
    """Mask all but the last four characters with X, as DailyPay's responses do."""
    return "X" * max(0, len(number) - 4) + number[-4:]


class Store:
    """All records by id, per-person indexes, and one re-entrant lock for every change."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.organizations: dict[str, Organization] = {}
        self.people: dict[str, Person] = {}
        self.jobs: dict[str, Job] = {}
        self.accounts: dict[str, Account] = {}
        self.paychecks: dict[str, Paycheck] = {}
        self.transfers: dict[str, Transfer] = {}
        self.jobs_by_person: dict[str, list[str]] = {}
        self.accounts_by_person: dict[str, list[str]] = {}
        self.paychecks_by_person: dict[str, list[str]] = {}
        self.transfers_by_person: dict[str, list[str]] = {}
        self.card_tokens: dict[str, dict[str, str]] = {}
        self.idempotency = IdempotencyStore()

    @staticmethod
    def _file(table: dict[str, Any], by_person: dict[str, list[str]], record: Any) -> None:
        """Add a record to its table and to its person's index."""
        table[record.id] = record
        by_person.setdefault(record.person_id, []).append(record.id)

    def add_job(self, job: Job) -> None:
        self._file(self.jobs, self.jobs_by_person, job)

    def add_account(self, account: Account) -> None:
        self._file(self.accounts, self.accounts_by_person, account)

    def remove_account(self, account_id: str) -> None:
        account = self.accounts.pop(account_id)
        self.accounts_by_person[account.person_id].remove(account_id)
        for job_id in self.jobs_by_person.get(account.person_id, []):
            job = self.jobs[job_id]
            if job.default_depository_id == account_id:
                job.default_depository_id = None
                job.direct_deposit_status = "SETUP_REQUIRED"
            if job.default_card_id == account_id:
                job.default_card_id = None

    def add_paycheck(self, paycheck: Paycheck) -> None:
        self._file(self.paychecks, self.paychecks_by_person, paycheck)

    def add_transfer(self, transfer: Transfer) -> None:
        self._file(self.transfers, self.transfers_by_person, transfer)


_ACTIVATION_VALUES = [v for v, _ in _ACTIVATION]
_ACTIVATION_CUMULATIVE = [sum(w for _, w in _ACTIVATION[: i + 1]) for i in range(len(_ACTIVATION))]


class _Generator:
    def __init__(self, seed: int, people: int) -> None:
        self.rng = random.Random(seed)
        self.people = people
        self.lean = people > 1000  # fewer records per person for benchmark-sized data
        self.store = Store()
        self.groups: dict[str, str] = {}
        offset = (AS_OF - _PERIOD_ANCHOR).days % _PERIOD_DAYS
        self.current_start = AS_OF - timedelta(days=offset)

    def run(self) -> Store:
        count = 3 if self.people <= 8 else max(3, self.people // 200)
        orgs = [self._organization(i) for i in range(count)]
        for i in range(self.people):
            self._person(i, orgs)
        return self.store

    def _organization(self, index: int) -> Organization:
        name = _ORG_NAMES[index % len(_ORG_NAMES)]
        if index >= len(_ORG_NAMES):
            name = f"{name} {index // len(_ORG_NAMES) + 1}"
        products = ["ODP"] if index % 3 == 2 else ["ODP", "DAILYPAY_CARD"]
        org = Organization(uuid_from(self.rng), name, products)
        self.store.organizations[org.id] = org
        self.groups[org.id] = f"{self.rng.randrange(10_000, 100_000)}"
        return org

    def _person(self, index: int, orgs: list[Organization]) -> None:
        rng = self.rng
        first = index == 0
        org = orgs[index % len(orgs)]
        card_program = "DAILYPAY_CARD" in org.products
        enrolled = card_program and not first and rng.random() < 0.25
        person = Person(
            id=uuid_from(rng),
            first_name="Edith" if first else rng.choice(_FIRST),
            last_name="Clarke" if first else rng.choice(_LAST),
            state_of_residence="NY" if first else (rng.choice(_STATES) if rng.random() > 0.05 else None),
            disallow_reason=None
            if first or rng.random() < 0.9
            else rng.choice(["INACTIVE", "DELINQUENT", "BANNED"]),
            card_eligible=card_program and not enrolled,
            card_enrolled=enrolled,
        )
        self.store.people[person.id] = person
        jobs = [self._job(person, org, first, index < 4)]
        if not first and not self.lean and rng.random() < 0.15 and len(orgs) > 1:
            other = orgs[(index + 1) % len(orgs)]
            jobs.append(self._job(person, other, False, False))
        checking, card = self._personal_accounts(person)
        for job in jobs:
            self._earnings_account(person, job, first)
            if job.activation_status == "ACTIVATED" and job.direct_deposit_status == "SETUP_COMPLETE":
                job.default_depository_id = checking.id
                job.default_card_id = card.id if card else None
            self._paychecks(person, job)
        main_job = jobs[0]
        if main_job.activation_status == "ACTIVATED" and person.disallow_reason is None:
            self._transfers(person, main_job, [checking] + ([card] if card else []), first)

    def _job(self, person: Person, org: Organization, first: bool, active: bool) -> Job:
        rng = self.rng
        status = (
            "ACTIVATED" if active else rng.choices(_ACTIVATION_VALUES, cum_weights=_ACTIVATION_CUMULATIVE)[0]
        )
        if status == "ACTIVATED":
            deposit = "SETUP_COMPLETE" if first or rng.random() < 0.9 else "SETUP_PENDING"
        else:
            deposit = "SETUP_REQUIRED"
        hourly = first or rng.random() < 0.75
        job = Job(
            id=uuid_from(rng),
            person_id=person.id,
            organization_id=org.id,
            external_identifiers={
                "primary_identifier": f"{rng.getrandbits(32):010d}",
                "employee_id": f"EMP{rng.randrange(10**6):06d}",
                "group": self.groups[org.id],
            },
            first_name=person.first_name,
            last_name=person.last_name,
            activation_status=status,
            wage_amount=rng.randrange(1500, 4500, 25) if hourly else rng.randrange(40, 120) * 100_000,
            wage_frequency="HOURLY" if hourly else "ANNUALLY",
            title="Computer" if first else rng.choice(_TITLES),
            department="Finance" if first else rng.choice(_DEPARTMENTS),
            location="New York, New York" if first else rng.choice(_LOCATIONS),
            direct_deposit_status=deposit,
        )
        self.store.add_job(job)
        return job

    def _earnings_account(self, person: Person, job: Job, first: bool) -> Account:
        rng = self.rng
        active = job.activation_status == "ACTIVATED"
        available = 72_500 if first else (rng.randrange(50, 900) * 100 if active else 0)
        account = Account(
            id=uuid_from(rng),
            person_id=person.id,
            name=EARNINGS_NAME,
            account_type="EARNINGS_BALANCE",
            subtype="ODP",
            verification_status="VERIFIED",
            details={},
            capabilities=[],
            available=available,
            current=available,
            job_id=job.id,
        )
        self.store.add_account(account)
        return account

    def _personal_accounts(self, person: Person) -> tuple[Account, Account | None]:
        rng = self.rng
        routing = f"0{rng.randrange(10**8):08d}"
        number = f"{rng.randrange(10**9, 10**10)}"
        bank = rng.choice(_BANKS)
        names = {"first_name": person.first_name, "last_name": person.last_name}
        checking = self._depository(person, f"{bank} Checking Account", "CHECKING", routing, number)
        if not self.lean and rng.random() < 0.25:
            self._depository(person, f"{bank} Savings Account", "SAVINGS", routing, number[::-1])
        card: Account | None = None
        if (person.first_name == "Edith" and person.last_name == "Clarke") or rng.random() < 0.75:
            issuer = rng.choice(_BINS)
            last_four = f"{rng.randrange(10**4):04d}"
            expiry = (f"{rng.randrange(1, 13):02d}", str(AS_OF.year + rng.randrange(1, 5)))
            card = Account(
                id=uuid_from(rng),
                person_id=person.id,
                name="Debit Card",
                account_type="CARD",
                subtype="DEBIT",
                verification_status="VERIFIED",
                details={
                    "last_four": last_four,
                    "issuer": issuer,
                    **names,
                    "expiration_month": expiry[0],
                    "expiration_year": expiry[1],
                },
                capabilities=list(DEBIT_CAPABILITIES),
                fingerprint=f"card:{issuer}:{last_four}:{expiry[0]}/{expiry[1]}",
            )
            self.store.add_account(card)
        if person.card_enrolled:
            self.store.add_account(
                Account(
                    id=uuid_from(rng),
                    person_id=person.id,
                    name="DailyPay Card",
                    account_type="CARD",
                    subtype="DAILYPAY",
                    verification_status="VERIFIED",
                    details={
                        "last_four": f"{rng.randrange(10**4):04d}",
                        "issuer": "428525",
                        **names,
                        "expiration_month": "12",
                        "expiration_year": str(AS_OF.year + 3),
                    },
                    capabilities=list(DAILYPAY_CARD_CAPABILITIES),
                )
            )
        return checking, card

    def _depository(self, person: Person, name: str, subtype: str, routing: str, number: str) -> Account:
        account = Account(
            id=uuid_from(self.rng),
            person_id=person.id,
            name=name,
            account_type="DEPOSITORY",
            subtype=subtype,
            verification_status="VERIFIED" if self.rng.random() < 0.9 else "VERIFICATION_PENDING",
            details={
                "first_name": person.first_name,
                "last_name": person.last_name,
                "routing_number": mask(routing),
                "account_number": mask(number),
            },
            capabilities=list(DEPOSITORY_CAPABILITIES),
            fingerprint=f"dep:{routing}:{number}",
        )
        self.store.add_account(account)
        return account

    def _paychecks(self, person: Person, job: Job) -> None:
        rng = self.rng
        per_period = job.wage_amount * 80 if job.wage_frequency == "HOURLY" else job.wage_amount // 26
        in_transit = rng.random() < 0.4
        for k in range(2 if self.lean else 4):
            start = self.current_start - timedelta(days=_PERIOD_DAYS * k)
            end = start + timedelta(days=_PERIOD_DAYS - 1)
            deposit = end + timedelta(days=6)
            if k == 0:
                status = "ESTIMATED"
                gross = per_period * ((AS_OF - start).days + 1) // _PERIOD_DAYS
            else:
                gross = per_period + rng.randrange(-per_period // 10, per_period // 10 + 1)
                status = "DEPOSITED" if deposit <= AS_OF else "IN_TRANSIT" if in_transit else "PROCESSING"
            withholdings = gross * rng.randrange(15, 26) // 100
            self.store.add_paycheck(
                Paycheck(
                    id=uuid_from(rng),
                    person_id=person.id,
                    job_id=job.id,
                    status=status,
                    starts_at=local_midnight_utc(start),
                    ends_at=local_midnight_utc(end),
                    deposit_expected_at=local_midnight_utc(deposit),
                    gross_earnings=gross,
                    employer_withholdings=withholdings,
                    net_earnings=gross - withholdings,
                    total_debited=0,
                )
            )

    def _transfers(self, person: Person, job: Job, destinations: list[Account], first: bool) -> None:
        rng = self.rng
        store = self.store
        paychecks = [store.paychecks[p] for p in store.paychecks_by_person[person.id]]
        paychecks = [p for p in paychecks if p.job_id == job.id]
        earnings = next(
            store.accounts[a]
            for a in store.accounts_by_person[person.id]
            if store.accounts[a].job_id == job.id
        )
        deposited = [p for p in paychecks if p.status == "DEPOSITED"]
        if deposited and not self.lean:
            paycheck = deposited[0]
            credit = Transfer(
                id=uuid_from(rng),
                person_id=person.id,
                origin_type="paychecks",
                origin_id=paycheck.id,
                destination_id=earnings.id,
                amount=paycheck.net_earnings or 0,
                fee=0,
                schedule="NEXT_BUSINESS_DAY",
                status="SETTLED",
                submitted_at=paycheck.deposit_expected_at + timedelta(hours=2, milliseconds=417),
                resolved_at=paycheck.deposit_expected_at + timedelta(hours=3, milliseconds=88),
            )
            store.add_transfer(credit)
        count = 3 if first else rng.randrange(0, 2 if self.lean else 4)
        for n in range(count):
            newest = n == count - 1
            destination = rng.choice(destinations)
            schedules = [s for s, _ in destination.capabilities]
            schedule = rng.choice(schedules)
            fee = dict(destination.capabilities)[schedule]
            days_back = 1 if newest else rng.randrange(4, 26)
            submitted = datetime.combine(
                AS_OF - timedelta(days=days_back), datetime.min.time(), timezone.utc
            ) + timedelta(milliseconds=rng.randrange(13 * 3600_000, 23 * 3600_000))
            funding = next(
                (p for p in paychecks if p.starts_at <= submitted <= p.ends_at + timedelta(days=1)),
                paychecks[0],
            )
            status = "PENDING" if newest else ("FAILED" if rng.random() < 0.1 else "SETTLED")
            transfer = Transfer(
                id=uuid_from(rng),
                person_id=person.id,
                origin_type="accounts",
                origin_id=earnings.id,
                destination_id=destination.id,
                amount=rng.randrange(20, 200) * 100,
                fee=fee,
                schedule=schedule,
                status=status,
                submitted_at=submitted,
                resolved_at=None
                if status == "PENDING"
                else submitted + timedelta(minutes=rng.randrange(2, 29), milliseconds=rng.randrange(1000)),
            )
            if status != "FAILED":
                transfer.estimated = [FundingSource(hex_id(rng), transfer.amount, funding.id, transfer.id)]
            if status == "SETTLED":
                transfer.final = [FundingSource(hex_id(rng), transfer.amount, funding.id, transfer.id)]
                funding.total_debited = (funding.total_debited or 0) + transfer.amount
            store.add_transfer(transfer)


def generate(seed: int, people: int) -> Store:
    """Build a store with `people` people (and their organizations, jobs, accounts ...)."""
    if people < 1:
        raise ValueError("size must be at least 1 person")
    return _Generator(seed, people).run()
