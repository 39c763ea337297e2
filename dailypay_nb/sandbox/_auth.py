"""OAuth2 side of the sandbox: registered clients, issued tokens and the token endpoint logic.

Framework-free: the token endpoint is a function from (content type, Authorization header,
body) to (status, JSON payload, headers), so it can be tested without a server.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote_plus

from ._constants import KNOWN_SCOPES, USER_SCOPES

TokenKind = Literal["client", "user"]

_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")
_REALM = 'Basic realm="dailypay-sandbox"'


@dataclass(frozen=True, slots=True)
class Client:
    """A registered OAuth client and the scopes it may request."""

    client_id: str
    secret: str
    scopes: frozenset[str]


@dataclass(frozen=True, slots=True)
class Token:
    """An issued bearer token (opaque value plus what the server remembers about it)."""

    value: str
    kind: TokenKind
    client_id: str
    scopes: frozenset[str]
    expires_at: float  # time.monotonic() deadline
    person_id: str | None = None


def parse_scopes(scope: str) -> list[str]:
    """Split a space-separated scope string; raise ValueError when it is malformed."""
    parts = scope.split(" ")
    if not scope or any(not _SCOPE_TOKEN.match(p) for p in parts):
        raise ValueError("malformed scope")
    seen: dict[str, None] = {}
    for part in parts:
        seen.setdefault(part, None)
    return list(seen)


class ClientRegistry:
    """Thread-safe map of client id to Client."""

    def __init__(self) -> None:
        self._clients: dict[str, Client] = {}
        self._lock = threading.Lock()

    def register(self, client_id: str, secret: str, scopes: Iterable[str] | str) -> Client:
        """Add or replace a client; every scope must be one DailyPay knows."""
        if isinstance(scopes, str):
            scopes = scopes.split()
        wanted = frozenset(scopes)
        unknown = wanted - KNOWN_SCOPES
        if not client_id or not secret:
            raise ValueError("client_id and client_secret must be non-empty")
        if unknown:
            raise ValueError(f"unknown scopes: {sorted(unknown)}; known: {sorted(KNOWN_SCOPES)}")
        client = Client(client_id, secret, wanted)
        with self._lock:
            self._clients[client_id] = client
        return client

    def get(self, client_id: str) -> Client | None:
        return self._clients.get(client_id)


class TokenStore:
    """Issued tokens by value; expiry is checked with the server's monotonic clock."""

    def __init__(self) -> None:
        self._tokens: dict[str, Token] = {}
        self._lock = threading.Lock()
        self._issued_since_prune = 0

    def issue(
        self,
        kind: TokenKind,
        client_id: str,
        scopes: Iterable[str],
        ttl: float,
        person_id: str | None = None,
    ) -> Token:
        value = "dpo_" + secrets.token_hex(18)
        token = Token(value, kind, client_id, frozenset(scopes), time.monotonic() + ttl, person_id)
        with self._lock:
            self._tokens[value] = token
            self._issued_since_prune += 1
            if self._issued_since_prune >= 1000:
                self._prune()
        return token

    def _prune(self) -> None:
        now = time.monotonic()
        self._tokens = {v: t for v, t in self._tokens.items() if t.expires_at > now}
        self._issued_since_prune = 0

    def lookup(self, value: str) -> tuple[Token | None, str]:
        """Return (token, "") when valid, else (None, reason)."""
        token = self._tokens.get(value)
        if token is None:
            return None, "The access token is unknown or has been revoked."
        if token.expires_at <= time.monotonic():
            return None, "The access token has expired."
        return token, ""

    def revoke(self, value: str) -> bool:
        with self._lock:
            return self._tokens.pop(value, None) is not None

    def revoke_all(self) -> int:
        with self._lock:
            count = len(self._tokens)
            self._tokens = {}
            return count


class OAuthError(Exception):
    """An RFC 6749 §5.2 error answer of the token endpoint."""

    def __init__(self, error: str, description: str, status: int = 400, basic: bool = False):
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status
        self.basic = basic


NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def oauth_error_payload(err: OAuthError, error_code_field: bool) -> dict[str, Any]:
    """The JSON body of a token error, optionally with DailyPay's older `error_code` too."""
    payload: dict[str, Any] = {"error": err.error, "error_description": err.description}
    if error_code_field:
        payload["error_code"] = err.error
    return payload


def _basic_credentials(authorization: str) -> tuple[str, str]:
    """Decode client_secret_basic (form-urlencoded id and secret, RFC 6749 §2.3.1)."""
    try:
        raw = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise OAuthError("invalid_client", "The Basic credentials are not valid base64.", 401, True) from exc
    client_id, sep, secret = raw.partition(":")
    if not sep:
        raise OAuthError("invalid_client", "The Basic credentials lack a ':' separator.", 401, True)
    return unquote_plus(client_id), unquote_plus(secret)


def _form(content_type: str, body: bytes) -> dict[str, str]:
    media = content_type.split(";", 1)[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        raise OAuthError(
            "invalid_request",
            "The token request must be sent as application/x-www-form-urlencoded.",
        )
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError as exc:
        raise OAuthError("invalid_request", "The form body is not valid UTF-8.") from exc
    form: dict[str, str] = {}
    for key, value in pairs:
        if key in form:
            raise OAuthError("invalid_request", f"The parameter {key!r} is repeated.")
        form[key] = value
    return form


def _authenticate(form: dict[str, str], authorization: str, clients: ClientRegistry) -> Client:
    basic = authorization[:6].lower() == "basic "
    if basic:
        if "client_secret" in form:
            raise OAuthError("invalid_request", "Use only one client authentication method.")
        client_id, secret = _basic_credentials(authorization)
        if form.get("client_id", client_id) != client_id:
            raise OAuthError("invalid_request", "client_id differs from the Basic credentials.")
    else:
        client_id = form.get("client_id", "")
        secret = form.get("client_secret", "")
        if not client_id:
            raise OAuthError("invalid_request", "The request is missing the client_id parameter.")
        if not secret:
            raise OAuthError("invalid_request", "The request is missing the client_secret parameter.")
    client = clients.get(client_id)
    expected = client.secret if client is not None else secrets.token_hex(16)
    matches = hmac.compare_digest(secret.encode("utf-8"), expected.encode("utf-8"))
    if client is None or not matches:
        raise OAuthError(
            "invalid_client",
            "Client authentication failed (unknown client or wrong secret).",
            401,
            basic,
        )
    return client


def token_endpoint(
    content_type: str,
    authorization: str,
    body: bytes,
    clients: ClientRegistry,
    tokens: TokenStore,
    ttl: float,
) -> dict[str, Any]:
    """Run the client-credentials grant; return the success payload or raise OAuthError."""
    form = _form(content_type, body)
    grant_type = form.get("grant_type", "")
    if not grant_type:
        raise OAuthError("invalid_request", "The request is missing the grant_type parameter.")
    client = _authenticate(form, authorization, clients)
    if grant_type != "client_credentials":
        raise OAuthError(
            "unsupported_grant_type",
            f"The grant type {grant_type!r} is not supported by this client.",
        )
    scope = form.get("scope", "")
    if not scope:
        raise OAuthError("invalid_request", "The request is missing the scope parameter.")
    try:
        requested = parse_scopes(scope)
    except ValueError as exc:
        raise OAuthError("invalid_scope", "The requested scope is invalid, unknown, or malformed.") from exc
    unknown = [s for s in requested if s not in KNOWN_SCOPES]
    if unknown:
        raise OAuthError("invalid_scope", f"Unknown scope: {' '.join(unknown)}.")
    refused = [s for s in requested if s not in client.scopes]
    if refused:
        raise OAuthError("invalid_scope", f"This client may not request the scope: {' '.join(refused)}.")
    token = tokens.issue("client", client.client_id, requested, ttl)
    return {
        "access_token": token.value,
        "token_type": "bearer",
        "expires_in": max(1, round(ttl)),
        "created_at": int(time.time()),
        "scope": " ".join(requested),
    }


def check_user_scope(scope: str) -> list[str]:
    """Validate the scope of a sandbox-minted user token."""
    requested = parse_scopes(scope)
    bad = [s for s in requested if s not in USER_SCOPES]
    if bad:
        raise ValueError(f"not a user scope: {bad}; choose from {sorted(USER_SCOPES)}")
    return requested
