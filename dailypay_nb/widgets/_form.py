"""`TokenForm`: the ipywidgets face of the client-credentials flow. Thin: the logic is in `_logic`,
the HTML in `_render`.

Threads: requests run in one worker thread, so the kernel stays free and the countdown keeps
ticking; a daemon ticker thread refreshes the clock line once a second until the form closes.
ipywidgets 8 sends updates from any thread.

Environments: each one keeps its own history (sessions, token, status, outlined fields, typed
secret). Switching shows the selected environment's own results, or "none yet"; a new secret
starts a new session but keeps the environment's earlier rows.

Layout: one flex row per label and field (no grid), so the marker ipywidgets adds to a view
that lost its kernel cannot shift labels against fields; the form's CSS hides that marker and
shows one "run this cell again" note instead (see `_style.STYLE`).

Secret safety: see `_secret_input`. Every other widget shows tokens and secrets masked only,
and every text from a server is redacted before it becomes widget state.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
import weakref
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from .._config import CLIENT_SCOPES, Settings
from .._exceptions import DailyPayError, TokenError
from .._redact import redact
from .._secret import Secret
from .._session import Session, connect
from .._token import Token
from . import _history as history
from . import _logic as logic
from . import _render as render
from . import _style as style
from ._secret_input import SecretInput

if TYPE_CHECKING:
    import pandas as pd

    from .._response import ApiResponse

__all__ = ["TokenForm"]

log = logging.getLogger("dailypay_nb")

#: How long an Enter in the secret field waits for the typed value to arrive (the browser
#: sends the key event before the value).
ENTER_GRACE_S = 0.5
TICK_S = 1.0

OFFLINE_NOTE = (
    "⚠ <b>Kernel restarted or notebook reopened:</b> this form is no longer connected. "
    "Run this cell again; what shows below is from before."
)

Job = Callable[[logic.FieldValues, history.EnvHistory], Any]


def _frames_version(session: Any) -> tuple[int, ...]:
    """Changes whenever `session.tokens` or `session.timings` gain or lose a row."""
    history = session._provider.history
    return (
        id(session),
        len(history),
        id(history[-1]) if history else 0,
        session._recorder._seq,
        len(session._recorder),
    )


class TokenForm:
    """An ipywidgets form that gets a DailyPay client-credentials token.

    ```python
    form = dp.form()          # display it (last expression of a cell), fill it, click Get token
    form.submit().result()    # or from code: the same as clicking "Get token"
    form.session.get("/rest/health")
    form.tokens, form.timings # DataFrames of the selected environment's history
    ```

    `submit()` and `test()` return a `concurrent.futures.Future` (the token or the health
    response, or None after a failure shown in the form, whose exception is then `.error`);
    `wait()` waits for the latest one. `session`, `current_token`, `error`, `tokens` and
    `timings` belong to the environment selected in the form.
    """

    def __init__(self, settings: Settings | None = None, **overrides: Any) -> None:
        self.settings = logic.base_settings(settings, overrides)
        self._history = {env: history.EnvHistory() for _, env in logic.ENVIRONMENT_CHOICES}
        self._lock = threading.RLock()
        self._future: concurrent.futures.Future[Any] | None = None
        self._busy_since: float | None = None
        self._busy_env = ""
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="dailypay_nb-form")
        self._enter_timer: threading.Timer | None = None
        self._enter_pending = False
        self._captured_at = -1e9
        self._stop = threading.Event()
        self._build()
        self._ticker = threading.Thread(
            target=_tick, args=(weakref.ref(self), self._stop), name="dailypay_nb-form-clock", daemon=True
        )
        self._ticker.start()

    # -- widgets -----------------------------------------------------------------------------

    def _build(self) -> None:
        s = self.settings
        self._environment = w.ToggleButtons(
            options=list(logic.ENVIRONMENT_CHOICES),
            value=s.environment,
            style={"button_width": "auto"},
            tooltips=["local sandbox, demo data", "DailyPay UAT", "DailyPay production"],
        )
        self._environment.add_class("dpnb-env")
        self._env_note = _classed(w.HTML(), "dpnb-note")
        self._client_id = _classed(w.Text(continuous_update=True), "dpnb-client-id", "dpnb-field")
        self._secret = _classed(SecretInput(self._take_secret, continuous_update=False), "dpnb-secret")
        self._secret.on_msg(self._on_secret_msg)
        self._secret_note = _classed(w.HTML(), "dpnb-note", "dpnb-secret-note")
        self._forget = _classed(
            w.Button(
                description="forget typed secret",
                tooltip="drop the typed secret and use the configured one again",
                layout=w.Layout(display="none"),
            ),
            "dpnb-forget",
        )
        self._forget.on_click(lambda _b: self.forget_secret())

        checked, extra = logic.initial_scopes(s.scope)
        self._scope_boxes: dict[str, Any] = {}
        scope_rows = []
        for scope, description in CLIENT_SCOPES.items():
            box = _classed(
                w.Checkbox(value=scope in checked, description=scope, indent=False),
                "dpnb-scope-" + scope.replace(":", "-"),
            )
            self._scope_boxes[scope] = box
            text = _classed(w.HTML(description), "dpnb-scope-desc")
            scope_rows.append(_classed(w.HBox([box, text]), "dpnb-scope-row"))
        self._extra_scopes = _classed(
            w.Text(value=extra, placeholder="more scopes (e.g. user:read)"), "dpnb-extra-scopes"
        )
        self._scopes = _classed(w.VBox([*scope_rows, self._extra_scopes]), "dpnb-scopes", "dpnb-field")

        self._get = _classed(
            w.Button(description="Get token", button_style="primary", icon="key"), "dpnb-get-token"
        )
        self._get.on_click(lambda _b: self.submit())
        self._test = _classed(
            w.Button(description="Test token", icon="heartbeat", tooltip="GET /rest/health with the token"),
            "dpnb-test-token",
        )
        self._test.on_click(lambda _b: self.test())

        self._status = _classed(w.HTML(), "dpnb-status")
        self._clock = _classed(w.HTML(), "dpnb-clock")
        self._frames = _classed(w.HTML(), "dpnb-frames")
        self._frames_key: tuple[Any, ...] = ()

        where = f"settings from {s.env_file}" if s.env_file else "no .env found: the local sandbox needs none"
        header = _classed(
            w.HTML(
                style.STYLE
                + f"<div class='dpnb-offline'>{OFFLINE_NOTE}</div>"
                + "<b>DailyPay token</b> "
                + f"<span style='color:{style.MUTED}'>· client credentials · {where}</span>"
            ),
            "dpnb-header",
        )
        self.widget = _classed(
            w.VBox(
                [
                    header,
                    _row("environment", "Environment", w.VBox([self._environment, self._env_note])),
                    _row("client-id", "Client id", self._client_id),
                    _row(
                        "secret",
                        "Client secret",
                        w.VBox(
                            [
                                self._secret,
                                _classed(w.HBox([self._secret_note, self._forget]), "dpnb-secret-help"),
                            ]
                        ),
                    ),
                    _row("scopes", "Scopes", self._scopes),
                    _row("actions", "", _classed(w.HBox([self._get, self._test]), "dpnb-actions")),
                    self._status,
                    self._clock,
                    self._frames,
                ],
                layout=w.Layout(width="100%", padding="4px"),
            ),
            "dpnb-form",
        )
        self.widget.observe(self._on_closed, "comm")
        self._environment.observe(self._on_environment, "value")
        self._show(s.environment)

    def _default_client_id(self, environment: str) -> str:
        s = self.settings
        if environment == s.environment and s.client_id:
            return s.client_id
        if environment == "sandbox":
            from .. import sandbox

            return sandbox.DEMO_CLIENT_ID
        return ""

    def _show(self, environment: str) -> None:
        """Fill the fields, notes, status and tables with `environment`'s own state."""
        h = self._history[environment]
        self._client_id.value = (
            h.client_id if h.client_id is not None else self._default_client_id(environment)
        )
        self._client_id.placeholder = f"{environment.upper()} client id"
        self._env_note.value = logic.environment_note(self.settings, environment)
        self._show_secret(environment)
        self._render(environment)

    def _show_secret(self, environment: str) -> None:
        typed = self._history[environment].typed_secret
        self._secret.placeholder = logic.secret_placeholder(self.settings, environment, typed)
        self._secret_note.value = logic.secret_note(self.settings, environment, typed)
        self._forget.layout.display = None if typed else "none"

    def _render(self, environment: str) -> None:
        """Status, tables, outlines and clock of `environment`, if it is the selected one."""
        with self._lock:
            if environment != self._environment.value:
                return
            h = self._history[environment]
            self._status.value = render.status_html(environment, h.token_html, h.result_html)
            secrets = self._redaction_values(environment)
            key = (environment, tuple(secrets), *(_frames_version(s) for s in h.sessions))
            # The tables (no column relative to now) are rebuilt only when a row came or went.
            if key != self._frames_key:
                self._frames.value = render.frames_html(
                    self.tokens, self.timings, environment, secrets=secrets
                )
                self._frames_key = key
            for name, widget in (
                ("client_id", self._client_id),
                ("client_secret", self._secret),
                ("scopes", self._scopes),
            ):
                if name in h.invalid:
                    widget.add_class("dpnb-invalid")
                else:
                    widget.remove_class("dpnb-invalid")
        self._update_clock()

    def _redaction_values(self, environment: str) -> list[str]:
        h = self._history[environment]
        return logic.redaction_values(self._client_id.value, h.typed_secret, self.settings.client_secret)

    # -- events ------------------------------------------------------------------------------

    def _on_environment(self, change: dict[str, Any]) -> None:
        with self._lock:
            self._history[change["old"]].client_id = self._client_id.value
        self._show(change["new"])

    def _take_secret(self, secret: Secret) -> None:
        """A typed secret arrived (the field is already empty): keep it for this environment."""
        environment = self._environment.value
        with self._lock:
            self._history[environment].typed_secret = secret
            self._captured_at = time.monotonic()
            fire, self._enter_pending = self._enter_pending, False
            if self._enter_timer is not None:
                self._enter_timer.cancel()
                self._enter_timer = None
        self._show_secret(environment)
        if fire:
            self.submit()

    def _on_secret_msg(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        """Enter in the secret field: the front end sends `submit`, then (if changed) the value."""
        if content.get("event") != "submit":
            return
        with self._lock:
            if time.monotonic() - self._captured_at < ENTER_GRACE_S:
                fire = True
            else:
                fire = False
                self._enter_pending = True
                if self._enter_timer is not None:
                    self._enter_timer.cancel()
                self._enter_timer = threading.Timer(ENTER_GRACE_S, self._enter_timeout)
                self._enter_timer.daemon = True
                self._enter_timer.start()
        if fire:
            self.submit()

    def _enter_timeout(self) -> None:
        with self._lock:
            fire, self._enter_pending = self._enter_pending, False
            self._enter_timer = None
        if fire:
            self.submit()

    def _on_closed(self, change: dict[str, Any]) -> None:
        if change["new"] is None:
            self._stop.set()

    # -- actions -----------------------------------------------------------------------------

    def fields(self) -> logic.FieldValues:
        """What the form says right now (the typed secret stays a `Secret`)."""
        environment = self._environment.value
        checked = [s for s, box in self._scope_boxes.items() if box.value]
        return logic.FieldValues(
            environment=environment,
            client_id=self._client_id.value,
            typed_secret=self._history[environment].typed_secret,
            scopes=logic.requested_scopes(checked, self._extra_scopes.value),
        )

    def forget_secret(self) -> None:
        """Drop the secret typed for the selected environment: `.env`'s (or the demo one) is used again."""
        environment = self._environment.value
        with self._lock:
            self._history[environment].typed_secret = None
        self._show_secret(environment)

    def submit(self) -> concurrent.futures.Future[Token | None]:
        """Get a token with what the form says, like the "Get token" button.

        Returns at once with a Future of the token (None after a failure, which the status
        area shows and `.error` holds). While a request is in flight, returns that one's Future.
        """
        return self._start("requesting a token", self._run_submit)

    def test(self) -> concurrent.futures.Future[ApiResponse | None]:
        """Call `GET /rest/health` with the token, like the "Test token" button; the answer is
        shown under the token's details."""
        return self._start("calling GET /rest/health", self._run_test)

    def wait(self, timeout: float | None = None) -> Any:
        """Wait for the latest `submit()`/`test()` and return its result (None when it failed)."""
        future = self._future
        return None if future is None else future.result(timeout)

    def _start(self, what: str, job: Job) -> concurrent.futures.Future[Any]:
        with self._lock:
            if self._future is not None and not self._future.done():
                return self._future
            fields = self.fields()
            h = self._history[fields.environment]
            self._busy_since, self._busy_env = time.monotonic(), fields.environment
            before = h.result_html, h.invalid
            h.result_html, h.invalid = render.busy_html(what, fields.environment), frozenset()
            self._set_busy(True, what)
            try:
                future = self._pool.submit(self._guarded, job, fields, h)
            except RuntimeError:  # the pool is shut down: the form was closed
                self._busy_since = None
                h.result_html, h.invalid = before
                self._set_busy(False)
                raise
            self._future = future
        self._render(fields.environment)
        return future

    def _guarded(self, job: Job, fields: logic.FieldValues, h: history.EnvHistory) -> Any:
        try:
            result = job(fields, h)
            h.error, h.invalid = None, frozenset()
            return result
        except Exception as exc:  # shown in one line, kept in .error; no traceback in the notebook
            if not isinstance(exc, DailyPayError):
                log.debug("token form: unexpected error (%s)", type(exc).__name__)
            self._failed(exc, fields, h, token_lost=job == self._run_submit or isinstance(exc, TokenError))
            return None
        finally:
            with self._lock:
                self._busy_since = None
            self._set_busy(False)
            self._render(fields.environment)

    def _failed(
        self, exc: Exception, fields: logic.FieldValues, h: history.EnvHistory, *, token_lost: bool
    ) -> None:
        from .. import sandbox

        origins = logic.origins(self.settings, fields, demo_client_id=sandbox.DEMO_CLIENT_ID)
        with self._lock:
            h.error = exc
            h.invalid = logic.error_view(exc).fields
            if token_lost:
                h.token, h.token_html = None, ""
            h.result_html = render.error_html(
                exc,
                fields.typed_secret,
                self.settings.client_secret,
                origins=origins,
                environment=fields.environment,
                client_id=fields.client_id,
            )

    def _ensure_session(self, fields: logic.FieldValues, h: history.EnvHistory) -> Session:
        from .. import sandbox

        settings = logic.form_settings(self.settings, fields, demo_client_id=sandbox.DEMO_CLIENT_ID)
        with self._lock:
            if h.session is not None and settings == h.key:
                session: Session = h.session
                return session
        session = connect(settings)
        with self._lock:
            h.sessions.append(session)  # the earlier sessions stay: their rows are this environment's history
            h.key = settings
        return session

    def _run_submit(self, fields: logic.FieldValues, h: history.EnvHistory) -> Token:
        session = self._ensure_session(fields, h)
        before = len(session.tokens)
        token = session.token()
        reused = len(session.tokens) == before
        html = render.success_html(
            token,
            _last_row(session.timings, "token"),
            reused=reused,
            token_url=session.settings.token_url,
            note=logic.scope_note(fields.scopes),
            at=datetime.now(timezone.utc),
            secrets=self._redaction_values(fields.environment),
        )
        with self._lock:
            h.token, h.token_html, h.result_html = token, html, ""
            if session.sandbox is not None and fields.environment == self._environment.value:
                self._client_id.value = session.settings.client_id
        return token

    def _run_test(self, fields: logic.FieldValues, h: history.EnvHistory) -> ApiResponse:
        session = self._ensure_session(fields, h)
        response = session.get("/rest/health")
        token = session.token()  # the one the health call used: cached, no request
        body = _short(response.body.decode("utf-8", "replace"))
        now = datetime.now(timezone.utc)
        with self._lock:
            if token is not h.token:  # the test fetched a token: show its details too
                h.token = token
                h.token_html = render.success_html(
                    token,
                    _last_row(session.timings, "token"),
                    reused=False,
                    token_url=session.settings.token_url,
                    at=now,
                    secrets=self._redaction_values(fields.environment),
                )
            h.result_html = render.health_html(
                response.status,
                redact(body, *self._redaction_values(fields.environment), limit=160),
                response.timing,
                at=now,
            )
        return response

    # -- refresh -----------------------------------------------------------------------------

    def _set_busy(self, busy: bool, what: str = "") -> None:
        self._get.disabled = self._test.disabled = busy
        if busy:
            self._get.icon = self._test.icon = "hourglass-half"
            if what.startswith("requesting"):
                self._get.description = "Getting token…"
            else:
                self._test.description = "Testing…"
        else:
            self._get.description, self._get.icon = "Get token", "key"
            self._test.description, self._test.icon = "Test token", "heartbeat"

    def _update_clock(self) -> None:
        with self._lock:
            environment = self._environment.value
            text = render.clock_text(self._history[environment].token, self._busy_since, time.monotonic())
            if self._busy_since is not None and self._busy_env != environment:
                text += f" for {logic.environment_name(self._busy_env)}"
            shown = render.clock_html(text)
        if self._clock.value != shown:
            self._clock.value = shown

    # -- public state ------------------------------------------------------------------------

    @property
    def _selected(self) -> history.EnvHistory:
        return self._history[self._environment.value]

    @property
    def session(self) -> Session | None:
        """The selected environment's latest session (None before its first submit)."""
        session: Session | None = self._selected.session
        return session

    @property
    def current_token(self) -> Token | None:
        """The selected environment's token from its latest successful submit or test (masked
        when shown); None before one and after a failed submit. No I/O."""
        return self._selected.token

    @property
    def error(self) -> BaseException | None:
        """The exception of the selected environment's latest action (None when it worked)."""
        return self._selected.error

    @property
    def busy(self) -> bool:
        """True while a request is in flight."""
        return self._busy_since is not None

    @property
    def tokens(self) -> pd.DataFrame:
        """The selected environment's tokens (masked), oldest first, across every session the
        form made for it; empty before the first submit."""
        return history.merge_tokens([s.tokens for s in self._selected.sessions])

    @property
    def timings(self) -> pd.DataFrame:
        """The selected environment's request timings across every session the form made for
        it, `seq` counting on from one session to the next; empty before the first submit."""
        return history.merge_timings([s.timings for s in self._selected.sessions])

    def close(self) -> None:
        """Stop the clock and close the widgets. The sessions stay usable."""
        self._stop.set()
        with self._lock:
            if self._enter_timer is not None:
                self._enter_timer.cancel()
        self._pool.shutdown(wait=False)
        for widget in _descendants(self.widget):
            widget.close()

    # -- display -----------------------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)  # type: ignore[no-untyped-call]

    def __repr__(self) -> str:
        token = self.current_token
        return f"TokenForm({self._environment.value}, {token.access_token.masked if token else 'no token'})"


def _classed(widget: Any, *classes: str) -> Any:
    for name in classes:
        widget.add_class(name)
    return widget


def _row(slug: str, label: str, field: Any) -> Any:
    """One labelled row: a fixed-width label and a field that takes the rest (or wraps below)."""
    text = _classed(w.HTML(f"<span>{label}</span>"), "dpnb-label")
    return _classed(w.HBox([text, _classed(field, "dpnb-field")]), "dpnb-row", f"dpnb-row-{slug}")


def _tick(ref: weakref.ReferenceType[TokenForm], stop: threading.Event) -> None:
    while not stop.wait(TICK_S):
        form = ref()
        if form is None:
            return
        try:
            form._update_clock()
        except Exception:  # a closed widget: stop quietly
            log.debug("token form clock stopped", exc_info=True)
            return
        del form


def _last_row(frame: pd.DataFrame, kind: str) -> dict[str, Any] | None:
    rows = frame[frame["kind"] == kind]
    if rows.empty:
        return None
    return {str(k): _plain(v) for k, v in rows.iloc[-1].items()}


def _plain(value: Any) -> Any:
    import pandas as pd

    if value is pd.NA:
        return None
    return value.item() if hasattr(value, "item") else value


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _descendants(widget: Any) -> list[Any]:
    """The widget and every widget below it (children first)."""
    found: list[Any] = []
    for child in getattr(widget, "children", ()):
        found += _descendants(child)
    found.append(widget)
    return found
