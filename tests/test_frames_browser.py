"""`session.timings` as JupyterLab shows it, in headless Chromium.

One JupyterLab for the module; a notebook runs a few calls against the embedded sandbox and
displays `session.timings`. In the rendered table `total_ms` and `wait_ms` are among the first
nine columns and on screen at 1280 px; `started_at` shows at most milliseconds and does not
wrap (its text takes one line); no float shows more than three
decimals. A screenshot goes to artifacts/screenshots/timings-frame.png.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# nbformat (and nbclient) are imported where they are used: importing nbformat takes ~2 s
# (jsonschema's format checkers), which a run that selects other tests (`-m timing`) need not pay.
import pytest
from _lab import (
    CHROMIUM,
    CHROMIUM_ARGS,
    KERNEL_NAME,
    Lab,
    open_notebook,
    require_browser,
    run_all_cells,
    running_lab,
)

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
WIDE = 1280
CELL = (
    "import dailypay_nb as dp\n\n"
    "session = dp.connect()\n"
    "for _ in range(3):\n"
    "    session.health()\n"
    "session.timings"
)
STARTED_AT = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,3})?\+00:00")

#: Header names, the started_at cells, the lines each cell's text takes, and header positions.
TABLE = """table => {
  const lineCount = el => {
    const range = document.createRange();
    range.selectNodeContents(el);
    return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size;
  };
  const names = [...table.querySelectorAll('thead tr:first-child th')].map(th => th.innerText.trim());
  const at = names.indexOf('started_at'), seq = names.indexOf('seq');
  const rows = [...table.querySelectorAll('tbody tr')].map(tr => [...tr.children]);
  const right = name => {
    const th = table.querySelectorAll('thead tr:first-child th')[names.indexOf(name)];
    return th ? th.getBoundingClientRect().right : -1;
  };
  return {
    names,
    started: rows.map(cells => cells[at].innerText.trim()),
    lines: rows.map(cells => cells.map(lineCount)),
    texts: rows.map(cells => cells.map(c => c.innerText.trim())),
    totalRight: right('total_ms'),
    waitRight: right('wait_ms'),
  };
}"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    require_browser()
    with running_lab(tmp_path_factory.mktemp("lab")) as running:
        yield running


@pytest.fixture(scope="module")
def page(lab: Lab) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            env={**os.environ, "HOME": lab.env["HOME"]},
        )
        context = browser.new_context(viewport={"width": WIDE, "height": 1000})
        context.set_default_timeout(60_000)
        yield context.new_page()
        browser.close()


def test_timings_show_their_times_first_and_started_at_to_the_millisecond(lab: Lab, page: Any) -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(cells=[new_code_cell(CELL)])
    nb.metadata["kernelspec"] = {
        "name": KERNEL_NAME,
        "display_name": "dailypay_nb (venv)",
        "language": "python",
    }
    nbformat.write(nb, lab.root / "timings.ipynb")
    panel = open_notebook(page, lab, "timings.ipynb")
    run_all_cells(page, panel)
    table = panel.locator(".jp-OutputArea-output table.dataframe").first
    table.wait_for(timeout=120_000)
    try:
        found = table.evaluate(TABLE)
    finally:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "timings-frame.png"), full_page=True)
    columns = [name for name in found["names"] if name]  # the first header cell is the index's
    assert columns[:4] == ["seq", "kind", "method", "endpoint"], columns
    assert columns.index("total_ms") < 9, columns
    assert columns.index("wait_ms") < 9, columns
    assert "…" not in columns
    assert "..." not in columns
    assert 0 < found["totalRight"] <= WIDE, found["totalRight"]  # on screen without scrolling
    assert 0 < found["waitRight"] <= WIDE, found["waitRight"]
    assert len(found["started"]) == 4  # the token request and three calls
    for text in found["started"]:
        assert STARTED_AT.fullmatch(text), text
    at = found["names"].index("started_at")
    assert all(row[at] == 1 for row in found["lines"]), found["lines"]  # one line: no wrapping
    decimals = [cell for row in found["texts"] for cell in row if re.fullmatch(r"-?\d+\.\d{4,}", cell)]
    assert decimals == [], decimals
