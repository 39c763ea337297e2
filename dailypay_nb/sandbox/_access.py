"""Who may call which operation: the per-operation security of openapi.yaml (3.0.0-beta.117)."""

from __future__ import annotations

from dataclasses import dataclass

from ._auth import Token, TokenStore
from ._constants import HEADER_VERSION
from ._errors import ApiError


@dataclass(frozen=True, slots=True)
class Security:
    """Accepted token kinds and the scopes each needs (all listed scopes are required)."""

    client: frozenset[str] | None
    user: frozenset[str] | None


def _sec(client: str | None, user: str | None) -> Security:
    return Security(
        frozenset(client.split()) if client is not None else None,
        frozenset(user.split()) if user is not None else None,
    )


_LOOKUP = "client:lookup client:admin"

SECURITY: dict[str, Security] = {
    "getHealth": _sec("health:read", None),
    "listOrganizations": _sec("client:admin", None),
    "readOrganization": _sec("client:admin", None),
    "listJobs": _sec(_LOOKUP, "user:read"),
    "readJob": _sec(_LOOKUP, "user:read"),
    "updateJob": _sec(None, "user:read_write"),
    "listAccounts": _sec(_LOOKUP, "user:read"),
    "readAccount": _sec(_LOOKUP, "user:read"),
    "createAccount": _sec(None, "user:read_write"),
    "deleteAccount": _sec(None, "user:read_write"),
    "listTransfers": _sec(None, "user:read"),
    "readTransfer": _sec(None, "user:read"),
    "createTransfer": _sec(None, "user:read_write"),
    "listPaychecks": _sec(None, "user:read"),
    "readPaycheck": _sec(None, "user:read"),
    "readPerson": _sec("client:admin", "user:read"),
    "updatePerson": _sec(None, "user:read_write"),
}

BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="dailypay-sandbox"'}


def _effective_scopes(token: Token) -> frozenset[str]:
    # user:read_write is taken to include user:read (DailyPay's documents leave this open).
    if "user:read_write" in token.scopes:
        return token.scopes | {"user:read"}
    return token.scopes


def authenticate(authorization: str | None, tokens: TokenStore) -> Token:
    """Resolve `Authorization: Bearer ...` to a live token or raise 401 INVALID_TOKEN."""
    if not authorization:
        raise ApiError(401, "INVALID_TOKEN", "No bearer token was provided.", headers=BEARER_CHALLENGE)
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise ApiError(
            401,
            "INVALID_TOKEN",
            "The Authorization header must be 'Bearer <access_token>'.",
            headers=BEARER_CHALLENGE,
        )
    token, reason = tokens.lookup(value.strip())
    if token is None:
        raise ApiError(401, "INVALID_TOKEN", reason, headers=BEARER_CHALLENGE)
    return token


def authorize(token: Token, operation: str) -> None:
    """Raise 403 FORBIDDEN unless the token's kind and scopes satisfy the operation."""
    security = SECURITY[operation]
    needed = security.client if token.kind == "client" else security.user
    if needed is None:
        if token.kind == "client":
            detail = f"{operation} needs a user token; client-credentials tokens are refused."
        else:
            detail = f"{operation} needs a client-credentials token; user tokens are refused."
        raise ApiError(403, "FORBIDDEN", detail)
    missing = needed - _effective_scopes(token)
    if missing:
        raise ApiError(403, "FORBIDDEN", f"The token lacks the scope(s): {' '.join(sorted(missing))}.")


def check_version(value: str | None) -> None:
    """`DailyPay-API-Version`: absent or 3, otherwise 400 INVALID_VERSION_HEADER."""
    if value is None:
        return
    text = value.strip()
    if text == HEADER_VERSION:
        return
    try:
        ok = int(text) == int(HEADER_VERSION)
    except ValueError:
        ok = False
    if not ok:
        raise ApiError(
            400,
            "INVALID_VERSION_HEADER",
            f"API version {value!r} is not supported; use 3 or omit the header.",
            header="DailyPay-API-Version",
        )
