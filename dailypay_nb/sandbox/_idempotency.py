"""Idempotency-Key bookkeeping for createTransfer: replay, mismatch and in-flight lock."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal

Outcome = Literal["new", "replay", "mismatch", "locked"]


@dataclass(slots=True)
class Entry:
    fingerprint: str
    in_flight: bool = True
    status: int | None = None
    body: bytes | None = None


class IdempotencyStore:
    """Keys per owner (the person of the user token); completed replies are kept for replay."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], Entry] = {}
        self._lock = threading.Lock()

    def begin(self, owner: str, key: str, fingerprint: str) -> tuple[Outcome, Entry]:
        """Claim `key` for a request, or say why it cannot be processed afresh."""
        with self._lock:
            entry = self._entries.get((owner, key))
            if entry is None:
                entry = self._entries[(owner, key)] = Entry(fingerprint)
                return "new", entry
            if entry.in_flight:
                return "locked", entry
            if entry.fingerprint != fingerprint:
                return "mismatch", entry
            return "replay", entry

    def complete(self, owner: str, key: str, status: int, body: bytes) -> None:
        """Remember the reply (the key stays locked until `release`)."""
        with self._lock:
            entry = self._entries[(owner, key)]
            entry.status = status
            entry.body = body

    def release(self, owner: str, key: str) -> None:
        """Unlock the key once the reply is sent; forget it if no reply was stored."""
        with self._lock:
            entry = self._entries.get((owner, key))
            if entry is None:
                return
            if entry.body is None:
                del self._entries[(owner, key)]
            else:
                entry.in_flight = False
