"""What the token form computes, without a widget: settings from the fields, and status HTML.

Strictly private. Imports no ipywidgets, so every function here is tested directly.
Colours come only from JupyterLab's CSS variables (`--jp-*`), so light and dark themes both
read well; where a variable is missing the text simply keeps its normal colour.
"""

from __future__ import annotations

import dataclasses
import html
import math
import secrets
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .._config import CLIENT_SCOPES, KNOWN_SCOPES, Settings, load_settings
from .._exceptions import ApiError, DailyPayError, SettingsError, TokenError
from .._redact import redact
from .._secret import Secret

if TYPE_CHECKING:
    import pandas as pd

    from .._token import Token

__all__ = [
    "ENVIRONMENT_CHOICES",
    "FieldValues",
    "base_settings",
    "busy_html",
    "clock_html",
    "clock_text",
    "environment_note",
    "error_html",
    "form_settings",
    "frames_html",
    "health_html",
    "initial_scopes",
    "phases_text",
    "requested_scopes",
    "scope_html",
    "scope_note",
    "secret_placeholder",
    "source_text",
    "success_html",
]

#: (label, environment) pairs of the environment selector, in display order.
ENVIRONMENT_CHOICES: tuple[tuple[str, str], ...] = (
    ("Sandbox (local)", "sandbox"),
    ("UAT", "uat"),
    ("Production", "production"),
)

OK = "var(--jp-success-color1)"
ERROR = "var(--jp-error-color1)"
WARN = "var(--jp-warn-color1)"
MUTED = "var(--jp-ui-font-color2)"
TEXT = "var(--jp-ui-font-color1)"
BORDER = "var(--jp-border-color2)"

#: Columns shown in the form (the full frames are `form.tokens` and `form.timings`).
TOKEN_FRAME_COLUMNS = ("environment", "client_id", "granted_scope", "token", "expires_at", "elapsed_ms")
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
_PHASES = (("connect", "connect_ms"), ("tls", "tls_ms"), ("send", "send_ms"), ("wait", "wait_ms"))


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
    embedded = env == "sandbox" and (not same_env or base.uses_embedded_sandbox)
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


def secret_placeholder(base: Settings, environment: str, typed: Secret | None) -> str:
    """What the (always empty) secret field says about the secret that will be used."""
    if typed:
        return f"typed secret kept in the kernel ({typed.fingerprint}); type again to replace"
    if environment == base.environment and base.client_secret:
        return f"from {source_text(base.sources.get('client_secret', 'default'))}; type to override"
    if environment == "sandbox":
        return "not needed: the sandbox's demo secret is used"
    return f"type the {environment.upper()} client secret (or set DAILYPAY_CLIENT_SECRET in .env)"


def environment_note(base: Settings, environment: str) -> str:
    """One line under the environment selector: where requests go."""
    if environment == "sandbox":
        if environment == base.environment and not base.uses_embedded_sandbox:
            return f"sandbox at {html.escape(base.token_url or '')}"
        return "a local sandbox in this kernel, demo data, works offline"
    try:
        url = base.token_url if environment == base.environment else None
        if url is None:
            from .._config import ENVIRONMENTS

            url = ENVIRONMENTS[environment]["token_url"]
    except KeyError:  # pragma: no cover - the selector only offers known environments
        url = None
    note = f"token from {html.escape(url or '?')}"
    if environment == "production":
        note += f" — <span style='color:{WARN}'>real credentials, real data</span>"
    return note


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
        f"margin-right:4px;white-space:nowrap;{style}'>{html.escape(text)}</span>"
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
        f"vertical-align:top'>{k}</th><td style='text-align:left;padding:1px 0'>{v}</td></tr>"
        for k, v in rows
    )
    return f"<table style='border-collapse:collapse;margin-top:4px'>{cells}</table>"


def _box(kind: str, colour: str, headline: str, body: str = "") -> str:
    return (
        f"<div class='dpnb-{kind}' style='border-left:3px solid {colour};padding:4px 8px;"
        f"color:{TEXT};line-height:1.5'>"
        f"<div class='dpnb-headline' style='color:{colour};font-weight:600'>{headline}</div>{body}</div>"
    )


def success_html(
    token: Token,
    timing: Mapping[str, Any] | None,
    *,
    reused: bool,
    token_url: str | None = None,
    note: str = "",
) -> str:
    """The status after a token: masked token, scope comparison, expiry and the request's phases."""
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
    rows = [
        (
            "token",
            f"<code class='dpnb-token'>{html.escape(token.access_token.masked)}</code> "
            f"{html.escape(token.token_type)}",
        ),
        ("client", where),
        ("scope", scope_html(token.requested_scope, token.granted_scope)),
        ("expires", html.escape(token.expires_at.isoformat(timespec="seconds"))),
        ("timing", html.escape(("last token request: " if reused else "") + phases_text(timing))),
    ]
    if note:
        rows.append(("note", f"<span style='color:{WARN}'>{html.escape(note)}</span>"))
    return _box("ok", OK, headline, _rows(rows))


def health_html(status: int, body: str, timing: Mapping[str, Any] | None) -> str:
    """The status after `Test token`: the health answer and its phases."""
    rows = [("answer", f"<code>{html.escape(body)}</code>"), ("timing", html.escape(phases_text(timing)))]
    return _box("ok", OK, f"✔ GET /rest/health answered {status}: the token works", _rows(rows))


def error_html(exc: BaseException, *secrets: Secret | None) -> str:
    """A failure as one line of message and one of hint; never a traceback.

    Every text goes through `redact()` with the secrets in play, as a second line of defence.
    """
    values = [s.reveal() for s in secrets if s]
    if isinstance(exc, DailyPayError):
        message, hint = exc.message, exc.hint
    else:
        message, hint = f"unexpected {type(exc).__name__}: {exc}", "the exception is in form.error"
    details = [type(exc).__name__]
    if isinstance(exc, TokenError):
        details += [str(v) for v in (exc.error, exc.status and f"HTTP {exc.status}") if v]
        if exc.request_id:
            details.append(f"request id {exc.request_id}")
    elif isinstance(exc, ApiError):
        details += [str(v) for v in (exc.code, exc.status and f"HTTP {exc.status}") if v]
        if exc.request_id:
            details.append(f"request id {exc.request_id}")
    body = ""
    if hint:
        body += f"<div class='dpnb-hint'>→ {html.escape(redact(hint, *values, limit=300))}</div>"
    body += f"<div style='color:{MUTED};font-size:90%'>{html.escape(' · '.join(details))}</div>"
    return _box("error", ERROR, "✖ " + html.escape(redact(message, *values, limit=300)), body)


def busy_html(what: str, environment: str) -> str:
    """The status while a request is in flight."""
    return _box("busy", MUTED, f"… {html.escape(what)} ({html.escape(environment)})")


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
    """`clock_text` with a Font Awesome icon (loaded by the widget manager) in the muted colour."""
    if not text:
        return ""
    icon = "hourglass-half" if text.startswith("waiting") else "clock-o"
    colour = WARN if text.startswith("token expired") else MUTED
    return f"<span style='color:{colour}'><i class='fa fa-{icon}'></i> {html.escape(text)}</span>"


# -- frames ----------------------------------------------------------------------------------


def _frame_table(frame: pd.DataFrame, columns: Sequence[str], last: int) -> str:
    if frame.empty:
        return f"<div style='color:{MUTED}'>none yet</div>"
    shown = frame.loc[:, [c for c in columns if c in frame.columns]].tail(last).copy()
    for name in shown.columns:
        column = shown[name]
        if str(column.dtype).startswith("datetime64"):
            column = column.dt.strftime("%H:%M:%S")
        elif column.dtype == "float64":
            column = column.map(lambda v: "" if math.isnan(v) else f"{v:.1f}")
        shown[name] = column.astype(object).where(column.notna(), "")  # pd.NA ignores na_rep
    table = shown.to_html(index=False, na_rep="", border=0, classes="dpnb-table")
    return f"<div style='overflow-x:auto;max-width:100%'>{table}</div>"


def frames_html(tokens: pd.DataFrame, timings: pd.DataFrame, last: int = 8) -> str:
    """The session's tokens (masked) and timings, last rows only, as small HTML tables."""
    more = f" <span style='color:{MUTED}'>(last {last} of {len(timings)})</span>"
    return (
        f"<div class='dpnb-tokens'><b>Tokens</b> <code>form.tokens</code>"
        f"{_frame_table(tokens, TOKEN_FRAME_COLUMNS, last)}</div>"
        f"<div class='dpnb-timings' style='margin-top:6px'><b>Timings</b> <code>form.timings</code>"
        f"{more if len(timings) > last else ''}{_frame_table(timings, TIMING_FRAME_COLUMNS, last)}</div>"
    )


#: Scoped table styling for the frames (theme variables only).
STYLE = f"""<style>
.dpnb-form table.dpnb-table {{ border-collapse: collapse; font-size: var(--jp-ui-font-size0, 11px);
  color: {TEXT}; margin-top: 2px; }}
.dpnb-form table.dpnb-table th, .dpnb-form table.dpnb-table td {{ padding: 1px 6px;
  border-bottom: 1px solid {BORDER}; text-align: left; white-space: nowrap; }}
.dpnb-form table.dpnb-table th {{ font-weight: 600; }}
.dpnb-form .dpnb-env .mod-active {{ box-shadow: inset 0 -3px 0 var(--jp-brand-color1); font-weight: 600; }}
</style>"""
