"""Notebook 02 adds a card account; neither its outputs nor the HAR it writes show the card.

The notebook runs in a real kernel on the embedded sandbox, with the card number and CVV of
its source replaced by fresh ones, so a value found in an output can only have leaked there.
The source cells themselves hold what the user typed and are not scanned.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import nbformat
import pytest
from _lab import KERNEL_NAME, isolated_jupyter_env, write_kernelspec
from nbclient import NotebookClient

pytestmark = pytest.mark.notebooks

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "02_exploring_the_api.ipynb"
DOCUMENTED_CARD, DOCUMENTED_CVV = "4007589999999912", 'cvv="123"'
JWE_HEADER = "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkExMjhHQ00ifQ"


def luhn_number(prefix: str = "400758") -> str:
    body = prefix + "".join(random.choice("0123456789") for _ in range(15 - len(prefix)))
    total = sum(
        (2 * int(d) - 9 if 2 * int(d) > 9 else 2 * int(d)) if i % 2 == 0 else int(d)
        for i, d in enumerate(reversed(body))
    )
    return body + str((10 - total % 10) % 10)


def test_notebook_card_account_leaks_no_card_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = isolated_jupyter_env(tmp_path / "jupyter-env")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    write_kernelspec(Path(env["JUPYTER_DATA_DIR"]))
    work = tmp_path / "work"
    work.mkdir()
    number, cvv = luhn_number(), f"{random.randint(100, 999)}"
    nb = nbformat.read(NOTEBOOK, as_version=4)
    swapped = 0
    for cell in nb.cells:
        if DOCUMENTED_CARD in cell.source:
            cell.source = cell.source.replace(DOCUMENTED_CARD, number).replace(DOCUMENTED_CVV, f'cvv="{cvv}"')
            swapped += 1
    assert swapped == 1, "the notebook's card cell changed: update this test"
    NotebookClient(
        nb, timeout=120, kernel_name=KERNEL_NAME, resources={"metadata": {"path": str(work)}}
    ).execute()

    account = next(c for c in nb.cells if "card-account" in c.get("metadata", {}).get("tags", []))
    html = "".join(o.get("data", {}).get("text/html", "") for o in account.outputs)
    assert ">CARD<" in html
    assert f">{number[-4:]}<" in html  # the account made from the token is the new card

    compare = next(c for c in nb.cells if "har-compare" in c.get("metadata", {}).get("tags", []))
    shown = "".join(o.get("data", {}).get("text/plain", "") for o in compare.outputs)
    assert "colleague" in shown
    assert "mine" in shown

    outputs = json.dumps([c.get("outputs", []) for c in nb.cells]) + json.dumps(nb.metadata)
    har = (work / "exploring.har").read_text(encoding="utf-8")
    assert json.loads(har)["log"]["entries"]
    assert any(
        "/cards/generic" in e["request"]["url"] and "postData" in e["request"]
        for e in json.loads(har)["log"]["entries"]
    )
    for where, text in (("outputs", outputs), ("exploring.har", har)):
        assert number not in text, where
        assert number[:-4] not in text, where
        assert not re.search(rf"(?i)cvv\W{{0,8}}{cvv}(?!\d)|[\"']{cvv}[\"']", text), where
        assert JWE_HEADER not in text, where
    assert "Secret(card_token" in outputs  # the token was shown, masked
