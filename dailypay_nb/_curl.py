"""curl commands that repeat a request, with credentials as shell variables, never their values.

Strictly private (public: `ApiResponse.to_curl`, `Session.to_curl`). An API request renders
with `-H "Authorization: Bearer $DAILYPAY_TOKEN"` (a request that went without a token, such
as the card tokenizer's, without it), the version header, the `Idempotency-Key` of a write
and its body; a token request renders with `$DAILYPAY_CLIENT_SECRET`. Body members that hold
credentials or card and account numbers are masked (see `_har.mask_body`): put them back by
hand if the command must repeat them.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from urllib.parse import quote_plus

import httpx

from ._exceptions import ArgumentError
from ._redact import REDACTOR

__all__ = ["CURL_HEADERS", "Sent", "check_variable", "render", "token_command"]

#: The request headers a command repeats (others are curl's own, or the token).
CURL_HEADERS = ("accept", "content-type", "dailypay-api-version", "idempotency-key")
_WANTED = frozenset(name.encode() for name in CURL_HEADERS)
_VARIABLE = re.compile(r"\$(?:\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True, slots=True)
class Sent:
    """What a curl command needs of a sent request; never the Authorization value."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes | None
    authenticated: bool

    @classmethod
    def of(cls, request: httpx.Request, *, authenticated: bool, url: str | None = None) -> Sent:
        """The facts of `request` (`url`: `str(request.url)`, if the caller has it). A body holding
        a live secret is kept with it masked; the body of a request sent without a token (card
        data) is kept with its members masked."""
        headers = tuple(
            [
                (name.decode("latin-1"), value.decode("latin-1"))
                for name, value in request.headers.raw
                if name.lower() in _WANTED
            ]
        )
        content = request.content if request.method != "GET" else b""
        body = None
        if content and authenticated:
            body = REDACTOR.scrub_body(content)
        elif content:
            from ._har import mask_body

            body = (mask_body(content, request.headers.get("content-type", "")) or "").encode()
        return cls(request.method, url or str(request.url), headers, body, authenticated)


def check_variable(name: str, value: object) -> str:
    """`value` if it is a shell variable reference (`$NAME` or `${NAME}`); else ArgumentError."""
    if isinstance(value, str) and _VARIABLE.fullmatch(value):
        return value
    raise ArgumentError(
        f"{name} must be a shell variable such as '$DAILYPAY_TOKEN', not a value",
        hint="the command never carries the credential itself: export it in your shell, then run it",
    )


_CANONICAL = {
    "accept": "Accept",
    "content-type": "Content-Type",
    "dailypay-api-version": "DailyPay-API-Version",
    "idempotency-key": "Idempotency-Key",
}


def render(
    method: str,
    url: str,
    headers: tuple[tuple[str, str], ...],
    body: str | None,
    *,
    token: str | None,
) -> str:
    """The command: one option per line; `token` a shell variable, or None for no Authorization."""
    parts = [f"curl -sS -g -X {method} {shlex.quote(REDACTOR.redact(url, limit=None))}"]
    if token is not None:
        parts.append(f'-H "Authorization: Bearer {token}"')
    for name, value in headers:
        if name.lower() in _CANONICAL:
            shown = REDACTOR.redact(value, limit=None)
            parts.append(f"-H {shlex.quote(f'{_CANONICAL[name.lower()]}: {shown}')}")
    if body:
        parts.append(f"--data-raw {shlex.quote(body)}")
    return " \\\n  ".join(parts)


def token_command(
    *,
    token_url: str,
    client_id: str,
    scope: str,
    basic: bool,
    client_secret: str,
) -> str:
    """The client-credentials grant as a command, the secret as the shell variable `client_secret`.

    With `basic`, curl's `-u` sends `client_id:secret` as they are; the toolkit form-encodes
    both first, which differs only for ids or secrets with reserved characters.
    """
    parts = [
        f"curl -sS -X POST {shlex.quote(token_url)}",
        "-H 'Accept: application/json'",
        "--data-urlencode grant_type=client_credentials",
        f"--data-urlencode {shlex.quote('scope=' + scope)}",
    ]
    if basic:
        parts.append(f'-u {shlex.quote(quote_plus(client_id) + ":")}"{client_secret}"')
    else:
        parts.append(f"--data-urlencode {shlex.quote('client_id=' + client_id)}")
        parts.append(f'--data-urlencode "client_secret={client_secret}"')
    return " \\\n  ".join(parts)
