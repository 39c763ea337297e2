"""The token form, driven from Python: fields set, buttons `.click()`ed, against a real sandbox.

Every kernel→browser message goes through a recording comm, and after each step the whole
widget tree's synced state is walked: neither the client secret nor the token may appear.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import comm
import pytest
from comm.base_comm import BaseComm

import dailypay_nb as dp
from dailypay_nb import Secret, SettingsError, TokenError, TokenTransportError
from dailypay_nb.widgets import TokenForm
from dailypay_nb.widgets import _logic as logic
from dailypay_nb.widgets import _render as render

WAIT = 15.0
WRONG = "wrong-secret-" + "7f3a9c"


# -- instruments -----------------------------------------------------------------------------


class RecordingComm(BaseComm):  # type: ignore[misc]
    """A comm that keeps every message the kernel would send to the browser, as JSON text."""

    sent: ClassVar[list[str]] = []

    def publish_msg(
        self, msg_type: str, data: Any = None, metadata: Any = None, buffers: Any = None, **keys: Any
    ) -> None:
        self.sent.append(json.dumps({"type": msg_type, "data": data}, default=str))


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Messages sent to the (simulated) browser during the test."""
    sent: list[str] = []
    monkeypatch.setattr(RecordingComm, "sent", sent)
    monkeypatch.setattr(comm, "create_comm", lambda *a, **kw: RecordingComm(*a, **kw))
    return sent


@pytest.fixture
def forms() -> Iterator[list[TokenForm]]:
    """Forms made in the test, closed afterwards (stops their clock threads)."""
    made: list[TokenForm] = []
    yield made
    for form in made:
        form.close()


def synced_states(widget: Any, seen: set[int] | None = None) -> list[str]:
    """JSON of `get_state()` of the widget and every widget it references (children, layout, style…)."""
    import ipywidgets

    seen = set() if seen is None else seen
    if id(widget) in seen:
        return []
    seen.add(id(widget))
    out = [json.dumps(widget.get_state(), default=str)]
    for key in widget.keys:
        value = getattr(widget, key)
        items = value if isinstance(value, (list, tuple)) else [value]
        for item in items:
            if isinstance(item, ipywidgets.Widget):
                out += synced_states(item, seen)
    return out


def assert_clean(form: TokenForm, wire: list[str], *values: str | Secret | None) -> None:
    """Neither the synced state of any widget of the form nor any message sent holds a value."""
    texts = [v.reveal() if isinstance(v, Secret) else v for v in values if v]
    if form.current_token is not None:
        texts.append(form.current_token.access_token.reveal())
    states = synced_states(form.widget)
    assert len(states) > 30  # the walk really went through the tree
    for text in texts:
        assert text
        assert not [s for s in states if text in s], "secret/token in synced widget state"
        assert not [m for m in wire if text in m], "secret/token sent to the browser"


def type_secret(form: TokenForm, value: str) -> None:
    """What the browser sends when the secret field loses focus or Enter is pressed."""
    form._secret.comm.handle_msg(
        {
            "content": {"data": {"method": "update", "state": {"value": value}, "buffer_paths": []}},
            "buffers": [],
        }
    )


def press_enter(form: TokenForm) -> None:
    form._secret.comm.handle_msg(
        {"content": {"data": {"method": "custom", "content": {"event": "submit"}}}, "buffers": []}
    )


def settings_for(h: Any, **kw: Any) -> dp.Settings:
    """Settings pointing at sandbox `h` with its demo client (override with kw)."""
    values = {
        "environment": "sandbox",
        "token_url": h.token_url,
        "api_url": h.url,
        "client_id": h.client_id,
        "client_secret": h.client_secret,
        **kw,
    }
    return dp.load_settings(env_file=False, **values)


def make(forms: list[TokenForm], settings: dp.Settings | None = None, **kw: Any) -> TokenForm:
    form = TokenForm(settings, **kw)
    forms.append(form)
    return form


def status(form: TokenForm) -> str:
    return str(form._status.value)


# -- the pure logic --------------------------------------------------------------------------


def test_scopes_split_and_join() -> None:
    """Documented scopes become checkboxes, the rest free text; the request keeps documented order."""
    assert logic.initial_scopes(("health:read", "user:read")) == (["health:read"], "user:read")
    assert logic.requested_scopes(["health:read", "client:admin"], "user:read, health:read") == (
        "client:admin",
        "health:read",
        "user:read",
    )


def test_form_settings_rules() -> None:
    """Environment switch, .env secret, typed secret and the sandbox demo client."""
    base = dp.load_settings(env_file=False, environment="uat", client_id="cid", client_secret="uat-secret")
    same = logic.form_settings(
        base, logic.FieldValues("uat", "cid", None, ("health:read",)), demo_client_id="demo"
    )
    assert same.client_secret.reveal() == "uat-secret"
    assert same.scope == ("health:read",)
    typed = logic.FieldValues("uat", "cid", Secret("typed"), ("health:read",))
    assert logic.form_settings(base, typed, demo_client_id="demo").client_secret.reveal() == "typed"
    sandbox = logic.form_settings(
        base, logic.FieldValues("sandbox", "cid", None, ("health:read",)), demo_client_id="d"
    )
    assert sandbox.uses_embedded_sandbox
    assert sandbox.client_id == ""
    assert not sandbox.client_secret
    own = logic.form_settings(
        base, logic.FieldValues("sandbox", "", Secret("x"), ("health:read",)), demo_client_id="d"
    )
    assert (own.client_id, own.client_secret.reveal()) == ("d", "x")
    with pytest.raises(SettingsError, match="CLIENT_SECRET") as info:  # the UAT secret stays with UAT
        logic.form_settings(
            base, logic.FieldValues("production", "cid", None, ("health:read",)), demo_client_id="d"
        )
    assert "in the form" in info.value.hint
    with pytest.raises(SettingsError, match="no scope"):
        logic.form_settings(base, logic.FieldValues("uat", "cid", None, ()), demo_client_id="d")


def test_scope_html_highlights_differences() -> None:
    """Missing scopes are struck through in the error colour, extra ones in the warning colour."""
    same = render.scope_html(["a:b"], ["a:b"])
    assert "granted as requested" in same
    assert "line-through" not in same
    diff = render.scope_html(["a:b", "c:d"], ["a:b", "e:f"])
    assert "not granted: c:d" in diff
    assert "granted without asking: e:f" in diff
    assert "line-through" in diff
    assert "var(--jp-error-color1)" in diff
    assert "var(--jp-warn-color1)" in diff


def test_clock_and_phases_text() -> None:
    """The countdown and the timing line read well."""
    from datetime import datetime, timedelta, timezone

    from dailypay_nb._token import Token

    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    token = Token(Secret("t"), "bearer", ("a",), ("a",), 3600, now, now + timedelta(seconds=3725))
    assert render.clock_text(token, None, 0, now.timestamp()) == "token expires in 1:02:05"
    assert render.clock_text(token, None, 0, now.timestamp() + 4000).startswith("token expired")
    assert render.clock_text(token, 10.0, 12.4) == "waiting 2 s"
    assert "fa-hourglass-half" in render.clock_html("waiting 2 s")
    assert render.clock_html("") == ""
    row = {"method": "POST", "endpoint": "/oauth2/token", "status": 200, "connect_ms": 0.41,
           "tls_ms": float("nan"), "send_ms": 0.1, "wait_ms": 3.0, "download_ms": 0.2, "total_ms": 4.0,
           "reused_connection": False}  # fmt: skip
    assert render.phases_text(row) == (
        "POST /oauth2/token 200 · connect 0.4 ms · send 0.1 ms · wait 3.0 ms · download 0.2 ms"
        " · total 4.0 ms · new connection"
    )


def test_error_html_is_short_and_redacted() -> None:
    """One headline naming the code and status once, the server's words muted, one hint, the
    request id muted; no traceback; the secrets in play (and their encodings) are masked."""
    exc = TokenError(
        "token request refused: invalid_client (HTTP 401): bad secret=abc hunter2+x",
        error="invalid_client",
        status=401,
        description="bad secret=abc hunter2+x hunter2%2Bx aWQ6aHVudGVyMit4",  # raw, form-encoded, Basic
        request_id="rid-1",
        hint="check it",
    )
    text = render.error_html(exc, Secret("hunter2+x"), client_id="id")
    assert "✖ Wrong client id or secret — invalid_client, HTTP 401</div>" in text
    assert text.count("invalid_client") == 1
    assert text.count("HTTP 401") == 1
    assert "hunter2" not in text
    assert "aWQ6aHVudGVyMit4" not in text
    assert "abc" not in text
    assert "dpnb-said" in text
    assert "→ check it" in text  # no origins given: the core's hint
    assert re.search(r"dpnb-request-id' style='color:var\(--jp-ui-font-color2\)[^>]*>request id rid-1<", text)
    assert "Traceback" not in text
    assert "unexpected KeyError" in render.error_html(KeyError("x"))


def test_error_hint_names_where_the_value_came_from(tmp_path: Path) -> None:
    """invalid_client: the hint names the typed secret or the .env variables, and outlines both fields."""
    env = tmp_path / ".env"
    env.write_text("DAILYPAY_ENVIRONMENT=uat\nDAILYPAY_CLIENT_ID=cid\nDAILYPAY_CLIENT_SECRET=s3\n")
    base = dp.load_settings(env_file=env)
    exc = TokenError("refused", error="invalid_client", status=401)
    scopes = ("health:read",)

    from_env = logic.origins(base, logic.FieldValues("uat", "cid", None, scopes), demo_client_id="d")
    view = logic.error_view(exc, from_env, "uat")
    assert view.fields == {"client_id", "client_secret"}
    assert view.hint == (
        f"check DAILYPAY_CLIENT_ID and DAILYPAY_CLIENT_SECRET in .env ({env.resolve()}) for UAT, "
        "or type the secret in the form"
    )

    typed = Secret("typed-one")
    from_field = logic.origins(base, logic.FieldValues("uat", "cid", typed, scopes), demo_client_id="d")
    hint = logic.error_view(exc, from_field, "uat").hint
    assert f"the secret you typed ({typed.fingerprint})" in hint
    assert hint.endswith(
        f"type the secret again, or forget it to use DAILYPAY_CLIENT_SECRET in .env ({env.resolve()})"
    )
    assert hint.startswith(f"check DAILYPAY_CLIENT_ID in .env ({env.resolve()}) and")

    other = logic.origins(base, logic.FieldValues("production", "pid", typed, scopes), demo_client_id="d")
    assert logic.error_view(exc, other, "production").hint == (
        f"check the client id you typed and the secret you typed ({typed.fingerprint}) for Production: "
        "type the secret again"
    )
    assert "DAILYPAY" not in logic.error_view(exc, other, "production").hint
    refused_scope = TokenError("refused", error="invalid_scope", status=400)
    assert logic.error_view(refused_scope, other, "production").fields == {"scopes"}
    missing = SettingsError("DAILYPAY_CLIENT_ID is missing", variable="DAILYPAY_CLIENT_ID")
    assert logic.error_view(missing).fields == {"client_id"}


def test_history_frames_continue_across_sessions() -> None:
    """Frames of successive sessions become one: seq goes on, columns and dtypes stay."""
    import math

    from dailypay_nb._frames import timings_frame
    from dailypay_nb.widgets import _history as history

    def row(seq: int, endpoint: str) -> tuple[Any, ...]:
        head = [seq, 1.7e9 + seq, "api", "GET", endpoint, "http://h" + endpoint, 200, 1, True]
        return (*head, math.nan, math.nan, 0.1, 1.0, 0.1, 1.2, 10, None, None, None)

    first = timings_frame([row(1, "/rest/health"), row(3, "/rest/health")])  # seq 2 dropped by the buffer
    second = timings_frame([row(1, "/rest/jobs")])
    merged = history.merge_timings([first, timings_frame([]), second])
    assert list(merged["seq"]) == [1, 3, 4]
    assert list(merged.columns) == list(first.columns)
    assert [str(d) for d in merged.dtypes] == [str(d) for d in first.dtypes]
    assert list(merged["endpoint"]) == ["/rest/health", "/rest/health", "/rest/jobs"]
    assert history.merge_timings([first]) is first
    assert history.merge_timings([]).empty
    assert history.merge_tokens([]).empty


def test_placeholders_and_sources(tmp_path: Path) -> None:
    """The secret field's placeholder is short (it must fit a narrow field); the note under it
    says where the secret comes from."""
    env = tmp_path / ".env"
    env.write_text("DAILYPAY_ENVIRONMENT=uat\nDAILYPAY_CLIENT_ID=cid\nDAILYPAY_CLIENT_SECRET=s3\n")
    base = dp.load_settings(env_file=env)
    assert logic.secret_placeholder(base, "uat", None) == "from .env"
    assert logic.secret_note(base, "uat", None) == f"from .env ({env.resolve()}); type to override"
    assert "demo secret" in logic.secret_placeholder(base, "sandbox", None)
    assert logic.secret_placeholder(base, "production", None) == "PRODUCTION client secret"
    typed = Secret("typed")
    assert logic.secret_placeholder(base, "uat", typed) == f"typed secret ({typed.fingerprint})"
    assert logic.secret_note(base, "uat", typed).endswith(
        f"or forget it to use DAILYPAY_CLIENT_SECRET in .env ({env.resolve()})"
    )
    placeholders = [
        logic.secret_placeholder(base, e, t) for e in ("sandbox", "uat", "production") for t in (None, typed)
    ]
    assert max(len(p) for p in placeholders) <= 32


# -- the form against a sandbox --------------------------------------------------------------


def test_import_does_not_load_ipywidgets() -> None:
    """Only dp.form() imports ipywidgets."""
    code = "import sys, dailypay_nb; print('ipywidgets' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout == "False\n"


def test_prefilled_from_env_file(wire: list[str], forms: list[TokenForm]) -> None:
    """Environment and client id come from .env; the secret field stays empty and says why."""
    Path(".env").write_text(
        "DAILYPAY_ENVIRONMENT=uat\nDAILYPAY_CLIENT_ID=cid-42\nDAILYPAY_CLIENT_SECRET=env-s3cret\n"
    )
    form = make(forms)
    assert form._environment.value == "uat"
    assert form._client_id.value == "cid-42"
    assert form._secret.value == ""
    assert ".env" in form._secret.placeholder
    assert all(box.value for box in form._scope_boxes.values())
    assert "auth.uat.dailypay.com" in form._env_note.value
    assert_clean(form, wire, "env-s3cret")


def test_env_file_without_secret_asks_for_it(wire: list[str], forms: list[TokenForm]) -> None:
    """A .env with a UAT client id but no secret: the form opens and asks for the secret."""
    Path(".env").write_text("DAILYPAY_ENVIRONMENT=uat\nDAILYPAY_CLIENT_ID=cid-42\n")
    with pytest.raises(SettingsError):
        dp.load_settings()  # what the form works around
    form = make(forms)
    assert form._client_id.value == "cid-42"
    assert form._secret.placeholder == "UAT client secret"
    assert "set DAILYPAY_CLIENT_SECRET in .env" in form._secret_note.value
    form._get.click()
    assert form.wait(WAIT) is None
    assert isinstance(form.error, SettingsError)
    assert "DAILYPAY_CLIENT_SECRET is missing" in status(form)
    assert "type the client secret in the form" in status(form)
    assert "dpnb-invalid" in form._secret._dom_classes  # the missing field is outlined
    assert "dpnb-invalid" not in form._client_id._dom_classes
    fields = logic.FieldValues("uat", "cid-42", Secret("t"), ("health:read",))
    typed = logic.form_settings(form.settings, fields, demo_client_id="d")
    assert typed.client_secret.reveal() == "t"
    assert typed.token_url == "https://auth.uat.dailypay.com/oauth2/token"


def test_get_token_success(sandbox: Any, wire: list[str], forms: list[TokenForm]) -> None:
    """Click: masked token, scopes granted as requested, countdown, phases and both frames."""
    form = make(forms, settings_for(sandbox))
    assert_clean(form, wire, sandbox.client_secret)
    form._get.click()
    token = form.wait(WAIT)
    assert token is form.current_token
    assert form.error is None
    text = status(form)
    assert "Token obtained from sandbox" in text
    assert token.fingerprint in text
    assert "granted as requested" in text
    assert "POST /oauth2/token 200 · connect" in text
    assert re.search(r"token expires in (59:\d\d|1:00:00)</span>$", form._clock.value)
    assert "form.tokens" in form._frames.value
    assert token.fingerprint in form._frames.value
    assert "/oauth2/token" in form._frames.value
    assert list(form.tokens["token"]) == [token.access_token.masked]
    assert list(form.timings["kind"]) == ["token"]
    assert not form._get.disabled
    assert form._get.description == "Get token"
    assert sandbox.stats()["token_requests"] == 1
    assert_clean(form, wire, sandbox.client_secret)


def test_second_click_reuses_cached_token(sandbox: Any, wire: list[str], forms: list[TokenForm]) -> None:
    """The second click makes no token request and says so."""
    form = make(forms, settings_for(sandbox))
    first = form.submit().result(WAIT)
    session = form.session
    form._get.click()
    second = form.wait(WAIT)
    assert second is first
    assert form.session is session
    assert "Cached token reused (no request made)" in status(form)
    assert sandbox.stats()["token_requests"] == 1
    assert len(form.tokens) == 1
    assert_clean(form, wire, sandbox.client_secret)


def test_invalid_client_then_recovery(sandbox: Any, wire: list[str], forms: list[TokenForm]) -> None:
    """A wrong typed secret: one headline, a hint naming the typed secret (not an environment
    variable), both credential fields outlined, no traceback; retyping fixes it and keeps the
    failed exchange in the history (a new secret means a new session, not a wiped table)."""
    form = make(forms, settings_for(sandbox))
    type_secret(form, WRONG)
    assert form._secret.value == ""
    assert "fp:" in form._secret.placeholder
    assert_clean(form, wire, WRONG, sandbox.client_secret)
    form._get.click()
    assert form.wait(WAIT) is None
    assert form.current_token is None
    assert isinstance(form.error, TokenError)
    assert form.error.error == "invalid_client"
    text = status(form)
    assert "✖ Wrong client id or secret — invalid_client, HTTP 401</div>" in text
    assert text.count("HTTP 401") == 1
    hint = re.search(r"<div class='dpnb-hint'>→ ([^<]*)</div>", text)
    assert hint is not None
    assert "the secret you typed (fp:" in hint.group(1)
    assert hint.group(1).endswith(
        "type the secret again, or forget it to use the client_secret given to dp.form()"
    )
    assert "DAILYPAY_" not in hint.group(1)
    assert "server: Client authentication failed" in text
    assert "request id " in text
    assert "Traceback" not in text
    assert "dpnb-invalid" in form._client_id._dom_classes
    assert "dpnb-invalid" in form._secret._dom_classes
    assert "dpnb-invalid" not in form._scopes._dom_classes
    assert "HTTP 401" in form._frames.value  # the failed exchange is in the timings table
    assert not form._get.disabled
    assert_clean(form, wire, WRONG, sandbox.client_secret)

    type_secret(form, sandbox.client_secret)
    form._get.click()
    assert form.wait(WAIT) is not None
    assert "Token obtained" in status(form)
    assert "dpnb-invalid" not in form._client_id._dom_classes + form._secret._dom_classes
    assert list(form.timings["seq"]) == [1, 2]
    assert list(form.timings["status"]) == [401, 200]
    assert len(form.tokens) == 1
    assert "HTTP 401" in form._frames.value  # still there: history is not wiped by a new secret
    assert_clean(form, wire, WRONG, sandbox.client_secret)


def test_invalid_scope_names_the_scope(fresh_sandbox: Any, wire: list[str], forms: list[TokenForm]) -> None:
    """A client allowed only health:read: the refused scopes are named; unticking them works."""
    fresh_sandbox.register_client("narrow", "narrow-s3cret", ["health:read"])
    form = make(forms, settings_for(fresh_sandbox, client_id="narrow", client_secret="narrow-s3cret"))
    form._get.click()
    form.wait(WAIT)
    assert isinstance(form.error, TokenError)
    assert form.error.error == "invalid_scope"
    assert "may not request the scope: client:admin client:lookup" in status(form)
    assert_clean(form, wire, "narrow-s3cret")

    form._scope_boxes["client:admin"].value = form._scope_boxes["client:lookup"].value = False
    form._extra_scopes.value = "user:read"
    form._get.click()
    form.wait(WAIT)
    assert "may not request the scope: user:read" in status(form)

    form._extra_scopes.value = ""
    form._get.click()
    token = form.wait(WAIT)
    assert token.granted_scope == ("health:read",)
    assert "granted as requested" in status(form)
    form._test.click()
    assert form.wait(WAIT).status == 200
    assert "GET /rest/health answered 200" in status(form)
    assert_clean(form, wire, "narrow-s3cret")


def test_granted_scope_differs_is_highlighted(
    sandbox: Any, wire: list[str], forms: list[TokenForm], monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the server grants less than asked, the status says which scopes are missing."""
    sandbox.inject("/oauth2/token", status=200, times=1, body={
        "access_token": "dpo_fake_token_value_123456", "token_type": "bearer", "expires_in": 600,
        "scope": "health:read"})  # fmt: skip
    form = make(forms, settings_for(sandbox))
    form._get.click()
    assert form.wait(WAIT).scope_differs
    assert "not granted: client:admin client:lookup" in status(form)
    assert_clean(form, wire, sandbox.client_secret, "dpo_fake_token_value_123456")


def test_timeout_shows_busy_then_error(fresh_sandbox: Any, wire: list[str], forms: list[TokenForm]) -> None:
    """A token endpoint slower than the timeout: busy while waiting, then a one-line timeout error."""
    sandbox = fresh_sandbox  # its own: the abandoned slow request still finishes (and counts) later
    sandbox.inject("/oauth2/token", delay_ms=1200)
    form = make(forms, settings_for(sandbox, timeout=0.4, retry_attempts=1))
    form._get.click()
    assert form.busy
    assert form._get.disabled
    assert form._test.disabled
    assert form._get.description == "Getting token…"
    assert "requesting a token" in status(form)
    assert "waiting 0 s" in form._clock.value
    assert form.wait(WAIT) is None
    assert isinstance(form.error, TokenTransportError)
    assert "timed out after 0.4s" in status(form)
    assert "→ check DAILYPAY_TOKEN_URL" in status(form)
    assert not form.busy
    assert not form._get.disabled
    assert form._get.description == "Get token"
    assert form._clock.value == ""
    assert_clean(form, wire, sandbox.client_secret)


def test_slow_request_keeps_clock_ticking(sandbox: Any, wire: list[str], forms: list[TokenForm]) -> None:
    """During a slow request the kernel is free: the clock ticks, extra clicks join the same request."""
    sandbox.inject("/oauth2/token", delay_ms=1600, times=1)
    form = make(forms, settings_for(sandbox))
    future = form.submit()
    assert form.submit() is future  # a click while busy starts nothing new
    form._get.click()
    deadline = time.monotonic() + 5
    while "waiting 1 s" not in form._clock.value:  # updated by the clock thread, not by us
        assert time.monotonic() < deadline, form._clock.value
        assert not future.done()
        time.sleep(0.05)
    assert future.result(WAIT) is not None
    assert "Token obtained" in status(form)
    assert "token expires in" in form._clock.value
    assert sandbox.stats()["token_requests"] == 1
    assert_clean(form, wire, sandbox.client_secret)


def test_enter_in_secret_field_submits(sandbox: Any, wire: list[str], forms: list[TokenForm]) -> None:
    """The browser sends Enter's `submit` event before the changed value; both orders submit once."""
    form = make(forms, settings_for(sandbox, client_secret="not-the-secret"))
    press_enter(form)
    type_secret(form, sandbox.client_secret)  # arrives right after the key event
    assert form._future is not None
    assert form.wait(WAIT) is not None
    assert "Token obtained" in status(form)
    assert_clean(form, wire, sandbox.client_secret, "not-the-secret")
    # Enter on the emptied field (nothing new typed) submits after a short grace period
    form._future = None
    press_enter(form)
    deadline = time.monotonic() + 3
    while form._future is None:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert form.wait(WAIT) is not None
    assert "Cached token reused" in status(form)
    assert sandbox.stats()["token_requests"] == 1


def test_environment_switch_uses_sandbox_demo(wire: list[str], forms: list[TokenForm]) -> None:
    """From UAT .env settings, selecting the sandbox uses its demo credentials; production asks."""
    Path(".env").write_text(
        "DAILYPAY_ENVIRONMENT=uat\nDAILYPAY_CLIENT_ID=cid-42\nDAILYPAY_CLIENT_SECRET=uat-s3cret\n"
    )
    form = make(forms)
    form._environment.value = "production"
    assert form._client_id.value == ""
    assert "PRODUCTION client secret" in form._secret.placeholder
    form._get.click()
    assert form.wait(WAIT) is None
    assert isinstance(form.error, SettingsError)
    assert "DAILYPAY_CLIENT_ID is missing" in status(form)
    assert "type the client id in the form" in status(form)
    assert form.session is None  # nothing was sent anywhere

    form._environment.value = "sandbox"
    assert form._client_id.value == dp.sandbox.DEMO_CLIENT_ID
    assert "demo secret" in form._secret.placeholder
    form._get.click()
    token = form.wait(WAIT)
    assert token is not None
    assert form.session is not None
    assert form.session.sandbox is dp.sandbox.shared()
    assert form.session.settings.client_id == dp.sandbox.DEMO_CLIENT_ID
    assert "Token obtained from sandbox" in status(form)
    assert_clean(form, wire, "uat-s3cret", dp.sandbox.DEMO_CLIENT_SECRET)


def test_test_button_reports_missing_scope(sandbox: Any, wire: list[str], forms: list[TokenForm]) -> None:
    """Test token without health:read: the API's refusal as message and hint, form still usable."""
    form = make(forms, settings_for(sandbox))
    form._scope_boxes["health:read"].value = False
    form._test.click()
    assert form.wait(WAIT) is None
    assert isinstance(form.error, dp.ApiError)
    assert "dpnb-error" in status(form)
    assert "403" in status(form)
    assert "Traceback" not in status(form)
    assert not form._test.disabled
    form._scope_boxes["health:read"].value = True
    form._test.click()
    assert form.wait(WAIT) is not None
    assert "answered 200" in status(form)
    assert_clean(form, wire, sandbox.client_secret)


def test_password_echo_is_off(wire: list[str], forms: list[TokenForm]) -> None:
    """A plain ipywidgets Password echoes a typed value back to the browser; ours does not."""
    import ipywidgets

    plain = ipywidgets.Password()
    plain.comm.handle_msg(
        {"content": {"data": {"method": "update", "state": {"value": "echo-me"}}}, "buffers": []}
    )
    assert any("echo-me" in m for m in wire)
    form = make(forms)
    type_secret(form, "do-not-echo")
    assert not any("do-not-echo" in m for m in wire)
    plain.close()


def test_environments_keep_their_own_history(sandbox: Any, wire: list[str], forms: list[TokenForm]) -> None:
    """Status, tables, outlines, clock and error belong to the selected environment: another
    one shows its own history or "none yet", and switching back brings the first one back."""
    form = make(forms, settings_for(sandbox))
    type_secret(form, WRONG)
    form.submit().result(WAIT)
    assert isinstance(form.error, TokenError)
    sandbox_status = status(form)

    form._environment.value = "uat"
    assert status(form) == render.status_html("uat", "", "")
    assert "no token yet for UAT" in status(form)
    assert "HTTP 401" not in form._frames.value
    assert form._frames.value.count("none yet for UAT") == 2
    assert form.error is None
    assert form.session is None
    assert form.tokens.empty
    assert form.timings.empty
    assert "dpnb-invalid" not in form._client_id._dom_classes + form._secret._dom_classes
    assert "fp:" not in form._secret.placeholder  # the typed secret stays with the sandbox
    assert form._forget.layout.display == "none"

    form._environment.value = "sandbox"
    assert status(form) == sandbox_status
    assert isinstance(form.error, TokenError)
    assert "fp:" in form._secret.placeholder
    assert "dpnb-invalid" in form._secret._dom_classes

    form._scope_boxes["client:admin"].value = False  # other settings: a new session, same history
    type_secret(form, sandbox.client_secret)
    token = form.submit().result(WAIT)
    assert token is form.current_token
    assert list(form.timings["seq"]) == [1, 2]
    assert list(form.timings.columns) == list(dp._frames.timings_frame([]).columns)
    assert len(form.session.timings) == 1  # the current session only holds its own row
    assert "token expires in" in form._clock.value
    form._environment.value = "production"
    assert form._clock.value == ""  # no countdown of another environment's token
    assert form.current_token is None
    assert_clean(form, wire, WRONG, sandbox.client_secret)


def test_forget_typed_secret(sandbox: Any, wire: list[str], forms: list[TokenForm]) -> None:
    """ "forget typed secret" drops it: the configured secret is used again, the history stays."""
    form = make(forms, settings_for(sandbox))
    type_secret(form, WRONG)
    assert form._forget.layout.display is None  # shown
    assert "forget it to use the client_secret given to dp.form()" in form._secret_note.value
    assert form.submit().result(WAIT) is None
    form._forget.click()
    assert form.fields().typed_secret is None
    assert form._forget.layout.display == "none"
    assert form._secret.placeholder == "from the settings given to the form"
    assert form.submit().result(WAIT) is not None
    assert "Token obtained" in status(form)
    assert list(form.timings["status"]) == [401, 200]
    assert_clean(form, wire, WRONG, sandbox.client_secret)


def test_test_token_adds_under_the_details(sandbox: Any, wire: list[str], forms: list[TokenForm]) -> None:
    """Test token keeps the token's details and adds its answer under them; a later Get token
    shows the details alone again."""
    form = make(forms, settings_for(sandbox))
    token = form.submit().result(WAIT)
    details = status(form)
    form._test.click()
    assert form.wait(WAIT).status == 200
    text = status(form)
    assert text.startswith(details)
    assert text.index(token.fingerprint) < text.index("GET /rest/health answered 200")
    assert re.search(r"the token works <span class='dpnb-at'[^>]*>· \d\d:\d\d:\d\d UTC</span>", text)
    form._get.click()
    form.wait(WAIT)
    assert "answered 200" not in status(form)
    assert "Cached token reused" in status(form)
    assert_clean(form, wire, sandbox.client_secret)


def test_status_is_safe_to_freeze(sandbox: Any, forms: list[TokenForm]) -> None:
    """What is synced states absolute times; only the clock counts down, marked live (the CSS
    hides `.dpnb-live` and the clock once the kernel is gone)."""
    form = make(forms, settings_for(sandbox))
    token = form.submit().result(WAIT)
    expires = token.expires_at.strftime("%H:%M:%S UTC")
    assert f">{expires}</span>" in status(form)
    assert "expires in" not in status(form) + form._frames.value
    assert form._clock.value.startswith("<span class='dpnb-live'")
    header = form.widget.children[0].value
    for rule in (
        ".dpnb-form.jupyter-widgets-disconnected .dpnb-clock",
        ".dpnb-form.jupyter-widgets-disconnected .dpnb-live",
        ".dpnb-form .jupyter-widgets-disconnected::before",
        ".dpnb-form.jupyter-widgets-disconnected .dpnb-offline",
    ):
        assert rule in header
    assert "run this cell again" in header.lower()


def test_server_echo_is_redacted_in_widget_state(
    sandbox: Any, wire: list[str], forms: list[TokenForm]
) -> None:
    """Whatever the token endpoint echoes of a typed secret (raw, form-encoded, as Basic
    credentials, in the request id header) reaches no widget state and no message."""
    import base64
    from urllib.parse import quote_plus

    typed = "p@ss/w0rd+x=1&y"
    encoded = quote_plus(typed)
    basic = base64.b64encode(f"{sandbox.client_id}:{typed}".encode()).decode()
    sandbox.inject(
        "/oauth2/token",
        status=401,
        times=1,
        headers={"x-request-id": f"rid-{encoded}"},
        body={"error": "invalid_client", "error_description": f"got {typed} / {encoded} / {basic}"},
    )
    form = make(forms, settings_for(sandbox))
    type_secret(form, typed)
    assert form.submit().result(WAIT) is None
    assert "server: got •••••• / •••••• / ••••••" in status(form)
    assert "rid-••••••</div>" in status(form)  # the header as the server sent it, redacted
    assert_clean(form, wire, typed, encoded, basic)
    # a 200 whose granted scope echoes the secret: the chips and the tokens table mask it
    sandbox.inject("/oauth2/token", status=200, times=1, body={
        "access_token": "dpo_echo_token_0123456789", "token_type": "bearer", "expires_in": 600,
        "scope": f"health:read {typed} {encoded}"})  # fmt: skip
    form._environment.value = "uat"
    form._environment.value = "sandbox"  # the typed secret is still the sandbox's
    assert form.submit().result(WAIT) is not None
    assert "granted without asking: •••••• ••••••" in status(form)
    assert_clean(form, wire, typed, encoded, basic, "dpo_echo_token_0123456789")


def test_typed_value_leaves_the_message_in_place(wire: list[str], forms: list[TokenForm]) -> None:
    """The typed value is taken out of the comm message itself (frames above share that dict),
    the `value` trait never holds it, and the browser's field is emptied."""
    form = make(forms)
    seen: list[str] = []
    form._secret.observe(lambda change: seen.append(change["new"]), "value")
    state = {"value": "typed-in-browser", "placeholder": "kept"}
    msg = {"content": {"data": {"method": "update", "state": state, "buffer_paths": []}}, "buffers": []}
    form._secret.comm.handle_msg(msg)
    assert state == {"placeholder": "kept"}  # the rest of the update still applies
    assert form.fields().typed_secret == Secret("typed-in-browser")
    assert seen == []
    assert any('"value": ""' in m for m in wire)  # "" sent: the browser's field empties
    assert not any("typed-in-browser" in m for m in wire)


def test_secret_assigned_from_python_is_never_synced(wire: list[str], forms: list[TokenForm]) -> None:
    """`field.value = ...` from code is taken like a typed value and never sent to the browser."""
    form = make(forms)
    form._secret.value = "assigned-in-code"
    assert form._secret.value == ""
    assert form.fields().typed_secret == Secret("assigned-in-code")
    assert not any("assigned-in-code" in m for m in wire)


def test_no_logger_records_the_typed_secret(
    sandbox: Any, wire: list[str], forms: list[TokenForm], caplog: pytest.LogCaptureFixture
) -> None:
    """Every logger at DEBUG: the comm package's per-message line, a kernel-style line of the
    message content and our own lines carry no typed secret (the real kernel is in
    test_form_secret_logs.py)."""
    import logging

    caplog.set_level(logging.DEBUG)
    for name in [*logging.root.manager.loggerDict, "Comm", "IPKernelApp", "traitlets", "tornado"]:
        logging.getLogger(name).setLevel(logging.DEBUG)
    form = make(forms, settings_for(sandbox, client_secret="not-this"))
    msg = {
        "content": {
            "comm_id": form._secret.comm.comm_id,
            "data": {"method": "update", "state": {"value": "typed-s3cret"}, "buffer_paths": []},
        },
        "buffers": [],
    }
    logging.getLogger("IPKernelApp").debug("   Content: %s\n", msg["content"])  # as ipykernel does
    logging.getLogger("IPKernelApp").debug("preformatted %s", repr(msg))
    form._secret.comm.handle_msg(msg)
    press_enter(form)
    form.wait(WAIT)
    type_secret(form, "typed-s3cret")  # a message with no comm id in its content
    records = [r for r in caplog.records if r.name == "Comm" and "handle_msg" in r.msg]
    assert records, "the comm package no longer logs messages: this test checks nothing"
    for record in caplog.records:
        assert "typed-s3cret" not in record.getMessage()
        assert "typed-s3cret" not in repr(vars(record))
    assert "typed-s3cret" not in caplog.text


def test_display_and_close(forms: list[TokenForm]) -> None:
    """dp.form() displays as its widget; close() stops the clock thread and closes the widgets."""
    form = dp.form()
    forms.append(form)
    bundle = form._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == form.widget.model_id
    assert repr(form) == "TokenForm(sandbox, no token)"
    form.close()
    form._ticker.join(3)
    assert not form._ticker.is_alive()
    assert form.widget.comm is None


@pytest.mark.kernel
def test_nbclient_notebook_saves_no_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A notebook run headless (nbclient stores widget state): the tutorial path from the form
    to code; the written file holds neither the typed secret nor the token."""
    import nbformat
    from _lab import WIDGET_STATE, isolated_jupyter_env, write_kernelspec
    from nbclient import NotebookClient
    from nbformat.v4 import new_code_cell, new_notebook

    for key, value in isolated_jupyter_env(tmp_path / "jupyter").items():
        monkeypatch.setenv(key, value)
    kernel = write_kernelspec(tmp_path / "jupyter" / "data")
    monkeypatch.setenv("DPNB_TYPED", dp.sandbox.DEMO_CLIENT_SECRET)  # typed by "the user", not in the source
    cells = [
        "import dailypay_nb as dp\nform = dp.form()\nform",
        "import os\nform._secret.value = os.environ['DPNB_TYPED']  # what the browser sends\n"
        "token = form.submit().result(30)\nprint(token)",
        "form.session.get('/rest/health').status, form.timings[['kind', 'status']]",
    ]
    nb = new_notebook(cells=[new_code_cell(c) for c in cells])
    NotebookClient(
        nb, timeout=60, kernel_name=kernel, resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    text = nbformat.writes(nb)
    assert "Token(bearer •••••• (fp:" in text
    assert "Token obtained from sandbox" in text  # the status is in the saved widget state, masked
    assert dp.sandbox.DEMO_CLIENT_SECRET not in text
    assert not re.search(r"dpo_[0-9a-f]{12,}", text)
    models = {m["model_name"]: m["state"] for m in nb.metadata.widgets[WIDGET_STATE]["state"].values()}
    assert models["PasswordModel"].get("value", "") == ""
