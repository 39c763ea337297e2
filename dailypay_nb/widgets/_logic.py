"""What the token form computes, without a widget: settings from the fields, where each credential
came from, status and error HTML, per-environment history, and the form's CSS.

Strictly private. Imports no ipywidgets, so every function here is tested directly.
Colours come only from JupyterLab's CSS variables (`--jp-*`), so light and dark themes both
read well; where a variable is missing the text simply keeps its normal colour.

Every status text is written to be safe to freeze: a saved notebook or a dead kernel keeps the
last synced HTML, so it states absolute times ("expires 14:03:12 UTC"), never "in 59:55";
the live countdown is a separate element that the CSS hides once the kernel is gone.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus

from .._config import CLIENT_SCOPES, ENVIRONMENTS, KNOWN_SCOPES, Settings, load_settings
from .._exceptions import ApiError, DailyPayError, SettingsError, TokenError, TokenTransportError, redact
from .._secret import Secret

if TYPE_CHECKING:
    import pandas as pd

    from .._auth import Token

__all__ = [
    "ENVIRONMENT_CHOICES",
    "STYLE",
    "EnvHistory",
    "ErrorView",
    "FieldValues",
    "Origins",
    "base_settings",
    "busy_html",
    "clock_html",
    "clock_text",
    "environment_name",
    "environment_note",
    "error_html",
    "error_view",
    "form_settings",
    "frames_html",
    "health_html",
    "initial_scopes",
    "merge_timings",
    "merge_tokens",
    "origins",
    "phases_text",
    "redaction_values",
    "requested_scopes",
    "scope_html",
    "scope_note",
    "secret_note",
    "secret_placeholder",
    "source_text",
    "status_html",
    "success_html",
    "utc_time",
]

#: (label, environment) pairs of the environment selector, in display order.
ENVIRONMENT_CHOICES: tuple[tuple[str, str], ...] = (
    ("Sandbox (local)", "sandbox"),
    ("UAT", "uat"),
    ("Production", "production"),
)
_NAMES = {"sandbox": "the sandbox", "uat": "UAT", "production": "Production"}

OK = "var(--jp-success-color1)"
ERROR = "var(--jp-error-color1)"
WARN = "var(--jp-warn-color1)"
MUTED = "var(--jp-ui-font-color2)"
TEXT = "var(--jp-ui-font-color1)"
BORDER = "var(--jp-border-color2)"

#: Columns shown in the form (the full frames are `form.tokens` and `form.timings`), and the
#: ones a narrow form leaves out.
TOKEN_FRAME_COLUMNS = ("client_id", "granted_scope", "token", "expires_at", "elapsed_ms")
TIMING_FRAME_COLUMNS = (
    "seq",
    "kind",
    "method",
    "endpoint",
    "status",
    "connect_ms",
    "send_ms",
    "wait_ms",
    "download_ms",
    "total_ms",
    "error",
)
NARROW_HIDDEN = frozenset(
    {"client_id", "granted_scope", "method", "connect_ms", "send_ms", "wait_ms", "download_ms"}
)
_PHASES = (("connect", "connect_ms"), ("tls", "tls_ms"), ("send", "send_ms"), ("wait", "wait_ms"))


def environment_name(environment: str) -> str:
    """`uat` → `UAT`, `sandbox` → `the sandbox`: for sentences."""
    return _NAMES.get(environment, environment)


def utc_time(moment: datetime) -> str:
    """`14:03:12 UTC`: an absolute time that stays true in a saved notebook."""
    return moment.astimezone(timezone.utc).strftime("%H:%M:%S UTC")


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
            stand_ins[name] = "missing"  # passes validation; replaced by an empty value below
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


def redaction_values(client_id: str, *secrets: Secret | None) -> list[str]:
    """The secrets in play and the encodings a server might echo them in (form body, Basic auth)."""
    values: list[str] = []
    for secret in secrets:
        if not secret:
            continue
        raw = secret.reveal()
        values += [raw, quote_plus(raw), quote(raw, safe="")]
        for user, password in ((client_id, raw), (quote_plus(client_id), quote_plus(raw))):
            values.append(base64.b64encode(f"{user}:{password}".encode()).decode("ascii"))
    # longest first, so a value is masked whole before a shorter one inside it
    return sorted({v for v in values if len(v) >= 4}, key=len, reverse=True)


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


def error_html(
    exc: BaseException,
    *secrets: Secret | None,
    origins: Origins | None = None,
    environment: str = "",
    client_id: str = "",
) -> str:
    """A failure as one headline, the server's words (muted), one hint and the request id (muted).

    Never a traceback. Every text goes through `redact()` with the secrets in play and the
    encodings a server might echo them in: whatever the server sent is shown redacted.
    """
    view = error_view(exc, origins, environment)
    values = redaction_values(client_id, *secrets)

    def clean(text: str, limit: int = 300) -> str:
        return html.escape(redact(text, *values, limit=limit))

    body = ""
    if view.said:
        body += f"<div class='dpnb-said' style='color:{MUTED}'>server: {clean(view.said)}</div>"
    if view.hint:
        body += f"<div class='dpnb-hint'>→ {clean(view.hint)}</div>"
    if view.request_id:
        body += (
            f"<div class='dpnb-request-id' style='color:{MUTED};font-size:85%'>"
            f"request id {clean(view.request_id, 100)}</div>"
        )
    return _box("error", ERROR, "✖ " + clean(view.headline), body)


# -- status ----------------------------------------------------------------------------------


def _fmt_ms(value: Any) -> str | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if math.isnan(number):
        return None
    return f"{number:.1f} ms"


def phases_text(row: Mapping[str, Any] | None) -> str:
    """One exchange's phases: `POST /oauth2/token 200 · connect 0.4 ms · ... · total 5.2 ms`."""
    if not row:
        return "no timing recorded"
    parts = [" ".join(str(row[k]) for k in ("method", "endpoint", "status") if row.get(k) not in (None, ""))]
    for label, column in (*_PHASES, ("download", "download_ms"), ("total", "total_ms")):
        shown = _fmt_ms(row.get(column))
        if shown is not None:
            parts.append(f"{label} {shown}")
    reused = row.get("reused_connection")
    if reused is True:
        parts.append("reused connection")
    elif reused is False:
        parts.append("new connection")
    return " · ".join(p for p in parts if p)


def _chip(text: str, style: str = "") -> str:
    return (
        f"<span style='border:1px solid {BORDER};border-radius:3px;padding:0 4px;"
        f"margin-right:4px;white-space:nowrap;display:inline-block;{style}'>{html.escape(text)}</span>"
    )


def scope_html(requested: Sequence[str], granted: Sequence[str]) -> str:
    """Requested scopes as chips: missing ones struck through in the error colour, extra ones
    (granted but not asked for) in the warning colour, and a one-line verdict."""
    granted_set, requested_set = set(granted), set(requested)
    chips = [
        _chip(s) if s in granted_set else _chip(s, f"color:{ERROR};text-decoration:line-through")
        for s in requested
    ]
    extra = [s for s in granted if s not in requested_set]
    chips += [_chip(s, f"color:{WARN}") for s in extra]
    missing = [s for s in requested if s not in granted_set]
    if not missing and not extra:
        verdict = f"<span style='color:{MUTED}'>granted as requested</span>"
    else:
        bits = []
        if missing:
            bits.append(f"not granted: {html.escape(' '.join(missing))}")
        if extra:
            bits.append(f"granted without asking: {html.escape(' '.join(extra))}")
        verdict = f"<span class='dpnb-scope-differs' style='color:{WARN}'>{'; '.join(bits)}</span>"
    return "".join(chips) + " " + verdict


def _rows(rows: Iterable[tuple[str, str]]) -> str:
    cells = "".join(
        f"<tr><th style='text-align:left;font-weight:normal;color:{MUTED};padding:1px 12px 1px 0;"
        f"vertical-align:top;white-space:nowrap;overflow-wrap:normal'>{k}</th>"
        f"<td style='text-align:left;padding:1px 0'>{v}</td></tr>"
        for k, v in rows
    )
    return f"<table class='dpnb-details' style='border-collapse:collapse;margin-top:2px'>{cells}</table>"


def _box(kind: str, colour: str, headline: str, body: str = "") -> str:
    return (
        f"<div class='dpnb-{kind}' style='border-left:3px solid {colour};padding:2px 8px;"
        f"margin-top:4px;color:{TEXT}'>"
        f"<div class='dpnb-headline' style='color:{colour};font-weight:600'>{headline}</div>{body}</div>"
    )


def _at(moment: datetime | None) -> str:
    return (
        ""
        if moment is None
        else f" <span class='dpnb-at' style='color:{MUTED};font-weight:normal'>· {utc_time(moment)}</span>"
    )


def success_html(
    token: Token,
    timing: Mapping[str, Any] | None,
    *,
    reused: bool,
    token_url: str | None = None,
    note: str = "",
    at: datetime | None = None,
) -> str:
    """The token's details: masked token, scope comparison, absolute expiry and the request's
    phases; `at` (when this was shown) keeps a frozen copy honest."""
    if reused:
        headline = "✔ Cached token reused (no request made)"
    else:
        headline = f"✔ Token obtained from {html.escape(token.environment or 'the token endpoint')}"
        shown = _fmt_ms(token.elapsed_ms)
        if shown:
            headline += f" in {shown}"
    where = html.escape(token.client_id)
    if token_url:
        where += f" <span style='color:{MUTED}'>at {html.escape(token_url)}</span>"
    expires = token.expires_at
    rows = [
        (
            "token",
            f"<code class='dpnb-token'>{html.escape(token.access_token.masked)}</code> "
            f"{html.escape(token.token_type)}",
        ),
        ("client", where),
        ("scope", scope_html(token.requested_scope, token.granted_scope)),
        (
            "expires",
            f"<span class='dpnb-expires' title='{html.escape(expires.isoformat(timespec='seconds'))}'>"
            f"{utc_time(expires)}</span>",
        ),
        ("timing", html.escape(("last token request: " if reused else "") + phases_text(timing))),
    ]
    if note:
        rows.append(("note", f"<span style='color:{WARN}'>{html.escape(note)}</span>"))
    return _box("ok", OK, headline + _at(at), _rows(rows))


def health_html(status: int, body: str, timing: Mapping[str, Any] | None, at: datetime | None = None) -> str:
    """The result of `Test token`, shown under the token's details."""
    rows = [("answer", f"<code>{html.escape(body)}</code>"), ("timing", html.escape(phases_text(timing)))]
    return _box(
        "ok dpnb-tested", OK, f"✔ GET /rest/health answered {status}: the token works{_at(at)}", _rows(rows)
    )


def busy_html(what: str, environment: str) -> str:
    """The status while a request is in flight."""
    return _box("busy", MUTED, f"… {html.escape(what)} ({html.escape(environment_name(environment))})")


def status_html(environment: str, token_html: str, result_html: str) -> str:
    """The selected environment's status: its token's details, then the latest result under them."""
    if token_html or result_html:
        return token_html + result_html
    return (
        f"<div class='dpnb-empty' style='color:{MUTED};margin-top:4px'>"
        f"no token yet for {html.escape(environment_name(environment))}</div>"
    )


def clock_text(
    token: Token | None, busy_since: float | None, now_monotonic: float, now: float | None = None
) -> str:
    """The line that ticks every second: time spent waiting, or the token's countdown."""
    if busy_since is not None:
        return f"waiting {max(0.0, now_monotonic - busy_since):.0f} s"
    if token is None:
        return ""
    left = token.expires_at.timestamp() - (now if now is not None else datetime.now(timezone.utc).timestamp())
    if left <= 0:
        return "token expired: Get token fetches a new one"
    whole = int(left)
    hours, rest = divmod(whole, 3600)
    minutes, seconds = divmod(rest, 60)
    shown = f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
    return f"token expires in {shown}"


def clock_html(text: str) -> str:
    """`clock_text` as a live element (class `dpnb-live`: hidden once the kernel is gone), with a
    Font Awesome icon (loaded by the widget manager) in the muted colour."""
    if not text:
        return ""
    icon = "hourglass-half" if text.startswith("waiting") else "clock-o"
    colour = WARN if text.startswith("token expired") else MUTED
    return (
        f"<span class='dpnb-live' style='color:{colour}'>"
        f"<i class='fa fa-{icon}'></i> {html.escape(text)}</span>"
    )


# -- history ---------------------------------------------------------------------------------


@dataclass
class EnvHistory:
    """What the form remembers for one environment: never wiped by a new secret or a switch."""

    #: Every session this environment's submits used, oldest first; the last one is current.
    sessions: list[Any] = field(default_factory=list)
    #: The settings the current session was made for.
    key: Settings | None = None
    token: Token | None = None
    token_html: str = ""
    result_html: str = ""
    error: BaseException | None = None
    #: Fields outlined because the latest failure names them.
    invalid: frozenset[str] = frozenset()
    typed_secret: Secret | None = None
    #: What the client id field said when the user left this environment (None: never shown).
    client_id: str | None = None

    @property
    def session(self) -> Any:
        return self.sessions[-1] if self.sessions else None


def merge_tokens(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Token frames of several sessions as one, oldest first (same columns and dtypes)."""
    from .._frames import tokens_frame

    return _concat(frames) if frames else tokens_frame([])


def merge_timings(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Timing frames of several sessions as one: same columns in the same order, `seq`
    continuing from one session to the next (1, 2, 3 … across the environment's history)."""
    from .._frames import timings_frame

    if not frames:
        return timings_frame([])
    if len(frames) == 1:
        return frames[0]
    shifted, offset = [], 0
    for frame in frames:
        if not frame.empty:
            shifted.append(frame.assign(seq=frame["seq"] + offset))
            offset += int(frame["seq"].max())
    return _concat(shifted) if shifted else frames[0]


def _concat(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    import pandas as pd

    filled = [f for f in frames if not f.empty]
    if len(filled) <= 1:
        return filled[0] if filled else frames[0]
    out = pd.concat(filled, ignore_index=True)
    for name, dtype in filled[0].dtypes.items():
        if isinstance(dtype, pd.CategoricalDtype):
            out[name] = out[name].astype("category")  # differing categories fall back to object
    return out


# -- frames ----------------------------------------------------------------------------------


def _cell(value: Any, secrets: Sequence[str]) -> str:
    import pandas as pd

    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.1f}"
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%H:%M:%S")
    return html.escape(redact(str(value), *secrets, limit=120))


def _frame_table(
    frame: pd.DataFrame, columns: Sequence[str], last: int, empty: str, secrets: Sequence[str]
) -> str:
    if frame.empty:
        return f"<div class='dpnb-none' style='color:{MUTED}'>{html.escape(empty)}</div>"
    shown = [c for c in columns if c in frame.columns]
    rows = frame.loc[:, shown].tail(last)

    def cls(name: str) -> str:
        return f"dpnb-c-{name}" + (" dpnb-wide-only" if name in NARROW_HIDDEN else "")

    head = "".join(f"<th class='{cls(c)}'>{html.escape(c)}</th>" for c in shown)
    body = "".join(
        "<tr>"
        + "".join(f"<td class='{cls(c)}'>{_cell(v, secrets)}</td>" for c, v in zip(shown, row, strict=True))
        + "</tr>"
        for row in rows.itertuples(index=False, name=None)
    )
    return f"<table class='dpnb-table'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def frames_html(
    tokens: pd.DataFrame,
    timings: pd.DataFrame,
    environment: str = "",
    last: int = 8,
    secrets: Sequence[str] = (),
) -> str:
    """The selected environment's tokens (masked) and timings, last rows only, as small tables.

    A narrow form leaves out the columns in `NARROW_HIDDEN` (a container query in `STYLE`).
    """
    empty = f"none yet for {environment_name(environment)}" if environment else "none yet"
    more = f" <span style='color:{MUTED}'>(last {last} of {len(timings)})</span>"
    return (
        "<div class='dpnb-frames-box'>"
        f"<div class='dpnb-tokens'><b>Tokens</b> <code>form.tokens</code>"
        f"{_frame_table(tokens, TOKEN_FRAME_COLUMNS, last, empty, secrets)}</div>"
        f"<div class='dpnb-timings' style='margin-top:6px'><b>Timings</b> <code>form.timings</code>"
        f"{more if len(timings) > last else ''}"
        f"{_frame_table(timings, TIMING_FRAME_COLUMNS, last, empty, secrets)}</div></div>"
    )


#: The form's own CSS, scoped to `.dpnb-form` (theme variables only).
#:
#: `jupyter-widgets-disconnected` is the class ipywidgets puts on every view whose model lost
#: its kernel (a restart, or a notebook reopened from saved widget state). Its marker, a
#: `::before` icon, would become an extra flex or grid item in every box; the form hides it
#: and shows one note instead, greys the rest, and drops anything live (the countdown).
STYLE = f"""<style>
.dpnb-form {{ color: {TEXT}; }}
.dpnb-form .jupyter-widgets-disconnected::before,
.dpnb-form.jupyter-widgets-disconnected::before {{ content: none !important; display: none !important; }}
.dpnb-form .dpnb-offline {{ display: none; }}
.dpnb-form.jupyter-widgets-disconnected .dpnb-offline {{ display: block; border-left: 3px solid {WARN};
  padding: 2px 8px; margin: 4px 0; }}
.dpnb-form.jupyter-widgets-disconnected .dpnb-live,
.dpnb-form.jupyter-widgets-disconnected .dpnb-clock {{ display: none !important; }}
.dpnb-form.jupyter-widgets-disconnected .dpnb-row,
.dpnb-form.jupyter-widgets-disconnected .dpnb-status,
.dpnb-form.jupyter-widgets-disconnected .dpnb-frames {{ opacity: 0.55; }}
.dpnb-form.jupyter-widgets-disconnected input,
.dpnb-form.jupyter-widgets-disconnected button {{ pointer-events: none; }}
.dpnb-form :is(.widget-html-content, .jupyter-widget-html-content) {{ line-height: 1.4;
  white-space: normal; overflow-wrap: anywhere; }}
.dpnb-form .dpnb-label :is(.widget-html-content, .jupyter-widget-html-content) {{
  line-height: var(--jp-widgets-inline-height, 28px); white-space: nowrap; }}
.dpnb-form .dpnb-row {{ flex-wrap: wrap; column-gap: 8px; align-items: flex-start; overflow: visible;
  margin: 1px 0; }}
.dpnb-form .dpnb-label {{ flex: 0 0 7.5em; margin: 0; }}
.dpnb-form .dpnb-field {{ flex: 1 1 16em; min-width: 0; max-width: 36em; overflow: visible; margin: 0; }}
.dpnb-form :is(.widget-text, .jupyter-widget-text) {{ width: auto; margin: 2px 0; box-sizing: border-box; }}
.dpnb-form :is(.widget-text, .jupyter-widget-text) input {{ box-sizing: border-box; width: 100%;
  min-width: 0; text-overflow: ellipsis; }}
.dpnb-form .dpnb-note :is(.widget-html-content, .jupyter-widget-html-content) {{ color: {MUTED};
  font-size: 90%; padding: 1px 0 3px; }}
.dpnb-form .dpnb-note {{ margin: 0; }}
.dpnb-form .dpnb-secret-help {{ flex-wrap: wrap; column-gap: 6px; align-items: baseline; overflow: visible; }}
.dpnb-form .dpnb-secret-help .dpnb-note {{ flex: 0 1 auto; min-width: 0; }}
.dpnb-form .dpnb-scopes {{ container-type: inline-size; }}
.dpnb-form .dpnb-scope-row {{ flex-wrap: wrap; column-gap: 8px; overflow: visible; }}
.dpnb-form .dpnb-scope-row :is(.widget-checkbox, .jupyter-widget-checkbox) {{ flex: 0 0 130px;
  width: 130px; margin: 0; }}
.dpnb-form .dpnb-scope-desc {{ flex: 1 1 180px; min-width: 0; margin: 0; }}
.dpnb-form .dpnb-scope-desc :is(.widget-html-content, .jupyter-widget-html-content) {{ color: {MUTED};
  padding: 5px 0; }}
@container (max-width: 317px) {{
  .dpnb-form .dpnb-scope-desc :is(.widget-html-content, .jupyter-widget-html-content) {{
    padding: 0 0 4px 22px; }} }}
.dpnb-form .dpnb-actions {{ flex-wrap: wrap; gap: 4px; overflow: visible; }}
.dpnb-form .dpnb-actions .jupyter-button {{ width: auto; margin: 2px 0; padding: 0 12px; }}
.dpnb-form .jupyter-button.dpnb-forget {{ width: auto; height: auto; margin: 0; padding: 0 2px;
  font-size: 90%; background: none; box-shadow: none; border: none; color: var(--jp-content-link-color);
  text-decoration: underline; line-height: 1.4; }}
.dpnb-form .dpnb-invalid input {{ border-color: {ERROR} !important; box-shadow: inset 0 0 0 1px {ERROR}; }}
.dpnb-form .dpnb-scopes.dpnb-invalid {{ box-shadow: inset 3px 0 0 {ERROR}; padding-left: 6px; }}
.dpnb-form .dpnb-env .mod-active {{ box-shadow: inset 0 -3px 0 var(--jp-brand-color1); font-weight: 600; }}
.dpnb-form .dpnb-frames-box {{ container-type: inline-size; width: 100%; }}
.dpnb-form table.dpnb-table {{ border-collapse: collapse; font-size: var(--jp-ui-font-size0, 11px);
  color: {TEXT}; margin-top: 2px; max-width: 100%; }}
.dpnb-form table.dpnb-table th, .dpnb-form table.dpnb-table td {{ padding: 1px 6px;
  border-bottom: 1px solid {BORDER}; text-align: left; white-space: nowrap; }}
.dpnb-form table.dpnb-table td.dpnb-c-error {{ white-space: normal; overflow-wrap: anywhere; }}
.dpnb-form table.dpnb-table th {{ font-weight: 600; }}
@container (max-width: 560px) {{ .dpnb-form table.dpnb-table .dpnb-wide-only {{ display: none; }} }}
</style>"""
