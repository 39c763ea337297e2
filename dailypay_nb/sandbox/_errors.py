"""JSON:API error envelopes in DailyPay's shape, and the exception the handlers raise."""

from __future__ import annotations

import json
import random
import uuid
from typing import Any

from ._constants import ERRORS_ABOUT

_DEFAULT_DETAIL = {
    "INVALID_TOKEN": "The access token is missing, expired, revoked or otherwise invalid.",
    "UNAUTHORIZED": "Authentication was not provided or is invalid.",
    "FORBIDDEN": "This token is not allowed to access this resource or operation.",
    "RECORD_NOT_FOUND": "Could not find a record with the provided ID.",
    "NOT_FOUND": "Could not find resources matching the request.",
    "UNEXPECTED_ERROR": "Something unexpected went wrong on the sandbox side.",
    "IDEMPOTENCY_KEY_LOCKED": "Another request with this idempotency key is still in progress.",
}

_CODE_FOR_STATUS = {
    400: "INVALID_PARAMETERS",
    401: "INVALID_TOKEN",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "INVALID_USER_INPUT",
    409: "IDEMPOTENCY_KEY_LOCKED",
    429: "TOO_MANY_REQUESTS",
}

_trace_rng = random.Random()


class ApiError(Exception):
    """A JSON:API error the sandbox answers with: HTTP status, DailyPay code, detail and source."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str | None = None,
        *,
        parameter: str | None = None,
        pointer: str | None = None,
        header: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.detail = detail or _DEFAULT_DETAIL.get(code, code.replace("_", " ").capitalize())
        self.source: dict[str, str] = {}
        if parameter is not None:
            self.source["parameter"] = parameter
        if pointer is not None:
            self.source["pointer"] = pointer
        if header is not None:
            self.source["header"] = header
        self.headers = headers or {}
        super().__init__(f"{status} {code}: {self.detail}")

    def as_error(self, request_id: str) -> dict[str, Any]:
        """One member of the `errors` array."""
        error: dict[str, Any] = {
            "status": str(self.status),
            "code": self.code,
            "detail": self.detail,
            "links": {"about": ERRORS_ABOUT},
            "meta": {"request_id": request_id, "trace_id": new_trace_id()},
        }
        if self.source:
            error["source"] = dict(self.source)
        return error


def new_request_id() -> str:
    """A fresh request id (UUID4, lower case)."""
    return str(uuid.uuid4())


def new_trace_id() -> str:
    """A trace id as DailyPay shows it: a decimal string of a 63-bit number."""
    return str(_trace_rng.getrandbits(63))


def error_body(errors: list[ApiError], request_id: str) -> bytes:
    """Serialise `{"errors": [...]}`."""
    document = {"errors": [e.as_error(request_id) for e in errors]}
    return json.dumps(document, separators=(",", ":")).encode()


def default_error(status: int) -> ApiError:
    """The error a bare status stands for (used by injected faults without a body)."""
    code = "UNEXPECTED_ERROR" if status >= 500 else _CODE_FOR_STATUS.get(status, "INVALID_PARAMETERS")
    return ApiError(status, code, f"Injected fault: HTTP {status}.")
