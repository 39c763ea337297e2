"""Settings: .env < environment < arguments, provenance, and errors that name the fix."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import dailypay_nb as dp

CREDS = {"environment": "uat", "client_id": "cid", "client_secret": "s3cr3t-value"}


def write_env(path: Path, **values: str) -> Path:
    path.write_text("".join(f"DAILYPAY_{k.upper()}={v}\n" for k, v in values.items()))
    return path


def test_no_configuration_means_sandbox() -> None:
    """Nothing configured: the embedded sandbox, with the documented client scopes."""
    s = dp.load_settings()
    assert s.environment == "sandbox"
    assert s.uses_embedded_sandbox
    assert s.scope == ("client:admin", "client:lookup", "health:read")
    assert s.sources["environment"] == "default"


def test_env_file_found_upward_and_not_exported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A .env in a parent folder is found, read, and never copied into os.environ."""
    write_env(tmp_path / ".env", **CREDS)
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    s = dp.load_settings()
    assert s.client_id == "cid"
    assert s.client_secret.reveal() == "s3cr3t-value"
    assert s.sources["client_id"] == f"file:{(tmp_path / '.env').resolve()}"
    assert "DAILYPAY_CLIENT_ID" not in os.environ


def test_precedence_file_then_environ_then_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The process environment beats the file; keyword arguments beat both."""
    env = write_env(tmp_path / "x.env", **CREDS, scope="health:read", timeout="5")
    monkeypatch.setenv("DAILYPAY_SCOPE", "client:admin")
    s = dp.load_settings(env_file=env, timeout=7)
    assert s.scope == ("client:admin",)
    assert s.sources["scope"] == "env:DAILYPAY_SCOPE"
    assert s.timeout == 7.0
    assert s.sources["timeout"] == "argument"


def test_environment_defaults() -> None:
    """Production and UAT get DailyPay's documented endpoints."""
    prod = dp.load_settings(**{**CREDS, "environment": "production"})
    assert prod.token_url == "https://auth.dailypay.com/oauth2/token"
    assert prod.api_url == "https://api.dailypay.com"
    uat = dp.load_settings(**CREDS)
    assert uat.api_url == "https://api.dailypayuat.com"
    assert uat.token_url == "https://auth.uat.dailypay.com/oauth2/token"


def test_sources_never_hold_the_secret(tmp_path: Path) -> None:
    """Provenance names where a value came from, not the value."""
    s = dp.load_settings(env_file=write_env(tmp_path / ".env", **CREDS))
    assert "s3cr3t-value" not in repr(s.sources)
    assert "s3cr3t-value" not in repr(s)
    assert "s3cr3t-value" not in str(s.describe())


@pytest.mark.parametrize(
    ("overrides", "variable", "fragment"),
    [
        ({"environment": "uat"}, "DAILYPAY_CLIENT_ID", "missing or empty"),
        ({**CREDS, "client_secret": ""}, "DAILYPAY_CLIENT_SECRET", "missing or empty"),
        ({**CREDS, "client_id": " cid"}, "DAILYPAY_CLIENT_ID", "whitespace"),
        ({**CREDS, "client_secret": "abc\n"}, "DAILYPAY_CLIENT_SECRET", "newline"),
        ({**CREDS, "environment": "staging"}, "DAILYPAY_ENVIRONMENT", "not one of"),
        ({**CREDS, "scope": "client:admin,health:read"}, "DAILYPAY_SCOPE", "malformed"),
        ({**CREDS, "scope": 'a"b'}, "DAILYPAY_SCOPE", "malformed"),
        ({**CREDS, "timeout": "soon"}, "DAILYPAY_TIMEOUT", "number"),
        ({**CREDS, "api_version": "v3"}, "DAILYPAY_API_VERSION", "number"),
        ({**CREDS, "token_url": "http://auth.example.com/oauth2/token"}, "DAILYPAY_TOKEN_URL", "plain http"),
        ({**CREDS, "api_url": "http://10.0.0.8"}, "DAILYPAY_API_URL", "plain http"),
        ({**CREDS, "token_auth_method": "private_key_jwt"}, "DAILYPAY_TOKEN_AUTH_METHOD", "not one of"),
        ({"client_id": "cid", "client_secret": "x"}, "DAILYPAY_ENVIRONMENT", "not"),
    ],
)
def test_bad_settings_name_the_variable(overrides: dict[str, str], variable: str, fragment: str) -> None:
    """Each malformed value is a SettingsError naming the variable, with a hint."""
    with pytest.raises(dp.SettingsError) as info:
        dp.load_settings(**overrides)
    assert info.value.variable == variable
    assert fragment in str(info.value)
    assert info.value.hint


def test_secret_value_not_echoed_in_errors() -> None:
    """A malformed secret is reported without its value."""
    with pytest.raises(dp.SettingsError) as info:
        dp.load_settings(**{**CREDS, "client_secret": " leaky-canary "})
    assert "leaky-canary" not in str(info.value)


def test_loopback_http_allowed() -> None:
    """http:// is fine to 127.0.0.1, ::1 and localhost."""
    for host in ("127.0.0.1:9", "[::1]:9", "localhost:9"):
        s = dp.load_settings(**CREDS, token_url=f"http://{host}/oauth2/token", api_url=f"http://{host}")
        assert s.api_url == f"http://{host}"


def test_undocumented_scope_warns() -> None:
    """A well-formed scope DailyPay does not document is allowed with a warning."""
    with pytest.warns(UserWarning, match="does not document"):
        s = dp.load_settings(**CREDS, scope="client:admin custom:thing")
    assert s.scope == ("client:admin", "custom:thing")


def test_scope_warning_is_short() -> None:
    """A huge undocumented scope gives a short warning."""
    with pytest.warns(UserWarning, match="does not document") as caught:
        dp.load_settings(**CREDS, scope=" ".join(f"x{i}:" + "7" * 5000 for i in range(50)))
    (message,) = [str(w.message) for w in caught]
    assert len(message) < 500
    assert "and 45 more" in message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("scope", "health:read {secret}"),
        ("scope", "{secret}"),
        ("client_id", "{secret}"),
        ("token_url", "https://auth.example.com/oauth2/token?{secret}"),
        ("api_url", "https://api.example.com/{secret}"),
        ("environment", "{secret}"),
    ],
)
def test_client_secret_in_another_setting_is_refused_masked(name: str, value: str) -> None:
    """The client secret pasted into any other setting is a SettingsError that never shows it."""
    secret = "s3cret-pasted-in-the-wrong-place"
    with pytest.raises(dp.SettingsError, match="holds the client secret") as info:
        dp.load_settings(**{**CREDS, "client_secret": secret, name: value.format(secret=secret)})
    assert info.value.variable == "DAILYPAY_" + name.upper()
    assert secret not in str(info.value)
    assert secret[:8] not in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://user:pa55word-in-url@auth.example.com/t",
        "https://user:pa55word-in-url@/t",
        " https://user:pa55word-in-url@auth.example.com/t",
        "https://user:pa55word-in-url@auth.example.com:99999/t",
        "https://user:pa55word-in-url@auth.example.com/t",
    ],
)
def test_url_password_never_echoed(url: str) -> None:
    """A URL with userinfo is refused, whatever else is wrong with it, without showing the password."""
    with pytest.raises(dp.SettingsError) as info:
        dp.load_settings(**CREDS, token_url=url)
    assert "pa55word" not in str(info.value)


def test_misspelt_variable_names_the_closest(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An unknown DAILYPAY_* name in the environment or .env is warned about with the nearest setting."""
    monkeypatch.setenv("DAILYPAY_CLIENTID", "cid")
    (tmp_path / ".env").write_text("DAILYPAY_SCOPES=health:read\n")
    with pytest.warns(UserWarning, match="is not a dailypay_nb setting") as caught:
        dp.load_settings(env_file=tmp_path / ".env")
    messages = " ".join(str(w.message) for w in caught)
    assert "DAILYPAY_CLIENTID in the environment" in messages
    assert "did you mean DAILYPAY_CLIENT_ID?" in messages
    assert "DAILYPAY_SCOPES in " in messages
    assert "did you mean DAILYPAY_SCOPE?" in messages


def test_api_url_ending_in_rest_is_normalised() -> None:
    """An API URL ending in /rest would make every call /rest/rest/...: it is dropped, with a warning."""
    with pytest.warns(UserWarning, match="ends in /rest"):
        settings = dp.load_settings(**CREDS, api_url="https://api.dailypayuat.com/rest/")
    assert settings.api_url == "https://api.dailypayuat.com"


def test_unknown_keyword() -> None:
    """A misspelt keyword lists the valid names."""
    with pytest.raises(dp.SettingsError, match="valid names"):
        dp.load_settings(clientid="x")


def test_replace_revalidates() -> None:
    """Settings.replace checks values like load_settings does."""
    s = dp.load_settings(**CREDS)
    assert s.replace(scope="health:read").scope == ("health:read",)
    with pytest.raises(dp.SettingsError):
        s.replace(timeout="x")
