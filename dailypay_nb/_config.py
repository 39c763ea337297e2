"""Settings: where to connect and with which credentials, read from `.env`, the environment and arguments.

Precedence, lowest first: defaults < `.env` file < process environment < keyword arguments.
The `.env` file is read with `dotenv_values` and never copied into `os.environ`.

Each setting is declared once, as a field of `Settings` with its default, one line of help and
its parser; `.env.example` documents them (a test keeps the two in step). Adding a setting is
adding one field here and one block there.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import math
import os
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from dotenv import dotenv_values, find_dotenv

from ._exceptions import SettingsError
from ._redact import REDACTOR, Redacted
from ._secret import MASK, Secret

__all__ = ["CLIENT_SCOPES", "ENVIRONMENTS", "FIELDS", "KNOWN_SCOPES", "Settings", "load_settings"]

PREFIX = "DAILYPAY_"

Environment = Literal["sandbox", "uat", "production"]

#: Default endpoints per environment (DailyPay's developer documentation). `None`: the embedded
#: sandbox (its payments URL is its API URL + /v2), or, for UAT's payments host, none documented.
ENVIRONMENTS: dict[str, dict[str, str | None]] = {
    "sandbox": {"token_url": None, "api_url": None, "payments_url": None},
    "uat": {
        # Documented once, as a "development" server, and unverified: override with DAILYPAY_TOKEN_URL.
        "token_url": "https://auth.uat.dailypay.com/oauth2/token",
        "api_url": "https://api.dailypayuat.com",
        "payments_url": None,
    },
    "production": {
        "token_url": "https://auth.dailypay.com/oauth2/token",
        "api_url": "https://api.dailypay.com",
        # The server of createGenericCardToken in the OpenAPI document.
        "payments_url": "https://payments.dailypay.com/v2",
    },
}
_URLS = ("token_url", "api_url", "payments_url")

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

# RFC 6749 scope-token: printable ASCII without space, '"' and '\'.
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5B\x5D-\x7E]+$")
_AUTH_METHODS = ("client_secret_post", "client_secret_basic")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

Parser = Callable[[str, Any, str], Any]  # (name, raw value, source) -> value


def _var(name: str) -> str:
    return PREFIX + name.upper()


def _echo(value: Any, limit: int = 60) -> str:
    """A value as an error message shows it: secrets and URL passwords masked, then shortened."""
    return repr(REDACTOR.redact(str(value), limit=limit))


# -- parsers ----------------------------------------------------------------------------------


def _text(name: str, value: Any, source: str) -> str:
    """A string, refused when it has whitespace or control characters around or inside.

    A `Secret` is checked without its value ever sitting in a local of this frame, which a
    traceback showing locals would print.
    """
    problem = _layout(value.reveal() if isinstance(value, Secret) else str(value))
    if problem == "newline":
        raise SettingsError(
            f"{_var(name)} contains a newline or NUL ({source})",
            variable=_var(name),
            hint="put the value on one line; quote it in .env if it has special characters",
        )
    if problem == "whitespace":
        shown = "the value" if isinstance(value, Secret) else _echo(str(value).strip())
        raise SettingsError(
            f"{_var(name)} has whitespace around {shown} ({source})",
            variable=_var(name),
            hint="remove the spaces or tabs around the value",
        )
    return value.reveal() if isinstance(value, Secret) else str(value)


def _layout(text: str) -> str | None:
    if "\x00" in text or "\r" in text or "\n" in text:
        return "newline"
    return "whitespace" if text != text.strip() else None


def _optional_text(name: str, value: Any, source: str) -> str | None:
    return None if value is None or value == "" else _text(name, value, source)


def _secret(name: str, value: Any, source: str) -> Secret:
    return Secret(_text(name, _wrapped(name, value), source), label=name)


def _wrapped(name: str, value: Any) -> Secret:
    """`value` as a Secret (called inline, so no plain copy sits in the caller's frame)."""
    return value if isinstance(value, Secret) else Secret(str(value or ""), label=name)


def _number(kind: type[int] | type[float], minimum: float, maximum: float) -> Parser:
    def parse(name: str, value: Any, source: str) -> Any:
        hint = f"set {_var(name)} to a number such as {FIELDS[name].default}"
        if isinstance(value, bool):
            value = str(value)
        try:
            number = kind(str(value).strip()) if isinstance(value, str) else kind(value)
        except (TypeError, ValueError, OverflowError):
            raise SettingsError(
                f"{_var(name)} must be a {'whole ' if kind is int else ''}number, got {_echo(value, 40)}"
                f" ({source})",
                variable=_var(name),
                hint=hint,
            ) from None
        if (isinstance(number, float) and not math.isfinite(number)) or not minimum <= number <= maximum:
            raise SettingsError(
                f"{_var(name)} must be between {minimum:g} and {maximum:g}, "
                f"got {str(number)[:40]} ({source})",
                variable=_var(name),
                hint=hint,
            )
        return number

    return parse


def _flag(name: str, value: Any, source: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise SettingsError(
        f"{_var(name)} must be true or false, got {_echo(value, 20)} ({source})",
        variable=_var(name),
        hint="use true/false, yes/no or 1/0",
    )


def _validate(name: str, value: Any, source: str) -> bool | str:
    """False, True (collect contract violations) or "strict" (raise them)."""
    if isinstance(value, str) and value.strip().lower() == "strict":
        return "strict"
    try:
        return _flag(name, value, source)
    except SettingsError:
        raise SettingsError(
            f"{_var(name)} must be true, false or strict, got {_echo(value, 20)} ({source})",
            variable=_var(name),
            hint="true records violations of the OpenAPI document, strict raises ContractError for them",
        ) from None


def _choice(*options: str) -> Parser:
    def parse(name: str, value: Any, source: str) -> str:
        text = _text(name, value, source).lower()
        if text not in options:
            raise SettingsError(
                f"{_var(name)} {_echo(text, 40)} is not one of {', '.join(options)} ({source})",
                variable=_var(name),
                hint=f"set {_var(name)} to {' or '.join(options)}",
            )
        return text

    return parse


def _url(name: str, value: Any, source: str) -> str | None:
    if value is None or value == "":
        return None
    text = _text(name, value, source)
    example = (
        "https://api.dailypayuat.com" if name.startswith("api") else "https://auth.dailypay.com/oauth2/token"
    )
    if name.endswith("payments_url"):
        example = "https://payments.dailypay.com/v2"
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
        sent_to = httpx.URL(text).host  # what httpx will connect to (IDNA-encoded), checked below
    except (ValueError, httpx.InvalidURL) as exc:  # IDNAError is a UnicodeError, a ValueError
        detail = "" if "@" in text else f": {REDACTOR.redact(exc, limit=80)}"  # never echo credentials
        raise SettingsError(
            f"{_var(name)} is not a valid URL{detail} ({source})",
            variable=_var(name),
            hint=f"e.g. {example}",
        ) from None
    if "@" in parts.netloc:
        raise SettingsError(
            f"{_var(name)} must not carry credentials in the URL (user:password@) ({source})",
            variable=_var(name),
            hint="put the client id and secret in DAILYPAY_CLIENT_ID / DAILYPAY_CLIENT_SECRET",
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(
            f"{_var(name)} must be an http(s) URL with a host, got {_echo(text, 80)} ({source})",
            variable=_var(name),
            hint=f"e.g. {example}",
        )
    if parts.scheme == "http" and not (_is_loopback(parts.hostname) and _is_loopback(sent_to)):
        raise SettingsError(
            f"{_var(name)} uses plain http:// to {_echo(parts.hostname, 80)} ({source})",
            variable=_var(name),
            hint="use https://; plain http is only allowed to loopback hosts (127.0.0.1, localhost, ::1)",
        )
    if name == "payments_url":
        return text.rstrip("/")  # paths are appended: /cards/generic
    if name != "api_url":
        return text
    text = text.rstrip("/")
    if text.lower().endswith("/rest"):
        warnings.warn(
            f"DAILYPAY_API_URL ends in /rest ({source}); API paths already start with /rest, so it "
            f"was dropped: using {text[:-5]!r}",
            UserWarning,
            stacklevel=5,
        )
        text = text[:-5]
    return text


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _scopes(name: str, value: Any, source: str) -> tuple[str, ...]:
    """The scopes as a tuple (checked for a pasted client secret afterwards, in `_check_secret`)."""
    if value is None or value == "":
        return DEFAULT_SCOPE
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
                f"DAILYPAY_SCOPE holds a non-string item {_echo(item, 40)} ({source})",
                variable="DAILYPAY_SCOPE",
                hint="give scopes as one space-separated string or a list of strings",
            )
        if item == "":
            continue
        if not _SCOPE_TOKEN.match(item) or "," in item:  # commas: a list written the wrong way
            raise SettingsError(
                f"DAILYPAY_SCOPE has a malformed scope {_echo(item, 40)} ({source})",
                variable="DAILYPAY_SCOPE",
                hint="separate scopes with single spaces, e.g. 'client:admin health:read'",
            )
        if item not in scopes:
            scopes.append(item)
    if not scopes:
        raise SettingsError(
            f"DAILYPAY_SCOPE is empty ({source})",
            variable="DAILYPAY_SCOPE",
            hint=f"request at least one scope, e.g. {' '.join(DEFAULT_SCOPE)!r}",
        )
    return tuple(scopes)


def _environment(name: str, value: Any, source: str) -> str | None:
    return None if value is None or value == "" else _choice(*ENVIRONMENTS)(name, value, source)


# -- the settings -----------------------------------------------------------------------------


def _setting(default: Any, help: str, parse: Parser) -> Any:
    return field(default=default, metadata={"help": help, "parse": parse})


@dataclass(frozen=True)
class Settings:
    """Everything a session needs, validated. Build it with `load_settings()`.

    `sources` maps each field to where its value came from: `default`, `argument`,
    `env:DAILYPAY_…`, `file:/path/.env` or `sandbox`. It never holds a secret's value.
    """

    environment: Environment = _setting(
        "sandbox", "sandbox | uat | production (sandbox when no credentials are set)", _environment
    )
    client_id: str = _setting("", "OAuth client id issued by DailyPay", _text)
    client_secret: Secret = _setting(Secret(""), "OAuth client secret issued by DailyPay", _secret)
    scope: tuple[str, ...] = _setting(
        DEFAULT_SCOPE, "space-separated scopes, e.g. 'client:admin client:lookup health:read'", _scopes
    )
    token_url: str | None = _setting(None, "override the environment's token endpoint", _url)
    api_url: str | None = _setting(None, "override the environment's API base (paths carry /rest)", _url)
    payments_url: str | None = _setting(
        None, "base of the card tokenization host (POST /cards/generic); no default for UAT", _url
    )
    api_version: int = _setting(3, "DailyPay-API-Version header value", _number(int, 1, 1_000))
    timeout: float = _setting(
        10.0, "seconds one network step (connect, send, each read) may take", _number(float, 0.001, 86_400)
    )
    deadline: float = _setting(
        30.0,
        "seconds a whole call may take: connect, body, retries and the token it waits for",
        _number(float, 0.001, 86_400),
    )
    max_response_bytes: int = _setting(
        64 * 1024 * 1024,
        "largest response body accepted, counted after decompression",
        _number(int, 1024, 2**40),
    )
    token_auth_method: str = _setting(
        "client_secret_post", "client_secret_post | client_secret_basic", _choice(*_AUTH_METHODS)
    )
    allow_writes: bool = _setting(False, "allow write operations against production", _flag)
    token_skew: float = _setting(
        60.0,
        "refresh a cached token this many seconds before it expires (at most a quarter of its lifetime)",
        _number(float, 0, 31_536_000),
    )
    default_token_ttl: float = _setting(
        300.0, "seconds to cache a token that arrives without expires_in", _number(float, 1, 31_536_000)
    )
    retry_attempts: int = _setting(5, "attempts for retryable failures (1 = no retry)", _number(int, 1, 100))
    retry_timeout: float = _setting(30.0, "total seconds to keep retrying", _number(float, 0, 86_400))
    timings_buffer: int = _setting(
        1_000_000, "how many timing rows a session keeps", _number(int, 1, 10_000_000)
    )
    validate: bool | Literal["strict"] = _setting(
        False,
        "check requests and answers against the OpenAPI document: true records violations, "
        "strict raises ContractError",
        _validate,
    )
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
        overrides = Redacted(overrides)  # first: its repr masks the secret once it is known
        overrides = _arguments(overrides)
        raw = Redacted({name: (getattr(self, name), self.sources.get(name, "default")) for name in FIELDS})
        if "environment" in overrides and "token_url" not in overrides:
            # A new environment brings its own endpoints unless they are given too.
            kept = (None, "default", "sandbox")
            raw.update((url, (None, "default")) for url in _URLS if self.sources.get(url) in kept)
        elif "api_url" in overrides and self.sources.get("payments_url") in (None, "default", "sandbox"):
            raw["payments_url"] = (None, "default")  # derived from the old API URL: derive it anew
        raw.update((name, (value, "argument")) for name, value in overrides.items())
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


#: Every setting: name (lower-case, without the prefix) -> its dataclass field (default, help, parser).
FIELDS: dict[str, dataclasses.Field[Any]] = {
    f.name: f for f in dataclasses.fields(Settings) if "parse" in f.metadata
}


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
    # No value read here sits in a plain local (no loop variable, no dict with a plain repr):
    # a settings error under `%xmode Verbose` shows this frame's locals.
    overrides = Redacted(overrides)  # first: its repr masks the secret once it is known
    overrides = _arguments(overrides)
    raw: dict[str, tuple[Any, str]] = Redacted(dict.fromkeys(FIELDS, (None, "default")))
    path = _find_env_file(env_file)
    if path is not None:
        file_values = Redacted(dotenv_values(path))
        _warn_unknown(file_values, f"in {path}")
        raw.update(_known(file_values, lambda key: f"file:{path}"))
    _warn_unknown(os.environ, "in the environment")
    raw.update(_known(os.environ, lambda key: f"env:{key}"))
    raw.update((name, (value, "argument")) for name, value in overrides.items())
    return _build(raw, env_file=str(path) if path else None)


def _arguments(overrides: Redacted) -> Redacted:
    """Keyword arguments, their client secret known to the redactor before any check can fail."""
    secret = overrides.get("client_secret")
    REDACTOR.add(secret if isinstance(secret, (Secret, str)) else None)
    REDACTOR.add(secret.strip() if isinstance(secret, str) else None)
    return Redacted(_check_names(overrides))


def _known(values: Mapping[str, str | None], source: Callable[[str], str]) -> dict[str, tuple[Any, str]]:
    """The DAILYPAY_* settings among `values`, by field name, with where each came from."""
    found = {}
    for key, value in values.items():
        name = _field_name(key)
        if name is not None and value is not None:
            found[name] = (value, source(key))
            if name == "client_secret":  # known to the redactor before any check can fail
                REDACTOR.add(value)
                REDACTOR.add(value.strip())
    return found


def _check_names(overrides: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(overrides) - set(FIELDS))
    if unknown:
        near = difflib.get_close_matches(unknown[0], FIELDS, n=1)
        raise SettingsError(
            f"unknown setting {', '.join(map(repr, unknown))}"
            + (f" (did you mean {near[0]!r}?)" if near else ""),
            hint=f"valid names: {', '.join(FIELDS)}",
        )
    return dict(overrides)


def _field_name(key: str) -> str | None:
    if not key.startswith(PREFIX):
        return None
    name = key[len(PREFIX) :].lower()
    return name if name in FIELDS else None


def _warn_unknown(values: Mapping[str, Any], where: str) -> None:
    """A misspelt DAILYPAY_* name would be ignored without a word: say so, with the closest name."""
    squeezed = {name.replace("_", ""): name for name in FIELDS}
    for key in values:
        if key.startswith(PREFIX) and _field_name(key) is None:
            typed = key[len(PREFIX) :].lower().replace("_", "")
            near = difflib.get_close_matches(typed, squeezed, n=1, cutoff=0.75)
            warnings.warn(
                f"{key[:60]} {where} is not a dailypay_nb setting and is ignored"
                + (f"; did you mean {_var(squeezed[near[0]])}?" if near else " (see .env.example)"),
                UserWarning,
                stacklevel=4,
            )


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


def _build(raw: Mapping[str, tuple[Any, str]], *, env_file: str | None) -> Settings:
    sources = {name: src for name, (_, src) in raw.items()}
    secret = _secret(
        "client_secret", _wrapped("client_secret", raw["client_secret"][0]), sources["client_secret"]
    )
    REDACTOR.add(secret)  # from here on, every echo masks it
    _check_secret(secret, raw, sources)  # before any other value is parsed into a local
    _check_userinfo(raw, sources)
    client_id = _text("client_id", raw["client_id"][0] or "", sources["client_id"])
    REDACTOR.add(secret, client_id=client_id)  # and the client_secret_basic pair
    values: dict[str, Any] = Redacted(client_secret=secret, client_id=client_id)
    for name, spec in FIELDS.items():
        if name in values:
            continue
        value, source = raw[name]
        if value is None and source == "default":
            values[name] = None if name == "environment" else spec.default  # unset: decided below
        else:
            values[name] = spec.metadata["parse"](name, value, source)

    if values["environment"] is None:
        if client_id or secret:
            raise SettingsError(
                "credentials are set but DAILYPAY_ENVIRONMENT is not",
                variable="DAILYPAY_ENVIRONMENT",
                hint="set DAILYPAY_ENVIRONMENT to uat or production (or sandbox for a local sandbox)",
            )
        values["environment"] = "sandbox"
    environment = values["environment"]
    defaults = ENVIRONMENTS[environment]
    for url in _URLS:
        if values[url] is None and defaults[url]:
            values[url], sources[url] = defaults[url], "default"
    if environment == "sandbox" and values["payments_url"] is None and values["api_url"]:
        # A sandbox serves the card tokenizer itself, under /v2 as the payments host does.
        values["payments_url"], sources["payments_url"] = values["api_url"] + "/v2", "default"
    if environment == "sandbox" and (values["token_url"] is None) != (values["api_url"] is None):
        raise SettingsError(
            "DAILYPAY_TOKEN_URL and DAILYPAY_API_URL must be set together for an external sandbox",
            variable="DAILYPAY_TOKEN_URL" if values["token_url"] is None else "DAILYPAY_API_URL",
            hint="set both (as printed by `dailypay-nb sandbox`), or neither for the embedded one",
        )
    if environment != "sandbox" or values["token_url"] is not None:
        for name, value in (("client_id", client_id), ("client_secret", secret)):
            if not value:
                raise SettingsError(
                    f"{_var(name)} is missing or empty for environment {environment!r}",
                    variable=_var(name),
                    hint=f"add {_var(name)}=… to your .env (see .env.example)",
                )
    _warn_undocumented(values["scope"])
    return Settings(**values, env_file=env_file, sources=dict(sources))


def _check_secret(secret: Secret, raw: Mapping[str, tuple[Any, str]], sources: Mapping[str, str]) -> None:
    """A client secret pasted into another setting is refused (and shown masked)."""
    name = _holder(secret, raw)
    if name is not None:
        raise SettingsError(
            f"{_var(name)} holds the client secret ({MASK}) ({sources[name]})",
            variable=_var(name),
            hint=f"the secret belongs in DAILYPAY_CLIENT_SECRET only; fix {_var(name)}",
        )


def _holder(secret: Secret, raw: Mapping[str, tuple[Any, str]]) -> str | None:
    """The setting that holds the client secret, if any (the values live only in this frame)."""
    plain = secret.reveal()
    if not plain:
        return None
    for name, (value, _) in raw.items():
        if name == "client_secret" or value is None or isinstance(value, (bool, int, float)):
            continue
        text = " ".join(map(str, value)) if isinstance(value, (list, tuple, set, frozenset)) else str(value)
        if text == plain or (len(plain) >= 8 and plain in text):
            return name
    return None


def _check_userinfo(raw: Mapping[str, tuple[Any, str]], sources: Mapping[str, str]) -> None:
    """A URL setting with `user:password@` is refused before it is parsed (never echoed)."""
    name = next((n for n, (value, _) in raw.items() if n.endswith("_url") and _has_userinfo(value)), None)
    if name is not None:
        raise SettingsError(
            f"{_var(name)} must not carry credentials in the URL (user:password@) ({sources[name]})",
            variable=_var(name),
            hint="put the client id and secret in DAILYPAY_CLIENT_ID / DAILYPAY_CLIENT_SECRET",
        )


def _has_userinfo(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return "@" in urlsplit(value.strip()).netloc
    except ValueError:
        return "@" in value


def _warn_undocumented(scopes: tuple[str, ...]) -> None:
    unknown = [s for s in scopes if s not in KNOWN_SCOPES]
    if unknown:
        shown = [_echo(u, 40) for u in unknown[:5]]
        if len(unknown) > 5:
            shown.append(f"and {len(unknown) - 5} more")
        warnings.warn(
            f"DAILYPAY_SCOPE has scopes DailyPay does not document: {', '.join(shown)}; "
            f"documented client scopes are {', '.join(CLIENT_SCOPES)}",
            UserWarning,
            stacklevel=5,
        )


def with_sandbox(settings: Settings, *, url: str, token_url: str, client_id: str, secret: str) -> Settings:
    """Point sandbox settings at a running sandbox, filling in its demo credentials if none are set."""
    sources = dict(settings.sources)
    changes: dict[str, Any] = {"api_url": url, "token_url": token_url}
    sources["api_url"] = sources["token_url"] = "sandbox"
    if sources.get("payments_url") in (None, "default", "sandbox"):
        changes["payments_url"], sources["payments_url"] = url + "/v2", "sandbox"
    if not settings.client_id:
        changes["client_id"], sources["client_id"] = client_id, "sandbox"
        changes["client_secret"], sources["client_secret"] = Secret(secret, label="client_secret"), "sandbox"
        REDACTOR.add(secret, client_id=client_id)
    return dataclasses.replace(settings, sources=sources, **changes)
