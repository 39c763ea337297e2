"""A real IPython kernel of this venv (jupyter_client), to run code, interrupt it and read what it said.

Used by tests that need kernel reality: SIGINT interrupts, `%xmode Verbose` tracebacks.
"""

from __future__ import annotations

import queue
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _lab import KERNEL_NAME, isolated_jupyter_env, write_kernelspec


@dataclass
class Reply:
    """What one cell did: its status, error name, text output, and when it ended."""

    status: str
    ename: str = ""
    text: str = ""
    ended: float = 0.0


@dataclass
class Kernel:
    manager: Any
    client: Any
    pending: dict[str, list[str]] = field(default_factory=dict)

    def start(self, code: str) -> str:
        """Send `code` for execution without waiting; returns the message id."""
        msg_id: str = self.client.execute(code)
        self.pending[msg_id] = []
        return msg_id

    def wait(self, msg_id: str, timeout: float = 60) -> Reply:
        """Collect IOPub output of `msg_id` until the kernel is idle again."""
        end = time.monotonic() + timeout
        reply = Reply("ok")
        while time.monotonic() < end:
            try:
                msg = self.client.get_iopub_msg(timeout=max(end - time.monotonic(), 0.01))
            except queue.Empty:
                break
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                self.pending[msg_id].append(content["text"])
            elif kind in ("execute_result", "display_data"):
                self.pending[msg_id].append(content["data"].get("text/plain", ""))
            elif kind == "error":
                reply.status, reply.ename = "error", content["ename"]
                self.pending[msg_id].append("\n".join(content["traceback"]))
            elif kind == "status" and content["execution_state"] == "idle":
                reply.ended = time.monotonic()
                reply.text = "".join(self.pending.pop(msg_id))
                return reply
        raise TimeoutError(f"no idle from the kernel within {timeout}s")

    def run(self, code: str, timeout: float = 60) -> Reply:
        """Execute `code` and wait for it."""
        return self.wait(self.start(code), timeout)

    def interrupt(self) -> float:
        """SIGINT the kernel, as JupyterLab's stop button does; returns when it was sent."""
        sent = time.monotonic()
        self.manager.interrupt_kernel()
        return sent


@contextmanager
def kernel(base: Path) -> Iterator[Kernel]:
    """A kernel running this interpreter, with Jupyter's state under `base`."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    env = isolated_jupyter_env(base)
    data = Path(env["JUPYTER_DATA_DIR"])
    write_kernelspec(data)
    specs = KernelSpecManager(kernel_dirs=[str(data / "kernels")])
    manager = KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=specs)
    manager.start_kernel(env=env, cwd=str(base))
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        yield Kernel(manager, client)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


@dataclass
class SandboxProcess:
    """A sandbox started with `python -m dailypay_nb.sandbox` (another process, as `dailypay-nb sandbox`)."""

    process: subprocess.Popen[str]
    url: str

    @property
    def token_url(self) -> str:
        return self.url + "/oauth2/token"

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        import httpx

        response = httpx.request(method, f"{self.url}/_sandbox/{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json() if response.content else None

    def requests(self, route: str) -> int:
        """Requests the sandbox has answered on `route` (e.g. "GET /rest/health")."""
        routes = self.admin("GET", "stats")["routes"]
        return sum(routes.get(route, {}).values())


@contextmanager
def sandbox_process() -> Iterator[SandboxProcess]:
    process = subprocess.Popen(
        [sys.executable, "-m", "dailypay_nb.sandbox", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        url = first.strip().rsplit(" ", 1)[-1]
        assert url.startswith("http://127.0.0.1:"), first
        yield SandboxProcess(process, url)
    finally:
        process.terminate()
        process.wait(10)
