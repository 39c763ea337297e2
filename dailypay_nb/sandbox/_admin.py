"""`/_sandbox/...`: the control surface over HTTP, for a sandbox running in another process."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ._constants import ADMIN_PREFIX, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_SCOPES, JSON
from ._controls import Controls
from ._state import SandboxState


def loopback_peer(scope: Mapping[str, Any]) -> bool:
    """Whether an ASGI request comes from a loopback address (127.0.0.0/8, ::1, ::ffff:127.x).

    The admin routes can revoke tokens and register clients, so they answer only the machine
    itself, whatever address the sandbox is bound to; a peer the server cannot name is refused.
    """
    client = scope.get("client")
    if not client:
        return False
    try:
        address = ipaddress.ip_address(str(client[0]).split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def _json(payload: object, status: int = 200) -> Response:
    return Response(json.dumps(payload).encode(), status, media_type=JSON)


async def _payload(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError("the body must be a JSON object")
    return value


def routes(state: SandboxState) -> list[Route]:
    """Admin routes (served on the sandbox's loopback address only)."""
    controls = Controls(state)

    def guarded(
        action: Callable[[Request, dict[str, Any]], Any],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            if not loopback_peer(request.scope):
                return _json({"error": "the /_sandbox admin routes answer loopback peers only"}, 403)
            try:
                result = action(request, await _payload(request))
            except (ValueError, TypeError, KeyError) as exc:
                return _json({"error": str(exc) or type(exc).__name__}, 400)
            return result if isinstance(result, Response) else _json(result)

        return endpoint

    def index(request: Request, _: dict[str, Any]) -> Any:
        return {
            "url": state.base_url,
            "token_url": f"{state.base_url}/oauth2/token",
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
            "scopes": DEMO_SCOPES,
            "token_ttl": state.token_ttl,
            "data": controls.data.summary(),
        }

    def stats(request: Request, _: dict[str, Any]) -> Any:
        if request.method == "DELETE":
            controls.reset_stats()
        return controls.stats()

    def faults(request: Request, payload: dict[str, Any]) -> Any:
        if request.method == "POST":
            return {"id": controls.inject(**payload)}
        if request.method == "DELETE":
            controls.clear_faults()
        return {"faults": controls.faults()}

    def fault(request: Request, _: dict[str, Any]) -> Any:
        removed = controls.remove_fault(request.path_params["fault_id"])
        return _json({"removed": removed}, 200 if removed else 404)

    def latency(request: Request, payload: dict[str, Any]) -> Any:
        controls.set_latency(float(payload.get("latency_ms", 0)), float(payload.get("jitter_ms", 0)))
        return {"latency_ms": state.faults.latency_ms, "jitter_ms": state.faults.jitter_ms}

    def revoke(request: Request, payload: dict[str, Any]) -> Any:
        if payload.get("all"):
            return {"revoked": controls.revoke_all()}
        return {"revoked": int(controls.revoke(str(payload["token"])))}

    def user_token(request: Request, payload: dict[str, Any]) -> Any:
        person = payload.get("person_id") or controls.data.person_id
        scope = str(payload.get("scope", "user:read_write"))
        return {
            "access_token": controls.user_token(person, scope),
            "token_type": "bearer",
            "expires_in": max(1, round(state.token_ttl)),
            "scope": scope,
            "person_id": person,
        }

    def clients(request: Request, payload: dict[str, Any]) -> Any:
        controls.register_client(str(payload["client_id"]), str(payload["client_secret"]), payload["scopes"])
        return {"client_id": payload["client_id"]}

    def data(request: Request, _: dict[str, Any]) -> Any:
        view = controls.data
        return {
            "person_id": view.person_id,
            "organization_ids": view.organization_ids,
            "person_ids": view.person_ids,
            "job_ids": view.job_ids,
            "account_ids": view.account_ids,
            "paycheck_ids": view.paycheck_ids,
            "transfer_ids": view.transfer_ids,
        }

    p = ADMIN_PREFIX
    return [
        Route(f"{p}/", guarded(index), methods=["GET"]),
        Route(f"{p}/stats", guarded(stats), methods=["GET", "DELETE"]),
        Route(f"{p}/faults", guarded(faults), methods=["GET", "POST", "DELETE"]),
        Route(f"{p}/faults/{{fault_id}}", guarded(fault), methods=["DELETE"]),
        Route(f"{p}/latency", guarded(latency), methods=["POST"]),
        Route(f"{p}/revoke", guarded(revoke), methods=["POST"]),
        Route(f"{p}/user-token", guarded(user_token), methods=["POST"]),
        Route(f"{p}/clients", guarded(clients), methods=["POST"]),
        Route(f"{p}/data", guarded(data), methods=["GET"]),
    ]
