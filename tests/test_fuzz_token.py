"""Fuzzing token responses: any JSON body, parsed directly or served by the sandbox, becomes a
Token or a TokenError, never another exception, and never echoes the token it carried."""

from __future__ import annotations

import json
import math
import time
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import dailypay_nb as dp
from dailypay_nb._token import Token

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([10**400, -(10**400), 2**63, -1, 0, 1e308, -0.0]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["nan", "inf", "-1", "1e400", "3600", " 60 ", "0x10", "", "bearer", "Bearer", "MAC"]),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
TOKENISH = st.fixed_dictionaries(
    {},
    optional={
        "access_token": st.one_of(st.text(min_size=1, max_size=30), SCALARS, JSON),
        "token_type": st.one_of(
            st.sampled_from(["bearer", "BEARER", "Bearer", "mac", "", "bearer "]), SCALARS
        ),
        "expires_in": SCALARS,
        "created_at": SCALARS,
        "scope": st.one_of(st.text(max_size=40), SCALARS, JSON),
        "refresh_token": SCALARS,
        "id_token": SCALARS,
        "error": SCALARS,
    },
)
BODIES = st.one_of(TOKENISH, JSON)


def parse(data: Any, default_ttl: float = 300.0) -> Token | None:
    """Token.from_response: a Token, or None after a TokenError; anything else fails the test."""
    try:
        token = Token.from_response(
            data, requested_scope=("health:read",), sent_at=time.time(), default_ttl=default_ttl
        )
    except dp.TokenError as exc:
        text = str(exc)
        assert "\n" not in text
        access = data.get("access_token") if isinstance(data, dict) else None
        if isinstance(access, str) and len(access) >= 8:
            assert access not in text
        return None
    assert math.isfinite(token.seconds_left)
    repr(token), token._repr_html_(), token.expired, token.fresh(60)
    return token


@settings(max_examples=400, deadline=None)
@given(BODIES)
@example({"access_token": "tok-1234567890", "expires_in": 10**400})
@example({"access_token": "tok-1234567890", "created_at": 10**400})
@example({"access_token": "tok-1234567890", "expires_in": -(10**400)})
@example({"access_token": "tok-1234567890", "expires_in": 1e308})
@example({"access_token": "tok-1234567890", "token_type": "tok-1234567890"})
def test_from_response_only_token_errors(data: Any) -> None:
    """Random JSON, wrong types, huge/negative/text expires_in: a Token or a TokenError."""
    parse(data)


@settings(max_examples=50, deadline=None)
@given(ttl=st.one_of(st.floats(min_value=1, max_value=1e300), st.sampled_from([1e300, 1e18, 3.2e10])))
def test_default_ttl_extremes(ttl: float) -> None:
    """A token without expires_in, whatever default_ttl the settings allow, is a Token or TokenError."""
    parse({"access_token": "tok-abcdefghij"}, default_ttl=ttl)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=BODIES)
@example(body={"access_token": "tok-1234567890", "expires_in": 10**400})
def test_round_trip_through_the_sandbox(sandbox_server: Any, body: Any) -> None:
    """The same bodies served by the sandbox's token endpoint: session.token() is a Token or TokenError."""
    h = sandbox_server
    h.clear_faults()
    h.inject("/oauth2/token", status=200, body=json.dumps(body), content_type="application/json", times=1)
    session = dp.connect(
        environment="sandbox",
        api_url=h.url,
        token_url=h.token_url,
        client_id=h.client_id,
        client_secret=h.client_secret,
        retry_attempts=2,
        retry_timeout=2,
    )
    try:
        message = ""
        try:
            session.token()
            session.tokens.to_string()
        except dp.TokenError as exc:
            message = str(exc)
        assert "\n" not in message
        assert h.client_secret not in message
        session.timings.to_string()
    finally:
        h.clear_faults()
        session.close()
