"""A kernel interrupt stops a slow token fetch or a retrying request at once and leaves the
session usable: driven in a real kernel (jupyter_client) against a sandbox in another process."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from _kernel import Kernel, SandboxProcess, kernel, sandbox_process

from dailypay_nb.sandbox import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET

pytestmark = [pytest.mark.kernel, pytest.mark.timing]


@pytest.fixture(scope="module")
def box() -> Iterator[SandboxProcess]:
    with sandbox_process() as process:
        yield process


@pytest.fixture(scope="module")
def ipy(tmp_path_factory: pytest.TempPathFactory, box: SandboxProcess) -> Iterator[Kernel]:
    with kernel(tmp_path_factory.mktemp("kernel")) as k:
        setup = k.run(
            "import asyncio, time\nimport dailypay_nb as dp\n"
            f"SETTINGS = dict(environment='sandbox', api_url={box.url!r}, token_url={box.token_url!r}, "
            f"client_id={DEMO_CLIENT_ID!r}, client_secret={DEMO_CLIENT_SECRET!r})\n"
            "session = dp.connect(**SETTINGS)\n"
        )
        assert setup.status == "ok", setup.text
        yield k


def interrupted(k: Kernel, code: str, after: float = 1.0) -> float:
    """Run `code`, interrupt it after `after` seconds; seconds from the interrupt until the code
    had stopped (stamped in the kernel: the same monotonic clock, this machine).

    A synchronous cell ends in KeyboardInterrupt; ipykernel cancels an awaiting cell's task."""
    wrapped = (
        "try:\n"
        + "".join(f"    {line}\n" for line in code.splitlines())
        + "except BaseException:\n    print('STOPPED', time.monotonic())\n    raise\n"
    )
    msg_id = k.start(wrapped)
    time.sleep(after)
    sent = k.interrupt()
    reply = k.wait(msg_id, timeout=30)
    assert reply.ename in ("KeyboardInterrupt", "CancelledError"), reply.text
    stopped = float(reply.text.split("STOPPED ", 1)[1].split()[0])
    return stopped - sent


def still_usable(k: Kernel, code: str = "session.get('/rest/health').status") -> None:
    """The same session answers the next call, within 5 s."""
    reply = k.run(f"t0 = time.monotonic(); print({code}, time.monotonic() - t0)", timeout=10)
    assert reply.status == "ok", reply.text
    status, seconds = reply.text.split()
    assert status == "200"
    assert float(seconds) < 5


def test_interrupt_during_a_slow_token_fetch(ipy: Kernel, box: SandboxProcess) -> None:
    """The token endpoint stalls for 30 s: the interrupt ends the fetch within 0.5 s, and the
    next call gets a token (the single-flight lock was released)."""
    box.admin("POST", "faults", {"prefix": "/oauth2/token", "delay_ms": 30_000, "times": 1})
    assert interrupted(ipy, "session.token(force=True)") < 0.5
    still_usable(ipy)
    assert ipy.run("print(session.timings['kind'].tolist()[-2:])").text.strip() == "['token', 'api']"


def test_interrupt_during_a_retry_wait(ipy: Kernel, box: SandboxProcess) -> None:
    """A 503 asking for a 20 s Retry-After: the interrupt ends the wait within 0.5 s, nothing more
    is sent, and the next call succeeds."""
    box.admin(
        "POST",
        "faults",
        {"prefix": "/rest/health", "status": 503, "headers": {"Retry-After": "20"}, "times": 1},
    )
    before = box.requests("GET /rest/health")
    assert interrupted(ipy, "session.get('/rest/health')") < 0.5
    assert box.requests("GET /rest/health") == before + 1  # the 503 only: no retry after the interrupt
    still_usable(ipy)


def test_interrupt_during_an_async_retry_wait(ipy: Kernel, box: SandboxProcess) -> None:
    """The same with an AsyncSession awaited at the top level of a cell."""
    ready = ipy.run("asession = await dp.connect_async(**SETTINGS)")
    assert ready.status == "ok", ready.text
    box.admin(
        "POST",
        "faults",
        {"prefix": "/rest/health", "status": 503, "headers": {"Retry-After": "20"}, "times": 1},
    )
    before = box.requests("GET /rest/health")
    assert interrupted(ipy, "await asession.get('/rest/health')") < 0.5
    assert box.requests("GET /rest/health") == before + 1
    still_usable(ipy, "(await asession.get('/rest/health')).status")


def test_interrupt_during_an_async_token_fetch(ipy: Kernel, box: SandboxProcess) -> None:
    """`await asession.atoken()` on a stalled token endpoint: stopped within 0.5 s, usable after."""
    ready = ipy.run("asession2 = await dp.connect_async(**SETTINGS)")
    assert ready.status == "ok", ready.text
    box.admin("POST", "faults", {"prefix": "/oauth2/token", "delay_ms": 30_000, "times": 1})
    assert interrupted(ipy, "await asession2.atoken(force=True)") < 0.5
    still_usable(ipy, "(await asession2.get('/rest/health')).status")
