"""The token form in a real JupyterLab, in headless Chromium: select, type, click, see, save,
restart the kernel, reopen.

The kernel is this venv's python with no .env, so `dp.form()` starts the embedded sandbox.
One JupyterLab and one Chromium serve every test here. Each run, light with JupyterLab's "save
widget state" off and dark with it on:

- a wrong secret + Enter → one error headline, a hint naming the typed secret, both credential
  fields outlined; other environments show their own (empty) history, never this error;
- "forget typed secret", Get token → token details with an absolute expiry, a live countdown,
  both exchanges in the tables; Test token adds its answer under the details;
- at 1280 and 800 px: no element of the form overflows, no placeholder is cut, every label
  sits beside its field (measured from element boxes);
- the saved notebook holds neither the typed secrets nor any token;
- a kernel restart: the old form says "run this cell again", shows no countdown, keeps its
  layout; running the cell again gives one working form;
- (widget state saved) the notebook reopened from disk: the absolute expiry and the note,
  never a countdown.

Screenshots of every state go to artifacts/screenshots/ (git-ignored), with a contact sheet of
them all (contact-sheet.png) for review.
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

# nbformat (and nbclient) are imported where they are used: importing nbformat takes ~2 s
# (jsonschema's format checkers), which a run that selects other tests (`-m timing`) need not pay.
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
    contact_sheet,
    open_notebook,
    require_browser,
    restart_kernel,
    run_all_cells,
    running_lab,
    save_notebook,
)

from dailypay_nb.sandbox import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
WRONG = "wrong-" + secrets.token_hex(6)  # unique, so a hit in the saved file is unambiguous
TOKEN = re.compile(r"dpo_[0-9a-f]{12,}")  # what the sandbox's tokens look like
FORM_CELL = "import dailypay_nb as dp\n\nform = dp.form()\nform"
WIDE, NARROW = 1280, 800
COUNTDOWN = re.compile(r"expires in \d")
SHOT_NAME = re.compile(r"(?P<theme>light|dark)-(?P<state>\d-[a-z-]+)-(?P<width>\d+)")

#: Per labelled row: where its label and its field are (visible rows only).
ROW_BOXES = """form => [...form.querySelectorAll('.dpnb-row')].filter(r => r.offsetParent).map(r => {
  const [label, field] = r.children, l = label.getBoundingClientRect(), f = field.getBoundingClientRect();
  return {label: label.innerText.trim(), children: r.children.length, labelRight: l.right,
          fieldLeft: f.left, dy: Math.abs(f.top - l.top), labelWidth: l.width, fieldWidth: f.width};
})"""

#: Elements of the form whose content is wider than their box, and whether the form itself
#: sticks out of its output area.
OVERFLOWS = """form => {
  const bad = [];
  for (const el of [form, ...form.querySelectorAll('*')]) {
    if (el.clientWidth > 0 && el.scrollWidth > el.clientWidth)
      bad.push(`${el.tagName}.${[...el.classList].join('.')} ${el.scrollWidth}>${el.clientWidth}`);
  }
  const area = form.closest('.jp-OutputArea-output').getBoundingClientRect();
  const box = form.getBoundingClientRect();
  if (box.right > area.right + 0.5) bad.push(`form right ${box.right} > output ${area.right}`);
  return bad;
}"""

#: Placeholders wider than the room their input gives them (measured with the input's font).
CUT_PLACEHOLDERS = """form => {
  const ctx = document.createElement('canvas').getContext('2d'), cut = [];
  for (const input of form.querySelectorAll('input[placeholder]')) {
    if (!input.placeholder || !input.offsetParent) continue;
    const s = getComputedStyle(input);
    ctx.font = `${s.fontStyle} ${s.fontWeight} ${s.fontSize} ${s.fontFamily}`;
    const room = input.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight);
    const need = ctx.measureText(input.placeholder).width;
    if (need > room) cut.push(`${input.placeholder}: ${need.toFixed(0)} > ${room.toFixed(0)}`);
  }
  return cut;
}"""


def write_notebook(path: Path) -> Path:
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

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
    require_browser()
    for old in SHOTS.glob("*.png"):
        old.unlink()  # the contact sheet shows this run only
    with running_lab(tmp_path_factory.mktemp("lab")) as lab:
        yield lab
    rows: dict[str, dict[str, Path]] = {}
    for shot in sorted(SHOTS.glob("*.png")):
        found = SHOT_NAME.fullmatch(shot.stem)
        if found:
            rows.setdefault(found["state"], {})[f"{found['theme']}-{found['width']}"] = shot
    if rows:
        columns = [f"{theme}-{width}" for theme in ("light", "dark") for width in (WIDE, NARROW)]
        contact_sheet(rows, columns, SHOTS / "contact-sheet.png")


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


def new_page(browser: Any) -> Any:
    ctx = browser.new_context(viewport={"width": WIDE, "height": 1000})
    ctx.set_default_timeout(60_000)  # generous: the suite's other processes share the machine
    return ctx.new_page()


@pytest.fixture
def page(lab: Lab, browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    pg = new_page(browser)
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    failed_before = request.session.testsfailed
    yield pg
    if request.session.testsfailed > failed_before:
        SHOTS.mkdir(parents=True, exist_ok=True)
        for index, open_page in enumerate(p for ctx in browser.contexts for p in ctx.pages):
            open_page.screenshot(path=SHOTS / f"failure-{request.node.name}-{index}.png")
        print("page errors:", errors, "\n--- lab log ---\n", lab.log_tail())
    for ctx in browser.contexts:
        ctx.close()
    lab.stop_kernels()


def check_layout(page: Any, form: Any, shot: str) -> None:
    """At 1280 and at 800 px: labels beside their fields, nothing overflowing, no placeholder
    cut; a screenshot of each."""
    for width in (WIDE, NARROW):
        page.set_viewport_size({"width": width, "height": 1000})
        page.wait_for_function(f"() => window.innerWidth === {width}")
        form.evaluate("f => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        rows = form.evaluate(ROW_BOXES)
        assert [r["label"] for r in rows] == ["Environment", "Client id", "Client secret", "Scopes", ""], rows
        for row in rows:
            assert row["children"] == 2, row  # no marker or stray cell in the row
            assert row["fieldLeft"] >= row["labelRight"], row  # the field is right of its label
            assert row["dy"] <= 2, row  # and level with it
            assert row["fieldWidth"] > 150, row
        assert form.evaluate(OVERFLOWS) == [], f"overflow at {width} px"
        assert form.evaluate(CUT_PLACEHOLDERS) == [], f"placeholder cut at {width} px"
        screenshot(page, form, f"{shot}-{width}")
    page.set_viewport_size({"width": WIDE, "height": 1000})


def screenshot(page: Any, form: Any, name: str) -> None:
    """The whole form, however tall: the viewport grows to fit it for the picture."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    height = form.evaluate("f => f.getBoundingClientRect().height")
    page.set_viewport_size({"width": size["width"], "height": int(max(size["height"], height + 400))})
    form.screenshot(path=SHOTS / f"{name}.png", animations="disabled")
    page.set_viewport_size(size)


def visible_text(form: Any) -> str:
    return str(form.evaluate("f => f.innerText"))


@pytest.mark.parametrize(
    ("save_widget_state", "theme"),
    [(False, "JupyterLab Light"), (True, "JupyterLab Dark")],
    ids=["saveState-off-light", "saveState-on-dark"],
)
def test_form_in_jupyterlab(lab: Lab, browser: Any, page: Any, save_widget_state: bool, theme: str) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)  # (default 5 s) a loaded machine renders slowly, not wrongly

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
    tables = form.locator(".dpnb-frames")
    env.get_by_role("button", name="UAT", exact=True).click()
    expect(secret).to_have_attribute("placeholder", "UAT client secret")
    expect(client_id).to_have_value("")
    env.get_by_role("button", name="Sandbox (local)", exact=True).click()
    expect(client_id).to_have_value(DEMO_CLIENT_ID)
    expect(secret).to_have_attribute("placeholder", re.compile("demo secret"))

    # a wrong secret, submitted with Enter: one headline, a hint naming the typed secret
    secret.fill(WRONG)
    secret.press("Enter")
    error = status.locator(".dpnb-error")
    expect(error.locator(".dpnb-headline")).to_have_text(
        "✖ Wrong client id or secret — invalid_client, HTTP 401"
    )
    expect(error.locator(".dpnb-hint")).to_contain_text("the secret you typed (fp:")
    expect(error.locator(".dpnb-hint")).not_to_contain_text("DAILYPAY_")
    assert error.inner_text().count("HTTP 401") == 1
    expect(error.locator(".dpnb-request-id")).to_contain_text("request id ")
    muted = error.locator(".dpnb-request-id").evaluate("e => getComputedStyle(e).color")
    assert muted != error.locator(".dpnb-hint").evaluate("e => getComputedStyle(e).color")
    expect(form.locator(".dpnb-secret")).to_have_class(re.compile("dpnb-invalid"))
    expect(form.locator(".dpnb-client-id")).to_have_class(re.compile("dpnb-invalid"))
    outline = secret.evaluate("e => getComputedStyle(e).borderTopColor")
    assert outline != client_id.evaluate("e => getComputedStyle(e.closest('.dpnb-form')).color")
    expect(secret).to_have_value("")  # the kernel emptied it at once
    expect(form.locator(".dpnb-forget")).to_be_visible()
    expect(tables.locator(".dpnb-timings table")).to_contain_text("HTTP 401")
    check_layout(page, form, f"{suffix}-1-error")

    # other environments: their own (empty) history, never the sandbox's error
    for name, label in (("UAT", "UAT"), ("Production", "Production")):
        env.get_by_role("button", name=name, exact=True).click()
        expect(status).to_have_text(f"no token yet for {label}")
        expect(tables.locator(".dpnb-none")).to_have_text([f"none yet for {label}"] * 2)
        expect(form.locator(".dpnb-invalid")).to_have_count(0)
        expect(form.locator(".dpnb-forget")).to_be_hidden()
    check_layout(page, form, f"{suffix}-2-production-none-yet")
    env.get_by_role("button", name="Sandbox (local)", exact=True).click()
    expect(error).to_be_visible()  # the sandbox's own history is back

    # forget the typed secret: the demo secret again; the history keeps the 401
    form.locator(".dpnb-forget").click()
    expect(secret).to_have_attribute("placeholder", "not needed: demo secret")
    get = form.locator("button.dpnb-get-token")
    get.click()
    ok = status.locator(".dpnb-ok").first
    expect(ok.locator(".dpnb-headline")).to_contain_text("Token obtained from sandbox")
    expect(ok).to_contain_text("granted as requested")
    expect(ok.locator(".dpnb-token")).to_contain_text("fp:")
    expect(ok.locator(".dpnb-expires")).to_have_text(re.compile(r"^\d\d:\d\d:\d\d UTC$"))
    expect(form.locator(".dpnb-clock")).to_contain_text("token expires in")
    expect(tables.locator(".dpnb-timings tbody tr")).to_have_count(2)
    expect(tables.locator(".dpnb-timings tbody tr").first).to_contain_text("HTTP 401")
    expect(tables.locator(".dpnb-timings td.dpnb-c-seq")).to_have_text(["1", "2"])
    expect(tables.locator(".dpnb-tokens table")).to_contain_text("fp:")
    expect(form.locator(".dpnb-invalid")).to_have_count(0)
    expect(get).to_be_enabled()

    # Test token: the answer goes under the token's details
    form.locator("button.dpnb-test-token").click()
    expect(status.locator(".dpnb-tested")).to_contain_text("GET /rest/health answered 200")
    expect(status.locator(".dpnb-ok")).to_have_count(2)
    expect(status.locator(".dpnb-ok").first.locator(".dpnb-token")).to_contain_text("fp:")
    env.get_by_role("button", name="UAT", exact=True).click()
    expect(status).to_have_text("no token yet for UAT")
    expect(form.locator(".dpnb-clock")).to_have_text("")  # no other environment's countdown
    env.get_by_role("button", name="Sandbox (local)", exact=True).click()
    expect(form.locator(".dpnb-clock")).to_contain_text("token expires in")
    check_layout(page, form, f"{suffix}-3-success")

    saved = save_notebook(page, panel, nb_path, must_contain=WIDGET_VIEW)
    assert DEMO_CLIENT_SECRET not in saved
    assert WRONG not in saved
    assert not TOKEN.search(saved), "a token was saved in the notebook"
    if save_widget_state:
        state = json.loads(saved)["metadata"]["widgets"][WIDGET_STATE]["state"]
        models = {m["model_name"]: m["state"] for m in state.values()}
        assert models["PasswordModel"].get("value", "") == ""  # defaults are left out
        statuses = [
            m["state"]["value"] for m in state.values() if "dpnb-status" in m["state"].get("_dom_classes", [])
        ]
        assert len(statuses) == 1
        assert "GET /rest/health answered 200" in statuses[0]
        assert re.search(r"class='dpnb-expires'[^>]*>\d\d:\d\d:\d\d UTC<", statuses[0])
        assert not COUNTDOWN.search(statuses[0])
    else:
        assert WIDGET_STATE not in saved

    # a kernel restart: the old form says so, shows nothing live and keeps its layout
    restart_kernel(page, panel)
    expect(form).to_have_class(re.compile("jupyter-widgets-disconnected"))
    expect(form.locator(".dpnb-offline")).to_be_visible()
    expect(form.locator(".dpnb-offline")).to_contain_text("run this cell again", ignore_case=True)
    expect(form.locator(".dpnb-clock")).to_be_hidden()
    assert not COUNTDOWN.search(visible_text(form))
    assert get.evaluate("b => getComputedStyle(b).pointerEvents") == "none"
    assert status.evaluate("s => getComputedStyle(s).filter") == "grayscale(1)"  # no current-looking success
    check_layout(page, form, f"{suffix}-4-after-restart")

    # running the cell again: one form, connected, working
    run_all_cells(page, panel, until=".dpnb-form:not(.jupyter-widgets-disconnected)")
    expect(form).to_have_count(1)
    expect(form).not_to_have_class(re.compile("jupyter-widgets-disconnected"))
    expect(form.locator(".dpnb-offline")).to_be_hidden()
    get.click()
    expect(status.locator(".dpnb-ok .dpnb-headline")).to_contain_text("Token obtained from sandbox")
    expect(form.locator(".dpnb-clock")).to_contain_text("token expires in")
    check_layout(page, form, f"{suffix}-5-rerun")

    if save_widget_state:
        # the notebook reopened from disk (saved before the restart), with a fresh kernel
        page.context.close()
        lab.stop_kernels()
        page = new_page(browser)
        panel = open_notebook(page, lab, nb_path.name)
        form = panel.locator(".dpnb-form")
        form.wait_for()
        expect(form).to_have_class(re.compile("jupyter-widgets-disconnected"))
        expect(form.locator(".dpnb-offline")).to_be_visible()
        expect(form.locator(".dpnb-status .dpnb-expires")).to_have_text(re.compile(r"^\d\d:\d\d:\d\d UTC$"))
        expect(form.locator(".dpnb-status")).to_contain_text("GET /rest/health answered 200")
        expect(form.locator(".dpnb-clock")).to_be_hidden()
        assert not COUNTDOWN.search(visible_text(form))
        check_layout(page, form, f"{suffix}-6-reopened")
    print(f"\n{theme}, saveState={save_widget_state}: {time.perf_counter() - started:.1f} s")
