"""Settings: where to connect and with which credentials, read from `.env`, the environment and arguments.

Precedence, lowest first: defaults < `.env` file < process environment < keyword arguments.
The `.env` file is read with `dotenv_values` and never copied into `os.environ`.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from dotenv import dotenv_values, find_dotenv

from ._exceptions import SettingsError
from ._secret import Secret

__all__ = [
    "CLIENT_SCOPES",
    "ENVIRONMENTS",
    "KNOWN_SCOPES",
    "Settings",
    "load_settings",
]

PREFIX = "DAILYPAY_"

Environment = Literal["sandbox", "uat", "production"]

#: Default endpoints per environment (DailyPay's developer documentation). `None` means the embedded sandbox.
ENVIRONMENTS: dict[str, dict[str, str | None]] = {
    "sandbox": {"token_url": None, "api_url": None},
    "uat": {
        # Documented once, as a "development" server, and unverified: override with DAILYPAY_TOKEN_URL.
        "token_url": "https://auth.uat.dailypay.com/oauth2/token",
        "api_url": "https://api.dailypayuat.com",
    },
    "production": {
        "token_url": "https://auth.dailypay.com/oauth2/token",
        "api_url": "https://api.dailypay.com",
    },
}

#: Client-credentials scopes DailyPay documents, with what each one unlocks.
CLIENT_SCOPES: dict[str, str] = {
    "client:admin": "read organizations, people, jobs and accounts",
    "client:lookup": "find people, jobs and accounts by known identifiers",
    "health:read": "call GET /rest/health",
}
#: Every scope DailyPay documents (client and user flows).
KNOWN_SCOPES: frozenset[str] = frozenset(
    [*CLIENT_SCOPES, "user:read", "user:read_write", "openid", "offline_access", "offline"]
)
DEFAULT_SCOPE = ("client:admin", "client:lookup", "health:read")

# RFC 6749 §3.3 scope-token: printable ASCII without space, '"' and '\'.
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5B\x5D-\x7E]+$")
_AUTH_METHODS = ("client_secret_post", "client_secret_basic")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class _Field:
    default: Any
    help: str


# name (lower-case, without prefix) -> default and one-line help. Order is the documented order.
FIELDS: dict[str, _Field] = {
    "environment": _Field(None, "sandbox | uat | production (sandbox when no credentials are set)"),
    "client_id": _Field("", "OAuth client id issued by DailyPay"),
    "client_secret": _Field("", "OAuth client secret issued by DailyPay"),
    "scope": _Field(None, "space-separated scopes, e.g. 'client:admin client:lookup health:read'"),
    "token_url": _Field(None, "override the environment's token endpoint"),
    "api_url": _Field(None, "override the environment's API base (paths carry /rest)"),
    "api_version": _Field(3, "DailyPay-API-Version header value"),
    "timeout": _Field(30.0, "seconds before a request times out"),
    "token_auth_method": _Field("client_secret_post", "client_secret_post | client_secret_basic"),
    "allow_writes": _Field(False, "allow write operations against production"),
    "token_skew": _Field(60.0, "refresh a cached token this many seconds before it expires"),
    "default_token_ttl": _Field(300.0, "seconds to cache a token that arrives without expires_in"),
    "retry_attempts": _Field(5, "attempts for retryable failures (1 = no retry)"),
    "retry_timeout": _Field(30.0, "total seconds to keep retrying"),
    "timings_buffer": _Field(100_000, "how many timing rows a session keeps"),
}


@dataclass(frozen=True)
class Settings:
    """Everything a session needs, validated. Build it with `load_settings()`.

    `sources` maps each field to where its value came from: `default`, `argument`,
    `env:DAILYPAY_…`, `file:/path/.env` or `sandbox`. It never holds a secret's value.
    """

    environment: Environment
    client_id: str
    client_secret: Secret
    scope: tuple[str, ...]
    token_url: str | None
    api_url: str | None
    api_version: int = 3
    timeout: float = 30.0
    token_auth_method: str = "client_secret_post"
    allow_writes: bool = False
    token_skew: float = 60.0
    default_token_ttl: float = 300.0
    retry_attempts: int = 5
    retry_timeout: float = 30.0
    timings_buffer: int = 100_000
    env_file: str | None = None
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    @property
    def uses_embedded_sandbox(self) -> bool:
        """True when `connect()` will start the built-in sandbox for this configuration."""
        return self.environment == "sandbox" and self.token_url is None

    @property
    def scope_string(self) -> str:
        """The scopes as sent on the wire: space-separated."""
        return " ".join(self.scope)

    def replace(self, **overrides: Any) -> Settings:
        """A copy with some values changed, validated like `load_settings` arguments."""
        raw = {name: (getattr(self, name), self.sources.get(name, "default")) for name in FIELDS}
        if "environment" in overrides and "token_url" not in overrides:
            # A new environment brings its own endpoints unless they are given too.
            for url in ("token_url", "api_url"):
                if self.sources.get(url) in (None, "default", "sandbox"):
                    raw[url] = (None, "default")
        for name, value in _check_names(overrides).items():
            raw[name] = (value, "argument")
        return _build(raw, env_file=self.env_file)

    def describe(self) -> list[tuple[str, str, str]]:
        """(name, display value, source) rows: secrets masked. Handy for a notebook table."""
        rows = []
        for name in FIELDS:
            value = getattr(self, name)
            shown = value.masked if isinstance(value, Secret) else value
            if isinstance(value, tuple):
                shown = " ".join(value)
            rows.append((name, "" if shown is None else str(shown), self.sources.get(name, "default")))
        return rows


def load_settings(env_file: str | os.PathLike[str] | bool | None = None, **overrides: Any) -> Settings:
    """Read settings from `.env`, the process environment and keyword arguments.

    Args:
        env_file: path of a `.env` file; `None` finds one upward from the current directory
            (as a notebook expects); `False` reads no file.
        **overrides: any setting by its variable name without `DAILYPAY_`, lower-cased:
            `client_id=`, `client_secret=`, `scope=`, `environment=`, `token_url=`, ...

    Raises:
        SettingsError: a value is missing or malformed; the message names the variable and the fix.
    """
    overrides = _check_names(overrides)
    raw: dict[str, tuple[Any, str]] = {name: (spec.default, "default") for name, spec in FIELDS.items()}
    path = _find_env_file(env_file)
    if path is not None:
        for key, value in dotenv_values(path).items():
            name = _field_name(key)
            if name is not None and value is not None:
                raw[name] = (value, f"file:{path}")
    for key, value in os.environ.items():
        name = _field_name(key)
        if name is not None:
            raw[name] = (value, f"env:{key}")
    for name, value in overrides.items():
        raw[name] = (value, "argument")
    return _build(raw, env_file=str(path) if path else None)


def _check_names(overrides: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(overrides) - set(FIELDS))
    if unknown:
        raise SettingsError(
            f"unknown setting {', '.join(map(repr, unknown))}",
            hint=f"valid names: {', '.join(FIELDS)}",
        )
    return dict(overrides)


def _field_name(key: str) -> str | None:
    if not key.startswith(PREFIX):
        return None
    name = key[len(PREFIX) :].lower()
    return name if name in FIELDS else None


def _find_env_file(env_file: str | os.PathLike[str] | bool | None) -> Path | None:
    if env_file is False:
        return None
    if env_file is None or env_file is True:
        found = find_dotenv(usecwd=True)
        return Path(found).resolve() if found else None
    path = Path(env_file)
    if not path.is_file():
        raise SettingsError(
            f"env_file {str(path)!r} does not exist",
            hint="pass the path of an existing .env file, or env_file=None to search upward",
        )
    return path.resolve()


def _var(name: str) -> str:
    return PREFIX + name.upper()


def _text(name: str, value: Any, source: str) -> str:
    """A string value, refused when it has whitespace or control characters around or inside."""
    if isinstance(value, Secret):
        value = value.reveal()
    value = str(value)
    shown = "the value" if name == "client_secret" else repr(value[:60])
    if "\x00" in value or any(c in value for c in "\r\n"):
        raise SettingsError(
            f"{_var(name)} contains a newline or NUL ({source})",
            variable=_var(name),
            hint="put the value on one line; quote it in .env if it has special characters",
        )
    if value != value.strip():
        raise SettingsError(
            f"{_var(name)} has whitespace around {shown} ({source})",
            variable=_var(name),
            hint="remove the spaces or tabs around the value",
        )
    return str(value)


#: Upper bounds: beyond them httpx, deque or datetime overflow (a timeout of 1e10 s, a buffer of 1e20 rows).
_MAXIMUM: dict[str, float] = {
    "api_version": 1_000,
    "timeout": 86_400.0,
    "token_skew": 31_536_000.0,
    "default_token_ttl": 31_536_000.0,
    "retry_attempts": 100,
    "retry_timeout": 86_400.0,
    "timings_buffer": 10_000_000,
}


def _number(name: str, value: Any, source: str, kind: type[int] | type[float], minimum: float) -> Any:
    if isinstance(value, bool):
        value = str(value)
    try:
        number = kind(str(value).strip()) if isinstance(value, str) else kind(value)
    except (TypeError, ValueError, OverflowError):
        raise SettingsError(
            f"{_var(name)} must be a {'whole ' if kind is int else ''}number, got {str(value)[:40]!r}"
            f" ({source})",
            variable=_var(name),
            hint=f"set {_var(name)} to a number such as {FIELDS[name].default}",
        ) from None
    if not number >= minimum or number != number or number == float("inf"):
        raise SettingsError(
            f"{_var(name)} must be at least {minimum} and finite, got {str(number)[:40]} ({source})",
            variable=_var(name),
            hint=f"set {_var(name)} to a number such as {FIELDS[name].default}",
        )
    maximum = _MAXIMUM.get(name)
    if maximum is not None and number > maximum:
        raise SettingsError(
            f"{_var(name)} must be at most {maximum:g}, got {str(number)[:40]} ({source})",
            variable=_var(name),
            hint=f"set {_var(name)} to a number such as {FIELDS[name].default}",
        )
    return number


def _flag(name: str, value: Any, source: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise SettingsError(
        f"{_var(name)} must be true or false, got {str(value)[:20]!r} ({source})",
        variable=_var(name),
        hint="use true/false, yes/no or 1/0",
    )


def _shown(item: str, secret: str) -> str:
    """A scope as messages show it: shortened, and never the client secret pasted in the wrong place."""
    if secret and (secret in item or (len(item) >= 6 and item in secret)):
        return "(the client secret, masked)"
    return repr(item if len(item) <= 40 else item[:39] + "…")


def _scopes(value: Any, source: str, secret: str = "") -> tuple[str, ...]:
    """The scopes as a tuple; `secret` is masked if someone pasted it here."""
    if not isinstance(value, (str, list, tuple, set, frozenset)):
        raise SettingsError(
            f"DAILYPAY_SCOPE must be a space-separated string, got a {type(value).__name__} ({source})",
            variable="DAILYPAY_SCOPE",
            hint="e.g. scope='client:admin health:read'",
        )
    items = value.split(" ") if isinstance(value, str) else list(value)
    if isinstance(value, str):
        _text("scope", value, source)
    scopes: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise SettingsError(
                f"DAILYPAY_SCOPE holds a non-string item {item!r} ({source})",
                variable="DAILYPAY_SCOPE",
                hint="give scopes as one space-separated string or a list of strings",
            )
        if item == "":
            continue
        if not _SCOPE_TOKEN.match(item) or "," in item:  # commas: a list written the wrong way
            raise SettingsError(
                f"DAILYPAY_SCOPE has a malformed scope {_shown(item, secret)} ({source})",
                variable="DAILYPAY_SCOPE",
                hint="separate scopes with single spaces, e.g. 'client:admin health:read'",
            )
        if item not in scopes:
            scopes.append(item)
    unknown = [s for s in scopes if s not in KNOWN_SCOPES]
    if unknown:
        shown = [_shown(u, secret) for u in unknown[:5]]
        if len(unknown) > 5:
            shown.append(f"and {len(unknown) - 5} more")
        warnings.warn(
            f"DAILYPAY_SCOPE has scopes DailyPay does not document: {', '.join(shown)}; "
            f"documented client scopes are {', '.join(CLIENT_SCOPES)}",
            UserWarning,
            stacklevel=4,
        )
    if not scopes:
        raise SettingsError(
            f"DAILYPAY_SCOPE is empty ({source})",
            variable="DAILYPAY_SCOPE",
            hint=f"request at least one scope, e.g. {' '.join(DEFAULT_SCOPE)!r}",
        )
    return tuple(scopes)


def _url(name: str, value: Any, source: str) -> str | None:
    if value is None or value == "":
        return None
    text = _text(name, value, source)
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
        sent_to = httpx.URL(text).host  # what httpx will connect to (IDNA-encoded), checked below
    except (ValueError, httpx.InvalidURL) as exc:  # IDNAError is a UnicodeError, a ValueError
        detail = "" if "@" in text else f": {str(exc)[:80]}"  # never echo credentials in a URL
        raise SettingsError(
            f"{_var(name)} is not a valid URL{detail} ({source})",
            variable=_var(name),
            hint="e.g. https://auth.dailypay.com/oauth2/token",
        ) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(
            f"{_var(name)} must be an http(s) URL with a host, got {text[:80]!r} ({source})",
            variable=_var(name),
            hint="e.g. https://auth.dailypay.com/oauth2/token",
        )
    if parts.username or parts.password:
        raise SettingsError(
            f"{_var(name)} must not carry credentials in the URL ({source})",
            variable=_var(name),
            hint="put the client id and secret in DAILYPAY_CLIENT_ID / DAILYPAY_CLIENT_SECRET",
        )
    if parts.scheme == "http" and not (_is_loopback(parts.hostname) and _is_loopback(sent_to)):
        raise SettingsError(
            f"{_var(name)} uses plain http:// to {parts.hostname!r} ({source})",
            variable=_var(name),
            hint="use https://; plain http is only allowed to loopback hosts (127.0.0.1, localhost, ::1)",
        )
    return text.rstrip("/") if name == "api_url" else text


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _build(raw: Mapping[str, tuple[Any, str]], *, env_file: str | None) -> Settings:
    sources = {name: src for name, (_, src) in raw.items()}

    def value(name: str) -> Any:
        return raw[name][0]

    client_id = _text("client_id", value("client_id") or "", sources["client_id"])
    client_secret = Secret(_text("client_secret", value("client_secret") or "", sources["client_secret"]))

    env_value = value("environment")
    if env_value in (None, ""):
        if client_id or client_secret:
            raise SettingsError(
                "credentials are set but DAILYPAY_ENVIRONMENT is not",
                variable="DAILYPAY_ENVIRONMENT",
                hint="set DAILYPAY_ENVIRONMENT to uat or production (or sandbox for a local sandbox)",
            )
        env_value, sources["environment"] = "sandbox", "default"
    environment = _text("environment", env_value, sources["environment"]).lower()
    if environment not in ENVIRONMENTS:
        raise SettingsError(
            f"DAILYPAY_ENVIRONMENT {environment[:40]!r} is not one of {', '.join(ENVIRONMENTS)}"
            f" ({sources['environment']})",
            variable="DAILYPAY_ENVIRONMENT",
            hint="set DAILYPAY_ENVIRONMENT=sandbox, uat or production",
        )

    token_url = _url("token_url", value("token_url"), sources["token_url"])
    api_url = _url("api_url", value("api_url"), sources["api_url"])
    defaults = ENVIRONMENTS[environment]
    if token_url is None and defaults["token_url"]:
        token_url, sources["token_url"] = defaults["token_url"], "default"
    if api_url is None and defaults["api_url"]:
        api_url, sources["api_url"] = defaults["api_url"], "default"
    if environment == "sandbox" and (token_url is None) != (api_url is None):
        raise SettingsError(
            "DAILYPAY_TOKEN_URL and DAILYPAY_API_URL must be set together for an external sandbox",
            variable="DAILYPAY_TOKEN_URL" if token_url is None else "DAILYPAY_API_URL",
            hint="set both (as printed by `dailypay-nb sandbox`), or neither for the embedded one",
        )
    if environment != "sandbox" or token_url is not None:
        for name, secret in (("client_id", client_id), ("client_secret", client_secret)):
            if not secret:
                raise SettingsError(
                    f"{_var(name)} is missing or empty for environment {environment!r}",
                    variable=_var(name),
                    hint=f"add {_var(name)}=… to your .env (see .env.example)",
                )

    scope_value = value("scope")
    if scope_value in (None, ""):
        scope_value, sources["scope"] = DEFAULT_SCOPE, "default"
    method = _text("token_auth_method", value("token_auth_method"), sources["token_auth_method"])
    if method not in _AUTH_METHODS:
        raise SettingsError(
            f"DAILYPAY_TOKEN_AUTH_METHOD {method[:40]!r} is not one of {', '.join(_AUTH_METHODS)}",
            variable="DAILYPAY_TOKEN_AUTH_METHOD",
            hint="DailyPay documents client_secret_post (the default)",
        )
    return Settings(
        environment=environment,  # type: ignore[arg-type]
        client_id=client_id,
        client_secret=client_secret,
        scope=_scopes(scope_value, sources["scope"], client_secret.reveal()),
        token_url=token_url,
        api_url=api_url,
        api_version=_number("api_version", value("api_version"), sources["api_version"], int, 1),
        timeout=_number("timeout", value("timeout"), sources["timeout"], float, 0.001),
        token_auth_method=method,
        allow_writes=_flag("allow_writes", value("allow_writes"), sources["allow_writes"]),
        token_skew=_number("token_skew", value("token_skew"), sources["token_skew"], float, 0),
        default_token_ttl=_number(
            "default_token_ttl", value("default_token_ttl"), sources["default_token_ttl"], float, 1
        ),
        retry_attempts=_number("retry_attempts", value("retry_attempts"), sources["retry_attempts"], int, 1),
        retry_timeout=_number("retry_timeout", value("retry_timeout"), sources["retry_timeout"], float, 0),
        timings_buffer=_number("timings_buffer", value("timings_buffer"), sources["timings_buffer"], int, 1),
        env_file=env_file,
        sources=dict(sources),
    )


def with_sandbox(settings: Settings, *, url: str, token_url: str, client_id: str, secret: str) -> Settings:
    """Point sandbox settings at a running sandbox, filling in its demo credentials if none are set."""
    sources = dict(settings.sources)
    changes: dict[str, Any] = {"api_url": url, "token_url": token_url}
    sources["api_url"] = sources["token_url"] = "sandbox"
    if not settings.client_id:
        changes["client_id"], sources["client_id"] = client_id, "sandbox"
        changes["client_secret"], sources["client_secret"] = Secret(secret), "sandbox"
    return dataclasses.replace(settings, sources=sources, **changes)
