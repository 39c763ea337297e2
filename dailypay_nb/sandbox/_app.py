"""The Starlette application: routes for the token endpoint, every REST operation and admin."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route, Router, request_response

from . import _admin, _cards, _reads, _writes
from ._access import authenticate, authorize, check_version
from ._auth import NO_STORE, OAuthError, oauth_error_payload, token_endpoint
from ._calls import Call, Reply, check_jsonapi_parameters
from ._constants import API_VERSION, JSON, JSONAPI, REST_PREFIX, TOKEN_PATH
from ._errors import ApiError, error_body, new_request_id
from ._middleware import REQUEST_ID, SandboxMiddleware, Scope
from ._state import SandboxState

Endpoint = Callable[[Request], Awaitable[Response]]
Handler = Callable[[Call], Reply]

_HEALTH_BODY = json.dumps({"status": "UP", "version": API_VERSION}, separators=(",", ":")).encode()
_WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def _dumps(document: object) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def _request_id(request: Request) -> str:
    value = request.scope.get(REQUEST_ID)
    return value if isinstance(value, str) else new_request_id()


def api_error_response(request: Request, error: ApiError) -> Response:
    """A JSON:API error response that carries the request id of this request."""
    return Response(
        error_body([error], _request_id(request)),
        status_code=error.status,
        media_type=JSONAPI,
        headers=error.headers,
    )


class _ReleasingResponse(Response):
    """Runs a callback once the response has been sent (idempotency keys stay locked till then)."""

    def __init__(self, *args: Any, on_sent: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._on_sent = on_sent

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._on_sent()


def _reply_response(reply: Reply) -> Response:
    if reply.status == 204:
        body = b""
    elif reply.raw is not None:
        body = reply.raw
    else:
        body = _dumps(reply.document)
    media = None if reply.status == 204 else JSONAPI
    if reply.on_sent is not None:
        return _ReleasingResponse(
            body,
            status_code=reply.status,
            media_type=media,
            headers=reply.headers,
            on_sent=reply.on_sent,
        )
    return Response(body, status_code=reply.status, media_type=media, headers=reply.headers)


def _operation(state: SandboxState, operation: str, handler: Handler) -> Endpoint:
    """Wrap a handler with authentication, scope and version checks and error rendering."""

    async def endpoint(request: Request) -> Response:
        on_sent: Callable[[], None] | None = None
        try:
            headers = request.headers
            token = authenticate(headers.get("authorization"), state.tokens)
            authorize(token, operation)
            check_version(headers.get("dailypay-api-version"))
            params = request.query_params.multi_items()
            check_jsonapi_parameters(operation, params)
            body = await request.body() if request.method in _WRITE_METHODS else b""
            call = Call(
                store=state.store,
                token=token,
                base=state.base_url,
                params=params,
                path=dict(request.path_params),
                headers=headers,
                body=body,
                request_id=_request_id(request),
                operation=operation,
                method=request.method,
                url_path=request.url.path,
            )
            with state.store.lock:
                reply = handler(call)
            on_sent = reply.on_sent
            return _reply_response(reply)
        except ApiError as error:
            if on_sent is not None:
                on_sent()
            return api_error_response(request, error)

    return endpoint


def _methods(handlers: dict[str, Endpoint], *, rest: bool = True) -> Endpoint:
    """Dispatch one path by HTTP method; other methods get a 405 in the path's media type."""
    if "GET" in handlers:
        handlers = {"HEAD": handlers["GET"], **handlers}
    allow = ", ".join(m for m in handlers if m != "HEAD")

    async def endpoint(request: Request) -> Response:
        handler = handlers.get(request.method)
        if handler is not None:
            return await handler(request)
        if rest:
            error = ApiError(
                405,
                "INVALID_USER_INPUT",
                f"{request.method} is not allowed here.",
                headers={"Allow": allow},
            )
            return api_error_response(request, error)
        return Response(_dumps({"error": "method_not_allowed"}), 405, {"Allow": allow}, media_type=JSON)

    return endpoint


def _health(state: SandboxState) -> Endpoint:
    async def health(request: Request) -> Response:
        try:
            token = authenticate(request.headers.get("authorization"), state.tokens)
            authorize(token, "getHealth")
        except ApiError as error:
            return api_error_response(request, error)
        return Response(_HEALTH_BODY, media_type=JSON)

    return health


def _token(state: SandboxState) -> Endpoint:
    async def token(request: Request) -> Response:
        headers = request.headers
        try:
            payload = token_endpoint(
                headers.get("content-type", ""),
                headers.get("authorization", ""),
                await request.body(),
                state.clients,
                state.tokens,
                state.token_ttl,
            )
        except OAuthError as err:
            extra = dict(NO_STORE)
            if err.basic:
                extra["WWW-Authenticate"] = 'Basic realm="dailypay-sandbox"'
            body = _dumps(oauth_error_payload(err, state.error_code_field))
            return Response(body, err.status, extra, media_type=JSON)
        state.stats.token_issued()
        return Response(_dumps(payload), 200, NO_STORE, media_type=JSON)

    return token


def _not_found(state: SandboxState) -> Endpoint:
    async def not_found(request: Request) -> Response:
        if request.url.path.startswith(REST_PREFIX):
            error = ApiError(404, "NOT_FOUND", f"No operation at {request.url.path}.")
            return api_error_response(request, error)
        return Response(_dumps({"error": "not_found"}), 404, media_type=JSON)

    return not_found


def build_routes(state: SandboxState) -> list[Route]:
    """Every route, health first (the benchmarked path stays at the head of the list)."""

    def op(name: str, handler: Handler) -> Endpoint:
        return _operation(state, name, handler)

    rest = [
        ("/rest/jobs", {"GET": op("listJobs", _reads.list_jobs)}),
        (
            "/rest/jobs/{job_id}",
            {"GET": op("readJob", _reads.read_job), "PATCH": op("updateJob", _writes.update_job)},
        ),
        (
            "/rest/accounts",
            {
                "GET": op("listAccounts", _reads.list_accounts),
                "POST": op("createAccount", _writes.create_account),
            },
        ),
        (
            "/rest/accounts/{account_id}",
            {
                "GET": op("readAccount", _reads.read_account),
                "DELETE": op("deleteAccount", _writes.delete_account),
            },
        ),
        (
            "/rest/transfers",
            {
                "GET": op("listTransfers", _reads.list_transfers),
                "POST": op("createTransfer", _writes.create_transfer),
            },
        ),
        ("/rest/transfers/{transfer_id}", {"GET": op("readTransfer", _reads.read_transfer)}),
        ("/rest/paychecks", {"GET": op("listPaychecks", _reads.list_paychecks)}),
        ("/rest/paychecks/{paycheck_id}", {"GET": op("readPaycheck", _reads.read_paycheck)}),
        ("/rest/organizations", {"GET": op("listOrganizations", _reads.list_organizations)}),
        (
            "/rest/organizations/{organization_id}",
            {"GET": op("readOrganization", _reads.read_organization)},
        ),
        (
            "/rest/people/{person_id}",
            {
                "GET": op("readPerson", _reads.read_person),
                "PATCH": op("updatePerson", _writes.update_person),
            },
        ),
    ]
    routes = [
        Route("/rest/health", _methods({"GET": _health(state)}), methods=_ALL_METHODS),
        Route(TOKEN_PATH, _methods({"POST": _token(state)}, rest=False), methods=_ALL_METHODS),
    ]
    routes += [Route(p, _methods(h), methods=_ALL_METHODS) for p, h in rest]
    cards = _methods({"POST": _cards.endpoint(state)}, rest=False)
    routes += [Route(p, cards, methods=_ALL_METHODS) for p in ("/cards/generic", "/v2/cards/generic")]
    routes += _admin.routes(state)
    return routes


def build_app(state: SandboxState) -> SandboxMiddleware:
    """The sandbox ASGI app: a Starlette router inside the sandbox's own pure ASGI middleware.

    The middleware is outermost so it sees uvicorn's own `send` (needed to drop connections)
    and turns any handler exception into a JSON:API 500.
    """
    routes = build_routes(state)
    router = Router(routes=routes, redirect_slashes=False, default=request_response(_not_found(state)))

    def route_key(scope: Scope) -> str:
        probe = {"type": "http", "path": scope["path"], "method": scope["method"], "root_path": ""}
        for route in routes:
            match, _ = route.matches(probe)
            if match is Match.FULL:
                return f"{scope['method']} {route.path}"
        return f"{scope['method']} (no route)"

    return SandboxMiddleware(router, state, route_key)
