"""Pure ASGI middleware: request ids, added latency, injected faults, stats, last-resort 500."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ._constants import ADMIN_PREFIX, JSON, JSONAPI, REST_PREFIX, TOKEN_PATH
from ._errors import ApiError, default_error, error_body, new_request_id
from ._faults import Fault
from ._state import SandboxState

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

REQUEST_ID = "dailypay_sandbox.request_id"
logger = logging.getLogger("dailypay_nb.sandbox")

_OAUTH_ERROR_FOR = {400: "invalid_request", 401: "invalid_client", 429: "temporarily_unavailable"}
_MALFORMED = b'{"data":[{"type":"jobs","id":"e9d84b0d-92ba-43c9-93bf-7c993313fa6f","attri'


def _media_for(path: str) -> str:
    return JSONAPI if path.startswith(REST_PREFIX) else JSON


def _default_body(path: str, status: int, request_id: str) -> tuple[bytes, str]:
    if path.startswith(REST_PREFIX):
        return error_body([default_error(status)], request_id), JSONAPI
    if status < 500:
        error = _OAUTH_ERROR_FOR.get(status, "invalid_request")
    else:
        error = "temporarily_unavailable" if status == 503 else "server_error"
    payload = {"error": error, "error_description": f"Injected fault: HTTP {status}."}
    return json.dumps(payload).encode(), JSON


def _headers(body: bytes, media: str | None, extra: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    headers = [(b"content-length", str(len(body)).encode())]
    if media:
        headers.append((b"content-type", media.encode("latin-1")))
    return headers + extra


async def _sleep_until(deadline: float) -> None:
    """Sleep until the loop clock reaches `deadline`, to within a few µs.

    `asyncio.sleep` wakes up to 1 ms late (epoll's timeout is in whole milliseconds, rounded
    up), so it sleeps until 1.5 ms before and then yields to other requests until it is due.
    """
    loop = asyncio.get_running_loop()
    remaining = deadline - loop.time()
    if remaining > 0.0015:
        await asyncio.sleep(remaining - 0.0015)
    while loop.time() < deadline:
        await asyncio.sleep(0)


class SandboxMiddleware:
    """Wraps the routed app; admin routes under /_sandbox pass straight through."""

    def __init__(self, app: ASGIApp, state: SandboxState, route_key: Callable[[Scope], str]):
        self.app = app
        self.state = state
        self.route_key = route_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        arrived = asyncio.get_running_loop().time()
        faults = self.state.faults
        request_id = new_request_id()
        scope[REQUEST_ID] = request_id
        rid_header = (b"x-request-id", request_id.encode())
        fault = faults.pick(scope["method"], scope["path"]) if faults.active else None
        delay = 0.0
        if fault is not None or faults.latency_ms or faults.jitter_ms:
            delay = faults.delay_seconds(fault)
        if fault is not None and fault.answers:
            if delay:
                await _sleep_until(arrived + delay)
            key = self.route_key(scope)
            if fault.drop is not None:
                self._record(scope, 0, key)  # before the client can notice
                await self._drop(fault, scope["path"], receive, send)
                return
            status, body, headers = self._answer(fault, scope, rid_header)
            self._record(scope, status, key)
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body, "more_body": False})
            return

        status = 0
        recorded = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, recorded
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), rid_header]
                if delay:
                    await _sleep_until(arrived + delay)
            elif not message.get("more_body", False) and not recorded:
                # Count the request before its last byte leaves, so a client that has read the
                # response always finds it in stats().
                recorded = True
                self._record(scope, status, self._key(scope))
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            logger.error("sandbox handler failed: %s", type(exc).__name__)
            if status:
                raise  # response already started: let the server close the connection
            status = 500
            error = ApiError(500, "UNEXPECTED_ERROR")
            body = error_body([error], request_id)
            headers = _headers(body, _media_for(scope["path"]), [rid_header])
            recorded = True
            self._record(scope, status, self._key(scope))
            await send({"type": "http.response.start", "status": 500, "headers": headers})
            await send({"type": "http.response.body", "body": body, "more_body": False})
        if not recorded:
            self._record(scope, status, self._key(scope))

    def _key(self, scope: Scope) -> str:
        route = scope.get("route")
        return f"{scope['method']} {route.path}" if route is not None else self.route_key(scope)

    def _record(self, scope: Scope, status: int, key: str) -> None:
        self.state.stats.record(key, status, scope["path"] == TOKEN_PATH)

    def _answer(
        self, fault: Fault, scope: Scope, rid_header: tuple[bytes, bytes]
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        """Status, body and headers of a fault that replaces the response."""
        path = scope["path"]
        status = fault.status or 200
        extra = [rid_header, *fault.headers]
        if fault.malformed:
            body, media = _MALFORMED, fault.content_type or _media_for(path)
        elif status in (204, 304) or status < 200:
            body, media = b"", None
        elif fault.body is not None:
            body, media = fault.body, fault.content_type
        else:
            body, media = _default_body(path, status, scope[REQUEST_ID])
            media = fault.content_type or media
        return status, body, _headers(body, media, extra)

    @staticmethod
    async def _drop(fault: Fault, path: str, receive: Receive, send: Send) -> None:
        """Close the connection before any response byte, or after a partial body."""
        if fault.drop == "mid":
            headers = [
                (b"content-type", _media_for(path).encode()),
                (b"content-length", b"4096"),
            ]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": _MALFORMED, "more_body": True})
        # uvicorn's ASGI send is a bound method of the request cycle, which holds the transport.
        transport = getattr(getattr(send, "__self__", None), "transport", None)
        if transport is None:
            raise ConnectionAbortedError("injected connection drop")
        transport.close()

        async def wait_disconnect() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        try:
            await asyncio.wait_for(wait_disconnect(), timeout=5)
        except asyncio.TimeoutError:
            logger.warning("dropped connection did not report a disconnect")
