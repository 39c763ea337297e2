"""A real JupyterLab on 127.0.0.1 driven by headless Chromium (Playwright), for browser tests.

Handles: --allow-root, Chromium's
--no-sandbox as root, the news toast, isolated HOME/JUPYTER_* dirs, a kernelspec for this
venv's python (so the kernel imports dailypay_nb and no kernel dialog appears), a fresh
workspace per page, waiting for a real kernel, and stopping server and kernels.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # required as root (containers, CI)
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",  # docker's small /dev/shm crashes Chromium otherwise
]
KERNEL_NAME = "dailypay-nb-venv"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGETS_PLUGIN = "@jupyter-widgets/jupyterlab-manager:plugin"
THEMES_PLUGIN = "@jupyterlab/apputils-extension:themes"


def require_browser() -> None:
    """Fail when Chromium or Playwright is missing (CI must run the browser tests);
    `SKIP_BROWSER_TESTS=1` skips instead, for a local run without them."""
    import pytest

    missing = "" if Path(CHROMIUM).exists() else f"no Chromium at {CHROMIUM} (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing = "playwright is not installed (pip install -e '.[test]')"
    if missing:
        if os.environ.get("SKIP_BROWSER_TESTS") == "1":
            pytest.skip(missing)
        pytest.fail(missing + "; set SKIP_BROWSER_TESTS=1 to skip the browser tests")


def isolated_jupyter_env(base: Path) -> dict[str, str]:
    """Every Jupyter/IPython/Chromium state file under `base`, none in $HOME."""
    dirs = {
        "HOME": base / "home",
        "JUPYTER_CONFIG_DIR": base / "config",
        "JUPYTER_DATA_DIR": base / "data",
        "JUPYTER_RUNTIME_DIR": base / "runtime",
        "JUPYTERLAB_SETTINGS_DIR": base / "settings",
        "JUPYTERLAB_WORKSPACES_DIR": base / "workspaces",
        "IPYTHONDIR": base / "ipython",
    }
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    env = {k: str(v) for k, v in dirs.items()}
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    return env


def write_kernelspec(data_dir: Path) -> str:
    """A kernelspec that runs this interpreter (the project venv), so the kernel finds dailypay_nb."""
    spec = data_dir / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "dailypay_nb (venv)",
                "language": "python",
            }
        )
    )
    return KERNEL_NAME


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Lab:
    url: str
    token: str
    root: Path
    proc: subprocess.Popen[bytes]
    log: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    def set_setting(self, plugin_id: str, values: dict[str, Any]) -> None:
        r = httpx.put(
            f"{self.url}/lab/api/settings/{plugin_id}",
            headers=self.headers,
            json={"raw": json.dumps(values)},
            timeout=10,
        )
        assert r.status_code == 204, r.text

    def stop_kernels(self) -> None:
        """Closing a tab leaves its kernel running: delete every session."""
        for sess in httpx.get(f"{self.url}/api/sessions", headers=self.headers, timeout=10).json():
            httpx.delete(f"{self.url}/api/sessions/{sess['id']}", headers=self.headers, timeout=30)

    def log_tail(self, n: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])


def _descendants(pid: int) -> list[Any]:
    import psutil

    try:
        return list(psutil.Process(pid).children(recursive=True))
    except psutil.NoSuchProcess:
        return []


def _stop(lab: Lab) -> None:
    import psutil

    tree = _descendants(lab.proc.pid)
    if lab.proc.poll() is None:
        with suppress(httpx.HTTPError):
            httpx.post(f"{lab.url}/api/shutdown", headers=lab.headers, timeout=5)
        try:
            lab.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            lab.proc.send_signal(signal.SIGTERM)
            try:
                lab.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(lab.proc.pid, signal.SIGKILL)  # the group we started (start_new_session)
                lab.proc.wait(timeout=10)
    for p in tree:  # any kernel that survived
        with suppress(psutil.NoSuchProcess):
            p.kill()


@contextmanager
def running_lab(base: Path) -> Iterator[Lab]:
    """Start JupyterLab on a free loopback port with a random token; stop it afterwards."""
    root = base / "notebooks"
    root.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAILYPAY_")}
    env |= isolated_jupyter_env(base / "jupyter-env")
    write_kernelspec(Path(env["JUPYTER_DATA_DIR"]))
    notif = (
        Path(env["JUPYTERLAB_SETTINGS_DIR"])
        / "@jupyterlab/apputils-extension/notification.jupyterlab-settings"
    )
    notif.parent.mkdir(parents=True, exist_ok=True)
    notif.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))

    port, token = free_port(), secrets.token_hex(24)
    cmd = [
        str(Path(sys.executable).with_name("jupyter")),
        "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = base / "lab.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            cmd,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    lab = Lab(f"http://127.0.0.1:{port}", token, root, proc, log, env)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited rc={proc.returncode}:\n{lab.log_tail()}")
            try:
                if httpx.get(f"{lab.url}/api/status", headers=lab.headers, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"jupyter lab did not answer in 60 s:\n{lab.log_tail()}")
            time.sleep(0.1)
        yield lab
    finally:
        _stop(lab)


def open_notebook(page: Any, lab: Lab, name: str) -> Any:
    """Open a notebook in a fresh workspace; return its panel once its kernel is idle."""
    from playwright.sync_api import expect

    ws = "t" + secrets.token_hex(4)  # the default workspace would reopen earlier notebooks
    page.goto(f"{lab.url}/lab/workspaces/{ws}/tree/{name}?token={lab.token}")
    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    panel.locator(".jp-Notebook").wait_for()
    # "idle" shows before a kernel exists: wait for the kernel's name too
    expect(panel.locator(".jp-KernelName")).not_to_have_text(re.compile("No Kernel"))
    panel.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]').wait_for()
    return panel


def run_all_cells(page: Any, panel: Any, attempts: int = 3, until: str | None = None) -> None:
    """Run > Run All Cells, until a prompt shows `[*]` or `[n]` (or, with `until`, until that
    selector matches in the notebook: prompts keep their old numbers after a kernel restart).

    PITFALL: the menu command does nothing while the notebook is not yet the shell's current
    widget (seen once in a few runs), so focus the notebook first and check that it ran.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    if until is None:
        started = panel.locator(".jp-InputArea-prompt").filter(has_text=re.compile(r"\[(\*|\d+)\]"))
    else:
        started = panel.locator(until)
    for _ in range(attempts):
        panel.locator(".jp-Notebook").click(position={"x": 5, "y": 5})
        page.locator('.lm-MenuBar-itemLabel:text-is("Run")').click()
        page.locator('.lm-Menu-itemLabel:text-is("Run All Cells")').click()
        try:
            started.first.wait_for(timeout=10_000 if until else 5_000)
            return
        except PlaywrightTimeout:
            page.keyboard.press("Escape")  # close the menu if it is still open
    raise AssertionError("Run All Cells did not start the notebook")


def restart_kernel(page: Any, panel: Any) -> None:
    """Kernel > Restart Kernel…, confirmed in the dialog, as a user does; returns once the new
    kernel is idle."""
    panel.locator(".jp-Notebook").click(position={"x": 5, "y": 5})
    page.locator('.lm-MenuBar-itemLabel:text-is("Kernel")').click()
    page.locator('.lm-Menu-itemLabel:text-matches("^Restart Kernel…?$")').click()
    page.locator(".jp-Dialog .jp-mod-accept").click()
    page.locator(".jp-Dialog").wait_for(state="detached")
    panel.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]').wait_for()


def contact_sheet(
    rows: dict[str, dict[str, Path]], columns: list[str], out: Path, scale: float = 0.6
) -> Path:
    """One PNG for a review at a glance: a row per state, a column per variant (`columns`, e.g.
    light-1280 … dark-800), every picture at the same scale, each under its state and variant."""
    from PIL import Image, ImageDraw

    def shrink(path: Path) -> Any:
        with Image.open(path) as img:
            size = (max(1, int(img.width * scale)), max(1, int(img.height * scale)))
            return img.convert("RGB").resize(size)

    grid = {state: {col: shrink(p) for col, p in shots.items()} for state, shots in rows.items()}
    widths = [max([grid[s][c].width for s in grid if c in grid[s]], default=60) + 16 for c in columns]
    heights = [max(t.height for t in grid[s].values()) + 40 for s in grid]
    sheet = Image.new("RGB", (sum(widths), sum(heights) + 24), "#7f7f7f")
    draw = ImageDraw.Draw(sheet)
    for index, col in enumerate(columns):
        draw.text((sum(widths[:index]) + 8, 6), col, fill="#ffffff")
    y = 24
    for state, height in zip(grid, heights, strict=True):
        for index, col in enumerate(columns):
            x = sum(widths[:index]) + 8
            if col in grid[state]:
                draw.text((x, y + 6), f"{state} · {col}", fill="#ffffff")
                sheet.paste(grid[state][col], (x, y + 24))
        y += height
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)
    return out


def save_notebook(page: Any, panel: Any, path: Path, must_contain: str) -> str:
    """Ctrl+S with the notebook (not an input) focused; wait until the file is rewritten."""
    before = path.stat().st_mtime_ns
    panel.locator(".jp-Notebook").click(position={"x": 5, "y": 5})
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + 30
    while not (path.stat().st_mtime_ns != before and must_contain in path.read_text()):
        assert time.monotonic() < deadline, "the notebook was not saved"
        time.sleep(0.1)
    return path.read_text()
