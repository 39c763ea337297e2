"""The secret canary: one run with a canary client secret does everything a user can, then every
artefact is searched for the canary and for every token issued during the run. Zero hits.

Covered: settings, tokens, every explorer helper (client and user token, sync and async), errors
of every kind, bench, plots (PNG and SVG), the token form driven from Python, the CLI in
subprocesses, every notebook executed with nbclient from a `.env` holding the canary; searched:
captured stdout/stderr, DEBUG logs of every logger, exception and warning texts, tracebacks,
frames (`to_string`, `to_html`), reprs and HTML reprs, pickles of frames, CLI output, executed
notebooks (outputs and `metadata.widgets`), the widget state and messages sent to the browser,
and every file written in the working directory.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import pickle
import re
import secrets
import subprocess
import sys
import traceback
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import dailypay_nb as dp

pytestmark = pytest.mark.kernel
ROOT = Path(__file__).resolve().parents[1]
CLIENT = "canary-client"
SCOPES = "client:admin client:lookup health:read"
#: What the sandbox issues (`dpo_` + 36 hex digits): catches tokens this test could not collect.
TOKEN_PATTERN = re.compile(r"dpo_[0-9a-f]{20,}")


class Artefacts:
    """Everything the run produced, as labelled text or bytes, and the secrets to look for."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str | bytes]] = []
        self.secrets: set[str] = set()
        self.missing: list[str] = []

    def add(self, label: str, value: Any) -> None:
        self.items.append((label, value if isinstance(value, (str, bytes)) else repr(value)))

    def frame(self, label: str, frame: Any) -> None:
        """A DataFrame as a user sees or saves it: to_string, to_html, repr, HTML repr, pickle."""
        self.add(label + ".to_string", frame.to_string())
        self.add(label + ".to_html", frame.to_html())
        self.add(label + ".repr", repr(frame))
        self.add(label + "._repr_html_", frame._repr_html_() or "")
        self.add(label + ".pickle", pickle.dumps(frame))
        self.add(label + ".attrs", repr(frame.attrs))

    def error(self, label: str, exc: BaseException) -> None:
        """An exception: message, repr, attributes, the full traceback text with its chain."""
        self.add(label + ".str", str(exc))
        self.add(label + ".repr", repr(exc))
        self.add(label + ".dict", repr(vars(exc)))
        self.add(label + ".traceback", "".join(traceback.format_exception(exc)))
        if isinstance(exc, dp.ApiError):
            self.frame(label + ".frame", exc.errors_frame)

    def expect(self, label: str, call: Callable[[], Any], *errors: type[BaseException]) -> Any:
        """Run call(); record the exception if it raises one of `errors` (others fail the test)."""
        try:
            return call()
        except errors as exc:
            self.error(label, exc)
            return None

    def hits(self) -> list[str]:
        """Where a secret or a token-shaped value appears, with its context (the value masked)."""
        found = []
        for label, value in self.items:
            text = value if isinstance(value, str) else value.decode("latin-1")
            values = {s for s in self.secrets if s and s in text} | set(TOKEN_PATTERN.findall(text))
            for secret in values:
                at = text.index(secret)
                context = text[max(0, at - 120) : at + len(secret) + 60]
                for other in values:
                    context = context.replace(other, f"<{dp.Secret(other).fingerprint}>")
                found.append(f"{label}: {context!r}")
        return found


@pytest.fixture
def canary() -> str:
    return "canary-" + secrets.token_hex(16)


@pytest.fixture
def box(fresh_sandbox: Any, canary: str) -> Iterator[tuple[Any, list[str]]]:
    """A private sandbox that knows the canary client and remembers every token it issues."""
    fresh_sandbox.register_client(CLIENT, canary, SCOPES)
    issued: list[str] = []
    store = fresh_sandbox._state.tokens
    issue = store.issue

    def recording_issue(*args: Any, **kwargs: Any) -> Any:
        token = issue(*args, **kwargs)
        issued.append(token.value)
        return token

    store.issue = recording_issue
    yield fresh_sandbox, issued
    store.issue = issue


@pytest.fixture
def all_logs() -> Iterator[io.StringIO]:
    """Every logger at DEBUG into one stream (root handler plus every non-propagating logger)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s %(args)s"))
    root = logging.getLogger()
    loggers = [root, *(lg for lg in root.manager.loggerDict.values() if isinstance(lg, logging.Logger))]
    levels = {lg: lg.level for lg in loggers}
    extra = [lg for lg in loggers if not lg.propagate]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
    root.addHandler(handler)
    for lg in extra:
        lg.addHandler(handler)
    yield stream
    root.removeHandler(handler)
    for lg in extra:
        lg.removeHandler(handler)
    for lg, level in levels.items():
        lg.setLevel(level)


def env_file(folder: Path, h: Any, canary: str) -> Path:
    path = folder / ".env"
    path.write_text(
        "DAILYPAY_ENVIRONMENT=sandbox\n"
        f"DAILYPAY_CLIENT_ID={CLIENT}\n"
        f"DAILYPAY_CLIENT_SECRET={canary}\n"
        f"DAILYPAY_TOKEN_URL={h.token_url}\n"
        f"DAILYPAY_API_URL={h.url}\n"
        f"DAILYPAY_SCOPE={SCOPES}\n"
    )
    return path


# -- the parts of the run --------------------------------------------------------------------


def run_settings(a: Artefacts, canary: str) -> dp.Settings:
    """Settings from the .env, their displays, and settings errors that involve the secret."""
    settings = dp.load_settings()
    a.add("settings.repr", repr(settings))
    a.add("settings.str", str(settings))
    a.add("settings.describe", settings.describe())
    a.add("settings.sources", dict(settings.sources))
    a.add(
        "settings.secret",
        [repr(settings.client_secret), str(settings.client_secret), f"{settings.client_secret}"],
    )
    a.add("settings.secret.html", settings.client_secret._repr_html_())
    a.expect("pickle.secret", lambda: pickle.dumps(settings.client_secret), TypeError)
    for bad in (canary + " ", "\t" + canary, canary + "\n", canary + "\x00"):
        a.expect("settings.bad-secret", lambda b=bad: settings.replace(client_secret=b), dp.SettingsError)
    a.expect(
        "settings.no-env", lambda: dp.load_settings(env_file=False, client_secret=canary), dp.SettingsError
    )
    return settings


def run_session(a: Artefacts, settings: dp.Settings, h: Any) -> dp.Session:
    """Tokens, every explorer helper with client and user tokens, raw requests and errors."""
    session = dp.connect(settings)
    token = session.token()
    a.secrets.add(token.access_token.reveal())
    forced = session.token(force=True)
    a.secrets.add(forced.access_token.reveal())
    a.add("token", [repr(token), str(token), token._repr_html_(), repr(vars(token))])
    a.add("session", [repr(session), session._repr_html_(), repr(session.auth), repr(vars(session))])
    data = h.data
    person, job = data.person_id, data.jobs_of()[0]
    frames = {
        "operations": dp.operations(),
        "health": session.health(),
        "organizations": session.organizations(),
        "organization": session.organization(data.organization_ids[0]),
        "jobs": session.jobs(),
        "job": session.job(job),
        "accounts": session.accounts(person_id=person),
        "account": session.account(data.earnings_account_id()),
        "person": session.person(person),
    }
    user = dp.sandbox.as_user(session, person)
    a.secrets.add(user._user_token.reveal())
    frames |= {
        "transfers": user.transfers(include="estimated_funding_sources"),
        "transfer": user.transfer(data.transfers_of()[0]),
        "paychecks": user.paychecks(),
        "paycheck": user.paycheck(data.paychecks_of()[0]),
        "update_job": user.update_job(job, default_depository_id=data.depository_account_id()),
        "update_person": user.update_person(person, state_of_residence="NJ"),
        "create_transfer": user.create_transfer(
            amount=500, origin_id=data.earnings_account_id(), schedule="NEXT_BUSINESS_DAY"
        ),
        "preview": user.create_transfer(
            amount=700, origin_id=data.earnings_account_id(), schedule="NEXT_BUSINESS_DAY", preview=True
        ),
    }
    account = user.create_account(
        person,
        account_type="DEPOSITORY",
        subtype="SAVINGS",
        name="Rainy day",
        details={
            "first_name": "E",
            "last_name": "C",
            "routing_number": "021000021",
            "account_number": "987654321",
        },
    )
    frames["create_account"] = account
    user.delete_account(account.loc[0, "id"])
    frames["included"] = frames["transfers"].attrs["included"].frame
    for name, frame in frames.items():
        a.frame(f"frame.{name}", frame)
    a.add("user", [repr(user), user._repr_html_()])
    response = session.get("/rest/jobs", params={"filter[person.id]": person})
    a.add(
        "response",
        [repr(response), response._repr_html_(), response.body, dict(response.headers), response.timing],
    )
    a.frame("response.frame", response.frame)
    run_errors(a, session, user, h)
    return session


def run_errors(a: Artefacts, session: dp.Session, user: dp.Session, h: Any) -> None:
    """Every kind of error a user meets, each recorded with its traceback."""
    a.expect("error.404", lambda: session.person(str(uuid.uuid4())), dp.ApiError)
    a.expect("error.scope", lambda: session.transfers(), dp.ScopeError)
    a.expect("error.filter", lambda: session.jobs(employe_id="x"), dp.DailyPayError, TypeError)
    a.expect(
        "error.argument",
        lambda: user.create_transfer(amount=1.5, origin_id="x", schedule="x"),
        dp.DailyPayError,
    )
    production = dp.connect(
        session.settings.replace(environment="production", token_url=h.token_url, api_url=h.url)
    )
    a.expect(
        "error.write-refused",
        lambda: production.create_transfer(
            amount=500, origin_id=str(uuid.uuid4()), schedule="NEXT_BUSINESS_DAY"
        ),
        dp.WriteRefusedError,
    )
    production.close()
    h.inject("/rest/health", status=401, times=2)
    a.expect("error.401", session.health, dp.ApiError)
    h.revoke_all()
    session.health()  # 401 -> refetch -> retry
    h.inject("/rest/organizations", status=503, headers={"Retry-After": "0"}, times=1)
    session.organizations()
    h.inject("/oauth2/token", status=502, body="<h1>bad gateway</h1>", times=1)
    session.token(force=True)
    wrong = dp.connect(session.settings.replace(client_secret=session.settings.client_secret.reveal() + "x"))
    a.expect("error.invalid-client", wrong.token, dp.TokenError)
    basic = dp.connect(session.settings.replace(token_auth_method="client_secret_basic"))
    basic.health()
    for other in (wrong, basic):
        other.close()
        for t in other._provider.history:
            a.secrets.add(t.access_token.reveal())
    refused = dp.connect(
        session.settings.replace(token_url="http://127.0.0.1:9/oauth2/token", retry_attempts=2)
    )
    a.expect("error.refused", refused.token, dp.TokenTransportError)
    refused.close()
    h.inject("/rest/health", status=200, body="<html>not json</html>", content_type="text/html", times=1)
    a.expect("error.not-json", session.health, dp.DailyPayError)


def run_async(a: Artefacts, settings: dp.Settings, h: Any) -> None:
    """The async session: token and a few helpers."""

    async def main() -> None:
        async with await dp.connect_async(settings) as session:
            token = await session.atoken()
            a.secrets.add(token.access_token.reveal())
            a.frame("async.jobs", await session.jobs())
            a.frame("async.health", await session.health())
            a.add("async.session", [repr(session), session._repr_html_()])
            a.frame("async.timings", session.timings)

    asyncio.run(main())


def run_bench_and_plots(a: Artefacts, session: dp.Session, out: Path) -> None:
    """A benchmark (progress bar on stderr) and every plot saved as PNG and SVG."""
    run = session.bench("/rest/health", n=40, concurrency=4, warmup=2, progress=True)
    a.add("bench", [repr(run), run._repr_html_()])
    a.frame("bench.timings", run.timings)
    a.frame("bench.summary", run.summary)
    try:
        from dailypay_nb import plots
    except ImportError:
        a.missing.append("dailypay_nb.plots (plots to PNG/SVG)")
        return
    figures = {
        "histogram": plots.latency_histogram(run.timings),
        "ecdf": plots.latency_ecdf(session.timings),
        "waterfall": plots.waterfall(run.timings),
        "waterfall-row": plots.waterfall(session.timings, row=session.timings.index[-1]),
    }
    for name, figure in figures.items():
        for ext in ("png", "svg"):
            figure.savefig(out / f"{name}.{ext}")
        a.add(f"plot.{name}.repr", repr(figure))


class _Wire:
    """Patches `comm.create_comm` so every kernel→browser widget message is kept as JSON."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import comm
        from comm.base_comm import BaseComm

        sent: list[str] = []

        class RecordingComm(BaseComm):  # type: ignore[misc]
            def publish_msg(
                self, msg_type: str, data: Any = None, metadata: Any = None, buffers: Any = None, **keys: Any
            ) -> None:
                sent.append(json.dumps({"type": msg_type, "data": data}, default=str))

        monkeypatch.setattr(comm, "create_comm", lambda *args, **kw: RecordingComm(*args, **kw))
        self.sent = sent


def widget_states(widget: Any, seen: set[int] | None = None) -> list[str]:
    """The synced state of a widget and every widget it references."""
    import ipywidgets

    seen = set() if seen is None else seen
    if id(widget) in seen:
        return []
    seen.add(id(widget))
    out = [json.dumps(widget.get_state(), default=str)]
    for key in widget.keys:
        value = getattr(widget, key)
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(item, ipywidgets.Widget):
                out += widget_states(item, seen)
    return out


def run_form(a: Artefacts, canary: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The token form from the .env: submit, test, type the secret, type a wrong one, Enter."""
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        a.missing.append("ipywidgets (the token form)")
        return
    wire = _Wire(monkeypatch)
    form = dp.form()

    def typed(value: str, enter: bool = False) -> None:
        form._secret.comm.handle_msg(
            {
                "content": {"data": {"method": "update", "state": {"value": value}, "buffer_paths": []}},
                "buffers": [],
            }
        )
        if enter:
            form._secret.comm.handle_msg(
                {"content": {"data": {"method": "custom", "content": {"event": "submit"}}}, "buffers": []}
            )

    try:
        form.submit().result(20)
        form.test().result(20)
        typed(canary + "-wrong")
        form.submit().result(20)
        a.add("form.error-html", form._status.value)
        typed(canary, enter=True)
        form.wait(20)
        form.submit().result(20)
        a.add("form", [repr(form), form._repr_mimebundle_()])
        a.frame("form.tokens", form.tokens)
        a.frame("form.timings", form.timings)
        if form.session is not None:
            for t in form.session._provider.history:
                a.secrets.add(t.access_token.reveal())
        a.add("form.widget-state", "\n".join(widget_states(form.widget)))
        a.add("form.wire", "\n".join(wire.sent))
        if form.error is not None:
            a.error("form.error", form.error)
    finally:
        form.close()


CLI_COMMANDS = [
    ["-m", "dailypay_nb", "token"],
    ["-m", "dailypay_nb", "quickstart"],
    ["-m", "dailypay_nb", "get", "/rest/organizations"],
    ["-m", "dailypay_nb", "get", "/rest/jobs", "--json"],
    ["-m", "dailypay_nb", "get", "/rest/people/00000000-0000-0000-0000-000000000000"],
    ["-m", "dailypay_nb", "bench", "/rest/health", "-n", "30", "-c", "4"],
    [
        "-c",
        "import logging, sys; logging.basicConfig(level=logging.DEBUG); "
        "from dailypay_nb.cli import main; sys.exit(main(sys.argv[1:]))",
        "quickstart",
    ],
]


def start_cli(h: Any, canary: str, cwd: Path) -> list[tuple[list[str], subprocess.Popen[str]]]:
    """Every CLI command in its own subprocess, env pointing at the sandbox (plus one wrong secret)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAILYPAY_")}
    env |= {
        "DAILYPAY_ENVIRONMENT": "sandbox",
        "DAILYPAY_CLIENT_ID": CLIENT,
        "DAILYPAY_CLIENT_SECRET": canary,
        "DAILYPAY_TOKEN_URL": h.token_url,
        "DAILYPAY_API_URL": h.url,
        "DAILYPAY_SCOPE": SCOPES,
        "PYTHONPATH": str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
    }
    runs = [(args, env) for args in CLI_COMMANDS]
    runs.append((["-m", "dailypay_nb", "token"], env | {"DAILYPAY_CLIENT_SECRET": canary + "-wrong"}))
    return [
        (
            args,
            subprocess.Popen(
                [sys.executable, *args],
                cwd=cwd,
                env=e,
                text=True,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            ),
        )
        for args, e in runs
    ]


def finish_cli(a: Artefacts, procs: list[tuple[list[str], subprocess.Popen[str]]]) -> None:
    """Collect every CLI run's output; each did its job (the last one is refused: wrong secret)."""
    results = []
    for args, proc in procs:
        out, err = proc.communicate(timeout=120)
        label = "cli." + " ".join(args[2:] if args[0] == "-m" else ["debug", *args[2:]])
        a.add(label + ".stdout", out)
        a.add(label + ".stderr", err)
        assert "Traceback" not in err, f"{label} printed a traceback: {err[-2000:]}"
        results.append((proc.returncode, out, err))
    codes = [code for code, _, _ in results]
    assert codes == [0, 0, 0, 0, 1, 0, 0, 2], codes
    assert CLIENT in results[0][1]  # the token frame names the canary client
    assert "DEBUG" in results[6][2]
    assert "dailypay_nb" in results[6][2]
    assert "invalid_client" in results[-1][2]


#: Runs in the kernel before each notebook: a sandbox the .env points at, hosted by the kernel
#: (so `session.sandbox` and `as_user()` work), which appends every token it issues to a file
#: outside the working directory.
KERNEL_STARTUP = """\
import os as _os
from urllib.parse import urlsplit as _urlsplit

from dotenv import dotenv_values as _dotenv_values

from dailypay_nb import sandbox as _sandbox


_values = _dotenv_values(".env")
_box = _sandbox.start(port=_urlsplit(_values["DAILYPAY_API_URL"]).port)
_box.register_client(_values["DAILYPAY_CLIENT_ID"], _values["DAILYPAY_CLIENT_SECRET"], _sandbox.DEMO_SCOPES)
_issue = _box._state.tokens.issue


def _recording_issue(*args, _path=_os.environ["DPNB_CANARY_TOKENS"], **kwargs):
    token = _issue(*args, **kwargs)
    with open(_path, "a") as f:
        f.write(token.value + "\\n")
    return token


_box._state.tokens.issue = _recording_issue
del _values, _urlsplit, _dotenv_values, _sandbox, _os
"""


def run_notebooks(a: Artefacts, canary: str, base: Path, out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every notebook in notebooks/, executed with nbclient from a folder whose .env holds the canary."""
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    if not notebooks:
        a.missing.append("notebooks/*.ipynb")
        return
    import nbformat
    from _lab import KERNEL_NAME, free_port, isolated_jupyter_env, write_kernelspec
    from nbclient import NotebookClient

    env = isolated_jupyter_env(base / "jupyter-env")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    write_kernelspec(Path(env["JUPYTER_DATA_DIR"]))
    startup = Path(env["IPYTHONDIR"]) / "profile_default" / "startup" / "00-canary.py"
    startup.parent.mkdir(parents=True, exist_ok=True)
    startup.write_text(KERNEL_STARTUP)
    tokens_file = base / "kernel-tokens.txt"
    monkeypatch.setenv("DPNB_CANARY_TOKENS", str(tokens_file))
    for path in notebooks:
        work = out / ("nb-" + path.stem)
        work.mkdir()
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        (base / "nb-env").mkdir(exist_ok=True)
        (work / ".env").write_text(
            f"DAILYPAY_ENVIRONMENT=sandbox\nDAILYPAY_CLIENT_ID={CLIENT}\nDAILYPAY_CLIENT_SECRET={canary}\n"
            f"DAILYPAY_TOKEN_URL={url}/oauth2/token\nDAILYPAY_API_URL={url}\n"
        )
        nb = nbformat.read(path, as_version=4)
        NotebookClient(
            nb, timeout=120, kernel_name=KERNEL_NAME, resources={"metadata": {"path": str(work)}}
        ).execute()
        nbformat.write(nb, work / path.name)
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
        assert not errors, f"{path.name}: {errors[0].get('ename')}: {errors[0].get('evalue')}"
        a.add(f"notebook.{path.stem}", nbformat.writes(nb))
        a.add(f"notebook.{path.stem}.widgets", json.dumps(nb.metadata.get("widgets", {})))
    if tokens_file.exists():
        a.secrets.update(line for line in tokens_file.read_text().split() if line)


# -- the test --------------------------------------------------------------------------------


def test_canary_everything(
    box: tuple[Any, list[str]],
    canary: str,
    all_logs: io.StringIO,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Everything a user can do, with a canary secret: no artefact holds it or any issued token."""
    h, issued = box
    cwd = Path.cwd()  # conftest runs each test in an empty folder
    env_file(cwd, h, canary)
    out = cwd / "out"
    out.mkdir()
    (cli_cwd := tmp_path / "cli").mkdir()
    a = Artefacts()
    a.secrets.add(canary)
    procs = start_cli(h, canary, cli_cwd)  # the CLI runs while the rest goes on
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            settings = run_settings(a, canary)
            session = run_session(a, settings, h)
            run_async(a, settings, h)
            run_bench_and_plots(a, session, out)
            run_form(a, canary, monkeypatch)
            for name in ("tokens", "timings"):
                a.frame(f"session.{name}", getattr(session, name))
            a.frame("session.timing_summary", session.timing_summary())
            for t in session._provider.history:
                a.secrets.add(t.access_token.reveal())
            session.close()
            run_notebooks(a, canary, tmp_path, out, monkeypatch)
            finish_cli(a, procs)
    finally:
        for _, proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    a.add("warnings", [f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})" for w in caught])
    captured = capfd.readouterr()
    a.add("stdout", captured.out)
    a.add("stderr", captured.err)
    a.add("logs", all_logs.getvalue())
    for path in sorted(p for p in cwd.rglob("*") if p.is_file() and p.name != ".env"):
        a.add(f"file:{path.relative_to(cwd)}", path.read_bytes())
    a.secrets.update(issued)

    # the run really did what it says
    assert len(issued) >= 10, "the sandbox issued fewer tokens than the run asked for"
    assert "DEBUG dailypay_nb" in all_logs.getvalue()
    assert any(label.startswith("cli.") for label, _ in a.items)
    assert len(a.items) > 200
    print(f"canary: {len(a.items)} artefacts searched for {len(a.secrets)} secrets and tokens")
    hits = a.hits()
    assert not hits, "\n".join(hits[:40])
    if a.missing:
        pytest.skip("not covered yet (feature missing): " + "; ".join(a.missing))


def test_the_search_finds_planted_values(canary: str) -> None:
    """The scan itself works: a canary in a frame, a token in bytes and an unknown token are all found."""
    import pandas as pd

    a = Artefacts()
    a.secrets |= {canary, "known-token-123"}
    a.frame("planted", pd.DataFrame({"x": [f"..{canary}.."]}))
    a.add("bytes", b"abc known-token-123 def")
    a.add("clean", "nothing here")
    a.add("shape", "dpo_" + "ab" * 18)
    labels = {hit.split(":")[0] for hit in a.hits()}
    assert {"planted.to_string", "planted.to_html", "planted.pickle", "bytes", "shape"} <= labels
    assert "clean" not in labels
    assert not [h for h in a.hits() if canary in h or "known-token-123" in h]  # reported masked
