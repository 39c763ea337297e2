"""`POST /cards/generic`: DailyPay's card tokenization endpoint (no auth, plain JSON)."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from ._bodies import first_null
from ._constants import JSON
from ._state import SandboxState

REQUIRED = (
    "first_name", "last_name", "card_number", "expiration_year", "expiration_month",
    "address_line_one", "address_city", "address_state", "address_zip_code", "address_country",
)  # fmt: skip
OPTIONAL = ("cvv", "address_line_two")
_JWE_HEADER = "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkExMjhHQ00ifQ"


def _segment(size: int) -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(size)).rstrip(b"=").decode()


def new_card_token() -> str:
    """An opaque token shaped like a compact JWE (five dot-separated segments)."""
    return ".".join([_JWE_HEADER, _segment(96), _segment(12), _segment(48), _segment(16)])


def _problem(detail: str, status: int = 400) -> Response:
    body = json.dumps({"error": "invalid_request", "error_description": detail}).encode()
    return Response(body, status, media_type=JSON)


def endpoint(state: SandboxState) -> Callable[[Request], Awaitable[Response]]:
    """Tokenize a card; the token is remembered for a later createAccount (CARD)."""

    async def create_generic_card_token(request: Request) -> Response:
        try:
            payload = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            return _problem("The body must be a JSON object.")
        if not isinstance(payload, dict):
            return _problem("The body must be a JSON object.")
        where = first_null(payload, "createGenericCardToken")
        if where is not None:
            return _problem(f"{where[1:]} must not be null.")
        missing = [name for name in REQUIRED if not isinstance(payload.get(name), str)]
        if missing:
            return _problem(f"Missing or non-string fields: {', '.join(missing)}.")
        for name in OPTIONAL:
            if payload.get(name) is not None and not isinstance(payload[name], str):
                return _problem(f"{name} must be a string or null.")
        number = "".join(ch for ch in payload["card_number"] if ch.isdigit())
        token = new_card_token()
        with state.store.lock:
            state.store.card_tokens[token] = {
                "last_four": number[-4:].rjust(4, "0"),
                "issuer": number[:6],
                "expiration_month": payload["expiration_month"],
                "expiration_year": payload["expiration_year"],
            }
        return Response(json.dumps({"token": token}).encode(), media_type=JSON)

    return create_generic_card_token
