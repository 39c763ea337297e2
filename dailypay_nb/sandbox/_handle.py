"""The handle `start()` returns: URLs, demo credentials, controls and the server's lifetime."""

from __future__ import annotations

import weakref
from types import TracebackType

from ._constants import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, TOKEN_PATH
from ._controls import Controls
from ._options import SandboxOptions
from ._state import SandboxState

#: Every sandbox started in this process that is still alive (see `find`).
_LIVE: weakref.WeakSet[Sandbox] = weakref.WeakSet()


def find(url: str) -> Sandbox | None:
    """The running sandbox of this process serving `url` (its API base or token URL), if any."""
    for handle in list(_LIVE):
        if handle.running and url.rstrip("/") in (handle.url, handle.token_url):
            return handle
    return None


class Sandbox(Controls):
    """A running local DailyPay imitation (see `dailypay_nb.sandbox.start`)."""

    client_id = DEMO_CLIENT_ID
    client_secret = DEMO_CLIENT_SECRET

    def __init__(self, options: SandboxOptions | None = None) -> None:
        options = options or SandboxOptions()
        state = SandboxState(options)
        super().__init__(state)
        from ._app import build_app
        from ._server import ServerThread

        host = options.host
        self.options = options
        self._server = ServerThread(build_app(state), host, options.port)
        self.host = host
        self.port = self._server.port
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{self.port}"
        self.token_url = self.url + TOKEN_PATH
        state.base_url = self.url
        self._server.start()
        self._running = True
        _LIVE.add(self)

    @property
    def running(self) -> bool:
        return self._running

    def stop(self) -> None:
        """Stop serving and release the port (safe to call twice)."""
        if self._running:
            self._running = False
            self._server.stop()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self._running else "stopped"
        return f"<dailypay_nb.sandbox {state} at {self.url}>"
