"""The errors dailypay_nb raises, all under one base class.

```
DailyPayError               base: catch this to catch everything from dailypay_nb
├── SettingsError           a setting is missing or malformed; names the variable and the fix
├── TokenError              the token endpoint said no, or answered something unusable
│   └── TokenTransportError the token endpoint could not be reached (timeout, refused, dropped)
├── ApiError                a /rest call answered non-2xx (status, code, detail, source, request id)
│   └── ApiTransportError   the API could not be reached (timeout, refused, dropped)
├── DocumentError           a response body is not a JSON:API document we can read
├── ArgumentError           a helper's argument is invalid (raised before sending)
│   └── FilterError         an unknown filter or include, or a bad enum value; lists the valid ones
├── ScopeError              the operation needs a scope or token type this session does not hold
└── WriteRefusedError       a write against production without `allow_writes=True`
```

Messages are one readable line and never contain a secret or token: every value that
reaches a message goes through `redact()` first.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "ApiError",
    "ApiTransportError",
    "ArgumentError",
    "DailyPayError",
    "DocumentError",
    "FilterError",
    "ScopeError",
    "SettingsError",
    "TokenError",
    "TokenTransportError",
    "WriteRefusedError",
    "redact",
]

_SECRETISH = re.compile(
    r"(?i)(access_token|refresh_token|id_token|client_secret|secret|password|authorization)"
    r"(\"?\s*[:=]\s*\"?)(bearer\s+|basic\s+)?[^\s\"&,;}]+"
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}")


def redact(text: str, *secrets: str, limit: int = 200) -> str:
    """Shorten `text` and mask anything that looks like a credential, plus the given values."""
    for value in secrets:
        if value:
            text = text.replace(value, "***")
    text = _SECRETISH.sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} ***", text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


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

    `error` is the OAuth error code (RFC 6749 §5.2 `error`, or DailyPay's `error_code`),
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
        hint: str = "",
    ) -> None:
        super().__init__(message, hint=hint)
        self.error = error
        self.description = description
        self.error_uri = error_uri
        self.status = status
        self.content_type = content_type
        self.snippet = snippet
        self.request_id = request_id
        self.elapsed_ms = elapsed_ms
        self.url = url
        self.environment = environment


class TokenTransportError(TokenError):
    """The token endpoint could not be reached: timeout, refused or dropped connection."""


class ApiError(DailyPayError):
    """A DailyPay REST call answered with a non-2xx status.

    Carries the first error's `code`, `detail` and `source`, the response's `request_id`,
    the exchange's timing row (`timing`) and every error of the body (`errors`, or as a
    DataFrame via `frame`).
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
        hint: str = "",
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.code = code
        self.detail = detail
        self.source = source
        self.request_id = request_id
        self.errors = errors or []
        self.timing = timing
        self.method = method
        self.url = url

    @property
    def frame(self) -> Any:
        """Every error of the response as a pandas DataFrame (one row per error)."""
        from ._jsonapi import errors_frame

        return errors_frame(self.errors)


class ApiTransportError(ApiError):
    """The API could not be reached: timeout, refused or dropped connection."""


class DocumentError(DailyPayError, ValueError):
    """A response body is not a JSON:API document this toolkit can turn into a frame."""


class ArgumentError(DailyPayError, ValueError):
    """An argument of a helper is invalid; raised before anything is sent."""


class FilterError(ArgumentError):
    """A filter or `include` value is unknown or invalid; the message lists the valid ones."""


class ScopeError(DailyPayError):
    """The operation needs a scope or a token type that this session does not hold."""


class WriteRefusedError(DailyPayError):
    """A write was refused before sending: production needs `allow_writes=True`."""
