"""The typed secret in a real kernel with every logger at DEBUG and `%xmode Verbose`.

A kernel of this venv is started with jupyter_client; the test is the browser: it receives
every IOPub message and sends the comm messages a browser sends when a secret is typed and
Enter pressed (a wrong secret, then the sandbox's demo secret; the key event before the
value, then after it). It also makes handlers
fail while the secret is in flight: an update that carries the secret and a bad value for
another trait, a click on a closed form, and a form callback that raises.

Afterwards neither any log record of any logger (ipykernel, comm, traitlets, tornado,
asyncio, …; message, arguments and traceback), nor the kernel's own stdout/stderr, nor any
message the kernel sent holds a typed secret (in any form, or a piece of one: the secrets
suite's one scanner, `_leaks`).
"""

from __future__ import annotations

import json
import queue
import time
from pathlib import Path
from typing import Any

import pytest
from _lab import isolated_jupyter_env, write_kernelspec
from _leaks import Artefacts, Needles

from dailypay_nb.sandbox import DEMO_CLIENT_SECRET

pytestmark = pytest.mark.kernel
WRONG = "typed-wrong-7e1f0c"
BROKEN = "typed-broken-91ab3d"
LOST = "typed-lost-5c22e8"
TIMEOUT = 60.0

SETUP = r"""
import logging

class _Capture(logging.Handler):
    def __init__(self, path):
        super().__init__(logging.DEBUG)
        self.file = open(path, "a", buffering=1)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record):
        self.file.write(self.format(record) + "\n" + repr(vars(record)) + "\n")

_capture = _Capture(LOG_PATH)

def every_logger_at_debug():
    shell_log = get_ipython().kernel.log
    names = ["", *logging.root.manager.loggerDict, "IPKernelApp", "Comm", "traitlets", "tornado",
             "tornado.general", "tornado.application", "asyncio", "ipykernel", "comm", "ipywidgets"]
    for logger in [*(logging.getLogger(n) for n in names), shell_log]:
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
        if _capture not in logger.handlers:
            logger.addHandler(_capture)

every_logger_at_debug()
get_ipython().run_line_magic("xmode", "Verbose")
"""

FORM = """
import dailypay_nb as dp
every_logger_at_debug()  # loggers created by the import too
form = dp.form()
display(form)
print("COMMS", form._secret.comm.comm_id, form._get.comm.comm_id)
"""


class Kernel:
    """A kernel client that keeps every IOPub message it receives (as JSON text)."""

    def __init__(self, client: Any) -> None:
        self.kc = client
        self.iopub: list[str] = []

    def _drain_until_idle(self, parent: str) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                msg = self.kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"the kernel did not go idle in {TIMEOUT} s") from None
            self.iopub.append(json.dumps({"type": msg["msg_type"], "content": msg["content"]}, default=str))
            if msg["parent_header"].get("msg_id") == parent:
                got.append(msg)
                if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                    return got

    def run(self, code: str) -> str:
        """Execute `code`; its stdout."""
        msgs = self._drain_until_idle(self.kc.execute(code))
        errors = [m["content"] for m in msgs if m["msg_type"] == "error"]
        assert not errors, errors
        return "".join(m["content"]["text"] for m in msgs if m["msg_type"] == "stream")

    def comm_msg(self, comm_id: str, data: dict[str, Any]) -> list[dict[str, Any]]:
        """What a browser sends to a widget; the kernel's messages in reply."""
        msg = self.kc.session.msg("comm_msg", {"comm_id": comm_id, "data": data})
        self.kc.shell_channel.send(msg)
        return self._drain_until_idle(msg["header"]["msg_id"])


def typed(value: str, **other: Any) -> dict[str, Any]:
    return {"method": "update", "state": {"value": value, **other}, "buffer_paths": []}


ENTER = {"method": "custom", "content": {"event": "submit"}}
CLICK = {"method": "custom", "content": {"event": "click"}}


def test_typed_secret_reaches_no_log_record_in_a_real_kernel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jupyter_client.manager import KernelManager

    for key, value in isolated_jupyter_env(tmp_path / "jupyter").items():
        monkeypatch.setenv(key, value)
    kernel_name = write_kernelspec(tmp_path / "jupyter" / "data")
    log_path, out_path = tmp_path / "records.log", tmp_path / "kernel-out.log"
    km = KernelManager(kernel_name=kernel_name)
    with open(out_path, "wb") as out:
        km.start_kernel(cwd=str(tmp_path), stdout=out, stderr=out)  # no .env: the embedded sandbox
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=TIMEOUT)
        kernel = Kernel(kc)
        kernel.run(f"LOG_PATH = {str(log_path)!r}\n" + SETUP)
        secret_comm, get_comm = kernel.run(FORM).split("COMMS ")[1].split()

        # a wrong secret typed, Enter: an error; the demo secret typed, Enter: a token
        kernel.comm_msg(secret_comm, ENTER)
        kernel.comm_msg(secret_comm, typed(WRONG))
        assert kernel.run("print(form.wait(30), type(form.error).__name__)").split() == ["None", "TokenError"]
        kernel.comm_msg(secret_comm, typed(DEMO_CLIENT_SECRET))  # this time the value comes first
        kernel.comm_msg(secret_comm, ENTER)
        assert "Token(" in kernel.run("print(form.wait(30))")

        # handlers failing with the secret in flight, under %xmode Verbose
        broken = kernel.comm_msg(secret_comm, typed(BROKEN, disabled="not a bool"))
        kernel.run("form._secret._on_secret = lambda secret: 1 / 0")
        kernel.comm_msg(secret_comm, typed(LOST))
        kernel.run("form._pool.shutdown()")
        clicked = kernel.comm_msg(get_comm, CLICK)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)

    records, output = log_path.read_text(), out_path.read_text(errors="replace")
    sent = "\n".join(kernel.iopub)
    needles = Needles()
    for value in (WRONG, BROKEN, LOST):
        needles.add(value, "typed secret")
    # (in pieces of 16: "producti" of the demo secret is also the form's environment name)
    needles.add(DEMO_CLIENT_SECRET, "typed demo secret", fragment=16)
    scan = Artefacts(needles)
    scan.add("log records", records)
    scan.add("kernel output", output)
    scan.json("IOPub messages", "\n".join(kernel.iopub), lines=True)
    scan.assert_clean()
    # the test saw what it means to check: debug records of the messages, Verbose tracebacks
    assert "handle_msg[" in records
    assert "Content:" in records
    assert "<message to a secret field: not logged>" in records
    assert "could not take the typed secret (ZeroDivisionError)" in records
    assert [m for m in broken if m["msg_type"] == "error" and m["content"]["ename"] == "TraitError"]
    assert [m for m in clicked if m["msg_type"] == "error" and m["content"]["ename"] == "RuntimeError"]
    assert "'state': {'disabled': 'not a bool'}" in sent  # Verbose: the message was shown, minus the value
