"""The whole core flow with a canary secret: neither it nor any issued token leaks anywhere."""

from __future__ import annotations

import io
import logging
import pickle
import warnings
from typing import Any

import pytest

import dailypay_nb as dp

CANARY = "canary-Secret-7f3a9c21d4"


def test_canary_secret_and_tokens_never_leak(
    fresh_sandbox: Any, connect_to: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """repr, str, DEBUG logs, exceptions and warnings captured during the flow hold no secret."""
    fresh_sandbox.register_client("canary-client", CANARY, ["client:admin", "client:lookup", "health:read"])
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    texts: list[str] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            session = connect_to(
                fresh_sandbox,
                client_id="canary-client",
                client_secret=CANARY,
                token_auth_method="client_secret_basic",
            )
            settings = session.settings
            token = session.token()
            session.get("/rest/health")
            fresh_sandbox.revoke_all()
            session.get("/rest/health")  # 401 -> refetch -> retry
            token2 = session.token()
            fresh_sandbox.inject("/rest/health", status=401, times=2)
            try:
                session.get("/rest/health")
            except dp.ApiError as exc:
                texts += [str(exc), repr(exc), repr(exc.__dict__)]
            bad = connect_to(fresh_sandbox, client_id="canary-client", client_secret=CANARY + "x")
            try:
                bad.token()
            except dp.TokenError as exc:
                texts += [str(exc), repr(exc), repr(exc.__dict__)]
            try:
                pickle.dumps(settings)
            except TypeError as exc:
                texts.append(str(exc))
            texts += [
                repr(settings),
                str(settings),
                repr(settings.describe()),
                repr(token),
                str(token),
                token._repr_html_(),
                repr(session),
                session._repr_html_(),
                repr(session.auth),
                session.tokens.to_string(),
                session.tokens.to_html(),
                session.timings.to_string(),
                session.timings.to_html(),
                session.timing_summary().to_string(),
                repr(token2),
            ]
            texts += [str(w.message) for w in caught]
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    out = capsys.readouterr()
    texts += [stream.getvalue(), out.out, out.err]
    secrets = [CANARY, token.access_token.reveal(), token2.access_token.reveal()]
    blob = "\n".join(texts)
    assert "DEBUG" in stream.getvalue() or stream.getvalue() != ""  # logging really was captured
    for secret in secrets:
        assert secret not in blob
