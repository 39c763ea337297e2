"""Schemathesis drives the live sandbox from DailyPay's document: every phase, every check.

Examples, coverage (boundary and negative values, missing parameters, undocumented methods),
fuzzing (positive and negative data) and the stateful phase (multi-step sequences over links),
with both kinds of token, deterministically (a fixed seed, no example database). The only
failures allowed are the sandbox README's deliberate deviations, and each of those must occur.

The document has no OpenAPI links, so `derive_links` describes them from its paths: a list
leads to reading one of its items, a created record to reading and deleting it, a resource to
the records its relationships name, a person to creating an account for them. A few generated
bodies of createAccount and createTransfer are made valid for the user token's person
(`shape_writes`), so that sequences such as create account → read it → delete it really run.

A bigger exploration, not part of the suite:

    .venv/bin/python tests/test_sandbox_schemathesis.py --examples 100 --stateful 200 --steps 10
"""

from __future__ import annotations

import argparse
import collections
import copy
import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

# 4.32 and later only (they need Python 3.11): older engines report schema-valid queries as
# negative data (an empty `filter=`). On Python 3.10 this module is skipped, saying why.
schemathesis = pytest.importorskip("schemathesis", minversion="4.32")

from schemathesis.config import SchemathesisConfig  # noqa: E402
from schemathesis.engine import events, from_schema  # noqa: E402
from schemathesis.openapi.checks import UndefinedStatusCode  # noqa: E402

from dailypay_nb import openapi  # noqa: E402
from dailypay_nb import sandbox as sb  # noqa: E402
from dailypay_nb.sandbox._deviations import deviations  # noqa: E402

#: Generated examples per operation and phase, and steps per stateful sequence, for the suite:
#: about 3,000 requests in well under 20 s on a 2-core machine.
EXAMPLES = 12
STATEFUL_EXAMPLES = 40
STEPS = 8
SEED = 20260302

#: A relationship (or path) name → the read operation and path parameter of what it names.
READS = {
    "jobs": ("readJob", "job_id"),
    "accounts": ("readAccount", "account_id"),
    "transfers": ("readTransfer", "transfer_id"),
    "paychecks": ("readPaycheck", "paycheck_id"),
    "organizations": ("readOrganization", "organization_id"),
    "people": ("readPerson", "person_id"),
}
RELATIONSHIP_TYPES = {
    "person": "people", "job": "jobs", "organization": "organizations", "origin": "accounts",
    "destination": "accounts", "direct_deposit_default_depository": "accounts",
    "direct_deposit_default_card": "accounts",
}  # fmt: skip


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "operationId" in operation:
                yield path, method, operation


def _link(target: str, parameters: dict[str, str], body: Any = None) -> dict[str, Any]:
    link: dict[str, Any] = {"operationId": target, "parameters": parameters}
    if body is not None:
        link["requestBody"] = body
    return link


def _resolve(document: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        section, name = node["$ref"].split("/")[-2:]
        node = document["components"][section][name]
    return node


def _relationship_names(document: dict[str, Any], schema: Any) -> set[str]:
    """Names under any `relationships` object of a response schema (through $ref/allOf/items)."""
    schema = _resolve(document, schema)
    names: set[str] = set()
    if not isinstance(schema, dict):
        return names
    items = [schema["items"]] if "items" in schema else []
    for branch in [*schema.get("allOf", []), *schema.get("oneOf", []), *items]:
        names |= _relationship_names(document, branch)
    for name, sub in schema.get("properties", {}).items():
        if name == "relationships":
            for part in [_resolve(document, sub), *_resolve(document, sub).get("allOf", [])]:
                names |= set(_resolve(document, part).get("properties", {}))
        elif name in ("data", "attributes") or name.endswith("Resource"):
            names |= _relationship_names(document, sub)
    return names


def derive_links(document: dict[str, Any]) -> int:
    """Add OpenAPI links to the document's 200 responses (see the module docstring); their count."""
    by_id = {op["operationId"]: (path, method) for path, method, op in _operations(document)}
    added = 0
    for path, method, operation in _operations(document):
        if not path.startswith("/rest/") or path == "/rest/health" or "200" not in operation["responses"]:
            continue
        # Links live on the response object itself, so a shared $ref'd response is copied in.
        response = copy.deepcopy(_resolve(document, operation["responses"]["200"]))
        operation["responses"]["200"] = response
        links: dict[str, Any] = {}
        collection = path.split("/")[2]
        is_list = method == "get" and "{" not in path
        item = "$response.body#/data/0" if is_list else "$response.body#/data"
        # The record itself: read it, change it, delete it.
        for target, (target_path, _) in by_id.items():
            if target_path.startswith(f"/rest/{collection}/{{") and target != operation["operationId"]:
                parameter = target_path.rsplit("{", 1)[1].rstrip("}")
                links[f"{target}FromItem"] = _link(target, {f"path.{parameter}": f"{item}/id"})
        # What its relationships name.
        schema = next(iter(response.get("content", {}).values()), {}).get("schema", {})
        for name in sorted(_relationship_names(document, schema) & set(RELATIONSHIP_TYPES)):
            read, parameter = READS[RELATIONSHIP_TYPES[name]]
            links[f"{read}From_{name}"] = _link(
                read, {f"path.{parameter}": f"{item}/relationships/{name}/data/id"}
            )
        if operation["operationId"] == "readPerson":
            person = {"data": {"type": "people", "id": "$response.body#/data/id"}}
            links["createAccountForPerson"] = _link(
                "createAccount", {}, {"data": {"relationships": {"person": person}}}
            )
        response["links"] = links
        added += len(links)
    return added


@dataclass
class Run:
    """What one run found: cases, failures outside the deviations, deviations seen, sequences."""

    cases: int = 0
    seconds: float = 0.0
    by_phase: collections.Counter[str] = field(default_factory=collections.Counter)
    failures: list[str] = field(default_factory=list)
    deviations_seen: set[tuple[str, int]] = field(default_factory=set)
    chains: list[list[tuple[str, int]]] = field(default_factory=list)
    links: int = 0
    stop_reason: str = ""


_OTHER_KIND = {
    "oauth_user_token": "oauth_client_credentials_token",
    "oauth_client_credentials_token": "oauth_user_token",
}


def _token_rotation(document: dict[str, Any], client: str, user: str) -> Any:
    """Which bearer token a case gets: the kind its operation prefers, the other kind one time in
    four (so every operation also meets the wrong kind); operations with both alternate."""
    kinds = {
        op["operationId"]: [next(iter(r)) for r in op.get("security", [])]
        for _, _, op in _operations(document)
    }
    counter = itertools.count()

    def token(operation_id: str, stateful: bool) -> str | None:
        schemes = kinds.get(operation_id, [])
        if not schemes:
            return None
        if stateful:  # sequences follow one user's records: the user token wherever it is accepted
            return user if "oauth_user_token" in schemes else client
        turn = next(counter)
        preferred = schemes[turn // 4 % len(schemes)]
        if turn % 4 == 3:
            preferred = _OTHER_KIND[preferred]
        return user if preferred == "oauth_user_token" else client

    return token


VERSION_HEADER = "DailyPay-API-Version"


def _is_stateful(case: Any) -> bool:
    return case.meta is not None and "STATEFUL" in str(case.meta.phase.name).upper()


def shape_writes(h: sb.Sandbox) -> Any:
    """Make every other positive createAccount/createTransfer body valid for the user token's
    person, so the stateful phase reaches records that exist (negative cases stay as generated)."""
    person = h.data.person_id
    origin, destination = h.data.earnings_account_id(), h.data.depository_account_id()
    counter = itertools.count()

    def shape(case: Any) -> None:
        operation_id = case.operation.definition.raw.get("operationId")
        meta = case.meta
        if meta is None or not meta.generation.mode.is_positive:
            return
        if _is_stateful(case) and case.headers and str(case.headers.get(VERSION_HEADER)) != "3":
            case.headers.pop(VERSION_HEADER, None)  # a version the sandbox refuses ends the sequence
        turn = next(counter) if operation_id in ("createAccount", "createTransfer") else 1
        if turn % 2:
            return
        body = copy.deepcopy(case.body) if isinstance(case.body, dict) else {}
        data = body.setdefault("data", {}) if isinstance(body.get("data", {}), dict) else {}
        body["data"] = data
        number = str(10**11 + turn)  # unique, and the same in every run
        if operation_id == "createAccount":
            data.update(
                type="accounts",
                attributes={"name": "Fuzz Checking", "account_type": "DEPOSITORY", "subtype": "CHECKING",
                            "details": {"first_name": "Edith", "last_name": "Clarke",
                                        "routing_number": "021000021", "account_number": number}},
                relationships={"person": {"data": {"type": "people", "id": person}}},
            )  # fmt: skip
        else:
            data.pop("id", None)
            data.update(
                type="transfers",
                attributes={"amount": 500, "currency": "USD", "schedule": "NEXT_BUSINESS_DAY",
                            "preview": turn % 4 == 0},
                relationships={"origin": {"data": {"type": "accounts", "id": origin}},
                               "destination": {"data": {"type": "accounts", "id": destination}}},
            )  # fmt: skip
        case.body = body

    return shape


def run(
    h: sb.Sandbox,
    *,
    examples: int = EXAMPLES,
    stateful_examples: int = STATEFUL_EXAMPLES,
    steps: int = STEPS,
    seed: int = SEED,
) -> Run:
    """One schemathesis run of every phase and check against `h`."""
    document = openapi.load()
    result = Run(links=derive_links(document))
    config = SchemathesisConfig.from_dict(
        {
            "seed": seed,
            "base-url": h.url,
            "workers": 1,
            "generation": {
                "mode": "all",
                "max-examples": examples,
                "deterministic": True,
                "database": "none",
            },
            "phases": {"stateful": {"max-steps": steps, "generation": {"max-examples": stateful_examples}}},
            "checks": {
                "enabled": True,
                # The document answers 400 to schema-valid requests that break a business rule
                # (an unsupported DailyPay-API-Version, an amount over the balance, a card token
                # that was never issued...), so a positive case may get one.
                "positive_data_acceptance": {"expected-statuses": ["2xx", "400", "401", "403", "404", "409"]},
            },
        }
    )
    schema = schemathesis.openapi.from_dict(document, config=config)
    token = _token_rotation(document, h.client_token(), h.user_token())
    shape = shape_writes(h)

    @schema.auth(refresh_interval=None)
    class _Tokens:
        def get(self, case: Any, ctx: Any) -> bool:
            return True

        def set(self, case: Any, data: Any, ctx: Any) -> None:
            value = token(case.operation.definition.raw.get("operationId"), _is_stateful(case))
            if value is not None:
                case.headers = {**(case.headers or {}), "Authorization": f"Bearer {value}"}
            shape(case)

    labels = {f"{m.upper()} {p}": op["operationId"] for p, m, op in _operations(document)}
    allowed = deviations()
    started = time.perf_counter()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            _record(result, event, labels, allowed)
        elif isinstance(event, (events.NonFatalError, events.FatalError)):
            result.failures.append(f"engine error: {event}")
        elif isinstance(event, events.EngineFinished):
            result.stop_reason = str(
                getattr(event.stop_reason, "value", event.stop_reason)
            )  # an enum before 4.31
    result.seconds = time.perf_counter() - started
    return result


def _record(result: Run, event: Any, labels: dict[str, str], allowed: Any) -> None:
    recorder = event.recorder
    phase = str(event.phase.name if hasattr(event.phase, "name") else event.phase)
    result.cases += len(recorder.cases)
    result.by_phase[phase] += len(recorder.cases)
    status = {
        case_id: interaction.response.status_code
        for case_id, interaction in recorder.interactions.items()
        if interaction.response is not None
    }
    for case_id, checks in recorder.checks.items():
        for check in checks:
            if check.failure_info is None:
                continue
            failure = check.failure_info.failure
            operation_id = labels.get(failure.operation, failure.operation)
            code = status.get(case_id)
            if isinstance(failure, UndefinedStatusCode) and (operation_id, code) in allowed:
                result.deviations_seen.add((operation_id, failure.status_code))
                continue
            result.failures.append(
                f"[{phase}] {check.name} on {failure.operation} ({code}): {failure.title}\n"
                f"{failure.message}\n{check.failure_info.code_sample}"
            )
    if "STATEFUL" in phase:
        for case_id, node in recorder.cases.items():
            chain = []
            while case_id is not None and case_id in recorder.cases:
                node = recorder.cases[case_id]
                label = f"{node.value.operation.method.upper()} {node.value.operation.path}"
                chain.append((labels.get(label, label), status.get(case_id, 0)))
                case_id = node.parent_id
            if len(chain) >= 2:
                result.chains.append(chain[::-1])


# --- the test ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_box() -> Iterator[sb.Sandbox]:
    """A private sandbox, since generated requests create and delete records."""
    with sb.start(seed=3) as handle:
        yield handle


def _has_chain(result: Run, *steps: tuple[str, int]) -> bool:
    """Whether some stateful sequence contains `steps` in order (not necessarily adjacent)."""
    for chain in result.chains:
        position = 0
        for step in chain:
            if position < len(steps) and step == steps[position]:
                position += 1
        if position == len(steps):
            return True
    return False


def test_sandbox_conforms_to_contract(fuzz_box: sb.Sandbox) -> None:
    """Every phase and check, both kinds of token: no failure but the listed deviations, each
    deviation seen, and the stateful phase really runs multi-step sequences over the links."""
    result = run(fuzz_box)
    print(
        f"schemathesis: {result.cases} cases in {result.seconds:.1f} s "
        f"({dict(result.by_phase)}), {result.links} derived links, {len(result.chains)} sequences"
    )
    assert result.stop_reason == "completed"
    assert not result.failures, "\n\n".join(result.failures[:5])
    assert result.deviations_seen == set(deviations()), "a listed deviation no longer occurs"
    assert result.by_phase.keys() >= {"EXAMPLES", "COVERAGE", "FUZZING", "STATEFUL_TESTING"}
    assert _has_chain(result, ("createAccount", 200), ("deleteAccount", 204))
    assert _has_chain(result, ("createAccount", 200), ("readAccount", 200))
    assert any(
        _has_chain(result, (f"list{kind}", 200), (f"read{kind[:-1]}", 200))
        for kind in ("Jobs", "Accounts", "Transfers", "Paychecks", "Organizations")
    )
    assert max(len(chain) for chain in result.chains) >= 3


def main() -> None:
    """The exploration: a bigger run, printed instead of asserted."""
    args = argparse.ArgumentParser(description=__doc__)
    args.add_argument("--examples", type=int, default=100)
    args.add_argument("--stateful", type=int, default=200, help="stateful sequences")
    args.add_argument("--steps", type=int, default=10)
    args.add_argument("--seed", type=int, default=SEED)
    options = args.parse_args()
    with sb.start(seed=3) as h:
        result = run(
            h,
            examples=options.examples,
            stateful_examples=options.stateful,
            steps=options.steps,
            seed=options.seed,
        )
    print(f"{result.cases} cases in {result.seconds:.1f} s, stop: {result.stop_reason}")
    print(f"by phase: {dict(result.by_phase)}; derived links: {result.links}")
    print(f"deviations seen: {sorted(result.deviations_seen)}")
    longest = max(result.chains, key=len, default=[])
    print(f"stateful sequences: {len(result.chains)}, longest: {longest}")
    print(f"failures outside the deviations: {len(result.failures)}")
    for text in result.failures:
        print("-" * 80)
        print(text[:2000])


if __name__ == "__main__":
    main()
