"""The tutorial notebooks: committed clean, executed in a real kernel, and safe to share.

Each notebook in notebooks/ runs top to bottom with nbclient in a kernel of this interpreter
(a temporary kernelspec for `sys.executable`, so a fresh CI venv works), in a temporary
working directory, two ways:

- with no `.env`: `dp.connect()` starts the embedded sandbox;
- with a `.env` holding a canary client secret, against a sandbox in another process (as
  `dailypay-nb sandbox`), for the notebooks that do not steer the sandbox. Each tutorial also
  runs from a canary `.env` with the sandbox in the kernel in the secrets suite
  (`test_secrets_canary.py`). No executed notebook (outputs and widget state alike) may hold a
  secret or an issued token: searched with the suite's one scanner, `_leaks`.

Cells tagged `check-*` have their outputs checked (a one-row token frame, the timings
columns, plots as PNG, retry attempts, ...). The committed files must have no outputs, no
execution counts and no widget state, and be exactly what nbstripout would write.
"""

from __future__ import annotations

import base64
import json
import random
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

# nbformat (and nbclient) are imported where they are used: importing nbformat takes ~2 s
# (jsonschema's format checkers), which a run that selects other tests (`-m timing`) need not pay.
import pytest
from _lab import KERNEL_NAME, isolated_jupyter_env, write_kernelspec
from _leaks import Artefacts, Needles

pytestmark = pytest.mark.notebooks

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
IDS = [p.stem for p in NOTEBOOKS]
CELL_TIMEOUT = 120  # seconds per cell; the notebooks take seconds in total

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
#: What the sandbox issues (`dpo_…` opaque tokens); also catches user tokens.
TOKEN_PATTERN = re.compile(r"dpo_[0-9A-Za-z]{6,}")
DEMO_SECRET = "sandbox-secret-not-for-production"
CANARY_CLIENT = "canary-client"
CLIENT_SCOPES = "client:admin client:lookup health:read"

#: The documented timings schema (dailypay_nb/_frames.py): a displayed timings frame has them all.
TIMING_COLUMNS = [
    "seq", "started_at", "kind", "method", "endpoint", "url", "status", "attempt",
    "reused_connection", "connect_ms", "tls_ms", "send_ms", "wait_ms", "download_ms",
    "total_ms", "bytes_received", "server_request_id", "error", "run_id",
]  # fmt: skip

#: Checked cells each tutorial must keep (so a check cannot silently disappear).
REQUIRED_TAGS = {
    "01_quickstart": {"check-token-frame", "check-timings-frame", "check-form"},
    "02_exploring_the_api": {"check-api-error"},
    "03_response_timings": {"check-phases", "check-plot", "check-bench", "check-retries"},
    "04_going_to_uat": {"check-write-refused", "check-contract", "check-contract-strict"},
}


# ---------------------------------------------------------------------------------------------
# Reading outputs
# ---------------------------------------------------------------------------------------------
class _Tables(HTMLParser):
    """Every <table> of an HTML snippet as (header cells, body rows of cell texts)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[tuple[list[list[str]], list[list[str]]]] = []
        self._section = ""
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag == "table":
            self.tables.append(([], []))
        elif tag in ("thead", "tbody"):
            self._section = tag
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self.tables:
            head, body = self.tables[-1]
            (head if self._section == "thead" else body).append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def tables(html: str) -> list[tuple[list[str], list[list[str]]]]:
    """(column names, rows) of each table; the header row cells are flattened into one list."""
    parser = _Tables()
    parser.feed(html)
    out = []
    for head, body in parser.tables:
        names = [name for row in head for name in row if name]
        out.append((names, body))
    return out


def outputs(cell: Any) -> list[Any]:
    return list(cell.get("outputs", [])) if cell.cell_type == "code" else []


def text_of(cell: Any) -> str:
    """Streams and text/plain of a cell, joined."""
    parts = []
    for out in outputs(cell):
        if out.output_type == "stream":
            parts.append(out.text)
        parts.append(out.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def html_of(cell: Any) -> str:
    return "\n".join(out.get("data", {}).get("text/html", "") for out in outputs(cell))


def frame_of(cell: Any) -> tuple[list[str], list[list[str]]]:
    found = tables(html_of(cell))
    assert found, f"no HTML table in the output of:\n{cell.source}"
    return found[-1]


def tags_of(cell: Any) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


# ---------------------------------------------------------------------------------------------
# Checks of tagged cells
# ---------------------------------------------------------------------------------------------
def check_token_frame(cell: Any, nb: Any) -> None:
    columns, rows = frame_of(cell)
    assert len(rows) == 1, f"expected one token row, got {len(rows)}"
    for name in ("environment", "client_id", "granted_scope", "token", "expires_at", "status"):
        assert name in columns, (name, columns)
    token = rows[0][columns.index("token") + 1]  # the first cell of a row is the index
    assert token.startswith("••••••"), token
    assert "fp:" in token, token


def check_timings_frame(cell: Any, nb: Any) -> None:
    columns, rows = frame_of(cell)
    assert [c for c in TIMING_COLUMNS if c not in columns] == [], columns
    kinds = {row[columns.index("kind") + 1] for row in rows}
    assert {"token", "api"} <= kinds, kinds


def check_form(cell: Any, nb: Any) -> None:
    views = [o for o in outputs(cell) if WIDGET_VIEW in o.get("data", {})]
    assert views, "the form was not displayed as a widget"
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    assert views[0].data[WIDGET_VIEW]["model_id"] in state
    for model in state.values():  # the secret field is always empty in synced state
        if model.get("model_name") == "PasswordModel":
            assert model["state"].get("value", "") == ""


def check_plot(cell: Any, nb: Any) -> None:
    images = [o.data["image/png"] for o in outputs(cell) if "image/png" in o.get("data", {})]
    assert images, f"no PNG plot from:\n{cell.source}"
    assert base64.b64decode(images[0])[:8] == b"\x89PNG\r\n\x1a\n"


def check_bench(cell: Any, nb: Any) -> None:
    assert any(WIDGET_VIEW in o.get("data", {}) for o in outputs(cell)), "no progress bar widget"
    assert "req/s" in html_of(cell)
    columns, rows = frame_of(cell)
    assert "total_ms_p99" in columns
    assert rows


def check_phases(cell: Any, nb: Any) -> None:
    columns, rows = frame_of(cell)
    for name in ("connect_ms", "tls_ms", "send_ms", "wait_ms", "download_ms", "total_ms"):
        assert name in columns
    reused = [row[columns.index("reused_connection") + 1] for row in rows]
    assert "False" in reused, reused  # a call on a new connection
    assert "True" in reused, reused  # and calls reusing it


def check_retries(cell: Any, nb: Any) -> None:
    columns, rows = frame_of(cell)
    seen = {(row[columns.index("status") + 1], row[columns.index("attempt") + 1]) for row in rows}
    assert {("503", "1"), ("200", "2"), ("429", "1"), ("429", "2"), ("200", "3")} <= seen, seen


def check_api_error(cell: Any, nb: Any) -> None:
    text = text_of(cell)
    assert "404" in text, text
    assert "RECORD_NOT_FOUND" in text, text


def check_write_refused(cell: Any, nb: Any) -> None:
    text = text_of(cell)
    assert "nothing was sent" in text, text
    assert "requests sent: 0" in text, text


def check_contract(cell: Any, nb: Any) -> None:
    """One violation per injected fault, each with its pointer and rule."""
    columns, rows = frame_of(cell)
    found = {(row[columns.index("pointer") + 1], row[columns.index("rule") + 1]) for row in rows}
    assert found == {
        ("/data/0/attributes/activation_status", "required"),
        ("", "status"),
        ("Content-Type", "content-type"),
    }, found


def check_contract_strict(cell: Any, nb: Any) -> None:
    text = text_of(cell)
    assert "ContractError: listJobs" in text, text
    assert "/data/0/attributes/activation_status [required]" in text, text
    assert "nothing was sent" in text, text


CHECKS: dict[str, Callable[[Any, Any], None]] = {
    "check-token-frame": check_token_frame,
    "check-timings-frame": check_timings_frame,
    "check-form": check_form,
    "check-plot": check_plot,
    "check-bench": check_bench,
    "check-phases": check_phases,
    "check-retries": check_retries,
    "check-api-error": check_api_error,
    "check-write-refused": check_write_refused,
    "check-contract": check_contract,
    "check-contract-strict": check_contract_strict,
}


def check_executed(nb: Any, name: str) -> None:
    """No error output, no warning on stderr, and every tagged cell passes its check."""
    for index, cell in enumerate(nb.cells):
        for out in outputs(cell):
            assert out.output_type != "error", (
                f"{name} cell {index} raised {out.get('ename')}: {out.get('evalue')}\n{cell.source}"
            )
            if out.output_type == "stream":
                assert out.name == "stdout", f"{name} cell {index} wrote to stderr:\n{out.text}"
        for tag in sorted(tags_of(cell)):
            if tag.startswith("check-"):
                CHECKS[tag](cell, nb)


def assert_nothing_leaked(nb: Any, *secret_values: str) -> None:
    """Neither a secret nor a token anywhere in the executed file: outputs, metadata, widget state
    (searched with the suite's one scanner, `_leaks`: every form and fragment of each value, and
    anything shaped like a sandbox token)."""
    import nbformat

    needles = Needles()
    for value in secret_values:
        needles.add(value, "secret", fragment=16)
    scan = Artefacts(needles, patterns=[TOKEN_PATTERN])
    scan.json("notebook", nbformat.writes(nb))
    scan.assert_clean()


# ---------------------------------------------------------------------------------------------
# Running a notebook
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def kernel_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Jupyter/IPython state under tmp_path and a kernelspec for this interpreter.

    The kernel inherits this process's environment, which conftest has cleared of DAILYPAY_*.
    """
    env = isolated_jupyter_env(tmp_path / "jupyter-env")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    write_kernelspec(Path(env["JUPYTER_DATA_DIR"]))
    return env


def execute(path: Path, cwd: Path, nb: Any = None) -> tuple[Any, float]:
    """Run a copy of the notebook (or `nb`, an edited copy) in a fresh kernel in `cwd`."""
    import nbformat
    from nbclient import NotebookClient

    nb = nb if nb is not None else nbformat.read(path, as_version=4)
    started = time.perf_counter()
    NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name=KERNEL_NAME,
        resources={"metadata": {"path": str(cwd)}},
        # store_widget_state stays True: nbclient 0.11 crashes without it once an Output
        # widget captures output, and the stored state is exactly what must be leak-free.
    ).execute()
    return nb, time.perf_counter() - started


def write_env(folder: Path, port: int, secret: str) -> None:
    url = f"http://127.0.0.1:{port}"
    (folder / ".env").write_text(
        "DAILYPAY_ENVIRONMENT=sandbox\n"
        f"DAILYPAY_CLIENT_ID={CANARY_CLIENT}\n"
        f"DAILYPAY_CLIENT_SECRET={secret}\n"
        f"DAILYPAY_TOKEN_URL={url}/oauth2/token\n"
        f"DAILYPAY_API_URL={url}\n"
    )


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------
def test_the_four_tutorials_are_there() -> None:
    """notebooks/ holds the four tutorials, each with its checked cells."""
    import nbformat

    assert set(REQUIRED_TAGS) <= set(IDS), IDS
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        tags = set().union(*(tags_of(c) for c in nb.cells))
        assert REQUIRED_TAGS.get(path.stem, set()) <= tags, (path.name, tags)
        assert {t for t in tags if t.startswith("check-")} <= set(CHECKS), tags
        first = nb.cells[0]
        assert first.cell_type == "markdown", path.name
        assert first.source.startswith("# "), path.name


@pytest.fixture(scope="module")
def nbstripout_verdict() -> str:
    """What `nbstripout --verify` (the pre-commit hook's check) says about all notebooks at once."""
    pytest.importorskip("nbstripout")
    script = shutil.which("nbstripout", path=str(Path(sys.executable).parent))
    assert script, "nbstripout is installed but its script is not next to python"
    verify = subprocess.run(
        [script, "--verify", *map(str, NOTEBOOKS)], capture_output=True, text=True, check=False
    )
    return verify.stdout + verify.stderr


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_committed_notebook_is_clean(path: Path, nbstripout_verdict: str) -> None:
    """No outputs, no execution counts, no widget state; exactly what nbstripout writes."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert "widgets" not in nb.metadata
    assert set(nb.metadata) <= {"kernelspec", "language_info"}, set(nb.metadata)
    for cell in nb.cells:
        assert set(cell.metadata) <= {"tags"}, cell.metadata
        if cell.cell_type == "code":
            assert cell.outputs == [], cell.source
            assert cell.execution_count is None, cell.source
    assert str(path) not in nbstripout_verdict, (
        f"run nbstripout on it (pre-commit does): {nbstripout_verdict}"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_runs_on_embedded_sandbox(path: Path, tmp_path: Path, kernel_env: dict[str, str]) -> None:
    """With no .env the notebook runs on the embedded sandbox; checked cells show what they should.

    This is each tutorial's one run (the canary run in test_secrets_canary is the other). Notebook
    02 runs with the card number and CVV of its source replaced by fresh ones, so a card value
    found in an output or in the HAR it writes can only have leaked there."""
    import nbformat

    work = tmp_path / "work"
    work.mkdir()
    nb = nbformat.read(path, as_version=4)
    card = swap_card(nb) if path.stem == "02_exploring_the_api" else None
    nb, seconds = execute(path, work, nb)
    print(f"{path.name}: {seconds:.1f} s (embedded sandbox)")
    check_executed(nb, path.name)
    assert_nothing_leaked(nb, DEMO_SECRET)
    if card is not None:
        assert_no_card_data(nb, work, *card)


DOCUMENTED_CARD, DOCUMENTED_CVV = "4007589999999912", 'cvv="123"'
JWE_HEADER = "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkExMjhHQ00ifQ"


def luhn_number(prefix: str = "400758") -> str:
    body = prefix + "".join(random.choice("0123456789") for _ in range(15 - len(prefix)))
    total = sum(
        (2 * int(d) - 9 if 2 * int(d) > 9 else 2 * int(d)) if i % 2 == 0 else int(d)
        for i, d in enumerate(reversed(body))
    )
    return body + str((10 - total % 10) % 10)


def swap_card(nb: Any) -> tuple[str, str]:
    """Replace notebook 02's documented card number and CVV by fresh ones; returns them."""
    number, cvv = luhn_number(), f"{random.randint(100, 999)}"
    swapped = 0
    for cell in nb.cells:
        if DOCUMENTED_CARD in cell.source:
            cell.source = cell.source.replace(DOCUMENTED_CARD, number).replace(DOCUMENTED_CVV, f'cvv="{cvv}"')
            swapped += 1
    assert swapped == 1, "the notebook's card cell changed: update this test"
    return number, cvv


def assert_no_card_data(nb: Any, work: Path, number: str, cvv: str) -> None:
    """The card account was made from the new card; outputs, metadata and the HAR hold no card data."""
    account = next(c for c in nb.cells if "card-account" in tags_of(c))
    html = "".join(o.get("data", {}).get("text/html", "") for o in account.outputs)
    assert ">CARD<" in html
    assert f">{number[-4:]}<" in html  # the account made from the token is the new card
    compare = next(c for c in nb.cells if "har-compare" in tags_of(c))
    shown = "".join(o.get("data", {}).get("text/plain", "") for o in compare.outputs)
    assert "colleague" in shown
    assert "mine" in shown
    outputs = json.dumps([c.get("outputs", []) for c in nb.cells]) + json.dumps(nb.metadata)
    har = (work / "exploring.har").read_text(encoding="utf-8")
    entries = json.loads(har)["log"]["entries"]
    assert any("/cards/generic" in e["request"]["url"] and "postData" in e["request"] for e in entries)
    for where, text in (("outputs", outputs), ("exploring.har", har)):
        assert number not in text, where
        assert number[:-4] not in text, where
        assert not re.search(rf"(?i)cvv\W{{0,8}}{cvv}(?!\d)|[\"']{cvv}[\"']", text), where
        assert JWE_HEADER not in text, where
    assert "Secret(card_token" in outputs  # the token was shown, masked


def test_kernelspec_is_this_interpreter(kernel_env: dict[str, str]) -> None:
    """The kernel the notebooks run in is this venv's python (so CI needs no global Jupyter)."""
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
    assert spec.argv[0] == sys.executable
