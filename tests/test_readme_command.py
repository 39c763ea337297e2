"""The README's first command ("Run it") starts JupyterLab serving the quickstart notebook.

The command is read from README.md, so this test breaks when the README changes. Its install
part must name extras that pyproject.toml defines (a fresh install is `.ci/check_lab_command.sh`'s
job: too slow here). Its `jupyter lab ...` part runs **verbatim** from the repository root;
only the environment differs: a free port and a random token through JUPYTER_PORT and
JUPYTER_TOKEN, Jupyter's state in a temporary folder, and $BROWSER set to a script that just
records the page JupyterLab asks it to open. That page must be the quickstart, which the
server must then serve over its HTTP API and start a kernel for.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import httpx
import pytest
from _lab import free_port, isolated_jupyter_env

pytestmark = pytest.mark.kernel

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
QUICKSTART = "notebooks/01_quickstart.ipynb"


def run_command() -> str:
    """The command line of the README's "**Run it**" block, which must be its first code block."""
    lines = README.read_text().splitlines()
    fences = [i for i, line in enumerate(lines) if line.startswith("```")]
    start = next(i for i, line in enumerate(lines) if line.startswith("**Run it**"))
    assert fences, "no code block in README.md"
    assert fences[0] > start, "the README's first code block must be the **Run it** one"
    body = lines[fences[0] + 1 : fences[1]]
    assert len(body) == 1, "the Run it block holds one command line"
    return body[0].strip()


def parts() -> list[str]:
    steps = [step.strip() for step in run_command().split("&&")]
    assert len(steps) == 3, steps
    return steps


def test_readme_run_command_installs_the_notebook_extra() -> None:
    """venv, then an editable install whose extras exist and bring JupyterLab and a kernel."""
    make_venv, install, _ = parts()
    assert shlex.split(make_venv)[-3:] == ["-m", "venv", ".venv"], make_venv
    words = shlex.split(install)
    assert words[:2] == [".venv/bin/pip", "install"], install
    assert "-e" in words, install
    target = words[words.index("-e") + 1]
    match = re.fullmatch(r"\.\[([\w,-]+)\]", target)
    assert match, f"expected -e '.[extra]', got {target!r}"
    extras = match.group(1).split(",")
    assert "notebook" in extras, extras
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    defined = project["optional-dependencies"]
    assert set(extras) <= set(defined), (extras, sorted(defined))
    wanted = " ".join(dep for extra in extras for dep in defined[extra])
    assert "jupyterlab" in wanted, wanted
    assert "ipykernel" in wanted, wanted


def test_readme_run_command_opens_the_quickstart() -> None:
    _, _, lab = parts()
    words = shlex.split(lab)
    assert words[:2] == [".venv/bin/jupyter", "lab"], words
    assert words[-1] == QUICKSTART, words
    assert (ROOT / QUICKSTART).is_file()


def _lab_command(command: str) -> str:
    """The README's jupyter part; `.venv/bin/` is this interpreter's folder if no .venv is here."""
    if (ROOT / ".venv" / "bin" / "jupyter").exists():
        return command
    return command.replace(".venv/bin/", str(Path(sys.executable).parent) + "/", 1)


def _config(folder: Path) -> None:
    """No port fallback, no news or update checks (port and token come from the environment)."""
    settings = {
        "ServerApp": {"port_retries": 0},
        "LabApp": {"news_url": None, "check_for_updates_class": "jupyterlab.NeverCheckForUpdate"},
    }
    for name in ("jupyter_server_config.json", "jupyter_lab_config.json"):
        (folder / name).write_text(json.dumps(settings))


def _fake_browser(folder: Path) -> tuple[Path, Path]:
    """An executable for $BROWSER that writes the URL it is given to a file, and that file."""
    opened = folder / "opened.txt"
    script = folder / "browser.sh"
    script.write_text(f'#!/bin/sh\nprintf "%s" "$1" > {shlex.quote(str(opened))}\n')
    script.chmod(0o755)
    return script, opened


def _landing_page(opened: Path, timeout: float = 30) -> str:
    """The lab URL JupyterLab wanted a browser to show (following its redirect file)."""
    deadline = time.monotonic() + timeout
    while not (opened.exists() and opened.read_text()):
        assert time.monotonic() < deadline, "JupyterLab did not try to open a browser"
        time.sleep(0.1)
    target = opened.read_text().strip()
    if target.startswith("file://"):  # jupyter-server's redirect page holds the real URL
        target = Path(target.removeprefix("file://")).read_text()
    match = re.search(r"http://127\.0\.0\.1:\d+(/lab[^\"'?\s<]*)", target)
    assert match, target[:500]
    return match.group(1)


@pytest.fixture
def lab_from_readme(tmp_path: Path) -> Iterator[tuple[str, dict[str, str], Path]]:
    """Run the README's jupyter part from the repository root; yield (url, headers, opened)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAILYPAY_", "JUPYTER"))}
    env |= isolated_jupyter_env(tmp_path / "jupyter-env")
    _config(Path(env["JUPYTER_CONFIG_DIR"]))
    port, token = free_port(), secrets.token_hex(24)
    browser, opened = _fake_browser(tmp_path)
    env |= {"JUPYTER_PORT": str(port), "JUPYTER_TOKEN": token, "BROWSER": str(browser)}
    url, headers = f"http://127.0.0.1:{port}", {"Authorization": f"token {token}"}
    log = tmp_path / "lab.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            ["bash", "-c", _lab_command(parts()[2])],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, f"jupyter lab exited ({proc.returncode}):\n{log.read_text()[-3000:]}"
            with suppress(httpx.HTTPError):
                if httpx.get(f"{url}/api/status", headers=headers, timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, f"no answer in 90 s:\n{log.read_text()[-3000:]}"
            time.sleep(0.2)
        yield url, headers, opened
    finally:
        if proc.poll() is None:
            with suppress(httpx.HTTPError):
                httpx.post(f"{url}/api/shutdown", headers=headers, timeout=10)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGTERM)  # the session this test started
                proc.wait(timeout=15)


def test_readme_run_command_serves_the_quickstart(lab_from_readme: tuple[str, dict[str, str], Path]) -> None:
    """JupyterLab opens on the quickstart, serves it, and runs its kernel with dailypay_nb."""
    url, headers, opened = lab_from_readme
    landing = _landing_page(opened)
    assert landing.startswith("/lab/tree/"), landing
    assert landing.endswith(Path(QUICKSTART).name), landing
    served = landing.removeprefix("/lab/tree/")  # relative to the server's root folder

    r = httpx.get(f"{url}/api/contents/{served}", headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    model = r.json()
    assert model["type"] == "notebook"
    import nbformat  # here: ~2 s to import, which other runs need not pay

    committed = nbformat.read(ROOT / QUICKSTART, as_version=4)
    assert [c["source"] for c in model["content"]["cells"]] == [c.source for c in committed.cells]
    page = httpx.get(f"{url}{landing}", headers=headers, timeout=30)
    assert page.status_code == 200
    assert "JupyterLab" in page.text

    kernel_name = model["content"]["metadata"]["kernelspec"]["name"]
    specs = httpx.get(f"{url}/api/kernelspecs", headers=headers, timeout=30).json()["kernelspecs"]
    assert kernel_name in specs, sorted(specs)
    session = httpx.post(
        f"{url}/api/sessions",
        headers=headers,
        json={"path": served, "type": "notebook", "kernel": {"name": kernel_name}},
        timeout=60,
    )
    assert session.status_code == 201, session.text
    try:
        printed = run_in_kernel(url, headers, session.json()["kernel"]["id"], QUICKSTART_PROBE)
        assert printed.strip() == "dailypay_nb", printed
    finally:
        httpx.delete(f"{url}/api/sessions/{session.json()['id']}", headers=headers, timeout=30)


#: What the quickstart's first cell needs: the package, importable in the notebook's kernel.
QUICKSTART_PROBE = "import dailypay_nb as dp\nprint(dp.__name__)"


def run_in_kernel(url: str, headers: dict[str, str], kernel_id: str, code: str, timeout: float = 60) -> str:
    """Execute `code` in a kernel of the server over its websocket; return what it printed."""
    import websocket  # websocket-client, a jupyter-server dependency

    session_id = uuid.uuid4().hex
    ws = websocket.create_connection(
        f"{url.replace('http', 'ws', 1)}/api/kernels/{kernel_id}/channels?session_id={session_id}",
        header=[f"{k}: {v}" for k, v in headers.items()],
        timeout=timeout,
    )
    try:
        msg_id = uuid.uuid4().hex
        ws.send(
            json.dumps(
                {
                    "header": {
                        "msg_id": msg_id,
                        "session": session_id,
                        "username": "test",
                        "msg_type": "execute_request",
                        "version": "5.3",
                    },
                    "parent_header": {},
                    "metadata": {},
                    "channel": "shell",
                    "content": {
                        "code": code,
                        "silent": False,
                        "store_history": False,
                        "user_expressions": {},
                        "allow_stdin": False,
                        "stop_on_error": True,
                    },
                    "buffers": [],
                }
            )
        )
        printed: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = json.loads(ws.recv())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                printed.append(content["text"])
            elif kind == "error":
                raise AssertionError(f"{content['ename']}: {content['evalue']}")
            elif kind == "status" and content["execution_state"] == "idle":
                return "".join(printed)
        raise AssertionError(f"no answer from the kernel in {timeout} s")
    finally:
        ws.close()
