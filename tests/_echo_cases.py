"""The adversarial echo cases, and the batches that run them in other processes.

A case is (path, method, place, encoding): the token path has the token endpoint echo the
client secret, the API path has the API echo the bearer token, into `place`, encoded as
`encoding` (see `_echo_server`), with the secret sent by `client_secret_post` or
`client_secret_basic`. The same case runs three ways:

- in the test process (`tests/test_secrets_echo.py`), one test per case;
- in a CLI batch: `python tests/_echo_cases.py cli URL PATH` runs `dailypay_nb.cli.main` once per case
  (`token`, or `get /rest/health` with and without `--json`) with the case's settings in the
  environment, every logger at DEBUG on stderr;
- in a notebook batch: `python tests/_echo_cases.py notebook URL OUT PATH` writes a notebook with one
  cell per case (each ends in the uncaught error, under `%xmode Verbose`), then a form per place
  and every frame displayed, executes it with nbclient in one kernel, and saves it together with
  every IOPub message the kernel sent.

The client secret reaches the other processes in their environment (`DAILYPAY_CLIENT_SECRET`),
never in code or in a file.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import sys
from pathlib import Path
from typing import Any, NamedTuple

from _echo_server import API_PLACES, ENCODINGS, REFUSED_200, TOKEN_PLACES

CLIENT = "echo-client"
METHODS = ("client_secret_post", "client_secret_basic")
TESTS = Path(__file__).resolve().parent


class Case(NamedTuple):
    path: str  # "token" or "api"
    method: str
    place: str
    encoding: str

    @property
    def id(self) -> str:
        return f"{self.path}-{self.place}-{self.encoding}-{self.method.removeprefix('client_secret_')}"


def _cases() -> list[Case]:
    cases = []
    for method in METHODS:
        cases += [Case("token", method, p, e) for p in TOKEN_PLACES for e in ENCODINGS]
        cases += [Case("token", method, p, "raw") for p in REFUSED_200]  # the token leaks, not an echo
        cases += [Case("api", method, p, e) for p in API_PLACES for e in ENCODINGS]
    return cases


CASES = _cases()


def cases_of(path: str) -> list[Case]:
    """The cases of one path ("token" or "api"): a batch each, so two run side by side."""
    return [case for case in CASES if case.path == path]


def new_secret() -> str:
    """A client secret whose every encoding differs: `/`, `+` and `=` every few characters."""
    parts = [secrets.token_urlsafe(3)[:3] for _ in range(7)]
    return "".join(p + s for p, s in zip(parts, "/+=/+=", strict=False)) + parts[-1]


def case_env(case: Case, url: str) -> dict[str, str]:
    """The settings of `case` as DAILYPAY_* variables (the client secret is not among them)."""
    token = (case.place, case.encoding) if case.path == "token" else ("ok", "-")
    api = (case.place, case.encoding) if case.path == "api" else ("ok", "-")
    return {
        "DAILYPAY_ENVIRONMENT": "sandbox",
        "DAILYPAY_CLIENT_ID": CLIENT,
        "DAILYPAY_TOKEN_URL": f"{url}/t/{token[0]}/{token[1]}/oauth2/token",
        "DAILYPAY_API_URL": f"{url}/a/{api[0]}/{api[1]}",
        "DAILYPAY_TOKEN_AUTH_METHOD": case.method,
        "DAILYPAY_RETRY_ATTEMPTS": "2",
        "DAILYPAY_RETRY_TIMEOUT": "5",
    }


def overrides(case: Case, url: str) -> dict[str, Any]:
    """`case_env` as `load_settings` keyword arguments."""
    return {k.removeprefix("DAILYPAY_").lower(): v for k, v in case_env(case, url).items()}


def attempt(session: Any, case: Case) -> Any:
    """The call that meets the echo: a token, or an API call."""
    if case.path == "token":
        return session.token()
    return session.get("/rest/health")


def fast_tls() -> None:
    """Build httpx's default TLS context once per process instead of once per transport.

    Each session has two transports and loading the CA bundle costs ~30 ms each, half of a
    case's time; every case talks plain http to 127.0.0.1, so nothing under test changes.
    """
    import httpx._transports.default as default

    if not isinstance(default.create_ssl_context, functools._lru_cache_wrapper):
        default.create_ssl_context = functools.lru_cache(maxsize=8)(default.create_ssl_context)


# -- the CLI batch -------------------------------------------------------------------------------


def cli_batch(url: str, path: str) -> None:
    """The cases of `path` through `dailypay_nb.cli.main`, markers between them on stdout and stderr."""
    import logging

    import stamina

    from dailypay_nb.cli import main

    fast_tls()
    stamina.set_testing(True, attempts=2)
    logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
    for case in cases_of(path):
        os.environ.update(case_env(case, url))
        commands = (
            [["token"]]
            if case.path == "token"
            else [["get", "/rest/health"], ["get", "/rest/health", "--json"]]
        )
        for argv in commands:
            for stream in (sys.stdout, sys.stderr):
                print(f"=== {case.id} {' '.join(argv)}", file=stream, flush=True)
            try:
                code = main(argv)
            except Exception as exc:  # the batch goes on; the test fails on the traceback printed
                import traceback

                traceback.print_exc()
                code = f"raised {type(exc).__name__}"
            print(f"=== exit {code}", file=sys.stdout, flush=True)


# -- the notebook batch --------------------------------------------------------------------------

COLOURED = "json"
SESSIONS: list[Any] = []
ERRORS: list[BaseException] = []


def in_kernel(path: str, method: str, place: str, encoding: str) -> Any:
    """One case in a notebook cell: the error is left uncaught, for the kernel to show."""
    import dailypay_nb as dp

    case = Case(path, method, place, encoding)
    session = dp.connect(**overrides(case, os.environ["ECHO_URL"]))
    SESSIONS.append(session)
    try:
        return attempt(session, case)
    except dp.DailyPayError as exc:
        ERRORS.append(exc)
        raise


def form_in_kernel(path: str, method: str, place: str, encoding: str) -> Any:
    """The token form on a case, after Get token (and, on the API path, Test token)."""
    import dailypay_nb as dp

    case = Case(path, method, place, encoding)
    form = dp.form(dp.load_settings(**overrides(case, os.environ["ECHO_URL"])))
    form.submit().result(30)
    if path == "api":
        form.test().result(30)
    return form


def show_everything() -> None:
    """Every session's frames and every error's own frames, as a notebook displays them."""
    import pandas as pd
    from IPython.display import display

    display(pd.concat([s.timings for s in SESSIONS], ignore_index=True))
    display(pd.concat([s.tokens for s in SESSIONS], ignore_index=True))
    for exc in ERRORS:
        print(repr(exc), vars(exc))
        if hasattr(exc, "errors"):
            display(exc.errors_frame)


def notebook_cells(path: str) -> list[str]:
    cells = [
        "%xmode Verbose\n"
        "import sys\n"
        f"sys.path.insert(0, {str(TESTS)!r})\n"
        "import stamina\n"
        "import _echo_cases as cases\n"
        "cases.fast_tls()\n"
        "stamina.set_testing(True, attempts=2)"
    ]
    # IPython colours a Verbose traceback with pygments, six times slower: the cases of one
    # encoding (the one whose text is most escaped) have colours, the others none.
    cells.append("%colors NoColor")
    chosen = cases_of(path)
    cells += [f"cases.in_kernel{tuple(case)!r}" for case in chosen if case.encoding != COLOURED]
    cells.append("%colors Linux")
    cells += [f"cases.in_kernel{tuple(case)!r}" for case in chosen if case.encoding == COLOURED]
    # A form per place, its encoding taken in turn (a form is ~100 widgets in the saved state).
    groups: dict[tuple[str, str, str], list[Case]] = {}
    for case in chosen:
        groups.setdefault((case.path, case.method, case.place), []).append(case)
    cells += [
        f"cases.form_in_kernel{tuple(group[n % len(group)])!r}" for n, group in enumerate(groups.values())
    ]
    cells.append("cases.show_everything()")
    return cells


def notebook_batch(url: str, out: Path, path: str) -> None:
    """Execute the notebook of `path`'s cases in one kernel; save it, and every IOPub message, under `out`."""
    import nbformat
    from _lab import KERNEL_NAME
    from nbclient import NotebookClient

    class Recording(NotebookClient):  # type: ignore[misc]
        async def async_execute_cell(
            self, cell: Any, cell_index: int, execution_count: Any = None, **_: Any
        ) -> Any:
            # Without history, IPython formats each Verbose traceback once (shown) instead of twice
            # (shown, and again for its history): half the kernel's time; nothing shown changes.
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history=False)

        def process_message(self, msg: dict[str, Any], cell: Any, cell_index: int) -> Any:
            iopub.write(
                json.dumps({"cell": cell_index, "msg_type": msg["msg_type"], "content": msg["content"]})
                + "\n"
            )
            return super().process_message(msg, cell, cell_index)

    os.environ["ECHO_URL"] = url
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in notebook_cells(path)]
    with open(out / "iopub.jsonl", "w") as iopub:
        Recording(nb, timeout=120, kernel_name=KERNEL_NAME, allow_errors=True).execute()
    nbformat.write(nb, out / "echo.ipynb")


if __name__ == "__main__":
    sys.path.insert(0, str(TESTS))
    if sys.argv[1] == "cli":
        cli_batch(sys.argv[2], sys.argv[3])
    else:
        notebook_batch(sys.argv[2], Path(sys.argv[3]), sys.argv[4])
