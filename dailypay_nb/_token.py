"""`Token`: an access token and what came with it, parsed from a token endpoint's answer.

Strictly private. Token members (`access_token`, `refresh_token`, `id_token`) are wrapped in
`Secret` the moment the JSON is parsed, and registered with the redactor, so no plain token
sits in a dict, a local or an exception while the answer is checked.
"""

from __future__ import annotations

import html
import json
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from ._exceptions import TokenError
from ._redact import REDACTOR, Redacted, redact_tree
from ._secret import Secret

__all__ = ["MAX_TTL", "SECRET_MEMBERS", "Token", "parse_token_body", "usable"]

#: Longest lifetime we believe; a larger `expires_in` is clamped to it.
MAX_TTL = 365 * 24 * 3600.0
#: A cached token is refreshed `token_skew` seconds before it expires, but never before this
#: share of its lifetime has passed (a 30 s token with a 60 s skew is used for 22.5 s).
MIN_USE = 0.75
SECRET_MEMBERS = frozenset({"access_token", "refresh_token", "id_token"})
#: What may travel in an Authorization header: visible ASCII, no spaces or control characters
#: (RFC 6750's b64token, widened to every visible character so no real token is refused).
_USABLE = re.compile(r"[\x21-\x7e]+")


class _Members(Redacted):
    """A parsed JSON object whose token members are Secrets; its repr masks every known secret, so
    no local holding it shows an echo while the answer is checked (a traceback showing locals
    would print it). Its values stay as sent: they are interpreted, and redacted where stored."""


def _wrap(pairs: list[tuple[str, Any]]) -> _Members:
    members = _Members()
    for key, value in pairs:
        if key in SECRET_MEMBERS and isinstance(value, str):
            value = Secret(value, label=key)
            REDACTOR.add(value)
        members[key] = value
    return members


def parse_token_body(body: bytes) -> Any:
    """The JSON of a token answer, token members already `Secret`; raises ValueError if not JSON.

    An object comes back as a `_Members`; anything else (an array, a string) redacted.
    """
    try:
        data = json.loads(body, object_pairs_hook=_wrap)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    return data if isinstance(data, _Members) else redact_tree(data, limit=None)


def usable(secret: Secret) -> bool:
    """True when the token can travel in an Authorization header (visible ASCII, no spaces)."""
    return _USABLE.fullmatch(secret.reveal()) is not None


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=timezone.utc)


@dataclass(frozen=True, eq=False)
class Token:
    """An access token and what came with it. The token itself is a `Secret`."""

    access_token: Secret
    token_type: str
    requested_scope: tuple[str, ...]
    granted_scope: tuple[str, ...]
    expires_in: float | None
    obtained_at: datetime
    expires_at: datetime
    refresh_token: Secret | None = None
    id_token: Secret | None = None
    environment: str = ""
    client_id: str = ""
    elapsed_ms: float = math.nan
    status: int = 200
    kind: str = "client"
    _clock: Callable[[], float] = field(default=time.time, repr=False)

    @property
    def lifetime(self) -> float:
        """Seconds from when it was obtained to `expires_at`."""
        return (self.expires_at - self.obtained_at).total_seconds()

    @property
    def expired(self) -> bool:
        """True once `expires_at` has passed."""
        return self._clock() >= self.expires_at.timestamp()

    @property
    def seconds_left(self) -> float:
        """Seconds until `expires_at` (negative once expired)."""
        return self.expires_at.timestamp() - self._clock()

    def fresh(self, skew: float) -> bool:
        """True while the token need not be refreshed: more than `skew` seconds left, where the
        skew is at most a quarter of the token's lifetime (so short tokens are still reused)."""
        return self.seconds_left > min(skew, self.lifetime * (1 - MIN_USE))

    def _refresh_at(self, skew: float) -> float:
        """When (on its clock) the token stops being `fresh(skew)`."""
        return self.expires_at.timestamp() - min(skew, self.lifetime * (1 - MIN_USE))

    @property
    def fingerprint(self) -> str:
        """A short tag of the token (keyed per process), safe to show."""
        return self.access_token.fingerprint

    @property
    def scope_differs(self) -> bool:
        """True when the server granted other scopes than were asked for."""
        return set(self.requested_scope) != set(self.granted_scope)

    def authorization(self) -> str:
        """The `Authorization` header value. Reveals the token: use only to send it."""
        return "Bearer " + self.access_token.reveal()

    def __repr__(self) -> str:
        return (
            f"Token({self.token_type} {self.access_token.masked}, scope={' '.join(self.granted_scope)!r}, "
            f"expires_at={self.expires_at.isoformat(timespec='seconds')}, "
            f"{'expired' if self.expired else f'{self.seconds_left:.0f}s left'})"
        )

    def _repr_html_(self) -> str:
        rows = [
            ("token", f"<code>{html.escape(self.access_token.masked)}</code>"),
            ("type", html.escape(self.token_type)),
            ("requested scope", html.escape(" ".join(self.requested_scope))),
            ("granted scope", html.escape(" ".join(self.granted_scope))),
            ("obtained at", self.obtained_at.isoformat(timespec="seconds")),
            ("expires at", self.expires_at.isoformat(timespec="seconds")),
            ("seconds left", "expired" if self.expired else f"{self.seconds_left:.0f}"),
            ("environment", html.escape(self.environment)),
        ]
        body = "".join(f"<tr><th style='text-align:left'>{k}</th><td>{v}</td></tr>" for k, v in rows)
        return f"<table><caption>DailyPay token</caption>{body}</table>"

    @classmethod
    def from_response(
        cls,
        data: Any,
        *,
        requested_scope: tuple[str, ...],
        sent_at: float,
        default_ttl: float,
        environment: str = "",
        client_id: str = "",
        elapsed_ms: float = math.nan,
        status: int = 200,
        clock: Callable[[], float] = time.time,
    ) -> Token:
        """Build a token from a parsed 200 body, or raise `TokenError` naming what is wrong.

        Plain strings in the token members are wrapped in `Secret` first (a body parsed with
        `parse_token_body` arrives wrapped already).
        """
        if not isinstance(data, Mapping):
            raise TokenError(
                f"token response is JSON but not an object ({type(data).__name__})", status=status
            )
        if not isinstance(data, _Members):
            data = _wrap(list(data.items()))
        access = data.get("access_token")
        if not isinstance(access, Secret) or not access:
            raise TokenError(
                "token response has no access_token",
                status=status,
                hint="the endpoint answered 200 without a token; check DAILYPAY_TOKEN_URL",
            )
        if not usable(access):
            raise TokenError(
                f"token response has an access_token with spaces or control characters ({access.masked})",
                status=status,
                hint="a token must be visible ASCII to travel in an Authorization header; "
                "the token endpoint (or a proxy before it) is sending something else",
            )
        token_type = data.get("token_type", "bearer")
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            raise TokenError(
                f"token response has token_type {REDACTOR.redact(str(token_type), limit=30)!r}, "
                "expected 'bearer'",
                status=status,
            )
        expires_in = _seconds(data.get("expires_in"), "expires_in", status)
        if expires_in is not None and expires_in <= 0:
            raise TokenError(
                "token response has expires_in=0: the token is expired on arrival",
                status=status,
                hint="the token endpoint must give a positive lifetime; ask its operator",
            )
        created_at = _seconds(data.get("created_at"), "created_at", status)
        ttl = min(default_ttl if expires_in is None else expires_in, MAX_TTL)
        start = _start(sent_at, created_at, ttl)
        scope = data.get("scope")
        # The server's words, shown in frames and forms: redacted (it could echo a secret there).
        granted = (
            tuple(REDACTOR.redact(s, limit=200) for s in scope.split())
            if isinstance(scope, str) and scope.strip()
            else requested_scope
        )
        refresh, id_token = (
            v if isinstance(v := data.get(name), Secret) and v else None
            for name in ("refresh_token", "id_token")
        )
        return cls(
            access_token=access,
            token_type=token_type,
            requested_scope=requested_scope,
            granted_scope=granted,
            expires_in=expires_in,
            obtained_at=_utc(sent_at),
            expires_at=_utc(start) + timedelta(seconds=ttl),
            environment=environment,
            client_id=client_id,
            elapsed_ms=elapsed_ms,
            status=status,
            refresh_token=refresh,
            id_token=id_token,
            _clock=clock,
        )


def _start(sent_at: float, created_at: float | None, ttl: float) -> float:
    """When the token's lifetime began, on our clock.

    A `created_at` shortly before the request (a server that hands out an existing token) starts
    the clock earlier. One after it, or so long before that the token would have been dead on
    arrival, is the server's clock disagreeing with ours: the send time is used instead, so a
    skewed server neither keeps an expired token in use nor makes every call fetch a new one.
    """
    if created_at is None or not sent_at - ttl < created_at <= sent_at:
        return sent_at
    return created_at


def _seconds(value: Any, name: str, status: int) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TokenError(f"token response has a non-numeric {name}", status=status)
    try:
        number = float(value)
    except OverflowError:  # an integer too large for a float (JSON allows 10**400)
        number = math.inf
    except ValueError:
        raise TokenError(f"token response has a non-numeric {name}", status=status) from None
    if not math.isfinite(number) or number < 0 or (name == "created_at" and number > 1e11):
        raise TokenError(f"token response has an impossible {name} ({number:.0f})", status=status)
    return number
