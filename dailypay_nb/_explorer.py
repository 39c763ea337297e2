"""Named helpers for every DailyPay operation, shared by `Session` and `AsyncSession`.

Strictly private. Each helper builds a `Plan` (method, path, query, body, headers, endpoint
and how to turn the answer into a value) in shared code, checking everything that can be
checked before sending: writes against production, token type and scopes, filter names and
values, `include`, ids and bodies. `SyncExplorer` runs a plan with `self.request(...)`;
`AsyncExplorer` returns a coroutine that awaits it. The helpers are written once, generic
in what they return (`pd.DataFrame` or `Awaitable[pd.DataFrame]`).

Return values: lists and single resources are DataFrames (one row per resource; see
`_jsonapi`); `health()` is a one-row frame (`status`, `version`); `delete_account()` returns
None. With `include=`, `frame.attrs["included"]` holds the included resources (`.frame`).
`create_transfer()` adds an `idempotency_key` column and `frame.attrs["idempotency_key"]`.
`create_card_token()` returns the card token as a `Secret` (see `_card`): it is sent to the
payments host (`settings.payments_url`) without a token, as the operation has no security.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, cast

from ._card import card_body, card_token_of
from ._exceptions import SettingsError, WriteRefusedError
from ._operations import OPERATIONS, ArgumentError, Operation, build_query, check_access
from ._secret import Secret

if TYPE_CHECKING:
    import pandas as pd

    from ._config import Settings
    from ._response import ApiResponse

__all__ = [
    "ACCOUNT_SUBTYPES",
    "ACTIVATION_STATUSES",
    "ANONYMOUS_HELPERS",
    "HELPERS",
    "TRANSFER_SCHEDULES",
    "AsyncExplorer",
    "Included",
    "Plan",
    "SyncExplorer",
    "operations_table",
]

T = TypeVar("T")
FrameT = TypeVar("FrameT")
DoneT = TypeVar("DoneT")
SecretT = TypeVar("SecretT")

DateLike = datetime | date | str
Include = str | Iterable[str]

#: Helper name → operationId (every operation but the unauthenticated card tokenizer).
HELPERS: dict[str, str] = {
    "health": "getHealth",
    "organizations": "listOrganizations",
    "organization": "readOrganization",
    "jobs": "listJobs",
    "job": "readJob",
    "update_job": "updateJob",
    "accounts": "listAccounts",
    "account": "readAccount",
    "create_account": "createAccount",
    "delete_account": "deleteAccount",
    "transfers": "listTransfers",
    "transfer": "readTransfer",
    "create_transfer": "createTransfer",
    "paychecks": "listPaychecks",
    "paycheck": "readPaycheck",
    "person": "readPerson",
    "update_person": "updatePerson",
}
#: Helper name → operationId of the operations sent without a token (`security: []`).
ANONYMOUS_HELPERS: dict[str, str] = {"create_card_token": "createGenericCardToken"}

#: Body enums of the write operations (checked against the contract by the tests).
ACTIVATION_STATUSES = (
    "DEACTIVATED",
    "DEACTIVATION_PENDING",
    "ACTIVATION_REQUIRED",
    "ACTIVATION_UNDER_REVIEW",
    "ACTIVATED",
)
TRANSFER_SCHEDULES = ("WITHIN_THIRTY_MINUTES", "NEXT_BUSINESS_DAY")
ACCOUNT_SUBTYPES: dict[str, tuple[str, ...]] = {
    "DEPOSITORY": ("SAVINGS", "CHECKING"),
    "CARD": ("DEBIT", "DAILYPAY"),
}
_STATE = re.compile(r"^[A-Za-z]{2}$")


class Included:
    """The included resources of a response, kept in `frame.attrs["included"]`.

    A holder rather than a bare DataFrame: pandas compares and deep-copies `attrs` on
    every operation, which a DataFrame value would break. `.frame` is the DataFrame.
    """

    __slots__ = ("frame",)

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame

    def __deepcopy__(self, memo: dict[int, Any]) -> Included:
        return self  # read-only by convention: shared, not copied

    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        return f"Included({len(self.frame)} resources)\n{self.frame!r}"

    def _repr_html_(self) -> str:
        return str(self.frame.to_html(max_rows=20))


@dataclass(frozen=True, slots=True)
class Plan(Generic[T]):
    """One request, fully checked and ready to send, and how to read its answer."""

    operation: Operation
    path: str
    params: dict[str, str] | None
    json: dict[str, Any] | None
    headers: dict[str, str] | None
    transform: Callable[[ApiResponse], T]

    @property
    def method(self) -> str:
        return self.operation.method

    @property
    def endpoint(self) -> str:
        return self.operation.path


class _Host(Protocol):
    """What the explorer needs from a session (see `_client._SessionBase`)."""

    settings: Settings
    sandbox: Any

    @property
    def token_kind(self) -> str: ...

    @property
    def granted_scopes(self) -> frozenset[str]: ...

    def with_user_token(self, token: str | Secret, scope: str = ...) -> Any: ...


class _SyncHost(_Host, Protocol):
    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        endpoint: str | None = None,
    ) -> ApiResponse: ...


class _AsyncHost(_Host, Protocol):
    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        endpoint: str | None = None,
    ) -> ApiResponse: ...


# --- transforms -----------------------------------------------------------------------------


def _frame(response: ApiResponse) -> pd.DataFrame:
    return response.frame


def _with_included(response: ApiResponse) -> pd.DataFrame:
    frame = response.frame
    frame.attrs["included"] = Included(response.included)
    return frame


def _nothing(response: ApiResponse) -> None:
    return None


def _reader(include: Include | None) -> Callable[[ApiResponse], pd.DataFrame]:
    return _frame if include is None else _with_included


# --- checks ---------------------------------------------------------------------------------


def _choice(name: str, value: object, allowed: tuple[str, ...]) -> str:
    if isinstance(value, str):
        for option in allowed:
            if value.strip().upper() == option:
                return option
    raise ArgumentError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")


def _id(name: str, value: object) -> str:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise ArgumentError(f"{name} must be a non-empty id string, got {value!r}")


def _linkage(kind: str, name: str, value: object) -> dict[str, Any]:
    return {"data": {"type": kind, "id": _id(name, value)}}


def _cents(amount: object) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise ArgumentError(
            f"amount is integer cents (7250 for $72.50), got {amount!r}",
            hint="convert dollars with round(dollars * 100)",
        )
    if amount < 0:
        raise ArgumentError(f"amount must be >= 0 cents, got {amount}")
    return amount


def _idempotency_key(key: object) -> str:
    if key is None:
        return str(uuid.uuid4())
    try:
        return str(uuid.UUID(str(key)))
    except ValueError:
        raise ArgumentError(f"idempotency_key must be a UUID, got {key!r}") from None


# --- the helpers ----------------------------------------------------------------------------


class _Explorer(Generic[FrameT, DoneT, SecretT]):
    """The helpers, written once. `FrameT`/`DoneT`/`SecretT` are what a frame/None/Secret call returns."""

    __slots__ = ()

    def _run_frame(self, plan: Plan[pd.DataFrame]) -> FrameT:
        raise NotImplementedError

    def _run_done(self, plan: Plan[None]) -> DoneT:
        raise NotImplementedError

    def _run_secret(self, plan: Plan[Secret]) -> SecretT:
        raise NotImplementedError

    def _plan(
        self,
        operation_id: str,
        transform: Callable[[ApiResponse], T],
        *,
        resource_id: object = None,
        filters: Mapping[str, object] | None = None,
        include: Include | None = None,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        allow_writes: bool = False,
        base: str = "",
    ) -> Plan[T]:
        """Check everything that can be checked locally and return the request to send."""
        op = OPERATIONS[operation_id]
        host = cast(_Host, self)
        if op.write:
            _guard_write(op, host.settings, allow_writes)
        if op.authenticated:
            check_access(op, host.token_kind, host.granted_scopes)
        path = base + op.format_path(resource_id)
        params = build_query(op, filters or {}, include)
        return Plan(op, path, params or None, body, headers, transform)

    # -- service and organizations -----------------------------------------------------------

    def health(self) -> FrameT:
        """`GET /rest/health` as a one-row frame (`status`, `version`); needs `health:read`."""
        return self._run_frame(self._plan("getHealth", _frame))

    def organizations(
        self,
        name: str | None = None,
        *,
        name_contains: str | None = None,
        filter_by: str | None = None,
        **unknown: object,
    ) -> FrameT:
        """Organizations this client sees; `name` matches exactly, `name_contains` partly."""
        named = {"name": name, "name_contains": name_contains, "filter_by": filter_by}
        return self._run_frame(self._plan("listOrganizations", _frame, filters={**named, **unknown}))

    def organization(self, organization_id: str) -> FrameT:
        """One organization as a one-row frame."""
        return self._run_frame(self._plan("readOrganization", _frame, resource_id=organization_id))

    # -- people and jobs ---------------------------------------------------------------------

    def person(self, person_id: str) -> FrameT:
        """One person as a one-row frame (there is no list of people)."""
        return self._run_frame(self._plan("readPerson", _frame, resource_id=person_id))

    def update_person(self, person_id: str, *, state_of_residence: str, allow_writes: bool = False) -> FrameT:
        """Set a person's two-letter `state_of_residence`; needs a `user:read_write` token."""
        if not isinstance(state_of_residence, str) or not _STATE.match(state_of_residence):
            raise ArgumentError(
                f"state_of_residence must be two letters such as 'NY', got {state_of_residence!r}"
            )
        body = {
            "data": {
                "type": "people",
                "id": _id("person_id", person_id),
                "attributes": {"state_of_residence": state_of_residence.upper()},
            }
        }
        plan = self._plan("updatePerson", _frame, resource_id=person_id, body=body, allow_writes=allow_writes)
        return self._run_frame(plan)

    def jobs(
        self,
        *,
        person_id: str | None = None,
        primary_identifier: str | None = None,
        employee_id: str | None = None,
        group: str | None = None,
        organization_id: str | None = None,
        filter_by: str | None = None,
        **unknown: object,
    ) -> FrameT:
        """Jobs, filtered by person or external identifiers (`filter[...]`, see `_operations`)."""
        named = {
            "person_id": person_id,
            "primary_identifier": primary_identifier,
            "employee_id": employee_id,
            "group": group,
            "organization_id": organization_id,
            "filter_by": filter_by,
        }
        return self._run_frame(self._plan("listJobs", _frame, filters={**named, **unknown}))

    def job(self, job_id: str) -> FrameT:
        """One job as a one-row frame."""
        return self._run_frame(self._plan("readJob", _frame, resource_id=job_id))

    def update_job(
        self,
        job_id: str,
        *,
        activation_status: str | None = None,
        default_depository_id: str | None = None,
        default_card_id: str | None = None,
        allow_writes: bool = False,
    ) -> FrameT:
        """Change a job's activation status or default deposit accounts (`user:read_write`)."""
        attributes: dict[str, Any] = {}
        relationships: dict[str, Any] = {}
        if activation_status is not None:
            attributes["activation_status"] = _choice(
                "activation_status", activation_status, ACTIVATION_STATUSES
            )
        if default_depository_id is not None:
            relationships["direct_deposit_default_depository"] = _linkage(
                "accounts", "default_depository_id", default_depository_id
            )
        if default_card_id is not None:
            relationships["direct_deposit_default_card"] = _linkage(
                "accounts", "default_card_id", default_card_id
            )
        if not attributes and not relationships:
            raise ArgumentError(
                "update_job needs activation_status, default_depository_id or default_card_id"
            )
        data: dict[str, Any] = {"type": "jobs", "id": _id("job_id", job_id)}
        if attributes:
            data["attributes"] = attributes
        if relationships:
            data["relationships"] = relationships
        plan = self._plan(
            "updateJob", _frame, resource_id=job_id, body={"data": data}, allow_writes=allow_writes
        )
        return self._run_frame(plan)

    # -- accounts ----------------------------------------------------------------------------

    def accounts(
        self,
        *,
        person_id: str | None = None,
        account_type: str | None = None,
        subtype: str | None = None,
        filter_by: str | None = None,
        **unknown: object,
    ) -> FrameT:
        """Accounts; with a client-credentials token, pass `person_id` (earnings balances only)."""
        named = {
            "person_id": person_id,
            "account_type": account_type,
            "subtype": subtype,
            "filter_by": filter_by,
        }
        return self._run_frame(self._plan("listAccounts", _frame, filters={**named, **unknown}))

    def account(self, account_id: str) -> FrameT:
        """One account as a one-row frame."""
        return self._run_frame(self._plan("readAccount", _frame, resource_id=account_id))

    def create_account(
        self,
        person_id: str,
        *,
        account_type: str,
        subtype: str,
        name: str,
        details: Mapping[str, str | Secret],
        allow_writes: bool = False,
    ) -> FrameT:
        """Add a DEPOSITORY (CHECKING/SAVINGS) or CARD (DEBIT/DAILYPAY) account to a person.

        `details` holds the account fields: names plus `routing_number`/`account_number`, or
        the card `token` (the `Secret` that `create_card_token` returns, as it is), expiry,
        address and `issuer`.
        """
        kind = _choice("account_type", account_type, tuple(ACCOUNT_SUBTYPES))
        sub = _choice("subtype", subtype, ACCOUNT_SUBTYPES[kind])
        if not isinstance(details, Mapping) or not details:
            raise ArgumentError("details must be a non-empty mapping of account fields")
        body = {
            "data": {
                "type": "accounts",
                "attributes": {
                    "name": name,
                    "account_type": kind,
                    "subtype": sub,
                    "details": dict(details),
                },
                "relationships": {"person": _linkage("people", "person_id", person_id)},
            }
        }
        return self._run_frame(self._plan("createAccount", _frame, body=body, allow_writes=allow_writes))

    def delete_account(self, account_id: str, *, allow_writes: bool = False) -> DoneT:
        """Remove a depository or card account (earnings balances cannot be removed)."""
        plan = self._plan("deleteAccount", _nothing, resource_id=account_id, allow_writes=allow_writes)
        return self._run_done(plan)

    def create_card_token(
        self,
        *,
        first_name: str,
        last_name: str,
        card_number: str | Secret,
        expiration_year: str,
        expiration_month: str,
        address_line_one: str,
        address_city: str,
        address_state: str,
        address_zip_code: str,
        address_country: str,
        cvv: str | Secret | None = None,
        address_line_two: str | None = None,
        allow_writes: bool = False,
    ) -> SecretT:
        """Tokenize a card (`POST /cards/generic` on the payments host) and return the token as a `Secret`.

        Pass the token to `create_account(..., account_type="CARD", details={"token": token, ...})`.
        No bearer token is sent (the operation has none). The card number and CVV are held as
        `Secret`s until they are written to the wire and, with the token, registered with the
        redactor: no frame, timing row, log, repr or error shows them. A field that is not
        valid (`card_number` with spaces, a two-digit `expiration_year`) is named, never shown.
        """
        body = card_body(
            first_name=first_name,
            last_name=last_name,
            card_number=card_number,
            expiration_year=expiration_year,
            expiration_month=expiration_month,
            address_line_one=address_line_one,
            address_city=address_city,
            address_state=address_state,
            address_zip_code=address_zip_code,
            address_country=address_country,
            cvv=cvv,
            address_line_two=address_line_two,
        )
        plan = self._plan(
            "createGenericCardToken",
            card_token_of,
            body=body,
            allow_writes=allow_writes,
            base=_payments_url(cast(_Host, self).settings),
        )
        return self._run_secret(plan)

    # -- transfers and paychecks -------------------------------------------------------------

    def transfers(
        self,
        *,
        submitted_after: DateLike | None = None,
        include: Include | None = None,
        filter_by: str | None = None,
        **unknown: object,
    ) -> FrameT:
        """The user's transfers; `include="estimated_funding_sources"` adds funding sources."""
        named = {"submitted_after": submitted_after, "filter_by": filter_by}
        plan = self._plan("listTransfers", _reader(include), filters={**named, **unknown}, include=include)
        return self._run_frame(plan)

    def transfer(self, transfer_id: str, *, include: Include | None = None) -> FrameT:
        """One transfer as a one-row frame."""
        plan = self._plan("readTransfer", _reader(include), resource_id=transfer_id, include=include)
        return self._run_frame(plan)

    def create_transfer(
        self,
        *,
        amount: int,
        origin_id: str,
        schedule: str,
        destination_id: str | None = None,
        person_id: str | None = None,
        currency: str = "USD",
        preview: bool = False,
        transfer_id: str | None = None,
        idempotency_key: str | uuid.UUID | None = None,
        include: Include | None = None,
        allow_writes: bool = False,
    ) -> FrameT:
        """Request a transfer of `amount` cents from an earnings balance (`origin_id`).

        Always sends an `Idempotency-Key` (a new UUID unless given), so a retry can never
        move money twice; the key is in the frame's `idempotency_key` column and in
        `frame.attrs["idempotency_key"]`. Reuse it to repeat the same request safely.
        `preview=True` shows the would-be transfer and fee without creating it.
        """
        key = _idempotency_key(idempotency_key)
        attributes = {
            "amount": _cents(amount),
            "currency": currency,
            "schedule": _choice("schedule", schedule, TRANSFER_SCHEDULES),
            "preview": bool(preview),
        }
        relationships = {"origin": _linkage("accounts", "origin_id", origin_id)}
        if destination_id is not None:
            relationships["destination"] = _linkage("accounts", "destination_id", destination_id)
        if person_id is not None:
            relationships["person"] = _linkage("people", "person_id", person_id)
        data: dict[str, Any] = {"type": "transfers"}
        if transfer_id is not None:
            data["id"] = _id("transfer_id", transfer_id)
        data.update(attributes=attributes, relationships=relationships)
        reader = _reader(include)

        def keyed(response: ApiResponse) -> pd.DataFrame:
            frame = reader(response)
            frame["idempotency_key"] = key
            frame.attrs["idempotency_key"] = key
            return frame

        plan = self._plan(
            "createTransfer",
            keyed,
            body={"data": data},
            headers={"Idempotency-Key": key},
            include=include,
            allow_writes=allow_writes,
        )
        return self._run_frame(plan)

    def paychecks(
        self,
        *,
        job_id: str | None = None,
        status: str | None = None,
        deposit_expected_from: DateLike | None = None,
        deposit_expected_before: DateLike | None = None,
        pay_period_ends_from: DateLike | None = None,
        pay_period_ends_before: DateLike | None = None,
        pay_period_starts_from: DateLike | None = None,
        pay_period_starts_before: DateLike | None = None,
        filter_by: str | None = None,
        **unknown: object,
    ) -> FrameT:
        """The user's paychecks; `_from` is ≥, `_before` is <; dates as datetime or ISO text."""
        named = {
            "job_id": job_id,
            "status": status,
            "deposit_expected_from": deposit_expected_from,
            "deposit_expected_before": deposit_expected_before,
            "pay_period_ends_from": pay_period_ends_from,
            "pay_period_ends_before": pay_period_ends_before,
            "pay_period_starts_from": pay_period_starts_from,
            "pay_period_starts_before": pay_period_starts_before,
            "filter_by": filter_by,
        }
        return self._run_frame(self._plan("listPaychecks", _frame, filters={**named, **unknown}))

    def paycheck(self, paycheck_id: str) -> FrameT:
        """One paycheck as a one-row frame."""
        return self._run_frame(self._plan("readPaycheck", _frame, resource_id=paycheck_id))


def operations_table() -> pd.DataFrame:
    """Every operation as a row: helper, method, path, token types, scopes, filters, include."""
    import pandas as pd

    helper_of = {operation_id: name for name, operation_id in {**HELPERS, **ANONYMOUS_HELPERS}.items()}
    rows = [
        {
            "helper": helper_of.get(op.operation_id),
            "operation_id": op.operation_id,
            "method": op.method,
            "path": op.path,
            "client_scopes": " ".join(op.client_scopes) or None,
            "user_scopes": " ".join(op.user_scopes) or None,
            "write": op.write,
            "filters": ", ".join(f"{f.kwarg}={f.wire}" for f in op.filters) or None,
            "include": ", ".join(op.includes) or None,
        }
        for op in OPERATIONS.values()
    ]
    frame: pd.DataFrame = pd.DataFrame(rows)
    return frame


def _payments_url(settings: Settings) -> str:
    """The card tokenizer's base URL; UAT has no documented one, so it must be set."""
    url: str | None = getattr(settings, "payments_url", None)
    if url:
        return url
    raise SettingsError(
        f"no payments URL for environment {settings.environment!r}: the card tokenizer "
        "(POST /cards/generic) lives on its own host, and DailyPay documents none for it here",
        variable="DAILYPAY_PAYMENTS_URL",
        hint="set DAILYPAY_PAYMENTS_URL (or payments_url=) to the card tokenization host DailyPay gave you",
    )


def _guard_write(op: Operation, settings: Settings, allow_writes: bool) -> None:
    if settings.environment == "production" and not (settings.allow_writes or allow_writes):
        raise WriteRefusedError(
            f"{op.operation_id} ({op.method} {op.path}) is a write and this session talks to "
            "production; nothing was sent",
            hint="pass allow_writes=True to this call, or set DAILYPAY_ALLOW_WRITES=true",
        )


# --- runners --------------------------------------------------------------------------------


class SyncExplorer(_Explorer["pd.DataFrame", None, Secret]):
    """The helpers for `Session`: each call sends the request and returns the value."""

    __slots__ = ()

    def _send_plan(self, plan: Plan[T]) -> T:
        response = cast(_SyncHost, self).request(
            plan.method,
            plan.path,
            params=plan.params,
            json=plan.json,
            headers=plan.headers,
            endpoint=plan.endpoint,
        )
        return plan.transform(response)

    def _run_frame(self, plan: Plan[pd.DataFrame]) -> pd.DataFrame:
        return self._send_plan(plan)

    def _run_done(self, plan: Plan[None]) -> None:
        self._send_plan(plan)

    def _run_secret(self, plan: Plan[Secret]) -> Secret:
        return self._send_plan(plan)


class AsyncExplorer(_Explorer["Awaitable[pd.DataFrame]", "Awaitable[None]", "Awaitable[Secret]"]):
    """The helpers for `AsyncSession`: each call is checked now and returns a coroutine."""

    __slots__ = ()

    async def _send_plan(self, plan: Plan[T]) -> T:
        response = await cast(_AsyncHost, self).request(
            plan.method,
            plan.path,
            params=plan.params,
            json=plan.json,
            headers=plan.headers,
            endpoint=plan.endpoint,
        )
        return plan.transform(response)

    def _run_frame(self, plan: Plan[pd.DataFrame]) -> Awaitable[pd.DataFrame]:
        return self._send_plan(plan)

    def _run_done(self, plan: Plan[None]) -> Awaitable[None]:
        return self._send_plan(plan)

    def _run_secret(self, plan: Plan[Secret]) -> Awaitable[Secret]:
        return self._send_plan(plan)
