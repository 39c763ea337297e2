"""The two engines record the same columns with the same phase boundaries.

`session.get` (httpx, timed from httpcore's trace events) and `session.bench(path)` (the aiohttp
engine, timed from its request, response, connector and TLS hooks) go through the same
injected delays and failures; their rows must agree: the delay lands in wait_ms in both (and
within a millisecond of each other), the first exchange opens a connection and the others reuse
it, phases are disjoint and cover the exchange, TLS is timed apart from the connect, and a
failure is named alike.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from _remote_sandbox import RemoteSandbox

import dailypay_nb as dp

HEALTH = "/rest/health"
DELAY_MS = 50.0
PHASES = ["connect_ms", "tls_ms", "send_ms", "wait_ms", "download_ms"]


@pytest.fixture(scope="module")
def remote() -> Iterator[RemoteSandbox]:
    box = RemoteSandbox()
    try:
        yield box
    finally:
        box.stop()


def _both(session: dp.Session, n: int) -> dict[str, pd.DataFrame]:
    """n GETs of HEALTH through each engine, each engine on connections of its own."""
    session.clear_timings()
    for _ in range(n):
        with contextlib.suppress(dp.ApiTransportError):  # recorded all the same
            session.get(HEALTH, retry=False, raise_for_status=False)
    via_httpx = session.timings.query("kind == 'api'").reset_index(drop=True)
    run = session.bench(HEALTH, n=n, concurrency=1, warmup=0, progress=False)
    return {"httpx": via_httpx, "aiohttp": run.timings}


def _check_shape(frame: pd.DataFrame, tls: bool) -> None:
    first, rest = frame.iloc[0], frame.iloc[1:]
    assert not first["reused_connection"]
    assert first["connect_ms"] > 0
    assert (first["tls_ms"] > 0) if tls else pd.isna(first["tls_ms"])
    assert rest["reused_connection"].all()
    assert rest[["connect_ms", "tls_ms"]].isna().all().all()
    phases = frame[PHASES].fillna(0).sum(axis=1)
    assert (phases <= frame["total_ms"] + 1e-3).all()  # disjoint slices of the exchange
    assert (frame["total_ms"] - phases).median() < 0.5  # that cover nearly all of it
    assert (frame["latency_ms"] >= frame["total_ms"] - 1e-3).all()


@pytest.mark.timing
def test_an_injected_delay_lands_in_wait_ms_in_both_engines(remote: RemoteSandbox) -> None:
    remote.clear_faults()
    remote.inject(HEALTH, delay_ms=DELAY_MS)
    try:
        with dp.connect(**remote.settings()) as session:
            session.token()
            rows = _both(session, 40)
    finally:
        remote.clear_faults()
    waits = {}
    for engine, frame in rows.items():
        assert len(frame) == 40, engine
        assert frame["status"].eq(200).all(), engine
        _check_shape(frame, tls=False)
        waits[engine] = frame["wait_ms"].median()
        assert DELAY_MS - 0.5 <= waits[engine] <= DELAY_MS + 2.0, (engine, waits[engine])
        for column in ("send_ms", "download_ms"):
            assert frame[column].median() < 1.0, (engine, column)
    assert abs(waits["httpx"] - waits["aiohttp"]) < 1.0, waits
    assert list(rows["httpx"].columns) == list(rows["aiohttp"].columns)
    assert [str(d) for d in rows["httpx"].dtypes] == [str(d) for d in rows["aiohttp"].dtypes]


@pytest.mark.parametrize(
    ("fault", "name", "status"),
    [
        ({"drop": True}, "RemoteProtocolError", None),  # no answer at all
        ({"drop": "mid"}, "RemoteProtocolError", 200),  # the body cut short
        ({"status": 503}, "HTTP 503", 503),
    ],
)
def test_a_failure_is_named_alike_by_both_engines(
    remote: RemoteSandbox, fault: dict[str, Any], name: str, status: int | None
) -> None:
    with dp.connect(**remote.settings()) as session:
        session.token()
        remote.clear_faults()
        remote.inject(HEALTH, **fault)
        try:
            rows = _both(session, 3)
        finally:
            remote.clear_faults()
    for engine, frame in rows.items():
        assert frame["error"].astype(str).str.startswith(name).all(), (engine, frame["error"].tolist())
        if status is None:
            assert frame["status"].isna().all(), engine
        else:
            assert frame["status"].eq(status).all(), engine


def test_a_refused_connection_is_named_alike_by_both_engines(remote: RemoteSandbox) -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with dp.connect(**remote.settings(api_url=f"http://127.0.0.1:{port}")) as session:
        session.token()
        rows = _both(session, 2)
    for engine, frame in rows.items():
        assert frame["error"].astype(str).str.startswith("ConnectError").all(), (
            engine,
            frame["error"].tolist(),
        )
        assert frame["status"].isna().all()
        assert (~frame["reused_connection"].astype(bool)).all(), engine


_TLS_SERVER = textwrap.dedent(
    """
    import asyncio, ssl, sys
    BODY = b'{"status":"ok"}'
    TOKEN = b'{"access_token":"dpo_tls","token_type":"bearer","expires_in":3600,"scope":"health:read"}'
    def answer(body):
        head = b"HTTP/1.1 200 OK\\r\\ncontent-type: application/json\\r\\n"
        return head + b"content-length: %d\\r\\n\\r\\n" % len(body) + body
    class Answer(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport, self.buffer = transport, b""
        def data_received(self, data):
            self.buffer += data
            while (end := self.buffer.find(b"\\r\\n\\r\\n")) >= 0:
                head = self.buffer[:end].lower()
                at = head.find(b"content-length:")
                size = int(head[at + 15:].split(b"\\r\\n", 1)[0]) if at >= 0 else 0
                if len(self.buffer) < end + 4 + size:
                    return
                token = self.buffer.startswith(b"POST")
                self.buffer = self.buffer[end + 4 + size:]
                self.transport.write(answer(TOKEN if token else BODY))
    async def main():
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(sys.argv[1], sys.argv[2])
        server = await asyncio.get_running_loop().create_server(Answer, "127.0.0.1", 0, ssl=context)
        print(server.sockets[0].getsockname()[1], flush=True)
        await server.serve_forever()
    asyncio.run(main())
    """
)


@pytest.fixture
def tls_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # both engines trust it, as a corporate CA would be
    server = subprocess.Popen(
        [sys.executable, "-c", _TLS_SERVER, str(cert), str(key)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        yield f"https://127.0.0.1:{server.stdout.readline().strip()}"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.timing
def test_tls_is_timed_apart_from_the_connect_in_both_engines(tls_server: str) -> None:
    settings = {
        "environment": "sandbox",
        "api_url": tls_server,
        "token_url": tls_server + "/oauth2/token",
        "client_id": "tls",
        "client_secret": "tls-secret",
        "env_file": False,
    }
    with dp.connect(**settings) as session:
        session.token()
        rows = _both(session, 5)
    for engine, frame in rows.items():
        assert frame["status"].eq(200).all(), (engine, frame["error"].tolist())
        _check_shape(frame, tls=True)
        first = frame.iloc[0]
        # both timed, apart, and each well under a second on loopback
        assert 0 < first["connect_ms"] < 1000, (engine, first[PHASES].tolist())
        assert 0 < first["tls_ms"] < 1000, (engine, first[PHASES].tolist())


# -- what the aiohttp engine keeps of the session -------------------------------------------------


def test_the_engine_refuses_an_answer_beyond_max_response_bytes(sandbox: Any, connect_to: Any) -> None:
    session = connect_to(sandbox, max_response_bytes=1024)
    sandbox.inject(HEALTH, status=200, body="x" * 5000, content_type="text/plain")
    run = session.bench(HEALTH, n=3, warmup=0, progress=False)
    assert run.timings["error"].astype(str).str.contains("larger than max_response_bytes").all()
    assert (run.timings["bytes_received"] <= 1024 + 5000).all()


def test_the_engine_ends_a_call_at_the_sessions_deadline(sandbox: Any, connect_to: Any) -> None:
    session = connect_to(sandbox, deadline=0.3)
    session.token()
    sandbox.set_latency(1500)
    run = session.bench(HEALTH, n=2, warmup=0, progress=False)
    errors = run.timings["error"].astype(str)
    assert errors.str.contains("deadline of 0.3s passed").all(), errors.tolist()
    assert (run.timings["total_ms"] < 1200).all()  # cut at the deadline, not at the answer
    assert run.timings["status"].isna().all()
    # the sandbox still answers them (into closed connections): let it, so no later test counts them
    deadline = time.monotonic() + 10
    while sandbox.stats()["routes"].get("GET /rest/health", {}).get("200", 0) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_the_engine_redacts_what_the_server_sends(sandbox: Any, connect_to: Any) -> None:
    session = connect_to(sandbox)
    secret = sandbox.client_secret
    sandbox.inject(HEALTH, status=200, body={"status": "ok"}, headers={"X-Request-Id": "id-" + secret})
    run = session.bench(HEALTH, n=2, warmup=0, progress=False)
    ids = run.timings["server_request_id"].astype(str)
    assert ids.str.contains("id-").all()
    assert not ids.str.contains(secret).any()
    assert secret not in run.timings.to_csv()


def test_the_engine_fetches_a_new_token_after_a_401(sandbox: Any, connect_to: Any) -> None:
    session = connect_to(sandbox)
    old = session.token()
    sandbox.revoke(old.access_token.reveal())
    run = session.bench(HEALTH, n=3, concurrency=1, warmup=0, progress=False)
    api = run.timings.query("kind == 'api'")
    assert api["status"].tolist() == [401, 200, 200, 200]
    assert api["attempt"].tolist() == [1, 2, 1, 1]
    assert session.current_token is not None
    assert session.current_token.access_token.reveal() != old.access_token.reveal()
    assert (run.timings["kind"] == "token").sum() == 1  # the new token, fetched inside the run


def test_on_exchange_is_called_once_per_exchange_by_both_engines(sandbox: Any, connect_to: Any) -> None:
    import httpx

    from dailypay_nb._timings import COLUMNS

    session = connect_to(sandbox)
    session.token()
    seen: list[tuple[Any, Any, Any]] = []
    session._recorder.on_exchange = lambda row, request, response: seen.append((row, request, response))
    session.get(HEALTH)
    run = session.bench(HEALTH, n=4, warmup=0, progress=False)
    assert len(seen) == 5 == len(session.timings.query("kind == 'api'"))
    for row, request, response in seen:
        assert list(row._asdict()) == list(COLUMNS)
        assert dict(zip(COLUMNS, row, strict=True))["status"] == 200
        assert isinstance(request, httpx.Request)
        assert request.method == "GET"
        assert request.url.path == HEALTH
        assert isinstance(response, httpx.Response)
        assert response.status_code == 200
        assert "x-request-id" in response.headers
    assert {row.run_id for row, _, _ in seen[1:]} == {run.run_id}
