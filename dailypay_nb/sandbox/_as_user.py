"""`as_user()`: a session acting as one of the sandbox's people (the sandbox mints user tokens).

Strictly private; public as `dailypay_nb.sandbox.as_user`. The one module of this package that
belongs to the client side (it builds a client session and raises the client's errors): the
server modules never import it, and it is loaded only when `as_user` is first called. Real
environments issue user tokens through DailyPay's authorization-code flow only: pass one to
`session.with_user_token(token)`.
"""

from __future__ import annotations

from typing import Any, TypeVar

import httpx

from .._exceptions import ApiTransportError, ArgumentError, ScopeError
from .._redact import REDACTOR
from .._secret import Secret

__all__ = ["as_user"]

S = TypeVar("S")


def as_user(session: S, person_id: str | None = None, scope: str = "user:read_write") -> S:
    """A session (same kind, connections and timings as `session`) holding a sandbox user token.

    Works with the embedded sandbox and with one in another process (`dailypay-nb sandbox`);
    `person_id` defaults to the sandbox's first person.
    """
    host: Any = session
    settings = host.settings
    if host.sandbox is not None:
        token: Secret | str = host.sandbox.user_token(person_id=person_id, scope=scope)
    elif settings.environment == "sandbox":
        token = _mint(settings, person_id, scope)
    else:
        raise ScopeError(
            f"as_user() mints user tokens in the sandbox only; this session talks to {settings.environment}",
            hint="get a user token through DailyPay's authorization-code flow and pass it "
            "to session.with_user_token(token)",
        )
    user: S = host.with_user_token(token, scope=scope)
    return user


def _mint(settings: Any, person_id: str | None, scope: str) -> Secret:
    """Ask a sandbox in another process for a user token over its admin route."""
    url = f"{(settings.api_url or '').rstrip('/')}/_sandbox/user-token"
    try:
        response = httpx.post(
            url,
            json={"person_id": person_id, "scope": scope},
            timeout=min(settings.timeout, settings.deadline),
        )
    except httpx.RequestError as exc:
        cause = type(exc).__name__
    else:
        cause = ""
    if cause:
        raise ApiTransportError(
            f"as_user(): could not reach the sandbox at {settings.api_url} ({cause})",
            method="POST",
            url=url,
            hint="start it with `dailypay-nb sandbox`, or connect() with no credentials for an embedded one",
        )
    try:
        answer = response.json(
            object_pairs_hook=lambda pairs: {
                k: Secret(v) if k == "access_token" and isinstance(v, str) else v for k, v in pairs
            }
        )
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        answer = {}
    if response.status_code == 400 and isinstance(answer.get("error"), str):
        raise ArgumentError(
            f"as_user(): {REDACTOR.redact(answer['error'], limit=160)}",
            hint=f"GET {settings.api_url}/_sandbox/data lists the sandbox's person_ids",
        )
    token = answer.get("access_token")
    if response.status_code != 200 or not isinstance(token, Secret):
        raise ScopeError(
            f"as_user(): {settings.api_url} does not mint user tokens (POST /_sandbox/user-token → "
            f"{response.status_code}); is it a dailypay_nb sandbox?",
            hint="for a real environment, get a user token through DailyPay's authorization-code flow "
            "and pass it to session.with_user_token(token)",
        )
    return Secret(token, label="user_token")
