"""The adversarial secrets suite: an independent server echoes the secret back, every sink is searched.

An echo server that shares no code with dailypay_nb (`_echo_server`) plays the token endpoint and
the API, and sends back the client secret (token path) or the bearer token (API path) in each
place a server can put text: JSON members (`error`, `error_description`, `error_uri`, `detail`,
`title`, `code`, `source`, `meta.request_id`, a granted `scope`), a plain body, the `Location` of
a 302, `Content-Type`, `X-Request-Id`, the reason phrase, a 503 that is retried, and a text so
long that the secret straddles every length limit; raw, percent-encoded (`quote`, `quote_plus`,
twice), in base64 (the Basic pair; the token) and JSON-escaped with `\\/` and `\\uXXXX`, for both
`client_secret_post` and `client_secret_basic`. The 200 answers whose token is refused (a token
type other than bearer, a negative lifetime, `created_at` in milliseconds, a control character)
are cases too: there the token itself must not leak.

Each case runs in this process, where it searches (with `_leaks`, for every form of the secret and
of every token issued, and any fragment of 8 characters) the error, its chain and
`TracebackException(capture_locals=True)`, the tokens and timings frames (`to_csv`, `to_html`),
every log record of every logger at DEBUG with its extra fields, warnings, and the token form
driven from Python (the state of every widget in it). The same cases run in two batches in
other processes, one test each: the CLI (`dailypay_nb.cli.main` per case, plus
`python -m dailypay_nb` itself), and a notebook executed with nbclient in one real kernel under
`%xmode Verbose` (every uncaught error, a form per place, every frame displayed), searched as saved
and as every IOPub message the kernel sent.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _echo_cases import CASES, CLIENT, Case, attempt, case_env, cases_of, fast_tls, new_secret, overrides
from _echo_server import REFUSED_200, EchoServer, serve
from _lab import isolated_jupyter_env, write_kernelspec
from _leaks import Artefacts, Needles, every_log_record, widget_states

import dailypay_nb as dp
from dailypay_nb._secret import MASK

SECRET = new_secret()
TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
#: What each place's answer is: the error raised (None: the call succeeds) and its status.
EXPECTED_STATUS = {"location": 302, "retried": 503}


@pytest.fixture(scope="module")
def echo() -> Iterator[EchoServer]:
    with serve() as server:
        yield server


@pytest.fixture(scope="module")
def needles(echo: EchoServer) -> Needles:
    """The client secret (with the Basic pair) and, as they are issued, every token."""
    found = Needles()
    found.add(SECRET, "client secret", client_id=CLIENT)
    return found


def refresh(needles: Needles, echo: EchoServer) -> None:
    for token in list(echo.issued):
        needles.add(token, f"token #{echo.issued.index(token)}")


@pytest.fixture(scope="module", autouse=True)
def quick() -> None:
    """One TLS context for all sessions (conftest already removes stamina's back-off waits)."""
    fast_tls()


class Batch:
    """A batch of cases in another process (`_echo_cases.py cli|notebook`), with its own environment.

    Each batch test starts its own: under xdist, a fixture shared with the in-process cases would
    start the batches again on every worker that runs one of those cases.
    """

    def __init__(self, base: Path) -> None:
        self.base = base
        jupyter = isolated_jupyter_env(base / "jupyter")
        write_kernelspec(Path(jupyter["JUPYTER_DATA_DIR"]))
        clean = {k: v for k, v in os.environ.items() if not k.startswith("DAILYPAY_")}
        self.env = clean | jupyter | {"DAILYPAY_CLIENT_ID": CLIENT, "DAILYPAY_CLIENT_SECRET": SECRET}
        self.procs: list[subprocess.Popen[str]] = []

    def start(self, name: str, args: list[str], extra: dict[str, str] | None = None) -> subprocess.Popen[str]:
        work = self.base / name
        work.mkdir()
        proc = subprocess.Popen(
            [sys.executable, *args],
            cwd=work,
            env=self.env | (extra or {}),
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


def _command(case: Case) -> list[str]:
    return ["token"] if case.path == "token" else ["get", "/rest/health"]


@pytest.fixture
def batch(tmp_path: Path) -> Iterator[Batch]:
    running = Batch(tmp_path)
    yield running
    running.stop()


# -- one case, in this process ------------------------------------------------------------------


def check_outcome(case: Case, error: BaseException | None, token: Any) -> None:
    """The case did meet the echo: the error it must raise (or the token, for `scope`)."""
    if case.place == "scope":
        assert error is None
        assert token is not None
        assert MASK in " ".join(token.granted_scope)  # the echo was there, and masked
        return
    status = EXPECTED_STATUS.get(case.place, 200 if case.place in REFUSED_200 else None)
    if case.path == "token":
        assert type(error) is dp.TokenError, repr(error)
        if status is not None:
            assert error.status == status
        if case.place in REFUSED_200:
            assert "token response has" in str(error)
    else:
        assert type(error) is dp.ApiError, repr(error)
        assert error.status == (status or 400)


def run_direct(a: Artefacts, case: Case, url: str) -> None:
    """The case as a user meets it: `connect()`, the call, the error it raises, the frames."""
    session = dp.connect(dp.load_settings(env_file=False, client_secret=SECRET, **overrides(case, url)))
    error, token = None, None
    try:
        result = attempt(session, case)
        token = result if case.path == "token" else None
    except dp.DailyPayError as exc:
        error = exc
    finally:
        session.close()
    check_outcome(case, error, token)
    if error is not None:
        a.error("error", error)
    if token is not None:
        a.add("token", [repr(token), str(token), token._repr_html_(), repr(vars(token))])
    a.add("session", [repr(session), session._repr_html_()])
    for name in ("tokens", "timings"):
        frame = getattr(session, name)
        a.add(f"{name}.to_csv", frame.to_csv())
        a.add(f"{name}.to_html", frame.to_html())


def run_form(a: Artefacts, case: Case, url: str) -> None:
    """The token form on the case: Get token (and Test token on the API path); every widget's state."""
    form = dp.form(dp.load_settings(env_file=False, client_secret=SECRET, **overrides(case, url)))
    try:
        result = form.submit().result(30)
        if case.path == "api":
            assert result is not None, form.error  # the token is fine; the API call echoes
            result = form.test().result(30)
        assert (result is None) == (case.place != "scope"), form.error
        if form.error is not None:
            a.error("form.error", form.error)
        a.add("form.widgets", "\n".join(widget_states(form.widget)))
        a.add("form.repr", [repr(form), form._repr_mimebundle_()])
    finally:
        form.close()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_echo(case: Case, echo: EchoServer, needles: Needles) -> None:
    """The echoed secret or token reaches no error, frame, log record, warning or widget."""
    a = Artefacts(needles)
    with every_log_record() as records, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run_direct(a, case, echo.url)
        run_form(a, case, echo.url)
    a.add("logs", "\n".join(records))
    a.add("warnings", [f"{w.category.__name__}: {w.message}" for w in caught])
    assert records, "no log record was captured"
    refresh(needles, echo)
    a.assert_clean()


#: The async session shares the flow; every place once, in the most escaped encoding.
ASYNC_CASES = [c for c in CASES if c.method == "client_secret_basic" and c.encoding in ("json", "raw")]


@pytest.mark.parametrize("case", ASYNC_CASES, ids=[c.id for c in ASYNC_CASES])
def test_echo_async(case: Case, echo: EchoServer, needles: Needles) -> None:
    """The same echo through `AsyncSession`: the error, its locals, the frames, every log record."""
    import asyncio

    a = Artefacts(needles)

    async def run() -> None:
        settings = dp.load_settings(env_file=False, client_secret=SECRET, **overrides(case, echo.url))
        async with await dp.connect_async(settings) as session:
            error, token = None, None
            try:
                if case.path == "token":
                    token = await session.atoken()
                else:
                    await session.get("/rest/health")
            except dp.DailyPayError as exc:
                error = exc
            check_outcome(case, error, token)
            if error is not None:
                a.error("error", error)
            for name in ("tokens", "timings"):
                a.add(f"{name}.to_csv", getattr(session, name).to_csv())

    with every_log_record() as records:
        asyncio.run(run())
    a.add("logs", "\n".join(records))
    refresh(needles, echo)
    a.assert_clean()


# -- the batches, searched ----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["token", "api"])
def test_cli_batch(path: str, batch: Batch, echo: EchoServer, needles: Needles) -> None:
    """Every case of a path through the CLI (and `python -m dailypay_nb` for a case of each method):
    stdout and stderr, with every logger at DEBUG, hold nothing; each case ended as it should."""
    chosen = cases_of(path)
    cli = batch.start("cli", [str(TESTS / "_echo_cases.py"), "cli", echo.url, path])
    modules = [
        (
            case,
            batch.start(
                f"module-{case.id}", ["-m", "dailypay_nb", *_command(case)], case_env(case, echo.url)
            ),
        )
        for case in chosen
        if (case.place, case.encoding) in (("error_description", "quote_plus"), ("detail", "json"))
    ]
    out, err = cli.communicate(timeout=300)
    assert cli.returncode == 0, err[-3000:]
    refresh(needles, echo)
    a = Artefacts(needles)
    a.add("cli.stdout", out)
    a.add("cli.stderr", err)
    assert "Traceback" not in err, err[err.index("Traceback") - 200 :][:3000]
    codes = [line.split()[2] for line in out.splitlines() if line.startswith("=== exit")]
    expected = [
        cli_exit(case, json)
        for case in chosen
        for json in ((False,) if case.path == "token" else (False, True))
    ]
    runs = [case.id for case in chosen for _ in range(1 if case.path == "token" else 2)]
    assert len(codes) == len(expected)
    wrong = [
        (runs[i], got, want) for i, (got, want) in enumerate(zip(codes, expected, strict=True)) if got != want
    ]
    assert not wrong, f"unexpected exit codes (case, got, expected): {wrong[:10]}"
    assert "DEBUG httpcore" in err
    assert "WARNING stamina" in err
    for case, proc in modules:
        mout, merr = proc.communicate(timeout=120)
        a.add(f"module.{case.id}.stdout", mout)
        a.add(f"module.{case.id}.stderr", merr)
        assert proc.returncode in (1, 2), merr
        assert "error:" in merr or case.path == "api"
    a.assert_clean()


def cli_exit(case: Case, json: bool) -> str:
    """The CLI's exit code for a case: 2 for an error it reports, 1 for an API answer that is not ok."""
    if case.path == "token":
        return "0" if case.place == "scope" else "2"
    return (
        "2" if json and case.place in ("body", "content_type") else "1"
    )  # --json of a body that is not JSON


@pytest.mark.parametrize("path", ["token", "api"])
def test_notebook_batch(path: str, batch: Batch, echo: EchoServer, needles: Needles) -> None:
    """Every case of a path as a notebook cell under `%xmode Verbose` in one real kernel: the saved
    notebook (outputs and widget state) and every IOPub message hold nothing."""
    import nbformat

    args = [str(TESTS / "_echo_cases.py"), "notebook", echo.url, str(batch.base), path]
    notebook = batch.start("notebook", args)
    _out, err = notebook.communicate(timeout=600)
    assert notebook.returncode == 0, err[-3000:]
    refresh(needles, echo)
    text = (batch.base / "echo.ipynb").read_text()
    nb = nbformat.reads(text, as_version=4)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert len(errors) == sum(1 for c in cases_of(path) if c.place != "scope")
    assert {e.ename for e in errors} == {"TokenError" if path == "token" else "ApiError"}
    verbose = "\n".join("\n".join(e.traceback) for e in errors)
    assert "session" in verbose
    assert "\x1b[" in verbose
    assert nb.metadata.get("widgets"), "the forms' state was not saved"
    a = Artefacts(needles)
    a.json("notebook", text)
    a.json("iopub", (batch.base / "iopub.jsonl").read_text(), lines=True)
    a.add("nbclient.stderr", err)
    a.assert_clean()


# -- the suite can fail -------------------------------------------------------------------------


def test_the_suite_sees_an_echo_the_redactor_misses(
    echo: EchoServer, needles: Needles, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With known secrets no longer masked, the same cases find the echo in each kind of sink."""
    from dailypay_nb._redact import Redactor

    monkeypatch.setattr(Redactor, "_mask_known", lambda self, text: text)
    labels: set[str] = set()
    for case in (
        Case("token", "client_secret_post", "error_description", "quote"),
        Case("api", "client_secret_basic", "request_id", "raw"),
    ):
        a = Artefacts(needles)
        with every_log_record() as records:
            run_direct(a, case, echo.url)
            run_form(a, case, echo.url)
        a.add("logs", "\n".join(records))
        refresh(needles, echo)
        labels |= {hit.split(":")[0].split(".")[0] for hit in a.hits()}
    assert {"error", "form", "logs", "timings"} <= labels, labels
