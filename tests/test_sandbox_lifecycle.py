"""Starting and stopping sandboxes: speed, ports, threads, file descriptors, CLI, imports."""

from __future__ import annotations

import ast
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from dailypay_nb import sandbox as sb

PACKAGE = Path(sb.__file__).parent


def _fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_import_does_not_load_the_server_stack() -> None:
    """`import dailypay_nb.sandbox` loads neither Starlette nor uvicorn."""
    code = (
        "import sys, dailypay_nb.sandbox as sb; "
        "assert callable(sb.start); "
        "print([m for m in ('starlette', 'uvicorn', 'h11') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


#: The one client-side module under the sandbox's name (`sb.as_user` builds a client session).
BRIDGE = "_as_user.py"


def test_sandbox_imports_nothing_from_the_client_side() -> None:
    """No module of the sandbox server imports another part of dailypay_nb, nor the bridge."""
    for path in PACKAGE.glob("*.py"):
        if path.name == BRIDGE:
            continue
        if path.name != "__init__.py":  # only the public `as_user` reaches the bridge
            assert "_as_user" not in path.read_text(), path.name
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert node.level <= 1, f"{path.name} imports from outside the sandbox"
                assert not (node.module or "").startswith("dailypay_nb"), path.name
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("dailypay_nb") for a in node.names), path.name


def test_start_is_fast_and_reports_the_real_port() -> None:
    """port=0 binds a free port; the handle knows it and the URLs use it."""
    sb.start().stop()  # warm imports
    began = time.perf_counter()
    with sb.start(port=0) as h:
        elapsed = time.perf_counter() - began
        assert h.port > 0
        assert h.url == f"http://127.0.0.1:{h.port}"
        assert h.token_url == f"{h.url}/oauth2/token"
        assert (h.client_id, h.client_secret) == (sb.DEMO_CLIENT_ID, sb.DEMO_CLIENT_SECRET)
        assert h.DEMO_SCOPES == sb.DEMO_SCOPES == "client:admin client:lookup health:read"
        assert httpx.get(f"{h.url}/rest/health").status_code == 401
    assert elapsed < 1.0
    assert not h.running
    h.stop()  # a second stop is harmless


def test_twenty_cycles_leak_nothing() -> None:
    """20 start/stop cycles leave threads and fds as they were and free the port."""
    sb.start().stop()
    threads, fds = threading.active_count(), _fd_count()
    port = 0
    for _ in range(20):
        with sb.start(port=port) as h:
            port = h.port  # reuse the same port every time after the first
            with httpx.Client() as c:
                c.get(f"{h.url}/rest/health")
    assert threading.active_count() == threads
    assert _fd_count() <= fds
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # released


def test_busy_port_raises() -> None:
    """Starting on a port that is taken fails at once with OSError."""
    with sb.start() as h, pytest.raises(OSError, match=r"(?i)in use"):
        sb.start(port=h.port)


def test_shared_is_one_process_wide_sandbox() -> None:
    """shared() starts one sandbox on first use and hands back the same one afterwards."""
    first = sb.shared()
    assert sb.shared() is first
    assert first.running
    assert httpx.get(f"{first.url}/rest/health").status_code == 401


def test_cli_runs_in_the_foreground_until_interrupted() -> None:
    """`python -m dailypay_nb.sandbox --port 0` prints its URL and stops cleanly on Ctrl-C."""
    proc = subprocess.Popen(
        [sys.executable, "-X", "faulthandler", "-m", "dailypay_nb.sandbox", "--port", "0", "--latency-ms=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        url = first.split(" at ", 1)[1].strip()
        lines = [proc.stdout.readline() for _ in range(4)]
        assert any(sb.DEMO_CLIENT_SECRET in line for line in lines)
        assert httpx.get(f"{url}/_sandbox/").json()["client_id"] == sb.DEMO_CLIENT_ID
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)  # faulthandler prints where every thread is
            pytest.fail("no exit 10 s after Ctrl-C; its threads:\n" + proc.communicate(timeout=10)[1][-5000:])
        assert code == 0, proc.communicate()[1][-3000:]
        assert "sandbox stopped" in proc.communicate()[0]
    finally:
        proc.kill()
        proc.wait()


def test_cli_reports_a_bad_size() -> None:
    """main() returns 2 and explains when it cannot start."""
    assert sb.main(["--port", "0", "--size", "huge"]) == 2


def test_same_seed_same_data_and_size_is_honoured() -> None:
    """Data is deterministic per seed; size sets the number of people."""
    with sb.start(seed=5) as a, sb.start(seed=5) as b, sb.start(seed=6, size=30) as c:
        assert a.data.account_ids == b.data.account_ids
        assert a.data.transfer_ids == b.data.transfer_ids
        assert a.data.person_ids != c.data.person_ids
        assert len(a.data.person_ids) == 8
        assert len(c.data.person_ids) == 30


def test_benchmark_size_starts() -> None:
    """size=20000 builds tens of thousands of records and still serves lookups."""
    with sb.start(size=20_000) as h:
        summary = h.data.summary()
        assert summary["people"] == 20_000
        assert summary["accounts"] > 40_000
        person = h.data.person_ids[-1]
        headers = {"Authorization": f"Bearer {h.client_token()}"}
        response = httpx.get(f"{h.url}/rest/accounts", params={"filter[person.id]": person}, headers=headers)
        assert response.status_code == 200
        assert len(response.json()["data"]) >= 1
