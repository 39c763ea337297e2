"""The body of `createGenericCardToken`, checked field by field, and the token it answers.

Strictly private. The card number and CVV become `Secret`s the moment they arrive and are
registered with the process redactor, so they stay masked in every repr, log and error; the
JSON encoder of the request (`_base`) reveals them only into the bytes that go on the wire.
A field that is wrong is named, never echoed: its value may be card data. (The CVV, too short
for the redactor, is masked in the tokenizer's answers as they arrive: see `_base.ApiCall`.)
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from ._exceptions import ArgumentError, DocumentError
from ._redact import REDACTOR
from ._secret import Secret

if TYPE_CHECKING:
    from ._response import ApiResponse

__all__ = ["card_body", "card_token_of"]

_DIGITS = re.compile(r"[0-9]+")
_LETTERS2 = re.compile(r"[A-Za-z]{2}")
_ZIP = re.compile(r"[0-9]{5}(?:-[0-9]{4})?")
#: ISO/IEC 7812 primary account numbers are 8 to 19 digits; cards in use have 12 or more.
_CARD_LENGTHS = range(12, 20)


def _secret_digits(name: str, value: object, lengths: range, what: str) -> Secret:
    """`value` (a str or a Secret) as a Secret of digits only; the error names the field only."""
    if isinstance(value, Secret):
        secret = value
    elif isinstance(value, str):
        secret = Secret(value, label=name)
    else:
        raise ArgumentError(
            f"{name} must be a string (or a dp.Secret), not {type(value).__name__}",
            hint=f"pass {name} as text: {what}",
        )
    REDACTOR.add(secret)
    problem = _digits_problem(secret, lengths)  # in a frame of its own: no plain value here
    if problem:
        raise ArgumentError(f"{name} {problem}", hint=f"pass {what}")
    return secret if secret.label == name else Secret(secret, label=name)


def _digits_problem(secret: Secret, lengths: range) -> str:
    """What is wrong with the digits of `secret` ("" when nothing); never raises."""
    text = secret.reveal()
    if not _DIGITS.fullmatch(text):
        return "has characters other than digits"
    return "" if len(text) in lengths else "has the wrong length"


def _text(name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ArgumentError(f"{name} must be a non-empty string")
    if any(ch in value for ch in "\r\n\x00"):
        raise ArgumentError(f"{name} must be one line of text")
    return value.strip()


def _pattern(name: str, value: object, pattern: re.Pattern[str], what: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not pattern.fullmatch(value.strip()):
        raise ArgumentError(f"{name} is not {what}", hint=f"pass {name} as {what}")
    return value.strip()


def _month(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()) and len(value.strip()) <= 2:
        month = int(value)
        if 1 <= month <= 12:
            return f"{month:02d}"
    raise ArgumentError("expiration_month is not a month 01 to 12", hint="pass it as '02' (or 2)")


def card_body(
    *,
    first_name: object,
    last_name: object,
    card_number: object,
    expiration_year: object,
    expiration_month: object,
    address_line_one: object,
    address_city: object,
    address_state: object,
    address_zip_code: object,
    address_country: object,
    cvv: object = None,
    address_line_two: object = None,
) -> dict[str, Any]:
    """The request body, every field checked; `card_number` and `cvv` stay `Secret`s in it."""
    number = _secret_digits(
        "card_number", card_number, _CARD_LENGTHS, "12 to 19 digits, without spaces or hyphens"
    )
    code = None if cvv is None else _secret_digits("cvv", cvv, range(3, 5), "the 3 or 4 digit code")
    body: dict[str, Any] = {
        "first_name": _text("first_name", first_name),
        "last_name": _text("last_name", last_name),
        "card_number": number,
        "expiration_year": _pattern(
            "expiration_year", expiration_year, re.compile(r"[0-9]{4}"), "a four-digit year such as '2027'"
        ),
        "expiration_month": _month(expiration_month),
        "address_line_one": _text("address_line_one", address_line_one),
        "address_city": _text("address_city", address_city),
        "address_state": _pattern(
            "address_state", address_state, _LETTERS2, "two letters such as 'NJ'"
        ).upper(),
        "address_zip_code": _pattern("address_zip_code", address_zip_code, _ZIP, "a 5-digit zip code"),
        "address_country": _pattern(
            "address_country", address_country, _LETTERS2, "a two-letter ISO 3166 code such as 'US'"
        ).upper(),
    }
    if code is not None:
        body["cvv"] = code
    if address_line_two is not None:
        body["address_line_two"] = _text("address_line_two", address_line_two)
    return body


def _wrap_token(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members: dict[str, Any] = {}
    for key, value in pairs:
        if key == "token" and isinstance(value, str):
            value = Secret(value, label="card_token")
            REDACTOR.add(value)
        members[key] = value
    return members


def card_token_of(response: ApiResponse) -> Secret:
    """The `token` of a 200 answer, as a Secret registered with the redactor before anything else.

    The answer's body is read in a frame of its own and never shown: whatever it holds may be a
    token or card data.
    """
    token = _token_in(response.body)
    if token is None:
        raise DocumentError(
            "createGenericCardToken answered 200 without a token: expected a JSON object with a "
            f"string 'token' ({len(response.body)} bytes, {response.content_type or 'no content type'})"
        )
    return token


def _token_in(body: bytes) -> Secret | None:
    try:
        data = json.loads(body, object_pairs_hook=_wrap_token)
    except (ValueError, RecursionError):
        return None
    token = data.get("token") if isinstance(data, dict) else None
    return token if isinstance(token, Secret) and token else None
