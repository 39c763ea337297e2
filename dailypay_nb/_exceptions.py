"""The errors dailypay_nb raises, all under one base class.

```
DailyPayError               base: catch this to catch everything from dailypay_nb
├── SettingsError           a setting is missing or malformed; names the variable and the fix
├── TokenError              the token endpoint said no, or answered something unusable
│   └── TokenTransportError the token endpoint could not be reached (timeout, refused, dropped,
│                           the deadline passed, the answer was too large)
├── ApiError                a /rest call answered non-2xx (status, code, detail, source, request id)
│   └── ApiTransportError   the API could not be reached (timeout, refused, dropped, the deadline
│                           passed, the answer was too large)
├── DocumentError           a response body is not JSON (or not a JSON:API document) we can read
├── ContractError           a request or an answer departs from the OpenAPI document, with
│                           `validate="strict"` (operation, pointer, rule, every violation)
├── ArgumentError           a helper's argument is invalid (raised before sending)
│   └── FilterError         an unknown filter or include, or a bad enum value; lists the valid ones
├── ScopeError              the operation needs a scope or token type this session does not hold
├── WriteRefusedError       a write against production without `allow_writes=True`
└── BenchRefusedError       a benchmark beyond the polite limits of a real environment
```

Every attribute that holds text from a server (`detail`, `description`, `source`, `errors`,
`request_id`, `snippet`, …) is passed through the redactor in the constructor, and messages are
composed from those redacted values: no error carries a secret or a token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._redact import redact, redact_tree

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ApiError",
    "ApiTransportError",
    "ArgumentError",
    "BenchRefusedError",
    "ContractError",
    "DailyPayError",
    "DocumentError",
    "FilterError",
    "ScopeError",
    "SettingsError",
    "TokenError",
    "TokenTransportError",
    "WriteRefusedError",
]


def _text(value: Any, limit: int = 500) -> str | None:
    return None if value is None else redact(value, limit=limit)


class DailyPayError(Exception):
    """Base class of every error dailypay_nb raises."""

    hint: str = ""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        if hint:
            self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} — {self.hint}" if self.hint else self.message


class SettingsError(DailyPayError, ValueError):
    """A setting is missing or malformed. `variable` names the `DAILYPAY_*` variable."""

    def __init__(self, message: str, *, variable: str = "", hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.variable = variable


class TokenError(DailyPayError):
    """The token endpoint refused the request or answered something unusable.

    `error` is the OAuth error code (RFC 6749 `error`, or DailyPay's `error_code`),
    `description` its `error_description`; `status` the HTTP status (None when no answer came).
    """

    def __init__(
        self,
        message: str,
        *,
        error: str | None = None,
        description: str | None = None,
        error_uri: str | None = None,
        status: int | None = None,
        content_type: str | None = None,
        snippet: str | None = None,
        request_id: str | None = None,
        elapsed_ms: float | None = None,
        url: str | None = None,
        environment: str | None = None,
        attempts: int = 1,
        hint: str = "",
    ) -> None:
        super().__init__(message, hint=hint)
        self.error = _text(error, 80)
        self.description = _text(description)
        self.error_uri = _text(error_uri, 200)
        self.status = status
        self.content_type = _text(content_type, 100)
        self.snippet = _text(snippet)
        self.request_id = _text(request_id, 100)
        self.elapsed_ms = elapsed_ms
        self.url = url
        self.environment = environment
        self.attempts = attempts


class TokenTransportError(TokenError):
    """The token endpoint could not be reached: timeout, refused or dropped connection."""


class ApiError(DailyPayError):
    """A DailyPay REST call answered with a non-2xx status.

    Carries the first error's `code`, `detail` and `source`, the response's `request_id`,
    the exchange's timing row (`timing`) and every error object of the body (`errors`, a list
    of dicts, or `errors_frame`, a DataFrame).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        detail: str | None = None,
        source: dict[str, Any] | None = None,
        request_id: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        timing: dict[str, Any] | None = None,
        method: str | None = None,
        url: str | None = None,
        attempts: int = 1,
        hint: str = "",
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.code = _text(code, 80)
        self.detail = _text(detail)
        self.source: dict[str, Any] | None = redact_tree(source) if source is not None else None
        self.request_id = _text(request_id, 100)
        self.errors: list[dict[str, Any]] = redact_tree(errors or [])
        self.timing = timing
        self.method = method
        self.url = url
        self.attempts = attempts

    @property
    def errors_frame(self) -> pd.DataFrame:
        """Every error object of the response as a DataFrame (one row per error)."""
        from ._jsonapi import errors_frame

        return errors_frame(self.errors)


class ApiTransportError(ApiError):
    """The API could not be reached: timeout, refused or dropped connection, deadline, size."""


class DocumentError(DailyPayError, ValueError):
    """A response body is not a JSON:API document this toolkit can turn into a frame."""


class ContractError(DailyPayError):
    """A request or an answer departs from the OpenAPI document (raised with `validate="strict"`).

    `operation_id`, `direction` (`request` or `response`), `status`, `pointer` and `rule`
    describe the first violation; `violations` holds them all (`dailypay_nb.contract.Violation`,
    their excerpts already redacted). A request that breaks the contract was not sent.
    """

    hint = (
        "session.contract_violations lists every violation; connect with validate=True to "
        "record them without raising"
    )

    def __init__(
        self,
        message: str,
        *,
        operation_id: str | None = None,
        pointer: str = "",
        rule: str = "",
        direction: str = "response",
        status: int | None = None,
        violations: list[Any] | None = None,
        hint: str = "",
    ) -> None:
        super().__init__(message, hint=hint)
        self.operation_id = operation_id
        self.pointer = pointer
        self.rule = rule
        self.direction = direction
        self.status = status
        self.violations: list[Any] = list(violations or [])


class ArgumentError(DailyPayError, ValueError):
    """An argument of a helper is invalid; raised before anything is sent."""


class FilterError(ArgumentError):
    """A filter or `include` value is unknown or invalid; the message lists the valid ones."""


class ScopeError(DailyPayError):
    """The operation needs a scope or a token type that this session does not hold."""


class WriteRefusedError(DailyPayError):
    """A write was refused before sending: production needs `allow_writes=True`."""


class BenchRefusedError(ArgumentError):
    """A benchmark was refused before sending: it exceeds the polite limits for a real environment."""
