"""Where the API departs from its documentation: checks against the shipped OpenAPI document.

```python
session = dp.connect(validate=True)      # or DAILYPAY_VALIDATE=true in .env
session.jobs(); session.health()         # explore as usual
session.contract_violations              # one row per violation, from memory
session.contract_violations.merge(session.timings, on="seq")   # with the exchange's timings
```

With `validate=True` every request a session sends and every answer it gets (each attempt,
retried ones too) is checked against DailyPay's OpenAPI document as shipped in
`dailypay_nb/openapi/` (`dailypay_nb.openapi.load()`, which repairs the document's one known
defect). Nothing raises: each violation becomes a row of `session.contract_violations` and
the first of each (operation, rule) pair a `ContractWarning`. `validate="strict"` raises
`ContractError` instead: before sending a request that breaks the contract (nothing is sent),
or for an answer that breaks it when the call would otherwise return it (an answer that
raises `ApiError` still raises `ApiError`, and its violations are recorded). Sessions that
share timings (`with_user_token`, `dp.sandbox.as_user`, `bench`) share the violations too.

Columns of `session.contract_violations` (`COLUMNS`):

| column | meaning |
|---|---|
| `seq` | the exchange's row in `session.timings` (`<NA>`: refused before sending) |
| `operation_id` | the document's operation (`<NA>`: the request matched none) |
| `direction` | `request` or `response` |
| `status` | the answer's HTTP status (`<NA>` for requests) |
| `location` | `status`, `header`, `path`, `query` or `body` |
| `pointer` | body: a JSON pointer (RFC 6901; `""` is all of it); else a parameter's name |
| `rule` | what was broken: a JSON Schema keyword or a rule of the document (`RULES`) |
| `message` | what is wrong, in words |
| `excerpt` | the start of the offending value, redacted (server text is untrusted) |

A missing member's pointer names the member itself (`/data/0/attributes/status`), as JSON:API's
`source.pointer` does.

The sandbox is checked like any server: its deliberate deviations, listed in
`dailypay_nb/sandbox/README.md` (a user token calling getHealth gets 403; a bad card body
gets 400 from createGenericCardToken), ARE reported, as `status` violations, because they
are what a real server would have to be forgiven for too.

The functions here check exchanges made with any httpx client, without a session.
Validation needs the `contract` extra (`pip install 'dailypay_nb[contract]'`: PyYAML to read the
document, `jsonschema-rs` to check it); it is imported on first use.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass
from typing import TYPE_CHECKING

import httpx

from ._exceptions import ContractError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "COLUMNS",
    "RULES",
    "ContractError",
    "ContractWarning",
    "Violation",
    "check_request",
    "check_response",
    "frame",
]

COLUMNS: tuple[str, ...] = (
    "seq",
    "operation_id",
    "direction",
    "status",
    "location",
    "pointer",
    "rule",
    "message",
    "excerpt",
)

#: The rules a violation can name. Any other rule is the JSON Schema keyword that failed
#: (`minLength`, `maximum`, `additionalProperties`, …).
RULES: dict[str, str] = {
    "operation": "the request's method and path match no operation of the document",
    "status": "the answer's status is not documented for the operation",
    "content-type": "the body's media type is not documented (the body is not checked further)",
    "body": "a body where the document describes none, or none where it describes one",
    "json": "the body should be JSON and is not",
    "parameter": "a query parameter the operation does not document",
    "required": "a required member, parameter or body is missing",
    "type": "a value of the wrong JSON type",
    "enum": "a value outside the documented set",
    "const": "a value other than the one documented (a resource's `type`, …)",
    "format": "a string that is not a valid uuid, date-time or uri",
    "more": "further violations of one message, counted rather than listed",
}


@dataclass(frozen=True, slots=True)
class Violation:
    """One way a request or an answer departs from the document (`COLUMNS` without `seq`)."""

    operation_id: str | None
    direction: str  # request | response
    status: int | None
    location: str  # status | header | path | query | body
    pointer: str
    rule: str
    message: str
    excerpt: str

    def describe(self) -> str:
        """`listJobs response 200 body /data/0/attributes/status: not one of … [enum]`."""
        where = f"{self.location} {self.pointer}" if self.pointer else self.location
        status = f" {self.status}" if self.status is not None else ""
        operation = self.operation_id or "(no operation)"
        return f"{operation} {self.direction}{status} {where}: {self.message} [{self.rule}]"


class ContractWarning(UserWarning):
    """A request or an answer departs from the OpenAPI document (shown once per operation and rule)."""


def check_request(request: httpx.Request) -> list[Violation]:
    """How `request` (method, path, query, headers, body) departs from the document."""
    from ._contract_checks import request_violations

    return request_violations(request)


def check_response(response: httpx.Response) -> list[Violation]:
    """How a read `response` (status, media type, body) departs from the document.

    Its request is not checked (`check_request` does that); an answer to a request that
    matches no operation has nothing to be checked against and gives no violation.
    """
    import json

    from ._contract_checks import response_violations
    from ._contract_document import spec_for

    request = response.request
    spec = spec_for(request.method, request.url.path)
    if spec is None:
        return []
    body = response.content
    return response_violations(
        spec, response.status_code, response.headers.get("content-type"), body, lambda: json.loads(body)
    )


def frame(violations: Iterable[Violation], seq: Sequence[int | None] | None = None) -> pd.DataFrame:
    """Violations as a DataFrame of `COLUMNS` (`seq` given per violation, else `<NA>`)."""
    items = list(violations)
    seqs = list(seq) if seq is not None else [None] * len(items)
    return rows_frame([(s, *astuple(v)) for s, v in zip(seqs, items, strict=True)])


def rows_frame(rows: list[tuple[object, ...]]) -> pd.DataFrame:
    """Plain tuples in `COLUMNS` order as the violations DataFrame (nullable integers for seq and status)."""
    import pandas as pd

    table = pd.DataFrame(rows, columns=list(COLUMNS))
    for name in ("seq", "status"):
        table[name] = table[name].astype("Int64")
    for name in COLUMNS:
        if name not in ("seq", "status"):
            table[name] = table[name].astype("string")
    return table


def _raise_for(violations: Sequence[Violation], *, sent: bool) -> None:
    """Raise the `ContractError` of strict mode for `violations` (the first one named)."""
    if not violations:
        return
    first = violations[0]
    more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
    where = f"{first.location} {first.pointer}" if first.pointer else first.location
    subject = "the request" if first.direction == "request" else f"the {first.status} answer"
    raise ContractError(
        f"{first.operation_id or '(no operation)'}: {subject} breaks the contract at {where} "
        f"[{first.rule}]: {first.message}{more}" + ("" if sent else "; nothing was sent"),
        operation_id=first.operation_id,
        pointer=first.pointer,
        rule=first.rule,
        direction=first.direction,
        status=first.status,
        violations=list(violations),
    )
