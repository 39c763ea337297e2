"""The secret canary: a sandbox run with a canary client secret does everything a user can; then
every artefact is searched (with the one scanner, `_leaks`) for every form of the canary and of
every token issued during the run. Zero hits.

Covered: settings, tokens (client_secret_post and client_secret_basic, a 401 that refetches, a
failed token attempt), every explorer helper (client and user token, sync and async), errors of
every kind, bench, plots (PNG, and SVG with its text kept as text), the token form driven from
Python, the CLI in subprocesses, and each tutorial notebook executed with nbclient from a `.env`
holding the canary; searched: captured stdout/stderr, DEBUG logs of every logger, exception and
warning texts with their chain and frames' locals, frames (CSV, HTML, text, pickle), reprs and
HTML reprs, CLI output, executed notebooks (outputs and `metadata.widgets`), the widget state and
the messages sent to the browser, and every file written in the working directory.

The adversarial side (a server that echoes the secret back in every place and encoding) is
`test_secrets_echo.py`; the rules (where a token may go, fingerprints, refused inputs)
`test_secrets_rules.py`.
"""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import re
import secrets
import shutil
import subprocess
import sys
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _leaks import Artefacts, Needles, every_log_record, widget_states

import dailypay_nb as dp

pytestmark = pytest.mark.kernel
ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
IDS = [p.stem for p in NOTEBOOKS]
CLIENT = "canary-client"
SCOPES = "client:admin client:lookup health:read"
#: What the sandbox issues (`dpo_` + 36 hex digits): catches tokens this test could not collect.
TOKEN_PATTERN = re.compile(r"dpo_[0-9a-f]{20,}")


def artefacts(canary: str) -> Artefacts:
    """The scanner for a run: the canary (a client secret, with its Basic pair) and sandbox tokens.

    Both are hex digits, looked for in pieces of 16 (8 hex digits are met by chance in the ids of
    a notebook's widgets); a token the run could not collect is caught by its shape.
    """
    needles = Needles()
    needles.add(canary, "canary client secret", client_id=CLIENT, fragment=16)
    return Artefacts(needles, patterns=[TOKEN_PATTERN])


def add_tokens(a: Artefacts, *tokens: str) -> None:
    for token in tokens:
        a.needles.add(token, f"token {dp.Secret(token).fingerprint}", fragment=16)


@pytest.fixture(scope="module")
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
    a.expect("pickle.settings", lambda: pickle.dumps(settings), TypeError)
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
    add_tokens(a, token.access_token.reveal())
    forced = session.token(force=True)
    add_tokens(a, forced.access_token.reveal())
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
    add_tokens(a, user._user_token.reveal())
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
    session.token(force=True)  # a failed attempt, then a token: both in the timings
    wrong = dp.connect(session.settings.replace(client_secret=session.settings.client_secret.reveal() + "x"))
    a.expect("error.invalid-client", wrong.token, dp.TokenError)
    basic = dp.connect(session.settings.replace(token_auth_method="client_secret_basic"))
    basic.health()
    for other in (wrong, basic):
        other.close()
        for t in other._provider.history:
            add_tokens(a, t.access_token.reveal())
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
            add_tokens(a, token.access_token.reveal())
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
    import matplotlib

    texts = []
    with matplotlib.rc_context({"svg.fonttype": "none"}):  # text kept as text: the scan can read it
        for name, figure in figures.items():
            for ext in ("png", "svg"):
                figure.savefig(out / f"{name}.{ext}")
            a.add(f"plot.{name}.repr", repr(figure))
            texts.append((out / f"{name}.svg").read_text())
    assert any("/rest/health" in text for text in texts)  # the scan sees the plots' words


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
                add_tokens(a, t.access_token.reveal())
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


# -- the tests -------------------------------------------------------------------------------


def test_canary_everything(
    tutorials: Tutorials,  # started first: the tutorials run while this does
    box: tuple[Any, list[str]],
    canary: str,
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
    a = artefacts(canary)
    procs = start_cli(h, canary, cli_cwd)  # the CLI runs while the rest goes on
    try:
        with every_log_record() as records, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            settings = run_settings(a, canary)
            session = run_session(a, settings, h)
            run_async(a, settings, h)
            run_bench_and_plots(a, session, out)
            run_form(a, canary, monkeypatch)
            for name in ("tokens", "timings"):
                a.frame(f"session.{name}", getattr(session, name))
            a.frame("session.timing_summary", session.timing_summary())
            add_tokens(a, *(t.access_token.reveal() for t in session._provider.history))
            session.close()
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
    a.add("logs", "\n".join(records))
    for path in sorted(p for p in cwd.rglob("*") if p.is_file() and p.name != ".env"):
        a.add(f"file:{path.relative_to(cwd)}", path.read_bytes())
    add_tokens(a, *issued)

    # the run really did what it says
    assert len(issued) >= 10, "the sandbox issued fewer tokens than the run asked for"
    assert any(" DEBUG " in r and r.startswith("dailypay_nb") for r in records)
    assert any(label.startswith("cli.") for label, _ in a.items)
    assert len(a.items) > 200
    print(f"canary: {len(a.items)} artefacts searched for {len(a.needles)} secrets and tokens")
    a.assert_clean()
    if a.missing:
        pytest.skip("not covered yet (feature missing): " + "; ".join(a.missing))


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


class Tutorials:
    """Every tutorial executed by `jupyter-execute` in a process of its own (they run while the
    rest of this module does), each from a folder whose `.env` holds the canary, its sandbox hosted
    by the kernel (as one a user starts), recording the tokens it issues."""

    def __init__(self, canary: str, base: Path) -> None:
        from _lab import KERNEL_NAME, free_port, isolated_jupyter_env, write_kernelspec
        from test_notebooks import write_env

        env = {k: v for k, v in os.environ.items() if not k.startswith("DAILYPAY_")}
        env |= isolated_jupyter_env(base / "jupyter")
        write_kernelspec(Path(env["JUPYTER_DATA_DIR"]))
        startup = Path(env["IPYTHONDIR"]) / "profile_default" / "startup" / "00-canary.py"
        startup.parent.mkdir(parents=True, exist_ok=True)
        startup.write_text(KERNEL_STARTUP)
        execute = str(Path(sys.executable).parent / "jupyter-execute")
        self.runs: dict[str, tuple[Path, subprocess.Popen[str]]] = {}
        for path in NOTEBOOKS:
            work = base / path.stem
            work.mkdir()
            write_env(work, free_port(), canary)
            shutil.copy(path, work / path.name)
            proc = subprocess.Popen(
                [execute, "--inplace", f"--kernel_name={KERNEL_NAME}", "--timeout=120", path.name],
                cwd=work,
                env=env | {"DPNB_CANARY_TOKENS": str(work / "tokens.txt")},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            self.runs[path.stem] = (work, proc)

    def result(self, stem: str) -> tuple[Any, list[str]]:
        """The executed notebook and the tokens its kernel's sandbox issued (waits for it)."""
        import nbformat

        work, proc = self.runs[stem]
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"{stem}: jupyter-execute failed: {err[-3000:]}"
        tokens = work / "tokens.txt"
        issued = [line for line in tokens.read_text().split() if line] if tokens.exists() else []
        return nbformat.read(work / f"{stem}.ipynb", as_version=4), issued

    def stop(self) -> None:
        for _, proc in self.runs.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


@pytest.fixture(scope="module")
def tutorials(canary: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tutorials]:
    running = Tutorials(canary, tmp_path_factory.mktemp("tutorials"))
    yield running
    running.stop()


@pytest.mark.notebooks
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_from_a_canary_env(path: Path, canary: str, tutorials: Tutorials) -> None:
    """A tutorial run from a `.env` holding the canary: its checked cells pass, and the saved
    notebook (outputs, widget state) holds neither the canary nor a token the kernel's sandbox issued."""
    import nbformat
    from test_notebooks import check_executed

    nb, issued = tutorials.result(path.stem)
    check_executed(nb, path.name)
    text = nbformat.writes(nb)
    if path.stem in ("01_quickstart", "04_going_to_uat"):
        assert CLIENT in text  # the client named by the .env
    assert issued, "the kernel's sandbox issued no token: nothing was there to leak"
    a = artefacts(canary)
    add_tokens(a, *issued)
    a.json(f"notebook.{path.stem}", text)
    a.assert_clean()


def test_the_scanner_finds_planted_values(canary: str) -> None:
    """The scanner works: the canary in a frame, in bytes, encoded, cut to a fragment, and a token
    of the sandbox's shape are all found, and reported masked; clean text is not."""
    import base64
    from urllib.parse import quote

    import pandas as pd

    a = artefacts(canary)
    add_tokens(a, "dpo_" + "0123456789abcdef" * 2 + "dead")
    a.frame("planted", pd.DataFrame({"x": [f"..{canary}.."]}))
    a.add("bytes", f"abc {canary} def".encode())
    a.add("quoted", quote(quote(canary, safe=""), safe=""))
    a.add("basic", base64.b64encode(f"{CLIENT}:{canary}".encode()).decode())
    a.add("cut", "x" * 50 + canary[:20])
    a.add("coloured", canary[:10] + "\x1b[31m" + canary[10:])
    a.add("clean", "nothing here " + CLIENT)
    a.add("shape", "dpo_" + "ab" * 18)
    hits = a.hits()
    labels = {hit.split(":")[0] for hit in hits}
    assert {
        "planted.to_csv",
        "planted.to_html",
        "planted.pickle",
        "bytes",
        "quoted",
        "basic",
        "cut",
    } <= labels
    assert {"coloured", "shape"} <= labels
    assert "clean" not in labels
    assert not [h for h in hits if canary[:16] in h]  # reported masked
