"""The /_sandbox admin routes answer loopback peers only, whatever address the sandbox binds.

The end-to-end test binds 0.0.0.0 and calls from a network namespace of its own (a veth pair
on 198.18.0.0/15, the benchmarking range, made and removed by the test), so the request
arrives from a real non-loopback peer. It needs root and `ip`; the decision function is also
tested directly with ASGI scopes, which needs neither.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from dailypay_nb import sandbox as sb
from dailypay_nb.sandbox._admin import loopback_peer

HOST_ADDRESS = "198.18.77.1"
PEER_ADDRESS = "198.18.77.2"


@pytest.mark.parametrize(
    ("client", "allowed"),
    [
        (("127.0.0.1", 50000), True),
        (("127.8.9.10", 50000), True),
        (("::1", 50000), True),
        (("::ffff:127.0.0.1", 50000), True),
        (("198.18.77.2", 50000), False),
        (("10.0.0.5", 50000), False),
        (("::ffff:10.0.0.5", 50000), False),
        (("fd00::2", 50000), False),
        (("fe80::1%eth0", 50000), False),
        (("not-an-address", 50000), False),
        (None, False),
    ],
)
def test_loopback_peer_decision(client: tuple[str, int] | None, allowed: bool) -> None:
    """Loopback peers (IPv4, IPv6 and IPv4-mapped) pass; every other or unknown peer is refused."""
    scope = {"type": "http", "client": client}
    assert loopback_peer(scope) is allowed


def _run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=20)


@pytest.fixture
def peer_namespace() -> Iterator[str]:
    """A network namespace joined to this one by a veth pair; yields its name."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2 to make a network namespace")
    name = f"dpnb{os.getpid() % 100000}"
    host_end, peer_end = f"{name}h", f"{name}p"
    try:
        _run("ip", "netns", "add", name)
    except (subprocess.CalledProcessError, OSError) as exc:
        pytest.skip(f"cannot make a network namespace here: {exc}")
    try:
        _run("ip", "link", "add", host_end, "type", "veth", "peer", "name", peer_end)
        _run("ip", "link", "set", peer_end, "netns", name)
        _run("ip", "addr", "add", f"{HOST_ADDRESS}/30", "dev", host_end)
        _run("ip", "link", "set", host_end, "up")
        _run("ip", "netns", "exec", name, "ip", "addr", "add", f"{PEER_ADDRESS}/30", "dev", peer_end)
        _run("ip", "netns", "exec", name, "ip", "link", "set", peer_end, "up")
        _run("ip", "netns", "exec", name, "ip", "link", "set", "lo", "up")
        yield name
    finally:
        subprocess.run(["ip", "link", "del", host_end], capture_output=True, timeout=20)
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=20)


_FETCH = """
import sys, urllib.request, urllib.error
try:
    with urllib.request.urlopen(sys.argv[1], timeout=5) as r:
        print(r.status)
except urllib.error.HTTPError as e:
    print(e.code)
"""


def _status_from(namespace: str, url: str) -> int:
    """GET `url` from inside `namespace`; the status code."""
    done = subprocess.run(
        ["ip", "netns", "exec", namespace, sys.executable, "-c", _FETCH, url],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return int(done.stdout.strip())


def test_admin_refuses_a_non_loopback_peer(peer_namespace: str) -> None:
    """Bound to 0.0.0.0: a peer on the veth gets 403 from /_sandbox, the API still answers it,
    and a loopback caller still reaches the admin routes."""
    with sb.start(host="0.0.0.0") as h:
        remote = f"http://{HOST_ADDRESS}:{h.port}"
        assert _status_from(peer_namespace, f"{remote}/_sandbox/") == 403
        assert _status_from(peer_namespace, f"{remote}/_sandbox/data") == 403
        assert _status_from(peer_namespace, f"{remote}/rest/health") == 401  # the API is not admin
        local = httpx.get(f"http://127.0.0.1:{h.port}/_sandbox/")
        assert local.status_code == 200
        assert local.json()["client_secret"] == sb.DEMO_CLIENT_SECRET
        steered = httpx.post(f"http://127.0.0.1:{h.port}/_sandbox/revoke", json={"all": True})
        assert steered.status_code == 200  # loopback may steer


def test_admin_post_from_a_peer_changes_nothing(peer_namespace: str) -> None:
    """A refused admin write has no effect: the fault it asks for is not added."""
    with sb.start(host="0.0.0.0") as h:
        script = (
            "import sys, urllib.request, urllib.error\n"
            'req = urllib.request.Request(sys.argv[1], data=b\'{"prefix": "/rest", "status": 500}\','
            " method='POST', headers={'Content-Type': 'application/json'})\n"
            "try:\n    print(urllib.request.urlopen(req, timeout=5).status)\n"
            "except urllib.error.HTTPError as e:\n    print(e.code)\n"
        )
        done = subprocess.run(
            ["ip", "netns", "exec", peer_namespace, sys.executable, "-c", script,
             f"http://{HOST_ADDRESS}:{h.port}/_sandbox/faults"],
            check=True, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert done.stdout.strip() == "403"
        assert h.faults() == []
