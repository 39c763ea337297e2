"""The 18th operation: a card token from the payments host, then a CARD account made with it.

Against the real sandbox on 127.0.0.1. The card number, the CVV and the card token must not
reach any sink: frames, DEBUG logs, reprs, errors (also when the server echoes the card data
back), the HAR with bodies and curl commands.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import random
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import dailypay_nb as dp
from dailypay_nb._har import ExchangeStore

#: What the sandbox's card tokens start with (the protected header of a compact JWE).
JWE_HEADER = "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkExMjhHQ00ifQ"


def luhn_number(prefix: str = "400758") -> str:
    """A fresh 16-digit card number (Luhn-valid, as real ones are) for this run."""
    body = prefix + "".join(random.choice("0123456789") for _ in range(15 - len(prefix)))
    total = 0
    for i, digit in enumerate(reversed(body)):
        d = int(digit)
        if i % 2 == 0:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


@pytest.fixture
def card() -> dict[str, str]:
    return {
        "first_name": "Edith",
        "last_name": "Clarke",
        "card_number": luhn_number(),
        "expiration_year": "2031",
        "expiration_month": "02",
        "cvv": f"{random.randint(100, 999)}",
        "address_line_one": "123 Kebly Street",
        "address_city": "Fort Lee",
        "address_state": "NJ",
        "address_zip_code": "07237",
        "address_country": "US",
    }


def card_details(token: Any, issuer: str = "400758") -> dict[str, Any]:
    return {
        "token": token,
        "first_name": "Edith",
        "last_name": "Clarke",
        "expiration_month": "02",
        "expiration_year": "2031",
        "address_line_one": "123 Kebly Street",
        "address_city": "Fort Lee",
        "address_state": "NJ",
        "address_zip_code": "07237",
        "address_country": "US",
        "issuer": issuer,
    }


def leaks(text: str, card: dict[str, str], token: str | None) -> list[str]:
    """What of the card data (or the card token) `text` shows."""
    found = []
    number, cvv = card["card_number"], card["cvv"]
    if number in text or number[:-4] in text:  # the last four alone are fine (the API shows them)
        found.append("card number")
    spaced = " ".join(number[i : i + 4] for i in range(0, 16, 4))
    if spaced in text:
        found.append("card number (spaced)")
    # near the word cvv, quoted, or as a number of its own: not inside a hex id such as a
    # request id "940e048b", nor a time or a decimal, nor the number value of a JSON member
    # (`"headersSize": 940` in a HAR file; a cvv member is caught by the first pattern)
    alone = rf"(?<![\w.:-])(?<!\": ){cvv}(?![\w.:-])"
    shown = re.search(rf"(?i)cvv\W{{0,8}}{cvv}(?!\d)|[\"']{cvv}[\"']|{alone}", text)
    if shown:
        found.append(f"cvv: {text[max(0, shown.start() - 40) : shown.end() + 20]!r}")
    if JWE_HEADER in text:
        found.append("a card token")
    if token and (token in text or token.split(".")[1][:16] in text):
        found.append("the card token")
    return found


@pytest.fixture
def debug_logs() -> Iterator[io.StringIO]:
    """Every log record of the process at DEBUG, as text."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(old)


def test_card_token_then_card_account_and_no_sink_shows_the_card(
    fresh_sandbox: Any, connect_to: Any, card: dict[str, str], debug_logs: io.StringIO
) -> None:
    """The whole flow against the sandbox; then every sink is scanned for the card data."""
    session = connect_to(fresh_sandbox)
    person = fresh_sandbox.data.person_id
    user = dp.sandbox.as_user(session, person)
    token = user.create_card_token(**card)
    assert isinstance(token, dp.Secret)
    assert token.label == "card_token"
    assert token.reveal().startswith(JWE_HEADER)
    account = user.create_account(
        person, account_type="CARD", subtype="DEBIT", name="Debit", details=card_details(token)
    )
    assert account.loc[0, "account_type"] == "CARD"
    assert account.loc[0, "details.last_four"] == card["card_number"][-4:]
    assert fresh_sandbox.stats()["routes"]["POST /v2/cards/generic"] == {"200": 1}

    texts: list[str] = []
    # errors: a bad field, a blocked issuer, and a server that echoes the card data back
    with pytest.raises(dp.ArgumentError) as bad:
        user.create_card_token(**{**card, "card_number": " ".join(card["card_number"])})
    texts += [str(bad.value), repr(bad.value)]
    with pytest.raises(dp.ApiError) as blocked:
        user.create_account(
            person, account_type="CARD", subtype="DEBIT", name="x", details=card_details(token, "000000")
        )
    texts += [str(blocked.value), repr(blocked.value), repr(vars(blocked.value))]
    echo = f"card {card['card_number']} cvv {card['cvv']} rejected"
    fresh_sandbox.inject(
        "/v2/cards/generic", status=422, body={"error": "invalid_request", "error_description": echo}
    )
    with pytest.raises(dp.ApiError) as echoed:
        user.create_card_token(**card)
    assert echoed.value.status == 422
    assert "•" in echoed.value.message  # the echo was masked, not dropped
    texts += [str(echoed.value), repr(echoed.value), repr(vars(echoed.value)), repr(echoed.value.errors)]
    fresh_sandbox.clear_faults()
    # frames, reprs, HAR with bodies, curl commands
    texts += [
        account.to_string(),
        account.to_html(),
        user.accounts().to_string(),
        session.timings.to_string(),
        session.timings.to_csv(),
        session.tokens.to_string(),
        session.timing_summary().to_string(),
        repr(session),
        repr(user),
        session._repr_html_(),
        repr(token),
        str(token),
        f"{token}",
        token._repr_html_(),
        json.dumps(session.to_har(bodies=True), ensure_ascii=False),
        *(session.to_curl(seq) for seq in session.timings["seq"]),
    ]
    texts.append(debug_logs.getvalue())
    assert "POST" in debug_logs.getvalue()  # the logs were captured
    for index, text in enumerate(texts):
        assert leaks(text, card, token.reveal()) == [], (index, text[:300])


def test_no_bearer_token_goes_to_the_tokenizer(sandbox: Any, connect_to: Any, card: dict[str, str]) -> None:
    """The operation has `security: []`: the request carries no Authorization, even from a session
    that holds a token for the same origin; the headers are the ones recorded at the transport."""
    session = connect_to(sandbox)
    session.token()
    session.create_card_token(**card)
    store = ExchangeStore.of(session._recorder)
    frame = session.timings
    seq = int(frame[frame["endpoint"] == "/cards/generic"]["seq"].iloc[0])
    held = store.get(seq)
    assert held is not None
    names = {name.lower() for name, _ in held.request_headers}
    assert "authorization" not in names
    assert ("Content-Type", "application/json") in held.request_headers
    row = frame[frame["seq"] == seq].iloc[0]
    assert row["url"] == f"{sandbox.url}/v2/cards/generic"  # no query, no body in the row
    assert row["kind"] == "api"


def test_async_session_creates_a_card_token(sandbox: Any, card: dict[str, str]) -> None:
    """The helper is written once: the async session has it too."""

    async def main() -> dp.Secret:
        async with await dp.connect_async(
            environment="sandbox",
            api_url=sandbox.url,
            token_url=sandbox.token_url,
            client_id=sandbox.client_id,
            client_secret=sandbox.client_secret,
        ) as session:
            return await session.create_card_token(**card)

    token = asyncio.run(main())
    assert token.reveal().startswith(JWE_HEADER)


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("card_number", "4007 5899 9999 9912", "card_number has characters other than digits"),
        ("card_number", "4007-5899-9999-9912", "card_number has characters other than digits"),
        ("card_number", "40075899", "card_number has the wrong length"),
        ("card_number", 4007589999999912, "card_number must be a string"),
        ("expiration_year", "31", "expiration_year is not a four-digit year"),
        ("expiration_month", "13", "expiration_month is not a month"),
        ("cvv", "12a", "cvv has characters other than digits"),
        ("cvv", "12345", "cvv has the wrong length"),
        ("address_state", "New Jersey", "address_state is not two letters"),
        ("address_zip_code", "7237", "address_zip_code is not a 5-digit zip code"),
        ("address_country", "USA", "address_country is not a two-letter"),
        ("first_name", "  ", "first_name must be a non-empty string"),
    ],
)
def test_a_bad_field_is_named_never_shown(
    sandbox: Any, connect_to: Any, card: dict[str, str], field: str, value: Any, named: str
) -> None:
    """Checked before anything is sent; the message names the field and never echoes its value."""
    session = connect_to(sandbox)
    with pytest.raises(dp.ArgumentError, match=named) as caught:
        session.create_card_token(**{**card, field: value})
    text = str(caught.value) + repr(caught.value)
    if str(value).strip():
        assert str(value).strip() not in text
    assert session.timings.empty  # nothing was sent


def test_fields_are_normalised(sandbox: Any, connect_to: Any, card: dict[str, str]) -> None:
    """A month as 2, a state as nj, a zip+4 and a Secret card number are accepted and sent right."""
    session = connect_to(sandbox)
    session.create_card_token(
        **{
            **card,
            "expiration_month": 2,
            "address_state": "nj",
            "address_zip_code": "07237-1234",
            "card_number": dp.Secret(card["card_number"]),
            "cvv": None,
        }
    )
    har = session.to_har(bodies=True)
    sent = json.loads(har["log"]["entries"][-1]["request"]["postData"]["text"])
    assert sent["expiration_month"] == "02"
    assert sent["address_state"] == "NJ"
    assert sent["address_zip_code"] == "07237-1234"
    assert sent["card_number"] == dp._secret.MASK
    assert "cvv" not in sent


def test_production_refuses_the_write_unless_allowed(
    sandbox: Any, connect_to: Any, card: dict[str, str]
) -> None:
    """A write like any other: refused in production (nothing sent) unless allowed."""
    session = connect_to(sandbox, environment="production", payments_url=f"{sandbox.url}/v2")
    with pytest.raises(dp.WriteRefusedError, match="nothing was sent"):
        session.create_card_token(**card)
    assert session.timings.empty
    token = session.create_card_token(**card, allow_writes=True)
    assert token.reveal().startswith(JWE_HEADER)


def test_uat_needs_a_payments_url_only_when_a_card_is_tokenized(card: dict[str, str]) -> None:
    """UAT has no documented payments host: loading works, the card call says what to set."""
    settings = dp.load_settings(
        env_file=False, environment="uat", client_id="c", client_secret="s3cr3t-value"
    )
    assert settings.payments_url is None
    session = dp.Session(settings)
    with pytest.raises(dp.SettingsError, match="DAILYPAY_PAYMENTS_URL") as caught:
        session.create_card_token(**card)
    assert caught.value.variable == "DAILYPAY_PAYMENTS_URL"
    session.close()


def test_payments_url_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """Production: the operation's server; a sandbox: its own; an explicit value wins."""
    prod = dp.load_settings(env_file=False, environment="production", client_id="c", client_secret="s3cr3t-v")
    assert prod.payments_url == "https://payments.dailypay.com/v2"
    assert prod.sources["payments_url"] == "default"
    external = dp.load_settings(
        env_file=False,
        environment="sandbox",
        client_id="c",
        client_secret="s3cr3t-v",
        token_url="http://127.0.0.1:9/oauth2/token",
        api_url="http://127.0.0.1:9",
    )
    assert external.payments_url == "http://127.0.0.1:9/v2"
    moved = external.replace(api_url="http://127.0.0.1:10")
    assert moved.payments_url == "http://127.0.0.1:10/v2"
    monkeypatch.setenv("DAILYPAY_PAYMENTS_URL", "https://cards.example.com/v2/")
    given = dp.load_settings(env_file=False, environment="uat", client_id="c", client_secret="s3cr3t-v")
    assert given.payments_url == "https://cards.example.com/v2"
    assert given.sources["payments_url"] == "env:DAILYPAY_PAYMENTS_URL"
    assert given.replace(environment="production").payments_url == "https://cards.example.com/v2"
    with pytest.raises(dp.SettingsError, match="plain http"):
        dp.load_settings(env_file=False, payments_url="http://payments.example.com/v2")


def test_embedded_sandbox_fills_in_its_payments_url() -> None:
    """`connect()` with no settings points payments_url at the embedded sandbox."""
    session = dp.connect(env_file=False)
    try:
        assert session.settings.payments_url == f"{session.sandbox.url}/v2"
        assert session.settings.sources["payments_url"] == "sandbox"
    finally:
        session.close()


def test_request_accepts_the_payments_host_and_still_refuses_others(sandbox: Any, connect_to: Any) -> None:
    """`session.request` takes the payments host as a second origin; any other host is refused."""
    session = connect_to(sandbox, payments_url=f"http://localhost:{httpx.URL(sandbox.url).port}/v2")
    response = session.request(
        "POST",
        session.settings.payments_url + "/cards/generic",
        json={"first_name": "E"},
        raise_for_status=False,
    )
    assert response.status == 400  # reached the tokenizer, which wants every field
    assert response.endpoint == "/cards/generic"
    with pytest.raises(dp.ApiError, match="not this session's API"):
        session.get("http://127.0.0.2:1/rest/jobs")


def test_a_cvv_echoed_by_the_server_is_masked_in_every_sink_with_validation_on(
    fresh_sandbox: Any, connect_to: Any, card: dict[str, str], recwarn: pytest.WarningsRecorder
) -> None:
    """The redactor cannot mask a 3-digit CVV everywhere, so the tokenizer's answer has it masked
    on arrival: the error, the contract log and its warning (validate=True) never show it."""
    session = connect_to(fresh_sandbox, validate=True)
    echo = f"card {card['card_number']} with cvv {card['cvv']} declined"
    fresh_sandbox.inject(
        "/v2/cards/generic", status=400, body={"error": "invalid_request", "error_description": echo}
    )
    with pytest.raises(dp.ApiError) as caught:
        session.create_card_token(**card)
    assert f"cvv {dp._secret.MASK}" in caught.value.message
    texts = [str(caught.value), repr(vars(caught.value)), session.contract_violations.to_string()]
    texts += [str(w.message) for w in recwarn]
    assert any("not a documented status" in t for t in texts)  # the contract log saw the answer
    for text in texts:
        assert leaks(text, card, None) == [], text


def test_the_cvv_check_finds_a_cvv_but_not_digits_inside_an_id() -> None:
    card = {"card_number": "4007589999999912", "cvv": "940"}
    assert leaks("(request 940e048b…)", card, None) == []
    assert leaks("id 3f940ab", card, None) == []
    assert leaks('{"headersSize": 940, "bodySize": 12}', card, None) == []  # a HAR's sizes
    for shown in ("cvv 940", "CVV: 940", '"940"', "code 940 declined", "[940]", '{"cvv": 940}'):
        assert [hit.split(":")[0] for hit in leaks(shown, card, None)] == ["cvv"], shown
