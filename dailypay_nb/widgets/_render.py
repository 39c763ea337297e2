"""The token form's HTML: token details, errors, the clock line and the frames.

Every status text is written to be safe to freeze: a saved notebook or a dead kernel keeps the
last synced HTML, so it states absolute times ("expires 14:03:12 UTC"), never "in 59:55";
the live countdown is a separate element (class `dpnb-live`) that the CSS hides once the
kernel is gone. Every text a server sent is redacted here, with the secrets in play.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .._redact import redact
from .._secret import Secret
from ._logic import Origins, environment_name, error_view, redaction_values
from ._style import BORDER, ERROR, MUTED, OK, TEXT, WARN

if TYPE_CHECKING:
    import pandas as pd

    from .._token import Token

__all__ = [
    "busy_html",
    "clock_html",
    "clock_text",
    "error_html",
    "frames_html",
    "health_html",
    "phases_text",
    "scope_html",
    "status_html",
    "success_html",
    "utc_time",
]

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


def utc_time(moment: datetime) -> str:
    """`14:03:12 UTC`: an absolute time that stays true in a saved notebook."""
    return moment.astimezone(timezone.utc).strftime("%H:%M:%S UTC")


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
        body += f"<div class='dpnb-hint'>→ {html.escape(view.hint)}</div>"  # ours, from redacted parts
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


def scope_html(requested: Sequence[str], granted: Sequence[str], secrets: Sequence[str] = ()) -> str:
    """Requested scopes as chips: missing ones struck through in the error colour, extra ones
    (granted but not asked for) in the warning colour, and a one-line verdict. The granted
    scopes are the server's words: redacted with `secrets`."""
    granted = [redact(s, *secrets, limit=80) for s in granted]
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
    secrets: Sequence[str] = (),
) -> str:
    """The token's details: masked token, scope comparison, absolute expiry and the request's
    phases; `at` (when this was shown) keeps a frozen copy honest, `secrets` are masked in
    what the server sent (the granted scopes)."""
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
        ("scope", scope_html(token.requested_scope, token.granted_scope, secrets)),
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
