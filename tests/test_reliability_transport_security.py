"""Transport security: no plain http to other hosts, TLS verification always on, no redirect
or absolute URL carries the client secret or a token to another host."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import dailypay_nb as dp
from dailypay_nb._config import FIELDS

CREDS = {"client_id": "cid", "client_secret": "s3cret-transport-canary"}


# -- a listener that records whether anything reached it --------------------------------------


class Listener:
    """A TCP socket on 127.0.0.1 that records every byte sent to it and answers 200 `{}`."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = int(self.sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.connections = 0
        self.received: list[bytes] = []
        self.tls = tls
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.settimeout(2)
            try:
                if self.tls is not None:
                    conn = self.tls.wrap_socket(conn, server_side=True)
                data = conn.recv(65536)
                self.received.append(data)
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"
                )
            except (OSError, ssl.SSLError):
                pass
            finally:
                conn.close()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    """A recording listener on a free loopback port."""
    box = Listener()
    yield box
    box.close()


# -- plain http ------------------------------------------------------------------------------

NON_LOOPBACK = [
    "http://auth.example.com/oauth2/token",
    "HTTP://AUTH.EXAMPLE.COM/oauth2/token",
    "http://10.0.0.1/oauth2/token",
    "http://192.168.1.10:8080/oauth2/token",
    "http://0.0.0.0/oauth2/token",
    "http://localhost.example.com/oauth2/token",
    "http://127.0.0.1.nip.io/oauth2/token",
    "http://[2001:db8::1]/oauth2/token",
    "http://127.1/oauth2/token",
]


@pytest.mark.parametrize("url", NON_LOOPBACK)
@pytest.mark.parametrize("name", ["token_url", "api_url"])
def test_plain_http_to_non_loopback_refused(url: str, name: str) -> None:
    """An http:// token or API URL to any host that is not loopback is a SettingsError naming the variable."""
    with pytest.raises(dp.SettingsError) as info:
        dp.connect(environment="production", **CREDS, **{name: url})
    assert f"DAILYPAY_{name.upper()}" in str(info.value)
    assert CREDS["client_secret"] not in str(info.value)


@pytest.mark.parametrize("where", ["env", "dotenv", "replace"])
def test_plain_http_refused_from_every_source(
    where: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The refusal holds whether the URL comes from the environment, a .env file or Settings.replace."""
    url = "http://auth.example.com/oauth2/token"
    values = {
        "DAILYPAY_ENVIRONMENT": "uat",
        "DAILYPAY_CLIENT_ID": "cid",
        "DAILYPAY_CLIENT_SECRET": "x",
        "DAILYPAY_TOKEN_URL": url,
    }
    load: Any
    if where == "env":
        for key, value in values.items():
            monkeypatch.setenv(key, value)
        load = lambda: dp.load_settings(env_file=False)  # noqa: E731
    elif where == "dotenv":
        (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in values.items()))
        load = lambda: dp.load_settings(env_file=tmp_path / ".env")  # noqa: E731
    else:
        https = dp.load_settings(env_file=False, environment="uat", client_id="c", client_secret="x")
        load = lambda: https.replace(token_url=url)  # noqa: E731
    with pytest.raises(dp.SettingsError, match="plain http"):
        load()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/oauth2/token",
        "http://localhost:9/oauth2/token",
        "http://[::1]:9/oauth2/token",
        "https://auth.example.com/oauth2/token",
    ],
)
def test_loopback_http_and_https_allowed(url: str) -> None:
    """Plain http to loopback (the sandbox) and https anywhere are accepted."""
    settings = dp.load_settings(env_file=False, environment="uat", **CREDS, token_url=url)
    assert settings.token_url == url


# -- TLS verification ------------------------------------------------------------------------


def ssl_contexts(client: httpx.Client | httpx.AsyncClient) -> list[ssl.SSLContext]:
    """Every SSL context the client's transports (and their wrapped inner transports) will use."""
    found: list[ssl.SSLContext] = []
    transports = [client._transport, *client._mounts.values()]
    while transports:
        transport = transports.pop()
        if transport is None:
            continue
        inner = getattr(transport, "_inner", None)
        if inner is not None:
            transports.append(inner)
        pool = getattr(transport, "_pool", None)
        context = getattr(pool, "_ssl_context", None)
        if context is not None:
            found.append(context)
    return found


def assert_verifying(client: httpx.Client | httpx.AsyncClient) -> None:
    contexts = ssl_contexts(client)
    assert contexts, "no SSL context found: the transport layout changed"
    for context in contexts:
        assert context.verify_mode == ssl.CERT_REQUIRED
        assert context.check_hostname is True


@pytest.mark.parametrize("environment", ["production", "uat"])
def test_tls_verification_on_for_every_client(environment: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Token client, API client and async client all verify certificates and host names."""
    for name in ("DAILYPAY_VERIFY", "DAILYPAY_SSL_VERIFY", "DAILYPAY_INSECURE", "DAILYPAY_TLS_VERIFY"):
        monkeypatch.setenv(name, "false")
    session = dp.connect(environment=environment, **CREDS)
    try:
        assert_verifying(session._client)
        assert_verifying(session._provider._client)
    finally:
        session.close()


def test_tls_verification_on_for_async_session() -> None:
    """The AsyncSession's client verifies too."""
    import asyncio

    async def main() -> None:
        session = await dp.connect_async(environment="production", **CREDS)
        try:
            assert_verifying(session._client)
        finally:
            await session.aclose()

    asyncio.run(main())


def test_no_setting_can_disable_tls() -> None:
    """No setting is about TLS, and an attempt to pass one is refused as unknown."""
    assert not [n for n in FIELDS if any(w in n for w in ("verify", "ssl", "tls", "insecure", "cert"))]
    for name in ("verify", "ssl_verify", "insecure"):
        with pytest.raises(dp.SettingsError, match="unknown setting"):
            dp.load_settings(env_file=False, **{name: False})


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    """A server-side SSL context with a fresh self-signed certificate for 127.0.0.1."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: cannot make a self-signed certificate")
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def test_untrusted_certificate_refused_before_the_secret_is_sent(self_signed: ssl.SSLContext) -> None:
    """A token endpoint with a self-signed certificate: TokenTransportError, and no request bytes arrive."""
    server = Listener(tls=self_signed)
    try:
        token_url = f"https://127.0.0.1:{server.port}/oauth2/token"
        session = dp.connect(environment="uat", **CREDS, token_url=token_url, retry_attempts=1)
        with pytest.raises(dp.TokenTransportError) as info:
            session.token()
        session.close()
        time.sleep(0.2)
        assert server.connections >= 1  # the client did reach the server ...
        assert not [b for b in server.received if b]  # ... but sent nothing over the failed handshake
        assert CREDS["client_secret"] not in str(info.value)
    finally:
        server.close()


# -- redirects -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_token_redirect_not_followed(sandbox: Any, connect_to: Any, listener: Listener, status: int) -> None:
    """A token-endpoint redirect to another host is a TokenError naming it; nothing reaches that host."""
    target = f"{listener.url}/steal"
    sandbox.inject("/oauth2/token", status=status, headers={"Location": target}, body="")
    session = connect_to(sandbox, retry_attempts=3)
    with pytest.raises(dp.TokenError, match="redirect") as info:
        session.token()
    assert target in str(info.value)
    assert sandbox.stats()["token_requests"] == 1
    time.sleep(0.2)
    assert listener.connections == 0
    assert sandbox.client_secret not in str(info.value)


def test_api_redirect_not_followed(sandbox: Any, connect_to: Any, listener: Listener) -> None:
    """A redirect from the API to another host is not followed: the bearer token stays home."""
    session = connect_to(sandbox)
    session.token()
    sandbox.inject("/rest/organizations", status=307, headers={"Location": f"{listener.url}/steal"}, body="")
    with pytest.raises(dp.ApiError) as info:
        session.organizations()
    assert info.value.status == 307
    time.sleep(0.2)
    assert listener.connections == 0


def test_auth_with_redirect_following_client_drops_token(
    sandbox: Any, connect_to: Any, listener: Listener
) -> None:
    """session.auth on a client that follows redirects: the token is not forwarded to another origin."""
    session = connect_to(sandbox)
    sandbox.inject("/rest/organizations", status=302, headers={"Location": f"{listener.url}/steal"}, body="")
    with httpx.Client(base_url=sandbox.url, auth=session.auth, follow_redirects=True) as client:
        assert client.get("/rest/organizations").status_code == 200
    token = session.token().access_token.reveal()
    assert listener.received
    assert not [b for b in listener.received if token.encode() in b]
    assert not [b for b in listener.received if b"authorization" in b.lower()]


@pytest.mark.parametrize("scheme", ["http://127.0.0.1:{port}", "http://localhost:{port}"])
def test_absolute_url_to_another_origin_gets_no_token(
    sandbox: Any, connect_to: Any, listener: Listener, scheme: str
) -> None:
    """session.get() with an absolute URL off the API's origin is refused; the token never leaves."""
    session = connect_to(sandbox)
    token = session.token().access_token.reveal()
    url = scheme.format(port=listener.port) + "/rest/health"
    with pytest.raises(dp.DailyPayError):
        session.get(url)
    time.sleep(0.1)
    assert not [b for b in listener.received if token.encode() in b]
    assert listener.connections == 0
