"""Everything one sandbox instance remembers, behind thread-safe objects."""

from __future__ import annotations

import threading
from typing import Any

from ._auth import ClientRegistry, TokenStore
from ._constants import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_SCOPES
from ._data import Store, generate
from ._faults import FaultTable
from ._options import SandboxOptions, people_count


class Stats:
    """Request counters per route and status, plus token-endpoint counters."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._routes: dict[str, dict[str, int]] = {}
            self._requests = 0
            self._token_requests = 0
            self._tokens_issued = 0

    def record(self, key: str, status: int, token_request: bool) -> None:
        with self._lock:
            self._requests += 1
            if token_request:
                self._token_requests += 1
            per_status = self._routes.get(key)
            if per_status is None:
                per_status = self._routes[key] = {}
            code = str(status) if status else "dropped"
            per_status[code] = per_status.get(code, 0) + 1

    def token_issued(self) -> None:
        with self._lock:
            self._tokens_issued += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "token_requests": self._token_requests,
                "tokens_issued": self._tokens_issued,
                "routes": {k: dict(v) for k, v in self._routes.items()},
                "requests": self._requests,
            }


class SandboxState:
    """Store, clients, tokens, faults, stats and settings of one sandbox."""

    def __init__(self, options: SandboxOptions) -> None:
        self.options = options
        self.seed = options.seed
        self.token_ttl = float(options.token_ttl)
        self.error_code_field = options.error_code_field
        self.store: Store = generate(options.seed, people_count(options.size))
        self.clients = ClientRegistry()
        self.clients.register(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_SCOPES)
        for client_id, (secret, scopes) in (options.clients or {}).items():
            self.clients.register(client_id, secret, scopes)
        self.tokens = TokenStore()
        self.faults = FaultTable(options.seed)
        self.faults.set_latency(options.latency_ms, options.jitter_ms)
        self.stats = Stats()
        self.base_url = ""
