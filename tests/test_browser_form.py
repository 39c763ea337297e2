"""The token form in a real JupyterLab, in headless Chromium: select, type, click, see, save.

The kernel is this venv's python with no .env, so `dp.form()` starts the embedded sandbox.
After the clicks the notebook is saved and the file must hold neither the typed secrets nor
any token, with JupyterLab's "save widget state" setting off and on (the second run also in
the dark theme). Screenshots go to artifacts/screenshots/ (git-ignored).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from _lab import (
    CHROMIUM,
    CHROMIUM_ARGS,
    KERNEL_NAME,
    THEMES_PLUGIN,
    WIDGET_STATE,
    WIDGET_VIEW,
    WIDGETS_PLUGIN,
    Lab,
    open_notebook,
    run_all_cells,
    running_lab,
    save_notebook,
)
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from dailypay_nb.sandbox import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
WRONG = "wrong-" + secrets.token_hex(6)  # unique, so a hit in the saved file is unambiguous
TOKEN = re.compile(r"dpo_[0-9a-f]{12,}")  # what the sandbox's tokens look like
FORM_CELL = "import dailypay_nb as dp\n\nform = dp.form()\nform"


def write_notebook(path: Path) -> Path:
    nb = new_notebook(cells=[new_markdown_cell("# Get a DailyPay token"), new_code_cell(FORM_CELL)])
    nb.metadata["kernelspec"] = {
        "name": KERNEL_NAME,
        "display_name": "dailypay_nb (venv)",
        "language": "python",
    }
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    # Missing browser pieces fail (CI must run this test); SKIP_BROWSER_TESTS=1 skips locally.
    missing = "" if Path(CHROMIUM).exists() else f"no Chromium at {CHROMIUM} (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing = "playwright is not installed (pip install -e '.[test]')"
    if missing:
        if os.environ.get("SKIP_BROWSER_TESTS") == "1":
            pytest.skip(missing)
        pytest.fail(missing + "; set SKIP_BROWSER_TESTS=1 to skip the browser tests")
    with running_lab(tmp_path_factory.mktemp("lab")) as lab:
        yield lab


@pytest.fixture(scope="module")
def browser(lab: Lab) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            env={**os.environ, "HOME": lab.env["HOME"]},
        )
        yield b
        b.close()


@pytest.fixture
def page(lab: Lab, browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
    ctx.set_default_timeout(30_000)
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    failed_before = request.session.testsfailed
    yield pg
    if request.session.testsfailed > failed_before:
        SHOTS.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=SHOTS / f"failure-{request.node.name}.png")
        print("page errors:", errors, "\n--- lab log ---\n", lab.log_tail())
    ctx.close()
    lab.stop_kernels()


@pytest.mark.parametrize(
    ("save_widget_state", "theme"),
    [(False, "JupyterLab Light"), (True, "JupyterLab Dark")],
    ids=["saveState-off-light", "saveState-on-dark"],
)
def test_form_in_jupyterlab(lab: Lab, page: Any, save_widget_state: bool, theme: str) -> None:
    """Sandbox selected, wrong secret + Enter → invalid_client; demo secret + click → token and
    timings; the saved notebook holds no secret and no token."""
    from playwright.sync_api import expect

    started = time.perf_counter()
    lab.set_setting(WIDGETS_PLUGIN, {"saveState": save_widget_state})
    lab.set_setting(THEMES_PLUGIN, {"theme": theme})
    suffix = "dark" if "Dark" in theme else "light"
    nb_path = write_notebook(lab.root / f"form-{suffix}.ipynb")
    panel = open_notebook(page, lab, nb_path.name)
    run_all_cells(page, panel)
    form = panel.locator(".dpnb-form")
    form.wait_for()

    env = form.locator(".dpnb-env")
    client_id = form.locator(".dpnb-client-id input")
    secret = form.locator(".dpnb-secret input[type=password]")
    status = form.locator(".dpnb-status")
    env.get_by_role("button", name="UAT", exact=True).click()
    expect(secret).to_have_attribute("placeholder", re.compile("UAT client secret"))
    expect(client_id).to_have_value("")
    env.get_by_role("button", name="Sandbox (local)", exact=True).click()
    expect(client_id).to_have_value(DEMO_CLIENT_ID)
    expect(secret).to_have_attribute("placeholder", re.compile("demo secret"))

    # a wrong secret, submitted with Enter: the error, in one line plus a hint
    secret.fill(WRONG)
    secret.press("Enter")
    expect(status.locator(".dpnb-error")).to_contain_text("invalid_client (HTTP 401)")
    expect(status.locator(".dpnb-hint")).to_contain_text("check DAILYPAY_CLIENT_ID")
    expect(secret).to_have_value("")  # the kernel emptied it at once
    expect(form.locator(".dpnb-timings table")).to_contain_text("HTTP 401")
    SHOTS.mkdir(parents=True, exist_ok=True)
    form.screenshot(path=SHOTS / f"form-error-{suffix}.png")

    # the demo secret and the button: a token, its countdown and the timings table
    secret.fill(DEMO_CLIENT_SECRET)
    get = form.locator("button.dpnb-get-token")
    get.click()
    ok = status.locator(".dpnb-ok")
    expect(ok).to_contain_text("Token obtained from sandbox")
    expect(ok).to_contain_text("granted as requested")
    expect(ok.locator(".dpnb-token")).to_contain_text("fp:")
    expect(form.locator(".dpnb-clock")).to_contain_text("token expires in")
    expect(form.locator(".dpnb-timings table")).to_contain_text("/oauth2/token")
    expect(form.locator(".dpnb-tokens table")).to_contain_text("fp:")
    expect(secret).to_have_value("")
    expect(get).to_be_enabled()
    form.screenshot(path=SHOTS / f"form-success-{suffix}.png")

    form.locator("button.dpnb-test-token").click()
    expect(status.locator(".dpnb-ok")).to_contain_text("GET /rest/health answered 200")

    saved = save_notebook(page, panel, nb_path, must_contain=WIDGET_VIEW)
    assert DEMO_CLIENT_SECRET not in saved
    assert WRONG not in saved
    assert not TOKEN.search(saved), "a token was saved in the notebook"
    if save_widget_state:
        state = json.loads(saved)["metadata"]["widgets"][WIDGET_STATE]["state"]
        models = {m["model_name"]: m["state"] for m in state.values()}
        assert models["PasswordModel"].get("value", "") == ""  # defaults are left out
        assert "GET /rest/health answered 200" in saved
        assert "fp:" in saved
    else:
        assert WIDGET_STATE not in saved
    print(f"\n{theme}, saveState={save_widget_state}: {time.perf_counter() - started:.1f} s")
