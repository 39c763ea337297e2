"""The sandbox's control surface (shared by the Python handle and the /_sandbox admin routes)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._auth import check_user_scope, parse_scopes
from ._constants import DEMO_CLIENT_ID, DEMO_SCOPES
from ._data import Store
from ._options import FaultSpec, method_spelled_as
from ._state import SandboxState


class DataView:
    """Read-only look at the seeded (and since changed) data: ids and small helpers."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def _ids(self, table: dict[str, Any]) -> list[str]:
        with self._store.lock:
            return list(table)

    @property
    def organization_ids(self) -> list[str]:
        return self._ids(self._store.organizations)

    @property
    def person_ids(self) -> list[str]:
        return self._ids(self._store.people)

    @property
    def job_ids(self) -> list[str]:
        return self._ids(self._store.jobs)

    @property
    def account_ids(self) -> list[str]:
        return self._ids(self._store.accounts)

    @property
    def paycheck_ids(self) -> list[str]:
        return self._ids(self._store.paychecks)

    @property
    def transfer_ids(self) -> list[str]:
        return self._ids(self._store.transfers)

    @property
    def person_id(self) -> str:
        """The first seeded person (Edith Clarke): activated, with every kind of account."""
        return next(iter(self._store.people))

    @property
    def organization_names(self) -> list[str]:
        with self._store.lock:
            return [o.name for o in self._store.organizations.values()]

    def jobs_of(self, person_id: str | None = None) -> list[str]:
        with self._store.lock:
            return list(self._store.jobs_by_person.get(person_id or self.person_id, []))

    def accounts_of(self, person_id: str | None = None, account_type: str | None = None) -> list[str]:
        """Account ids of a person, optionally only EARNINGS_BALANCE, DEPOSITORY or CARD."""
        store = self._store
        with store.lock:
            ids = store.accounts_by_person.get(person_id or self.person_id, [])
            return [a for a in ids if account_type is None or store.accounts[a].account_type == account_type]

    def paychecks_of(self, person_id: str | None = None) -> list[str]:
        with self._store.lock:
            return list(self._store.paychecks_by_person.get(person_id or self.person_id, []))

    def transfers_of(self, person_id: str | None = None) -> list[str]:
        with self._store.lock:
            return list(self._store.transfers_by_person.get(person_id or self.person_id, []))

    def earnings_account_id(self, person_id: str | None = None) -> str:
        """The person's (first) EARNINGS_BALANCE account: the origin of user transfers."""
        return self.accounts_of(person_id, "EARNINGS_BALANCE")[0]

    def depository_account_id(self, person_id: str | None = None) -> str:
        return self.accounts_of(person_id, "DEPOSITORY")[0]

    def card_account_id(self, person_id: str | None = None) -> str:
        return self.accounts_of(person_id, "CARD")[0]

    def summary(self) -> dict[str, int]:
        """How many records of each type there are."""
        store = self._store
        with store.lock:
            return {
                "organizations": len(store.organizations),
                "people": len(store.people),
                "jobs": len(store.jobs),
                "accounts": len(store.accounts),
                "paychecks": len(store.paychecks),
                "transfers": len(store.transfers),
            }


class Controls:
    """Steering methods over one SandboxState."""

    DEMO_SCOPES = DEMO_SCOPES

    def __init__(self, state: SandboxState) -> None:
        self._state = state
        self.data = DataView(state.store)

    def stats(self) -> dict[str, Any]:
        """Counters: token_requests, tokens_issued, requests, routes {"GET /rest/health": {"200": n}}."""
        return self._state.stats.snapshot()

    def reset_stats(self) -> None:
        self._state.stats.reset()

    @method_spelled_as(FaultSpec)
    def inject(self, spec: FaultSpec) -> str:
        """Add a fault for requests whose path starts with `prefix`; return its id.

        Takes the fields of `FaultSpec`: `inject("/rest/jobs", status=503, times=2)`.
        """
        return self._state.faults.add(spec)

    def faults(self) -> list[dict[str, Any]]:
        """The active fault rules."""
        return self._state.faults.describe_all()

    def remove_fault(self, fault_id: str) -> bool:
        return self._state.faults.remove(fault_id)

    def clear_faults(self) -> None:
        self._state.faults.clear()

    def set_latency(self, latency_ms: float, jitter_ms: float = 0) -> None:
        """Delay every (non-admin) response by latency_ms plus up to jitter_ms."""
        self._state.faults.set_latency(latency_ms, jitter_ms)

    def register_client(self, client_id: str, client_secret: str, scopes: Sequence[str] | str) -> None:
        """Add (or replace) an OAuth client allowed to request `scopes`."""
        self._state.clients.register(client_id, client_secret, scopes)

    def revoke(self, token: str) -> bool:
        """Revoke one token; later calls with it get 401 INVALID_TOKEN."""
        return self._state.tokens.revoke(token)

    def revoke_all(self) -> int:
        return self._state.tokens.revoke_all()

    def user_token(self, person_id: str | None = None, scope: str = "user:read_write") -> str:
        """Mint a user token for a person (sandbox-only stand-in for the authorization-code flow)."""
        person = person_id.lower() if person_id else self.data.person_id
        if person not in self._state.store.people:
            raise ValueError(f"no person with id {person_id!r} in this sandbox")
        scopes = check_user_scope(scope)
        token = self._state.tokens.issue(
            "user", "sandbox-user", scopes, self._state.token_ttl, person_id=person
        )
        return token.value

    def client_token(self, scope: str = DEMO_SCOPES, client_id: str | None = None) -> str:
        """Mint a client-credentials token without the token endpoint (not counted in stats)."""
        client = self._state.clients.get(client_id or DEMO_CLIENT_ID)
        if client is None:
            raise ValueError(f"no client {client_id!r} is registered")
        scopes = parse_scopes(scope)
        refused = [s for s in scopes if s not in client.scopes]
        if refused:
            raise ValueError(f"client {client.client_id!r} may not have the scopes {refused}")
        token = self._state.tokens.issue("client", client.client_id, scopes, self._state.token_ttl)
        return token.value

    @property
    def token_ttl(self) -> float:
        return self._state.token_ttl
