"""Property-based run: schemathesis drives the live sandbox from openapi.yaml (positive data only)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from dailypay_nb import openapi
from dailypay_nb import sandbox as sb

# Operations that take a user token here (user-only ones, and accounts, whose client-credentials
# use needs filter[person.id] and so would mostly answer 400).
USER_OPERATIONS = {
    "updateJob", "listAccounts", "readAccount", "createAccount", "deleteAccount", "listTransfers",
    "readTransfer", "createTransfer", "listPaychecks", "readPaycheck", "updatePerson",
}  # fmt: skip
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def fuzz_box() -> Iterator[sb.Sandbox]:
    """A private sandbox, since generated requests create and delete records."""
    with sb.start(seed=3) as handle:
        yield handle


@pytest.fixture(scope="module")
def real_ids(fuzz_box: sb.Sandbox) -> dict[str, list[str]]:
    """Ids that exist (for the first person), so some generated calls reach a 200."""
    data = fuzz_box.data
    return {
        "job_id": data.jobs_of(),
        "account_id": data.accounts_of(),
        "transfer_id": data.transfers_of(),
        "paycheck_id": data.paychecks_of(),
        "organization_id": data.organization_ids,
        "person_id": [data.person_id],
    }


@pytest.fixture(scope="module")
def auth_headers(fuzz_box: sb.Sandbox) -> dict[str, dict[str, str]]:
    return {
        "client": {"Authorization": f"Bearer {fuzz_box.client_token()}"},
        "user": {"Authorization": f"Bearer {fuzz_box.user_token()}"},
        "none": {},
    }


def _load_schema() -> Any:
    """The contract as schemathesis sees it, limited to a few positive examples per operation."""
    loaded = schemathesis.openapi.from_dict(openapi.load())
    loaded.config.generation.update(modes=["positive"], max_examples=25, deterministic=True)
    return loaded


schema = _load_schema()


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_sandbox_conforms_to_contract(
    case: Any,
    fuzz_box: sb.Sandbox,
    auth_headers: dict[str, dict[str, str]],
    real_ids: dict[str, list[str]],
) -> None:
    """No 5xx, and every status, media type and body is one the document allows."""
    for name, value in (case.path_parameters or {}).items():
        choices = real_ids.get(name)
        digest = sum(str(value).encode())
        if choices and digest % 2 == 0:  # about half the calls name a record that exists
            case.path_parameters[name] = choices[digest % len(choices)]
    operation_id = case.operation.definition.raw.get("operationId")
    if operation_id == "createGenericCardToken":
        kind = "none"
    else:
        kind = "user" if operation_id in USER_OPERATIONS else "client"
    case.call_and_validate(base_url=fuzz_box.url, headers=auth_headers[kind], checks=CHECKS, timeout=10)
