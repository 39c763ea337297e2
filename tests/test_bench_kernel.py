"""A real kernel (jupyter_client) interrupted during `session.bench`: the benchmark stops.

The kernel runs `session.bench('/rest/health', n=100_000, concurrency=8)` against a sandbox in
another process; once requests flow it is interrupted as Jupyter's stop button does
(`interrupt_kernel`, SIGINT). The sandbox's own request count grows by fewer than 50 requests
after that; `session.get('/rest/health')` in the same kernel then succeeds within 5 s; the
timings frame still holds the completed rows (as many as the partial run carried).
"""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _lab import KERNEL_NAME, write_kernelspec
from _remote_sandbox import RemoteSandbox

pytestmark = [pytest.mark.kernel, pytest.mark.timing]

HEALTH = "/rest/health"


@pytest.fixture
def remote() -> Iterator[RemoteSandbox]:
    box = RemoteSandbox()
    try:
        yield box
    finally:
        box.stop()


@pytest.fixture
def kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    from jupyter_client.manager import start_new_kernel

    data = tmp_path / "jupyter-data"
    write_kernelspec(data)
    monkeypatch.setenv("JUPYTER_PATH", str(data))
    km, kc = start_new_kernel(kernel_name=KERNEL_NAME, startup_timeout=60)
    try:
        yield km, kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def _run(kc: Any, code: str, timeout: float = 60) -> tuple[dict[str, Any], str]:
    """Execute `code`; return its reply content and everything it printed."""
    msg_id = kc.execute(code)
    reply = kc.get_shell_msg(timeout=timeout)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kc.get_shell_msg(timeout=timeout)
    return reply["content"], _printed(kc, msg_id)


def _printed(kc: Any, msg_id: str) -> str:
    out = []
    while True:
        try:
            msg = kc.get_iopub_msg(timeout=1)
        except queue.Empty:
            return "".join(out)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "stream" and msg["content"]["name"] == "stdout":
            out.append(msg["content"]["text"])
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return "".join(out)


@pytest.mark.timeout(180)
def test_interrupting_a_kernel_stops_its_benchmark(remote: RemoteSandbox, kernel: tuple[Any, Any]) -> None:
    km, kc = kernel
    setup = (
        "import dailypay_nb as dp\n"
        f"session = dp.connect(**{remote.settings()!r})\n"
        "session.token()\n"
        "print('ready')\n"
    )
    reply, printed = _run(kc, setup)
    assert reply["status"] == "ok", reply
    assert "ready" in printed

    msg_id = kc.execute(f"run = session.bench({HEALTH!r}, n=100_000, concurrency=8)")
    deadline = time.monotonic() + 60
    while remote.stats()["requests"] < 300:  # the benchmark is under way
        assert time.monotonic() < deadline, "the benchmark did not start"
        time.sleep(0.1)
    km.interrupt_kernel()
    at_interrupt = remote.stats()["requests"]
    reply = kc.get_shell_msg(timeout=30)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kc.get_shell_msg(timeout=30)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "BenchInterrupted", reply["content"]
    time.sleep(1.5)  # any request still on its way would have arrived
    grown = remote.stats()["requests"] - at_interrupt
    assert grown < 50, f"{grown} requests reached the sandbox after the interrupt"

    started = time.monotonic()
    reply, printed = _run(kc, "print('status', session.get('/rest/health').status)", timeout=5)
    assert reply["status"] == "ok", reply
    assert "status 200" in printed
    assert time.monotonic() - started < 5

    check = (
        "import sys\n"
        "partial = sys.last_value.run\n"
        "frame = session.timings\n"
        "print('rows', len(partial.timings), (frame['run_id'] == partial.run_id).sum(), partial.complete)\n"
    )
    reply, printed = _run(kc, check)
    assert reply["status"] == "ok", reply
    _, partial_rows, kept_rows, complete = printed.split()[:4]
    assert int(partial_rows) > 0
    assert int(kept_rows) == int(partial_rows)
    assert complete == "False"
