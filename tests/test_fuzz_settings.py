"""Fuzzing settings: any value for any setting, from arguments, the environment or a .env file,
ends in a valid Settings (and a Session that can build its requests) or a SettingsError."""

from __future__ import annotations

import ipaddress
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import dailypay_nb as dp
from dailypay_nb._config import FIELDS
from dailypay_nb._provider import _token_request

# Fuzzed scopes are mostly undocumented ones: the warning is expected (test_settings checks it).
pytestmark = pytest.mark.filterwarnings(
    "ignore:DAILYPAY_SCOPE has scopes DailyPay does not document:UserWarning"
)

NAMES = sorted(FIELDS)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))

#: Characters that break naive parsers: NUL, controls, separators, odd Unicode, brackets.
NASTY = st.sampled_from(
    ["\x00", "\t", "\n", "\r", " ", "\x0b", "\u00a0", "\u2028", "\u200b", "\ufeff", "[", "]", "@", "%",
     ":", "#", "/", "\\", "\u2100", "\u2488", "\u0130", "é", "😀", "xn--", "..", "-", "\ud7ff"]
)  # fmt: skip
TEXT = st.one_of(
    st.text(max_size=40),
    st.lists(st.one_of(NASTY, st.text(max_size=4)), max_size=12).map("".join),
    st.integers(0, 300_000).map(lambda n: "7" * n),
    st.builds(lambda a, b: f"{a}{b}{a}", st.sampled_from([" ", "\t", "\n", ""]), st.text(max_size=10)),
)
HOSTS = st.one_of(
    st.sampled_from(
        ["127.0.0.1", "localhost", "[::1]", "example.com", "a..b", "xn--", "[::1", "[zz]", "-a-.com"]
    ),
    st.sampled_from(
        [
            "loc\talhost",
            "127.0.0.1\t.evil.com",
            "localhost\\@evil.com",
            "127.0.0.1#@evil.com",
            "LOCALHOST",
            "ｌocalhost",
            "１２７.0.0.1",
            "127.0.0.1.",
            "[::ffff:7f00:1]",
            "2130706433",
            "0177.0.0.1",
            "127.1",
        ]
    ),
    st.lists(st.one_of(NASTY, st.text("abc.:[]0123456789", max_size=4)), min_size=1, max_size=8).map("".join),
)
URLS = st.builds(
    lambda scheme, host, port, path: f"{scheme}://{host}{port}{path}",
    st.sampled_from(["http", "https", "HTTPS", "ftp", ""]),
    HOSTS,
    st.sampled_from(["", ":0", ":443", ":99999", ":-1", ":x", ":" + "9" * 30]),
    st.sampled_from(["", "/oauth2/token", "/a b", "/%zz", "?q=1#f"]),
)
NUMBERS = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([10**400, -(10**400), 2**63, 2**64 + 1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        ["nan", "inf", "-inf", "1e400", "1e10", "0x10", "1_000", "٣", " 5 ", "5\x00", "", "true"]
    ),
)
OTHERS = st.one_of(st.none(), st.booleans(), st.binary(max_size=8), st.lists(st.text(max_size=5), max_size=3))


def outcome(**values: Any) -> dp.Settings | None:
    """load_settings(**values): a Settings or None after a SettingsError; anything else fails the test."""
    try:
        return dp.load_settings(env_file=False, **values)
    except dp.SettingsError as exc:
        message = str(exc)
    assert "\x00" not in message
    return None


def loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def usable(result: dp.Settings) -> None:
    """Accepted settings make a Session whose requests can be built (nothing is sent), and plain
    http goes only where httpx itself would connect to a loopback host."""
    session = dp.connect(result)
    try:
        requests = [
            _token_request(session._provider._client, result),
            session._client.build_request("GET", "/rest/health"),
        ]
        for request in requests:
            if request.url.scheme == "http":
                assert loopback(request.url.host), f"plain http to {request.url.host!r}"
        assert math.isfinite(result.timeout)
        assert result.timeout > 0
    finally:
        session.close()


def base(sandbox_url: str = "http://127.0.0.1:9") -> dict[str, Any]:
    return {
        "environment": "sandbox",
        "client_id": "cid",
        "client_secret": "s",
        "token_url": sandbox_url + "/oauth2/token",
        "api_url": sandbox_url,
    }


@FUZZ
@given(name=st.sampled_from(NAMES), value=st.one_of(TEXT, NUMBERS, OTHERS))
@example(name="scope", value=5)
@example(name="token_url", value="http://[::1")
@example(name="token_url", value="https://ex\u2100ample.com/t")
@example(name="token_url", value="https://a..com/t")
@example(name="token_url", value="https://xn--/t")
@example(name="api_url", value="http://127.0.0.1:99999")
@example(name="timings_buffer", value=10**20)
@example(name="timeout", value=1e10)
@example(name="default_token_ttl", value=1e300)
def test_any_value_for_any_setting(name: str, value: Any) -> None:
    """One setting set to anything: SettingsError or settings a Session can use."""
    result = outcome(**{**base(), name: value})
    if result is not None:
        usable(result)


@FUZZ
@given(name=st.sampled_from(["token_url", "api_url"]), url=URLS)
def test_any_url(name: str, url: str) -> None:
    """Odd URLs (bad hosts, ports, IDNA, brackets, schemes): SettingsError or requests that can be built."""
    result = outcome(**{**base(), name: url})
    if result is not None:
        usable(result)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(name=st.sampled_from(NAMES), value=TEXT.filter(lambda v: "\x00" not in v))
def test_any_value_from_the_environment(name: str, value: str) -> None:
    """The same through a DAILYPAY_* environment variable."""
    key = "DAILYPAY_" + name.upper()
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("DAILYPAY_")}
    try:
        for k, v in base().items():
            os.environ["DAILYPAY_" + k.upper()] = v
        try:
            os.environ[key] = value
        except ValueError:  # the OS refuses this value; nothing to test
            return
        try:
            result = dp.load_settings(env_file=False)
        except dp.SettingsError:
            return
        usable(result)
    finally:
        for k in list(os.environ):
            if k.startswith("DAILYPAY_"):
                del os.environ[k]
        os.environ.update(saved)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(name=st.sampled_from(NAMES), value=TEXT, quote=st.sampled_from(["", '"', "'"]))
def test_any_value_from_a_dotenv_file(name: str, value: str, quote: str) -> None:
    """The same through a .env file, however the value is written or quoted."""
    lines = [f"DAILYPAY_{k.upper()}={v}" for k, v in base().items()]
    lines.append(f"DAILYPAY_{name.upper()}={quote}{value}{quote}")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ".env"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
        try:
            result = dp.load_settings(env_file=path)
        except dp.SettingsError:
            return
        usable(result)
