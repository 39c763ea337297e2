"""What the token form computes, without a widget: settings from the fields, where each
credential came from, what to say about a failure, and the notes beside the fields.

Strictly private. Imports no ipywidgets, so every function here is tested directly; the HTML
is made in `_render`, the per-environment history kept in `_history`, the CSS is `_style`.
"""

from __future__ import annotations

import dataclasses
import html
import secrets
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._config import CLIENT_SCOPES, ENVIRONMENTS, KNOWN_SCOPES, Settings, load_settings
from .._exceptions import ApiError, DailyPayError, SettingsError, TokenError, TokenTransportError
from .._redact import REDACTOR
from .._secret import Secret
from ._style import WARN

__all__ = [
    "ENVIRONMENT_CHOICES",
    "ErrorView",
    "FieldValues",
    "Origins",
    "base_settings",
    "environment_name",
    "environment_note",
    "error_view",
    "form_settings",
    "initial_scopes",
    "origins",
    "redaction_values",
    "requested_scopes",
    "scope_note",
    "secret_note",
    "secret_placeholder",
    "source_text",
]

#: (label, environment) pairs of the environment selector, in display order.
ENVIRONMENT_CHOICES: tuple[tuple[str, str], ...] = (
    ("Sandbox (local)", "sandbox"),
    ("UAT", "uat"),
    ("Production", "production"),
)
_NAMES = {"sandbox": "the sandbox", "uat": "UAT", "production": "Production"}


def environment_name(environment: str) -> str:
    """`uat` → `UAT`, `sandbox` → `the sandbox`: for sentences."""
    return _NAMES.get(environment, environment)


# -- settings from the fields ----------------------------------------------------------------


@dataclass(frozen=True)
class FieldValues:
    """A snapshot of the form's fields, taken when the user submits."""

    environment: str
    client_id: str
    typed_secret: Secret | None
    scopes: tuple[str, ...]


def initial_scopes(scope: Sequence[str]) -> tuple[list[str], str]:
    """Split configured scopes into the documented ones (checkboxes) and free text for the rest."""
    checked = [s for s in CLIENT_SCOPES if s in scope]
    extra = " ".join(s for s in scope if s not in CLIENT_SCOPES)
    return checked, extra


def requested_scopes(checked: Iterable[str], extra: str) -> tuple[str, ...]:
    """Checked scopes in documented order, then the free-text ones; duplicates dropped."""
    chosen = set(checked)
    ordered = [s for s in CLIENT_SCOPES if s in chosen]
    for item in extra.replace(",", " ").split():
        if item not in ordered:
            ordered.append(item)
    return tuple(ordered)


_MISSING = {"DAILYPAY_CLIENT_ID": "client_id", "DAILYPAY_CLIENT_SECRET": "client_secret"}


def base_settings(settings: Settings | None, overrides: Mapping[str, Any]) -> Settings:
    """The form's starting settings: like `load_settings(**overrides)` (or `settings.replace`),
    except that a missing client id or secret is allowed, because the form can ask for them.

    Missing values come back empty, with source `missing`; a submit fails with a hint to type
    them unless they are typed.
    """
    stand_ins: dict[str, str] = {}
    while True:
        try:
            if settings is None:
                loaded = load_settings(**overrides, **stand_ins)
            else:
                loaded = settings.replace(**overrides, **stand_ins) if overrides or stand_ins else settings
            break
        except SettingsError as exc:
            name = _MISSING.get(exc.variable)
            if name is None or name in stand_ins or name in overrides:
                raise
            # passes validation; replaced by an empty value below. Random, because every client
            # secret is remembered by the redactor: a word would be masked in every text.
            stand_ins[name] = f"stand-in-{secrets.token_hex(12)}"
    if not stand_ins:
        return loaded
    sources = {**loaded.sources, **dict.fromkeys(stand_ins, "missing")}
    empty: dict[str, Any] = {"client_id": "", "client_secret": Secret("")}
    return dataclasses.replace(loaded, sources=sources, **{k: empty[k] for k in stand_ins})


def _embedded(base: Settings, environment: str) -> bool:
    return environment == "sandbox" and (environment != base.environment or base.uses_embedded_sandbox)


def form_settings(base: Settings, fields: FieldValues, *, demo_client_id: str) -> Settings:
    """The settings a submit uses: `base` changed by what the form says.

    - Another environment than `base`'s brings that environment's own endpoints, and the
      secret from `base` is not carried over to it.
    - The secret is the typed one, else `base`'s (for `base`'s environment only).
    - The embedded sandbox with no secret uses the sandbox's demo client; a typed secret with
      no client id goes with the demo client id.

    Raises `SettingsError` with a hint that points at the form.
    """
    env = fields.environment
    same_env = env == base.environment
    overrides: dict[str, Any] = {"scope": fields.scopes}
    if not fields.scopes:
        raise SettingsError(
            "no scope selected",
            variable="DAILYPAY_SCOPE",
            hint="tick at least one scope, or type one in the free-text field",
        )
    if not same_env:
        overrides |= {"environment": env, "token_url": None, "api_url": None}
    secret = fields.typed_secret or (base.client_secret if same_env else Secret(""))
    client_id = fields.client_id.strip()
    embedded = _embedded(base, env)
    if embedded and not secret:
        client_id = ""  # connect() fills in the sandbox's demo client
    elif embedded and not client_id:
        client_id = demo_client_id
    overrides |= {"client_id": client_id, "client_secret": secret}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # undocumented scopes: see scope_note()
            return base.replace(**overrides)
    except SettingsError as exc:
        if exc.variable in ("DAILYPAY_CLIENT_ID", "DAILYPAY_CLIENT_SECRET"):
            what = "client id" if exc.variable.endswith("_ID") else "client secret"
            exc.hint = f"type the {what} in the form, or set {exc.variable} in your .env"
        raise


def scope_note(scopes: Iterable[str]) -> str:
    """A warning line for scopes DailyPay does not document ('' when all are known)."""
    unknown = [s for s in scopes if s not in KNOWN_SCOPES]
    if not unknown:
        return ""
    return f"not a documented scope: {', '.join(unknown)}"


def source_text(source: str) -> str:
    """Where a setting came from, in words: `file:/x/.env` → `.env (/x/.env)`."""
    if source.startswith("file:"):
        return f".env ({source[5:]})"
    if source.startswith("env:"):
        return f"the {source[4:]} environment variable"
    return {"argument": "the settings given to the form", "sandbox": "the sandbox"}.get(source, source)


def _configured_secret(base: Settings, environment: str) -> Secret | None:
    """The secret the form falls back to without a typed one (None: the sandbox's demo one or none)."""
    if environment == base.environment and base.client_secret:
        return base.client_secret
    return None


def secret_placeholder(base: Settings, environment: str, typed: Secret | None) -> str:
    """What the (always empty) secret field says: short, so it fits a narrow field."""
    if typed:
        return f"typed secret ({typed.fingerprint})"
    if _configured_secret(base, environment) is not None:
        source = base.sources.get("client_secret", "default")
        return "from .env" if source.startswith("file:") else f"from {source_text(source)}"
    if _embedded(base, environment):
        return "not needed: demo secret"
    return f"{environment.upper()} client secret"


def secret_note(base: Settings, environment: str, typed: Secret | None) -> str:
    """The line under the secret field: which secret a submit uses and how to change it."""
    if typed:
        fallback = _fallback_secret(base, environment)
        return "the typed secret stays in the kernel; type again to replace it" + (
            f", or forget it to use {fallback}" if fallback else ""
        )
    if _configured_secret(base, environment) is not None:
        return f"from {source_text(base.sources.get('client_secret', 'default'))}; type to override"
    if _embedded(base, environment):
        return "the sandbox's demo secret is used unless you type one"
    return f"type it, or set DAILYPAY_CLIENT_SECRET in .env with DAILYPAY_ENVIRONMENT={environment}"


def environment_note(base: Settings, environment: str) -> str:
    """One line under the environment selector: where requests go."""
    if environment == "sandbox":
        if environment == base.environment and not base.uses_embedded_sandbox:
            return f"sandbox at {html.escape(base.token_url or '')}"
        return "a local sandbox in this kernel, demo data, works offline"
    url = base.token_url if environment == base.environment else None
    if url is None:
        url = ENVIRONMENTS.get(environment, {}).get("token_url")
    note = f"token from {html.escape(url or '?')}"
    if environment == "production":
        note += f" — <span style='color:{WARN}'>real credentials, real data</span>"
    return note


# -- where the credentials came from ---------------------------------------------------------


@dataclass(frozen=True)
class Origins:
    """Where a submit's client id and secret came from, as phrases for hints."""

    client_id: str
    client_secret: str
    typed_secret: bool = False
    typed_client_id: bool = False
    #: What "forget typed secret" falls back to ('' when nothing would).
    fallback_secret: str = ""
    #: The .env file both came from, when they did ('' otherwise).
    env_file: str = ""


def _origin(variable: str, source: str) -> str:
    if source.startswith("file:"):
        return f"{variable} in .env ({source[5:]})"
    if source.startswith("env:"):
        return f"the {source[4:]} environment variable"
    if source == "argument":
        return f"the {variable.removeprefix('DAILYPAY_').lower()} given to dp.form()"
    return ""


def _fallback_secret(base: Settings, environment: str) -> str:
    if _configured_secret(base, environment) is not None:
        return (
            _origin("DAILYPAY_CLIENT_SECRET", base.sources.get("client_secret", ""))
            or "the configured secret"
        )
    if _embedded(base, environment):
        return "the sandbox's demo secret"
    return ""


def origins(base: Settings, fields: FieldValues, *, demo_client_id: str) -> Origins:
    """Where the client id and secret of a submit with `fields` come from (`settings.sources`)."""
    env = fields.environment
    typed_id = fields.client_id.strip()
    embedded = _embedded(base, env)
    if env == base.environment and base.client_id and typed_id == base.client_id:
        id_from = _origin("DAILYPAY_CLIENT_ID", base.sources.get("client_id", "")) or "the client id"
        typed_client_id = False
    elif embedded and typed_id in ("", demo_client_id):
        id_from, typed_client_id = "the sandbox's demo client id", False
    else:
        id_from, typed_client_id = "the client id you typed", True
    if fields.typed_secret:
        secret_from = f"the secret you typed ({fields.typed_secret.fingerprint})"
    elif _configured_secret(base, env) is not None:
        secret_from = _fallback_secret(base, env)
    elif embedded:
        secret_from = "the sandbox's demo secret"
    else:
        secret_from = "no secret"
    id_source, secret_source = base.sources.get("client_id", ""), base.sources.get("client_secret", "")
    same_file = (
        not typed_client_id
        and not fields.typed_secret
        and env == base.environment
        and id_source.startswith("file:")
        and id_source == secret_source
    )
    return Origins(
        client_id=id_from,
        client_secret=secret_from,
        typed_secret=bool(fields.typed_secret),
        typed_client_id=typed_client_id,
        fallback_secret=_fallback_secret(base, env),
        env_file=id_source[5:] if same_file else "",
    )


def redaction_values(client_id: str, *values: Secret | None) -> list[str]:
    """Make sure the process's redactor knows the secrets in play (with the client id, for the
    Basic pair): it masks every wire form of them in whatever `redact()` is given afterwards.

    Returns nothing to pass on: no plain secret travels through the form's functions.
    """
    for value in values:
        REDACTOR.add(value, client_id=client_id)
    return []


# -- errors ----------------------------------------------------------------------------------

_OAUTH_HEADLINES = {
    "invalid_client": "Wrong client id or secret",
    "invalid_scope": "Scope refused for this client",
    "unauthorized_client": "Client may not use client credentials",
    "unsupported_grant_type": "Client credentials not accepted here",
    "invalid_request": "Token request rejected as malformed",
    "invalid_grant": "Grant refused",
    "temporarily_unavailable": "Token endpoint temporarily unavailable",
}
_FIELD_OF_VARIABLE = {
    "DAILYPAY_CLIENT_ID": "client_id",
    "DAILYPAY_CLIENT_SECRET": "client_secret",
    "DAILYPAY_SCOPE": "scopes",
}


@dataclass(frozen=True)
class ErrorView:
    """A failure as the form shows it: one headline, what the server said, a hint, the request id,
    and the fields to outline (`client_id`, `client_secret`, `scopes`)."""

    headline: str
    said: str = ""
    hint: str = ""
    request_id: str = ""
    fields: frozenset[str] = frozenset()


def _code_and_status(code: str | None, status: int | None) -> str:
    return ", ".join(p for p in (code or "", f"HTTP {status}" if status else "") if p)


def _invalid_client_hint(o: Origins, environment: str) -> str:
    where = environment_name(environment)
    if o.env_file:
        return (
            f"check DAILYPAY_CLIENT_ID and DAILYPAY_CLIENT_SECRET in .env ({o.env_file}) for {where}, "
            "or type the secret in the form"
        )
    hint = f"check {o.client_id} and {o.client_secret} for {where}"
    if o.typed_secret:
        hint += ": type the secret again"
        if o.fallback_secret:
            hint += f", or forget it to use {o.fallback_secret}"
    elif o.client_secret != "the sandbox's demo secret":
        hint += ", or type the secret in the form"
    return hint


def error_view(exc: BaseException, o: Origins | None = None, environment: str = "") -> ErrorView:
    """What to say about `exc` (nothing redacted yet: `error_html` does that)."""
    if isinstance(exc, TokenTransportError):
        return ErrorView(exc.message, hint=exc.hint)
    if isinstance(exc, TokenError):
        code = exc.error or ""
        if code:
            headline = f"{_OAUTH_HEADLINES.get(code, 'Token request refused')} — "
            headline += _code_and_status(code, exc.status)
        else:
            headline = exc.message
        hint, outline = exc.hint, frozenset[str]()
        if code == "invalid_client":
            outline = frozenset({"client_id", "client_secret"})
            if o is not None:
                hint = _invalid_client_hint(o, environment)
        elif code == "invalid_scope":
            outline = frozenset({"scopes"})
            hint = "untick the scopes this client may not request, then Get token again"
        return ErrorView(headline, exc.description or "", hint, exc.request_id or "", outline)
    if isinstance(exc, ApiError):
        if exc.status is None:
            return ErrorView(exc.message, hint=exc.hint, request_id=exc.request_id or "")
        what = " ".join(p for p in (exc.method, _path(exc.url)) if p) or "the request"
        hint = exc.hint
        if exc.status == 403 and not hint:
            hint = "the token may lack a scope this call needs: tick it, then Get token again"
        return ErrorView(
            f"{what} refused — {_code_and_status(exc.code, exc.status)}",
            exc.detail or "",
            hint,
            exc.request_id or "",
        )
    if isinstance(exc, SettingsError):
        named = _FIELD_OF_VARIABLE.get(exc.variable)
        return ErrorView(exc.message, hint=exc.hint, fields=frozenset({named} if named else ()))
    if isinstance(exc, DailyPayError):
        return ErrorView(exc.message, hint=exc.hint)
    return ErrorView(f"unexpected {type(exc).__name__}: {exc}", hint="the exception is in form.error")


def _path(url: str | None) -> str:
    if not url:
        return ""
    rest = url.split("://", 1)[-1]
    return "/" + rest.split("/", 1)[1].split("?", 1)[0] if "/" in rest else ""
