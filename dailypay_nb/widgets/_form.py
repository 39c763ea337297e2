"""`TokenForm`: the ipywidgets face of the client-credentials flow. Thin: the logic is in `_logic`.

Threads: requests run in one worker thread, so the kernel stays free and the countdown keeps
ticking; a daemon ticker thread refreshes the clock line once a second until the form closes.
ipywidgets 8 sends updates from any thread.

Secret safety: the secret field is emptied the moment a typed value reaches the kernel (the
value is kept in a `Secret`), its `value` is never echoed back to the browser, and every other
widget shows tokens and secrets masked only.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as w
from traitlets import Unicode

from .._config import CLIENT_SCOPES, Settings
from .._exceptions import DailyPayError
from .._secret import Secret
from .._session import Session, connect
from .._token import Token
from . import _logic as logic

if TYPE_CHECKING:
    import pandas as pd

    from .._response import ApiResponse

__all__ = ["TokenForm"]

log = logging.getLogger("dailypay_nb")

#: How long an Enter in the secret field waits for the typed value to arrive (the browser
#: sends the key event before the value).
ENTER_GRACE_S = 0.5
TICK_S = 1.0


#: Comm ids of every SecretInput: the browser's messages to them carry the typed secret.
_SECRET_COMMS: set[str] = set()


class _MaskSecretMessages(logging.Filter):
    """The `comm` package logs each browser message at DEBUG (`handle_msg[id](msg)`), typed
    secret included: mask the message when it is addressed to a SecretInput."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 2 and args[0] in _SECRET_COMMS:
            record.args = (args[0], "<message to a secret field: not logged>")
        return True


logging.getLogger("Comm").addFilter(_MaskSecretMessages())


class SecretInput(w.Password):  # type: ignore[misc]
    """A Password field whose value is never echoed back to the browser, nor logged."""

    value = Unicode("", help="typed text; the form empties it as soon as it arrives").tag(
        sync=True, echo_update=False
    )

    def open(self) -> None:
        super().open()
        if self.comm is not None:
            _SECRET_COMMS.add(self.comm.comm_id)


class TokenForm:
    """An ipywidgets form that gets a DailyPay client-credentials token.

    ```python
    form = dp.form()          # display it (last expression of a cell), fill it, click Get token
    form.submit().result()    # or from code: the same as clicking "Get token"
    form.session.get("/rest/health")
    form.tokens, form.timings # DataFrames of the current session
    ```

    `submit()` and `test()` return a `concurrent.futures.Future` (the token or the health
    response, or None after a failure shown in the form, whose exception is then `.error`);
    `wait()` waits for the latest one.
    """

    def __init__(self, settings: Settings | None = None, **overrides: Any) -> None:
        self.settings = logic.base_settings(settings, overrides)
        self.error: BaseException | None = None
        self._session: Session | None = None
        self._session_key: Settings | None = None
        self._token: Token | None = None
        self._typed: Secret | None = None
        self._lock = threading.RLock()
        self._future: concurrent.futures.Future[Any] | None = None
        self._busy_since: float | None = None
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
        full = w.Layout(width="100%", max_width="34em")
        self._environment = w.ToggleButtons(
            options=list(logic.ENVIRONMENT_CHOICES),
            value=s.environment,
            style={"button_width": "auto"},
            tooltips=["local sandbox, demo data", "DailyPay UAT", "DailyPay production"],
        )
        self._environment.add_class("dpnb-env")
        self._env_note = w.HTML()
        self._client_id = w.Text(layout=full, continuous_update=True)
        self._client_id.add_class("dpnb-client-id")
        self._secret = SecretInput(layout=full, continuous_update=False)
        self._secret.add_class("dpnb-secret")
        self._secret.observe(self._on_secret_value, "value")
        self._secret.on_msg(self._on_secret_msg)

        checked, extra = logic.initial_scopes(s.scope)
        self._scope_boxes: dict[str, Any] = {}
        rows = []
        for scope, description in CLIENT_SCOPES.items():
            box = w.Checkbox(value=scope in checked, description=scope, indent=False)
            box.layout = w.Layout(width="11em")
            box.add_class("dpnb-scope-" + scope.replace(":", "-"))
            self._scope_boxes[scope] = box
            rows.append(w.HBox([box, w.HTML(f"<span style='color:{logic.MUTED}'>{description}</span>")]))
        self._extra_scopes = w.Text(
            value=extra, placeholder="more scopes, space-separated (e.g. user:read)", layout=full
        )
        self._extra_scopes.add_class("dpnb-extra-scopes")

        self._get = w.Button(description="Get token", button_style="primary", icon="key")
        self._get.add_class("dpnb-get-token")
        self._get.on_click(lambda _b: self.submit())
        self._test = w.Button(
            description="Test token", icon="heartbeat", tooltip="GET /rest/health with the token"
        )
        self._test.add_class("dpnb-test-token")
        self._test.on_click(lambda _b: self.test())

        self._status = w.HTML()
        self._status.add_class("dpnb-status")
        self._clock = w.HTML()
        self._clock.add_class("dpnb-clock")
        self._frames = w.HTML()
        self._frames.add_class("dpnb-frames")

        def label(text: str) -> Any:
            return w.HTML(f"<span style='color:{logic.TEXT};line-height:28px'>{text}</span>")

        grid = w.GridBox(
            [
                label("Environment"),
                w.VBox([self._environment, self._env_note]),
                label("Client id"),
                self._client_id,
                label("Client secret"),
                self._secret,
                label("Scopes"),
                w.VBox([*rows, self._extra_scopes]),
                label(""),
                w.HBox([self._get, self._test]),
            ],
            layout=w.Layout(grid_template_columns="8em minmax(0, 1fr)", grid_gap="4px 8px", width="100%"),
        )
        where = f"settings from {s.env_file}" if s.env_file else "no .env found: the local sandbox needs none"
        header = w.HTML(
            logic.STYLE + f"<b style='color:{logic.TEXT}'>DailyPay token</b> "
            f"<span style='color:{logic.MUTED}'>· client credentials · {where}</span>"
        )
        self.widget = w.VBox(
            [header, grid, self._status, self._clock, self._frames],
            layout=w.Layout(width="100%", padding="4px"),
        )
        self.widget.add_class("dpnb-form")
        self.widget.observe(self._on_closed, "comm")
        self._environment.observe(self._on_environment, "value")
        self._show_environment(s.environment)
        self._refresh_frames()

    def _show_environment(self, environment: str) -> None:
        s = self.settings
        if environment == s.environment and s.client_id:
            client_id = s.client_id
        elif environment == "sandbox":
            from .. import sandbox

            client_id = sandbox.DEMO_CLIENT_ID
        else:
            client_id = ""
        self._client_id.value = client_id
        self._client_id.placeholder = f"{environment.upper()} client id"
        self._env_note.value = (
            f"<span style='color:{logic.MUTED};font-size:90%'>{logic.environment_note(s, environment)}</span>"
        )
        self._secret.placeholder = logic.secret_placeholder(s, environment, self._typed)

    # -- events ------------------------------------------------------------------------------

    def _on_environment(self, change: dict[str, Any]) -> None:
        self._typed = None  # a typed secret belongs to the environment it was typed for
        self._show_environment(change["new"])

    def _on_secret_value(self, change: dict[str, Any]) -> None:
        value = change["new"]
        if not value:
            return
        self._secret.value = ""  # at once: the typed text stays only in the kernel-side Secret
        self._typed = Secret(value, label="client_secret")
        self._secret.placeholder = logic.secret_placeholder(
            self.settings, self._environment.value, self._typed
        )
        with self._lock:
            self._captured_at = time.monotonic()
            fire, self._enter_pending = self._enter_pending, False
            if self._enter_timer is not None:
                self._enter_timer.cancel()
                self._enter_timer = None
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
        checked = [s for s, box in self._scope_boxes.items() if box.value]
        return logic.FieldValues(
            environment=self._environment.value,
            client_id=self._client_id.value,
            typed_secret=self._typed,
            scopes=logic.requested_scopes(checked, self._extra_scopes.value),
        )

    def submit(self) -> concurrent.futures.Future[Token | None]:
        """Get a token with what the form says, like the "Get token" button.

        Returns at once with a Future of the token (None after a failure, which the status
        area shows and `.error` holds). While a request is in flight, returns that one's Future.
        """
        return self._start("requesting a token", self._run_submit)

    def test(self) -> concurrent.futures.Future[ApiResponse | None]:
        """Call `GET /rest/health` with the token, like the "Test token" button."""
        return self._start("calling GET /rest/health", self._run_test)

    def wait(self, timeout: float | None = None) -> Any:
        """Wait for the latest `submit()`/`test()` and return its result (None when it failed)."""
        future = self._future
        return None if future is None else future.result(timeout)

    def _start(self, what: str, job: Callable[[logic.FieldValues], Any]) -> concurrent.futures.Future[Any]:
        with self._lock:
            if self._future is not None and not self._future.done():
                return self._future
            fields = self.fields()
            self._busy_since = time.monotonic()
            self._set_busy(True, what)
            self._status.value = logic.busy_html(what, fields.environment)
            self._clock.value = logic.clock_html(logic.clock_text(None, self._busy_since, time.monotonic()))
            try:
                future = self._pool.submit(self._guarded, job, fields)
            except RuntimeError:  # the pool is shut down: the form was closed
                self._set_busy(False)
                raise
            self._future = future
            return future

    def _guarded(self, job: Callable[[logic.FieldValues], Any], fields: logic.FieldValues) -> Any:
        try:
            result = job(fields)
            self.error = None
            return result
        except Exception as exc:  # shown in one line, kept in .error; no traceback in the notebook
            if not isinstance(exc, DailyPayError):
                log.debug("token form: unexpected error", exc_info=True)
            self.error = exc
            self._status.value = logic.error_html(exc, self._typed, self.settings.client_secret)
            return None
        finally:
            with self._lock:
                self._busy_since = None
            self._refresh_frames()
            self._set_busy(False)
            self._update_clock()

    def _ensure_session(self, fields: logic.FieldValues) -> Session:
        from .. import sandbox

        settings = logic.form_settings(self.settings, fields, demo_client_id=sandbox.DEMO_CLIENT_ID)
        with self._lock:
            if self._session is not None and settings == self._session_key:
                return self._session
        self._token = None  # the previous token belongs to other settings
        session = connect(settings)
        with self._lock:
            self._session, self._session_key = session, settings
        return session

    def _run_submit(self, fields: logic.FieldValues) -> Token:
        self._token = None
        session = self._ensure_session(fields)
        before = len(session.tokens)
        token = session.token()
        reused = len(session.tokens) == before
        self._token = token
        if session.sandbox is not None:
            self._client_id.value = session.settings.client_id
        self._status.value = logic.success_html(
            token,
            _last_row(session.timings, "token"),
            reused=reused,
            token_url=session.settings.token_url,
            note=logic.scope_note(fields.scopes),
        )
        return token

    def _run_test(self, fields: logic.FieldValues) -> ApiResponse:
        session = self._ensure_session(fields)
        response = session.get("/rest/health")
        self._token = session.token()  # the one the health call used: cached, no request
        body = _short(response.body.decode("utf-8", "replace"))
        self._status.value = logic.health_html(response.status, body, response.timing)
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

    def _refresh_frames(self) -> None:
        self._frames.value = logic.frames_html(self.tokens, self.timings)

    def _update_clock(self) -> None:
        with self._lock:
            text = logic.clock_html(logic.clock_text(self._token, self._busy_since, time.monotonic()))
        if self._clock.value != text:
            self._clock.value = text

    # -- public state ------------------------------------------------------------------------

    @property
    def session(self) -> Session | None:
        """The session of the latest submit (None before the first one)."""
        return self._session

    @property
    def current_token(self) -> Token | None:
        """The token of the latest successful submit (masked when shown); None after a failure."""
        return self._token

    @property
    def busy(self) -> bool:
        """True while a request is in flight."""
        return self._busy_since is not None

    @property
    def tokens(self) -> pd.DataFrame:
        """The session's tokens (masked), oldest first; empty before the first submit."""
        if self._session is None:
            from .._frames import tokens_frame

            return tokens_frame([])
        return self._session.tokens

    @property
    def timings(self) -> pd.DataFrame:
        """The session's request timings; empty before the first submit."""
        if self._session is None:
            from .._frames import timings_frame

            return timings_frame([])
        return self._session.timings

    def close(self) -> None:
        """Stop the clock and close the widgets. The session stays usable."""
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
        token = self._token.access_token.masked if self._token else "no token"
        return f"TokenForm({self._environment.value}, {token})"


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
    try:
        import pandas as pd

        if value is pd.NA:
            return None
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
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
