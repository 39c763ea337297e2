"""A sandbox in another process (`python -m dailypay_nb.sandbox --port 0`), steered over its admin routes.

For timing tests: client and server then do not share a GIL, so what the client measures is
not the server's Python holding it up. `RemoteSandbox()` starts it and reads the URLs it
prints; `.stop()` ends the process it started.
"""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import httpx


class RemoteSandbox:
    """The sandbox CLI in a child process."""

    def __init__(self, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dailypay_nb.sandbox", "--port", "0", *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        fields: dict[str, str] = {}
        deadline = time.monotonic() + 60
        assert self.proc.stdout is not None
        while "Press Ctrl-C" not in (line := self.proc.stdout.readline()):
            if not line and self.proc.poll() is not None:
                raise RuntimeError("the sandbox exited before it printed its URLs")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the sandbox did not start in 60 s")
            parts = line.split()
            if len(parts) >= 2 and parts[0] in ("api_url", "token_url", "client_id", "client_secret"):
                fields[parts[0]] = parts[1]
        self.url = fields["api_url"]
        self.token_url = fields["token_url"]
        self.client_id = fields["client_id"]
        self.client_secret = fields["client_secret"]
        self._admin = httpx.Client(base_url=self.url + "/_sandbox", timeout=10)

    def settings(self, **overrides: Any) -> dict[str, Any]:
        """`dp.connect()` keyword arguments for this sandbox."""
        return {
            "environment": "sandbox",
            "api_url": self.url,
            "token_url": self.token_url,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "env_file": False,
            **overrides,
        }

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self._admin.get("/stats").raise_for_status().json()
        return result

    def reset_stats(self) -> None:
        self._admin.delete("/stats").raise_for_status()

    def set_latency(self, latency_ms: float, jitter_ms: float = 0.0) -> None:
        self._admin.post(
            "/latency", json={"latency_ms": latency_ms, "jitter_ms": jitter_ms}
        ).raise_for_status()

    def inject(self, prefix: str, **fields: Any) -> None:
        """A fault rule (`FaultSpec` fields), as `Sandbox.inject` takes them."""
        self._admin.post("/faults", json={"prefix": prefix, **fields}).raise_for_status()

    def clear_faults(self) -> None:
        self._admin.delete("/faults").raise_for_status()

    def stop(self) -> None:
        self._admin.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
