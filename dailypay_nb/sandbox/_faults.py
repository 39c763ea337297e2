"""Injected faults and added latency: the rules, not the middleware that applies them."""

from __future__ import annotations

import json
import random
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

from ._options import FaultSpec

DropMode = Literal["before", "mid"]


@dataclass(slots=True)
class Fault:
    """One injection rule, matched by path prefix (and optionally method)."""

    id: str
    prefix: str
    method: str | None = None
    status: int | None = None
    body: bytes | None = None
    content_type: str | None = None
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    times: int | None = None
    rate: float | None = None
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    drop: DropMode | None = None
    malformed: bool = False
    hits: int = 0

    @property
    def answers(self) -> bool:
        """True when the fault replaces the real response (not only delays it)."""
        return self.status is not None or self.drop is not None or self.malformed

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly summary (for the admin routes)."""
        return {
            "id": self.id,
            "prefix": self.prefix,
            "method": self.method,
            "status": self.status,
            "content_type": self.content_type,
            "times_left": self.times,
            "rate": self.rate,
            "delay_ms": self.delay_ms,
            "jitter_ms": self.jitter_ms,
            "drop": self.drop,
            "malformed": self.malformed,
            "hits": self.hits,
        }


def _body_bytes(body: object, prefix: str) -> tuple[bytes | None, str | None]:
    """Encode a fault body and guess its content type."""
    if body is None:
        return None, None
    if isinstance(body, bytes):
        return body, "application/octet-stream"
    if isinstance(body, str):
        kind = "text/html" if body.lstrip().startswith("<") else "text/plain"
        return body.encode("utf-8"), f"{kind}; charset=utf-8"
    encoded = json.dumps(body, separators=(",", ":")).encode()
    media = "application/vnd.api+json" if prefix.startswith("/rest") else "application/json"
    return encoded, media


class FaultTable:
    """Thread-safe, ordered fault rules; the first matching rule that fires wins."""

    def __init__(self, seed: int | None) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._counter = 0
        self.active = False  # cheap check for the hot path
        self.latency_ms = 0.0
        self.jitter_ms = 0.0

    def add(self, spec: FaultSpec) -> str:
        """Register one (already validated) rule; return its id."""
        drop = spec.drop
        drop_mode: DropMode | None = None
        if drop is True or drop == "before":
            drop_mode = "before"
        elif drop == "mid":
            drop_mode = "mid"
        encoded, guessed = _body_bytes(spec.body, spec.prefix)
        with self._lock:
            self._counter += 1
            fault = Fault(
                id=f"fault-{self._counter}",
                prefix=spec.prefix,
                method=spec.method.upper() if spec.method else None,
                status=int(spec.status) if spec.status is not None else None,
                body=encoded,
                content_type=spec.content_type or guessed,
                headers=[
                    (k.lower().encode("latin-1"), str(v).encode("latin-1"))
                    for k, v in (spec.headers or {}).items()
                ],
                times=int(spec.times) if spec.times is not None else None,
                rate=float(spec.rate) if spec.rate is not None else None,
                delay_ms=float(spec.delay_ms),
                jitter_ms=float(spec.jitter_ms),
                drop=drop_mode,
                malformed=bool(spec.malformed),
            )
            self._faults.append(fault)
            self.active = True
        return fault.id

    def clear(self) -> None:
        with self._lock:
            self._faults = []
            self.active = False

    def remove(self, fault_id: str) -> bool:
        with self._lock:
            before = len(self._faults)
            self._faults = [f for f in self._faults if f.id != fault_id]
            self.active = bool(self._faults)
            return len(self._faults) != before

    def describe_all(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.describe() for f in self._faults]

    def pick(self, method: str, path: str) -> Fault | None:
        """The rule that fires for this request, if any (consumes one of its `times`)."""
        with self._lock:
            for fault in self._faults:
                if not path.startswith(fault.prefix):
                    continue
                if fault.method is not None and fault.method != method:
                    continue
                if fault.rate is not None and self._rng.random() >= fault.rate:
                    continue
                fault.hits += 1
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                        self.active = bool(self._faults)
                return fault
        return None

    def set_latency(self, latency_ms: float, jitter_ms: float = 0) -> None:
        if latency_ms < 0 or jitter_ms < 0:
            raise ValueError("latency_ms and jitter_ms must be >= 0")
        self.latency_ms = float(latency_ms)
        self.jitter_ms = float(jitter_ms)

    def delay_seconds(self, fault: Fault | None) -> float:
        """Global latency plus the fault's own delay, jitter drawn from the seeded RNG."""
        total = self.latency_ms
        jitter = self.jitter_ms
        if fault is not None:
            total += fault.delay_ms
            jitter += fault.jitter_ms
        if jitter:
            with self._lock:
                total += self._rng.uniform(0.0, jitter)
        return total / 1000.0
