"""JSON:API list → DataFrame: `dailypay_nb._jsonapi.to_frame` against `pandas.json_normalize`.

Both convert the same parsed payload (10 000 resources by default), interleaved round by
round so drift hits both alike; the median of each is compared. Acceptance: ratio ≤ 1.5.

    .venv/bin/python bench/bench_frames.py            # jobs, accounts, transfers, paychecks
    .venv/bin/python bench/bench_frames.py --quick    # fewer rounds

`run(quick)` returns `{"ours_ms", "json_normalize_ms", "ratio"}` for the jobs payload (the
widest resource), plus `by_type` with the same numbers for every payload.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

import pandas as pd

from dailypay_nb._jsonapi import to_frame

N = 10_000


def _uid(i: int, salt: int) -> str:
    return str(uuid.UUID(int=(salt << 64) | i))


def _job(i: int) -> dict[str, Any]:
    return {
        "type": "jobs",
        "id": _uid(i, 1),
        "attributes": {
            "external_identifiers": {"primary_identifier": f"P{i:07d}", "employee_id": f"E{i}"},
            "first_name": "Edith",
            "last_name": f"Clarke{i}",
            "activation_status": "ACTIVATED",
            "wage_rate": {"amount": 2500 + i % 700, "currency": "USD", "frequency": "HOURLY"},
            "department": None if i % 5 == 0 else "Finance",
            "location": "New York, New York",
            "direct_deposit_status": "SETUP_COMPLETE",
        },
        "relationships": {
            "person": {"data": {"type": "people", "id": _uid(i, 2)}},
            "organization": {"data": {"type": "organizations", "id": _uid(i % 7, 3)}},
            "direct_deposit_default_depository": {"data": {"type": "accounts", "id": _uid(i, 4)}},
            "direct_deposit_default_card": {"data": None},
        },
        "links": {"self": f"https://api.dailypay.com/rest/jobs/{_uid(i, 1)}"},
    }


def _account(i: int) -> dict[str, Any]:
    kind = ("EARNINGS_BALANCE", "DEPOSITORY", "CARD")[i % 3]
    details: dict[str, Any] = {
        "EARNINGS_BALANCE": {},
        "DEPOSITORY": {
            "first_name": "Edith",
            "last_name": "Clarke",
            "routing_number": "XXXXX2021",
            "account_number": "XXXXXX4321",
        },
        "CARD": {"last_four": "0003", "issuer": "411600", "expiration_month": "02"},
    }[kind]
    return {
        "type": "accounts",
        "id": _uid(i, 5),
        "attributes": {
            "name": f"Account {i}",
            "account_type": kind,
            "subtype": {"EARNINGS_BALANCE": "ODP", "DEPOSITORY": "CHECKING", "CARD": "DEBIT"}[kind],
            "verification_status": "VERIFIED",
            "balances": {
                "available": 7250 if kind == "EARNINGS_BALANCE" else None,
                "current": 0 if kind == "EARNINGS_BALANCE" else None,
                "currency": "USD",
            },
            "capabilities": {"transfer_destination": []},
            "details": details,
        },
        "relationships": {"person": {"data": {"type": "people", "id": _uid(i, 2)}}},
        "links": {"self": f"https://api.dailypay.com/rest/accounts/{_uid(i, 5)}"},
    }


def _transfer(i: int) -> dict[str, Any]:
    return {
        "type": "transfers",
        "id": _uid(i, 6),
        "attributes": {
            "preview": False,
            "amount": 15000 + i,
            "currency": "USD",
            "schedule": "WITHIN_THIRTY_MINUTES",
            "status": "SETTLED" if i % 4 else "PENDING",
            "submitted_at": f"2021-04-{1 + i % 28:02d}T21:30:58.{i % 1000:03d}Z",
            "resolved_at": None if i % 4 == 0 else f"2021-04-{1 + i % 28:02d}T22:00:00.000Z",
            "fee": 300,
        },
        "relationships": {
            "origin": {"data": {"type": "accounts", "id": _uid(i, 5)}},
            "destination": {"data": {"type": "accounts", "id": _uid(i + 1, 5)}},
            "person": {"data": {"type": "people", "id": _uid(i, 2)}},
            "estimated_funding_sources": {"data": [{"type": "funding_sources", "id": f"{i:032x}"}]},
            "final_funding_sources": {"data": []},
        },
        "links": {"self": f"https://api.dailypay.com/rest/transfers/{_uid(i, 6)}"},
    }


def _paycheck(i: int) -> dict[str, Any]:
    day = 1 + i % 28
    return {
        "type": "paychecks",
        "id": _uid(i, 7),
        "attributes": {
            "status": "DEPOSITED",
            "pay_period_ends_at": f"2023-03-{day:02d}T04:00:00Z",
            "pay_period_starts_at": f"2023-02-{day:02d}T05:00:00Z",
            "deposit_expected_at": f"2023-03-{day:02d}T04:00:00Z",
            "total_debited": 7050,
            "gross_earnings": 55370,
            "employer_withholdings": 5000,
            "net_earnings": 50370,
            "currency": "USD",
        },
        "relationships": {
            "person": {"data": {"type": "people", "id": _uid(i, 2)}},
            "job": {"data": {"type": "jobs", "id": _uid(i, 1)}},
        },
        "links": {"self": f"https://api.dailypay.com/rest/paychecks/{_uid(i, 7)}"},
    }


MAKERS: dict[str, Callable[[int], dict[str, Any]]] = {
    "jobs": _job,
    "accounts": _account,
    "transfers": _transfer,
    "paychecks": _paycheck,
}


def payload(kind: str = "jobs", n: int = N) -> dict[str, Any]:
    """A JSON:API list document of `n` resources of `kind`."""
    return {"data": [MAKERS[kind](i) for i in range(n)]}


def _time_ms(fn: Callable[[], object]) -> float:
    gc.collect()
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000.0


def compare(doc: dict[str, Any], rounds: int) -> dict[str, float]:
    """Median ms of ours and of json_normalize over `rounds` interleaved rounds."""
    ours: list[float] = []
    theirs: list[float] = []
    to_frame(doc)  # warm both up (imports, caches)
    pd.json_normalize(doc["data"])
    for i in range(rounds):
        pair = [("ours", lambda: to_frame(doc)), ("theirs", lambda: pd.json_normalize(doc["data"]))]
        if i % 2:
            pair.reverse()  # alternate who goes first
        for name, fn in pair:
            (ours if name == "ours" else theirs).append(_time_ms(fn))
    mine, base = statistics.median(ours), statistics.median(theirs)
    return {"ours_ms": mine, "json_normalize_ms": base, "ratio": mine / base}


def run(quick: bool = False) -> dict[str, Any]:
    """Measure every payload; the headline numbers are those of `jobs`."""
    rounds = 5 if quick else 15
    by_type = {kind: compare(payload(kind), rounds) for kind in MAKERS}
    return {**by_type["jobs"], "by_type": by_type, "n": N, "rounds": rounds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 rounds instead of 15")
    args = parser.parse_args()
    result = run(quick=args.quick)
    print(f"{result['n']} resources, median of {result['rounds']} interleaved rounds")
    print(f"{'payload':<10} {'ours ms':>9} {'json_normalize ms':>18} {'ratio':>6}")
    for kind, row in result["by_type"].items():
        print(f"{kind:<10} {row['ours_ms']:>9.1f} {row['json_normalize_ms']:>18.1f} {row['ratio']:>6.2f}")
    verdict = "ok" if max(r["ratio"] for r in result["by_type"].values()) <= 1.5 else "OVER 1.5"
    print(f"worst ratio {max(r['ratio'] for r in result['by_type'].values()):.2f}: {verdict}")


if __name__ == "__main__":
    main()
