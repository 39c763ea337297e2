"""`%load_ext dailypay_nb`: every magic run in a real kernel (nbclient), on the embedded sandbox.

Checked from the executed notebook: frames are displayed as tables, `{name}` expands, a
`Secret` goes into a body but never into the line, production writes are refused, and no
output holds the card data, the card token, the client secret or an issued token.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

# nbformat (and nbclient) are imported where they are used: importing nbformat takes ~2 s
# (jsonschema's format checkers), which a run that selects other tests (`-m timing`) need not pay.
import pytest
from _lab import KERNEL_NAME, isolated_jupyter_env, write_kernelspec

CARD_NUMBER = "4007581234567891"
CVV = "846"
DEMO_SECRET = "sandbox-secret-not-for-production"
TOKEN_PATTERN = re.compile(r"dpo_[0-9A-Za-z]{6,}")
JWE_HEADER = "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkExMjhHQ00ifQ"

CELLS: list[tuple[str, str, list[str]]] = [
    # (id, source, tags)
    ("ext", "%load_ext dailypay_nb\nimport dailypay_nb as dp\nsession = dp.connect()", []),
    ("get", "%dailypay GET /rest/organizations", []),
    ("assign", "orgs = %dailypay GET /rest/organizations\nprint(type(orgs).__name__, len(orgs))", []),
    (
        "expand",
        "pid = session.sandbox.data.person_id\n%dailypay GET /rest/jobs filter[person.id]={pid}",
        [],
    ),
    ("scope", "before = len(session.timings)\n%dailypay GET /rest/transfers", ["raises-exception"]),
    ("scope-sent", "print('sent:', len(session.timings) - before)", []),
    ("token", "%dailypay token", []),
    ("timings", "%dailypay timings", []),
    (
        "use",
        "user = dp.sandbox.as_user(session)\nearnings = session.sandbox.data.earnings_account_id()\n"
        "amount = 2500\n%dailypay use user",
        [],
    ),
    (
        "post",
        "%%dailypay POST /rest/transfers\n"
        '{"data": {"type": "transfers",\n'
        '  "attributes": {"amount": {amount}, "currency": "USD",\n'
        '    "schedule": "NEXT_BUSINESS_DAY", "preview": true},\n'
        '  "relationships": {"origin": {"data": {"type": "accounts", "id": "{earnings}"}}}}}',
        [],
    ),
    (
        "card",
        "%%dailypay POST /cards/generic\n"
        '{"first_name": "Edith", "last_name": "Clarke", "card_number": "' + CARD_NUMBER + '",\n'
        ' "expiration_year": "2031", "expiration_month": "02", "cvv": "' + CVV + '",\n'
        ' "address_line_one": "123 Kebly Street", "address_city": "Fort Lee", "address_state": "NJ",\n'
        ' "address_zip_code": "07237", "address_country": "US"}',
        [],
    ),
    ("keep-card", "card = _", []),
    ("account", "ACCOUNT", []),
    ("secret-in-line", "%dailypay GET /rest/accounts/{card}", ["raises-exception"]),
    ("curl", "%dailypay curl", []),
    ("har", "%dailypay har trace.har --bodies", []),
    ("summary", "%dailypay summary", []),
    (
        "production",
        "prod = dp.connect(environment='production', api_url=session.settings.api_url,\n"
        "    token_url=session.settings.token_url, client_id=session.settings.client_id,\n"
        "    client_secret=session.settings.client_secret, payments_url=session.settings.payments_url)\n"
        "%dailypay use prod",
        [],
    ),
    ("refused", "%dailypay DELETE /rest/accounts/x", ["raises-exception"]),
    ("requests", "print('requests sent by prod:', len(prod.timings))", []),
    ("help", "%dailypay help", []),
]
ACCOUNT_BODY = (
    "%%dailypay POST /rest/accounts\n"
    '{"data": {"type": "accounts",\n'
    '  "attributes": {"name": "Debit", "account_type": "CARD", "subtype": "DEBIT",\n'
    '  "details": {"token": "{card}", "first_name": "Edith", "last_name": "Clarke",\n'
    '   "expiration_month": "02",\n'
    '   "expiration_year": "2031", "address_line_one": "123 Kebly Street", "address_city": "Fort Lee",\n'
    '   "address_state": "NJ", "address_zip_code": "07237", "address_country": "US", "issuer": "400758"}},\n'
    '  "relationships": {"person": {"data": {"type": "people", "id": "{pid}"}}}}}'
)


def notebook() -> Any:
    import nbformat

    nb = nbformat.v4.new_notebook()
    for cell_id, source, tags in CELLS:
        nb.cells.append(
            nbformat.v4.new_code_cell(
                ACCOUNT_BODY if source == "ACCOUNT" else source, id=cell_id, metadata={"tags": tags}
            )
        )
    return nb


def text_of(cell: Any) -> str:
    parts = []
    for out in cell.outputs:
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type == "error":
            parts.append(f"{out.ename}: {out.evalue}")
        else:
            parts.append(out.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def html_of(cell: Any) -> str:
    return "\n".join(out.get("data", {}).get("text/html", "") for out in cell.outputs)


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path, str]:
    base = tmp_path_factory.mktemp("magics")
    env = isolated_jupyter_env(base / "jupyter-env")
    mp = pytest.MonkeyPatch()
    for key, value in env.items():
        mp.setenv(key, value)
    try:
        write_kernelspec(Path(env["JUPYTER_DATA_DIR"]))
        work = base / "work"
        work.mkdir()
        nb = notebook()
        from nbclient import NotebookClient

        NotebookClient(
            nb, timeout=120, kernel_name=KERNEL_NAME, resources={"metadata": {"path": str(work)}}
        ).execute()
    finally:
        mp.undo()
    outputs_only = json.dumps([c.outputs for c in nb.cells]) + json.dumps(nb.metadata)
    return {c.id: c for c in nb.cells}, work, outputs_only


def test_import_does_not_import_ipython() -> None:
    """The extension hook is importable from dailypay_nb without importing IPython."""
    code = (
        "import sys, dailypay_nb\n"
        "assert callable(dailypay_nb.load_ipython_extension)\n"
        "assert 'IPython' not in sys.modules, 'IPython imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.kernel
def test_get_displays_and_returns_a_frame(executed: Any) -> None:
    cells, _, _ = executed
    assert "<table" in html_of(cells["get"])
    assert "DailyPay" in html_of(cells["get"])
    assert text_of(cells["assign"]).split() == ["DataFrame", "3"]


@pytest.mark.kernel
def test_names_expand_in_the_line(executed: Any) -> None:
    cells, _, _ = executed
    html = html_of(cells["expand"])
    assert "<table" in html
    assert "9558867f-5ba9-4faf-ba02-4204f7c1bd87" in html  # the sandbox's first person, seed 0


@pytest.mark.kernel
def test_scopes_are_checked_before_sending(executed: Any) -> None:
    """A client-credentials session asking for transfers: ScopeError, nothing sent."""
    cells, _, _ = executed
    assert "ScopeError" in text_of(cells["scope"])
    assert text_of(cells["scope-sent"]).strip() == "sent: 0"


@pytest.mark.kernel
def test_token_and_timings(executed: Any) -> None:
    cells, _, _ = executed
    token = text_of(cells["token"])
    assert "••••••" in token
    assert "fp:" in token
    html = html_of(cells["timings"])
    for column in ("seq", "kind", "endpoint", "wait_ms", "total_ms"):
        assert f">{column}<" in html
    assert "/rest/organizations" in html
    assert "total_ms_p50" in html_of(cells["summary"])


@pytest.mark.kernel
def test_cell_body_with_expansions_posts_json(executed: Any) -> None:
    """%%dailypay POST /rest/transfers: a preview with the expanded amount and origin."""
    cells, _, _ = executed
    assert "uses user" in text_of(cells["use"])
    html = html_of(cells["post"])
    assert "<table" in html
    assert ">2500<" in html
    assert "NEXT_BUSINESS_DAY" in html


@pytest.mark.kernel
def test_card_token_and_card_account_through_magics(executed: Any) -> None:
    """The tokenizer's answer is a masked Secret, which fills the account body's token."""
    cells, _, _ = executed
    shown = text_of(cells["card"])
    assert "Secret(card_token" in shown
    html = html_of(cells["account"])
    assert ">CARD<" in html
    assert f">{CARD_NUMBER[-4:]}<" in html  # details.last_four
    error = text_of(cells["secret-in-line"])
    assert "UsageError" in error
    assert "is a Secret" in error


@pytest.mark.kernel
def test_curl_har_and_help(executed: Any) -> None:
    cells, work, _ = executed
    curl = text_of(cells["curl"])
    assert curl.startswith("curl -sS")
    assert "$DAILYPAY_TOKEN" in curl
    assert "entries written to trace.har" in text_of(cells["har"])
    har = json.loads((work / "trace.har").read_text(encoding="utf-8"))
    assert har["log"]["version"] == "1.2"
    text = json.dumps(har)
    assert CARD_NUMBER not in text
    assert JWE_HEADER not in text
    assert "%dailypay GET" in text_of(cells["help"])


@pytest.mark.kernel
def test_production_write_refused_nothing_sent(executed: Any) -> None:
    cells, _, _ = executed
    error = text_of(cells["refused"])
    assert "WriteRefusedError" in error
    assert "nothing was sent" in error
    assert text_of(cells["requests"]).strip() == "requests sent by prod: 0"


@pytest.mark.kernel
def test_no_output_leaks(executed: Any) -> None:
    """Outputs and metadata: no card number, CVV, card token, client secret or issued token."""
    _, _, outputs = executed
    assert CARD_NUMBER not in outputs
    assert not re.search(rf"(?<![\d.:-]){CVV}(?![\d.:-])", outputs)
    assert JWE_HEADER not in outputs
    assert DEMO_SECRET not in outputs
    assert not TOKEN_PATTERN.findall(outputs)
