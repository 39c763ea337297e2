"""A local imitation of the DailyPay Public REST API (OAuth2 token endpoint + every /rest route).

    from dailypay_nb import sandbox as sb
    with sb.start() as h:
        ...  # h.url, h.token_url, h.client_id, h.client_secret, h.inject(...), h.stats()

Importing this package is cheap: Starlette and uvicorn load only when a sandbox starts.
It shares no code with the rest of dailypay_nb, so it cannot agree with a client bug.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeVar

from ._constants import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_SCOPES
from ._options import FaultSpec, SandboxOptions, spelled_as

if TYPE_CHECKING:
    from ._handle import Sandbox

__all__ = [
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "DEMO_SCOPES",
    "FaultSpec",
    "Sandbox",
    "SandboxOptions",
    "as_user",
    "find",
    "main",
    "shared",
    "start",
]

S = TypeVar("S")
_shared: Sandbox | None = None
_shared_lock = threading.Lock()


@spelled_as(SandboxOptions)
def start(options: SandboxOptions) -> Sandbox:
    """Start a sandbox on host:port in a background thread and return its handle.

    Takes the fields of `SandboxOptions` as keywords: `start(port=0, seed=3, token_ttl=60)`.
    """
    from ._handle import Sandbox

    return Sandbox(options)


def shared() -> Sandbox:
    """The process-wide sandbox: started on first call (free port), stopped at exit."""
    global _shared
    with _shared_lock:
        if _shared is None or not _shared.running:
            _shared = start()
            atexit.register(_shared.stop)
        return _shared


def find(url: str) -> Sandbox | None:
    """The running sandbox of this process that serves `url` (API base or token URL), or None."""
    from ._handle import find as _find

    return _find(url)


def as_user(session: S, person_id: str | None = None, scope: str = "user:read_write") -> S:
    """A session acting as one of the sandbox's people: `session`'s kind, connections and timings,
    holding a user token minted by the sandbox (embedded, or another process's over HTTP).

    The one bridge from the sandbox to the client side: it only calls `session`'s public
    `with_user_token`, and real environments issue user tokens through DailyPay's
    authorization-code flow instead.
    """
    from ._as_user import as_user as _as_user

    return _as_user(session, person_id, scope)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: run a sandbox in the foreground until Ctrl-C."""
    from ._cli import run

    return run(argv)


def __getattr__(name: str) -> object:
    if name == "Sandbox":
        from ._handle import Sandbox

        return Sandbox
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
