"""The secrets rules that are not an echo: where a token may go, what a fingerprint gives away,
and the inputs refused before anything is sent (each refusal searched with the one scanner).

- `session.auth` on any httpx client attaches the token to the session's API origin only: another
  origin (another port of the same host) gets no `Authorization`, and its 401 neither fetches a
  token nor evicts the cached one.
- A fingerprint of a six-digit secret cannot be brute-forced: all 10^6 candidates tried against
  SHA-256 prefixes and against HMAC with a wrong key identify nothing (the same search does find
  the secret behind an unkeyed SHA-256 prefix, so it is a real search).
- A token with a control character is a `TokenError`, not retried, nothing sent with it.
- An absolute request URL with `user:password@` is an `ArgumentError`; a URL setting with one, or
  the client secret pasted into any setting, a `SettingsError`; none shows the password or secret,
  not even from the CLI.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from _echo_cases import CLIENT, fast_tls, new_secret
from _echo_server import EchoServer, serve
from _leaks import Artefacts, Needles

import dailypay_nb as dp
from dailypay_nb._config import FIELDS

SECRET = new_secret()
#: A URL password (module-level: a test frame holding it in a local would be found by the scan of
#: its own traceback, which shows the locals of every frame, the test's included).
PASSWORD = "pw:" + secrets.token_urlsafe(12)
USER_TOKEN = "usr/" + secrets.token_urlsafe(9) + "\x07" + secrets.token_urlsafe(9)


@pytest.fixture(scope="module")
def echo() -> Iterator[EchoServer]:
    fast_tls()
    with serve() as server:
        yield server


@pytest.fixture(scope="module")
def other() -> Iterator[EchoServer]:
    """A second server: another origin (same host, another port)."""
    with serve() as server:
        yield server


def connect(echo: EchoServer, token_place: str = "ok", **overrides: Any) -> dp.Session:
    return dp.connect(
        dp.load_settings(
            env_file=False,
            environment="sandbox",
            client_id=CLIENT,
            client_secret=SECRET,
            token_url=echo.token_url(token_place),
            api_url=echo.api_url(),
            **overrides,
        )
    )


def scanned(
    *errors: BaseException,
    extra: dict[str, str] | None = None,
    values: tuple[str, ...] = (),
    frames: bool = True,
) -> None:
    """Each error (its chain, and the locals of its frames unless `frames=False`) and each extra
    text holds neither the client secret nor `values`."""
    needles = Needles()
    needles.add(SECRET, "client secret", client_id=CLIENT)
    for value in values:
        needles.add(value, "value")
    a = Artefacts(needles)
    for n, exc in enumerate(errors):
        a.error(f"error{n}", exc, frames=frames)
    for label, text in (extra or {}).items():
        a.add(label, text)
    a.assert_clean()


# -- the token goes to the API origin only --------------------------------------------------------


@pytest.mark.parametrize("asynchronous", [False, True], ids=["Client", "AsyncClient"])
def test_auth_sends_no_token_to_another_origin(
    echo: EchoServer, other: EchoServer, asynchronous: bool
) -> None:
    """`httpx.Client(auth=session.auth)`: a request to another origin has no Authorization, its 401
    makes no token request and leaves the cached token in place; the API origin gets the token."""
    with connect(echo) as session:
        token = session.token()
        tokens_before = echo.count("/t/")
        foreign = f"{other.url}/a/unauthorized/{'async' if asynchronous else 'sync'}/rest/health"
        ours = f"{echo.url}/a/ok/-/rest/health"
        if asynchronous:
            import asyncio

            async def go() -> tuple[int, int]:
                async with httpx.AsyncClient(auth=session.auth) as client:
                    return (await client.get(foreign)).status_code, (await client.get(ours)).status_code

            statuses = asyncio.run(go())
        else:
            with httpx.Client(auth=session.auth) as client:
                statuses = client.get(foreign).status_code, client.get(ours).status_code
        assert statuses == (401, 200)
        assert [auth for _, path, auth in other.requests if path == foreign.removeprefix(other.url)] == [None]
        assert echo.count("/t/") == tokens_before  # the foreign 401 fetched no token
        assert session.current_token is token  # and evicted nothing
        sent = [auth for _, path, auth in echo.requests if path == "/a/ok/-/rest/health"]
        assert sent[-1] == token.authorization()  # the API origin does get it


# -- fingerprints ---------------------------------------------------------------------------------


def _search(digest: Any, *targets: bytes) -> list[list[str]]:
    """For each target, every six-digit candidate whose digest starts with it (one pass)."""
    found: list[list[str]] = [[] for _ in targets]
    sized = [(len(t), t, hits) for t, hits in zip(targets, found, strict=True)]
    for n in range(10**6):
        candidate = f"{n:06d}"
        value = digest(candidate.encode())
        for size, target, hits in sized:
            if value[:size] == target:
                hits.append(candidate)
    return found


def test_fingerprint_of_six_digits_is_not_brute_forced() -> None:
    """All 10^6 six-digit secrets against the fingerprint: no SHA-256 prefix (of its 40 bits, or of
    the 32 an older tag had) and no HMAC under a wrong key singles out the secret. The same search
    recovers the secret from an unkeyed SHA-256 prefix, so it is a real search."""
    secret = f"{secrets.randbelow(10**6):06d}"
    shown = dp.Secret(secret).fingerprint
    assert shown.startswith("fp:")
    target = bytes.fromhex(shown[3:])
    assert len(target) == 5  # 40 bits of an HMAC-SHA256
    plain = hashlib.sha256(secret.encode()).digest()[:5]  # what an unkeyed tag would show
    sha, sha32, control = _search(lambda b: hashlib.sha256(b).digest(), target, target[:4], plain)
    wrong_key = secrets.token_bytes(32)
    (keyed,) = _search(lambda b: hmac.digest(wrong_key, b, "sha256"), target)
    for found in (sha, sha32, keyed):
        assert found != [secret]
        assert secret not in found
    assert control == [secret]


def test_fingerprint_key_is_per_process() -> None:
    """Within a process the same value has the same fingerprint; another process gives another."""
    value = "123456"
    here = dp.Secret(value).fingerprint
    assert dp.Secret(value).fingerprint == here
    code = f"import dailypay_nb as dp; print(dp.Secret({value!r}).fingerprint)"
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert there.strip().startswith("fp:")
    assert there.strip() != here


# -- refused before sending -----------------------------------------------------------------------


def test_token_with_a_control_character_is_refused_once(echo: EchoServer) -> None:
    """A 200 whose access_token holds a control character: a TokenError naming it, not retried, and
    no API request made with it; the token appears in no text of the error or the timings."""
    with connect(echo, token_place="control") as session:
        before_token, before_api = echo.count("/t/control/"), echo.count("/a/")
        with pytest.raises(dp.TokenError) as info:
            session.get("/rest/health")
        assert type(info.value) is dp.TokenError  # not a transport error: nothing to retry
        assert "control characters" in str(info.value)
        assert echo.count("/t/control/") == before_token + 1
        assert echo.count("/a/") == before_api
        assert len(session.timings) == 1
        texts = {"timings.csv": session.timings.to_csv(), "timings.html": session.timings.to_html()}
    scanned(info.value, extra=texts, values=(echo.issued[-1],))


def test_user_token_with_a_control_character_is_refused_masked(echo: EchoServer) -> None:
    """`with_user_token` with a control character in the token: ArgumentError at once, masked; it
    was sent as it was before."""
    with connect(echo) as session:
        before = len(echo.requests)
        with pytest.raises(dp.ArgumentError, match="control characters") as info:
            session.with_user_token(USER_TOKEN)
        assert len(echo.requests) == before
    # Not the frames' locals: the token is the caller's own argument, in the frames it called.
    scanned(info.value, values=(USER_TOKEN.replace("\x07", ""),), frames=False)


@pytest.mark.parametrize("value", ["a\x00b", "a\nb"])
def test_a_request_httpx_cannot_send_is_not_retried(echo: EchoServer, value: str) -> None:
    """A header value HTTP does not allow: one attempt (sending it again cannot help), a hint
    that names the cause, nothing sent."""
    with connect(echo, retry_attempts=5) as session:
        session.token()
        before = len(echo.requests)
        with pytest.raises(dp.ApiTransportError) as info:
            session.get("/rest/health", headers={"X-Note": value})
        assert info.value.attempts == 1
        assert "header" in info.value.hint
        assert len(echo.requests) == before


@pytest.mark.parametrize("password", ["plain", "with-slash"])
def test_request_url_with_userinfo_is_refused_masked(echo: EchoServer, password: str) -> None:
    """An absolute same-origin URL with `user:password@`: ArgumentError, nothing sent, password masked
    (also when a `/` in it makes the URL unparseable)."""
    with connect(echo) as session:
        before = len(echo.requests)
        with pytest.raises(dp.ArgumentError) as info:
            session.get(_with_userinfo(echo, "/" if password == "with-slash" else ""))
        assert "credentials" in str(info.value) or "not a usable URL" in str(info.value)
        assert len(echo.requests) == before
        assert session.timings.empty
    # Not the frames' locals: the URL is the caller's own argument, in the frames it called.
    scanned(info.value, values=(PASSWORD,), frames=False)


def _with_userinfo(echo: EchoServer, extra: str) -> str:
    return f"http://someone:{PASSWORD}{extra}x@{echo.url.removeprefix('http://')}/a/ok/-/rest/health"


@pytest.mark.parametrize("name", ["token_url", "api_url"])
@pytest.mark.parametrize(
    "url", ["https://someone:{}@auth.example.com/x", "https://someone:{}@/x", " https://u:{}@h/x"]
)
def test_url_setting_with_a_password_is_refused_masked(name: str, url: str) -> None:
    """A URL setting with `user:password@` (valid or not): a SettingsError that shows no password."""
    with pytest.raises(dp.SettingsError, match="credentials") as info:
        dp.load_settings(
            env_file=False,
            environment="uat",
            client_id=CLIENT,
            client_secret=SECRET,
            **{name: url.format(PASSWORD)},
        )
    scanned(info.value, values=(PASSWORD,))


SETTINGS = [name for name in FIELDS if name != "client_secret"]


@pytest.mark.parametrize("name", SETTINGS)
@pytest.mark.parametrize("how", ["whole", "inside"])
def test_secret_pasted_into_any_setting_is_refused_masked(name: str, how: str) -> None:
    """The client secret as (or inside) any other setting: a SettingsError naming the variable,
    whose message, attributes, chain and locals hold no form of the secret."""
    with pytest.raises(dp.SettingsError) as info:
        dp.load_settings(
            env_file=False,
            **{"environment": "uat", "client_id": CLIENT, "client_secret": SECRET}
            | {name: SECRET if how == "whole" else f"https://x.example/{SECRET}/y"},
        )
    assert info.value.variable == "DAILYPAY_" + name.upper()
    assert "holds the client secret" in str(info.value)
    scanned(info.value)


@pytest.mark.parametrize("source", ["argument", "environment", "file"])
def test_any_settings_error_shows_no_secret_in_its_locals(
    source: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A settings error that has nothing to do with the secret (a bad timeout) under a traceback
    that shows locals: the client secret, from any source, is masked in every frame."""
    values = {"DAILYPAY_ENVIRONMENT": "uat", "DAILYPAY_CLIENT_ID": CLIENT, "DAILYPAY_TIMEOUT": "soon"}
    if source == "file":
        (tmp_path / ".env").write_text(
            "".join(f"{k}={v}\n" for k, v in values.items()) + f"DAILYPAY_CLIENT_SECRET={SECRET}\n"
        )
        monkeypatch.chdir(tmp_path)
    elif source == "environment":
        [monkeypatch.setenv(k, v) for k, v in values.items()]
        monkeypatch.setenv("DAILYPAY_CLIENT_SECRET", SECRET)
    load = dp.load_settings
    if source == "argument":  # (a lambda: a partial's repr would show the secret in this frame)
        load = lambda: dp.load_settings(  # noqa: E731
            env_file=False, environment="uat", client_id=CLIENT, client_secret=SECRET, timeout="soon"
        )
    with pytest.raises(dp.SettingsError, match="DAILYPAY_TIMEOUT") as info:
        load()
    scanned(info.value)


def test_secret_pasted_into_the_environment_is_refused_by_the_cli(tmp_path: Any) -> None:
    """`DAILYPAY_SCOPE` (and a URL) holding the secret: the CLI says which variable, never the secret."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAILYPAY_")}
    env |= {"DAILYPAY_ENVIRONMENT": "uat", "DAILYPAY_CLIENT_ID": CLIENT, "DAILYPAY_CLIENT_SECRET": SECRET}
    outputs = {}
    for name, value in (
        ("SCOPE", f"health:read {SECRET}"),
        ("API_URL", f"https://u:{SECRET}@api.example.com"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "dailypay_nb", "token"],
            env=env | {f"DAILYPAY_{name}": value},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, done.stderr
        assert f"DAILYPAY_{name}" in done.stderr
        outputs |= {f"{name}.stdout": done.stdout, f"{name}.stderr": done.stderr}
    scanned(extra=outputs)


def test_the_scanner_finds_a_pair_fragment_but_not_a_scope_beside_the_client_id() -> None:
    """A secret starting with "a", its Basic pair's fragment "client:a" and the scope
    "client:admin": one character of the secret is no leak; three are."""
    needles = Needles()
    secret = "abc/" + new_secret()
    needles.add(secret, "client secret", client_id="echo-client")
    assert needles.find("scope=('client:admin', 'client:lookup')") == []
    assert needles.find("Basic echo-client:abc/") != []
    assert needles.find(secret[:8]) != []
