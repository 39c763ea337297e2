"""The violations sessions record: one bounded log per timing recorder, and one call's checks.

Strictly private. A log belongs to a `TimingRecorder`, so sessions that share timings (a
`with_user_token` clone, `dp.sandbox.as_user`, the `AsyncSession` of `bench`) share their
violations, and every `seq` joins to the timings they share. `CallCheck` is the contract side
of one `ApiCall`: the request is checked when the call is built, each answer when it arrives
(retried ones too) with the `seq` of its own exchange, the final one through its
`ApiResponse`, so its body is parsed once for the check and for the caller.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import threading
import warnings
import weakref
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._contract_checks import request_violations, response_violations
from ._contract_document import spec_for
from ._flow import Answer, Outcome
from .contract import ContractWarning, Violation, _raise_for, rows_frame

if TYPE_CHECKING:
    import httpx
    import pandas as pd

    from ._response import ApiResponse
    from ._timings import TimingRecorder

__all__ = ["CallCheck", "ContractLog", "violations_frame"]

_PACKAGE = os.path.dirname(os.path.abspath(__file__))
_LOGS: weakref.WeakKeyDictionary[TimingRecorder, ContractLog] = weakref.WeakKeyDictionary()
_LOGS_LOCK = threading.Lock()


class ContractLog:
    """A bounded, thread-safe list of violation rows (plain tuples in `contract.COLUMNS` order)."""

    def __init__(self, maxlen: int) -> None:
        self._rows: deque[tuple[Any, ...]] = deque(maxlen=maxlen)
        self._warned: set[tuple[str | None, str]] = set()
        self._lock = threading.Lock()

    def record(self, seq: int | None, violations: Sequence[Violation], *, warn: bool) -> None:
        """Keep `violations` under `seq`; warn for each (operation, rule) pair seen for the first time."""
        if not violations:
            return
        with self._lock:
            fresh = []
            for v in violations:
                self._rows.append((seq, *_fields(v)))
                key = (v.operation_id, v.rule)
                if key not in self._warned:
                    self._warned.add(key)
                    fresh.append(v)
        if warn:
            for v in fresh:
                shown = f" (value: {v.excerpt})" if v.excerpt else ""
                warnings.warn(
                    f"{v.describe()}{shown}; further {v.rule!r} violations of "
                    f"{v.operation_id or 'undocumented operations'} are only recorded in "
                    "session.contract_violations",
                    ContractWarning,
                    stacklevel=_caller_level(),
                )

    def rows(self) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self._rows)


def _fields(v: Violation) -> tuple[Any, ...]:
    return (v.operation_id, v.direction, v.status, v.location, v.pointer, v.rule, v.message, v.excerpt)


def _caller_level() -> int:
    """The `stacklevel` that points a warning at the first frame outside this package."""
    frame = sys._getframe(1)
    level = 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
        level += 1
    return level


def log_of(recorder: TimingRecorder, maxlen: int) -> ContractLog:
    """The log of the sessions that share `recorder` (created on first use)."""
    with _LOGS_LOCK:
        log = _LOGS.get(recorder)
        if log is None:
            log = _LOGS[recorder] = ContractLog(maxlen)
        return log


def violations_frame(recorder: TimingRecorder) -> pd.DataFrame:
    """The violations recorded by the sessions sharing `recorder` (empty if none): no I/O."""
    log = _LOGS.get(recorder)
    return rows_frame(log.rows() if log is not None else [])


class CallCheck:
    """The contract side of one API call. With `strict`, a request that breaks the contract
    raises `ContractError` here, before anything is sent."""

    def __init__(self, recorder: TimingRecorder, maxlen: int, strict: bool, request: httpx.Request) -> None:
        self.log = log_of(recorder, maxlen)
        self.strict = strict
        self.request = request
        self.request_found = request_violations(request)
        self.final: list[Violation] = []
        self._answers: list[tuple[Answer, int | None]] = []
        self._first_seq: int | None = None
        self._sent = False
        if strict and self.request_found:
            self.log.record(None, self.request_found, warn=False)
            _raise_for(self.request_found, sent=False)

    def seen(self, outcome: Outcome, row: tuple[Any, ...] | None) -> None:
        """One attempt's outcome, with the timing row of its exchange."""
        seq = row[0] if row else None
        if not self._sent:
            self._sent, self._first_seq = True, seq
        if isinstance(outcome, Answer):
            self._answers.append((outcome, seq))

    def finish(self, result: ApiResponse | None) -> None:
        """Record the request's violations and every answer's; `result` is the final answer's."""
        warn = not self.strict
        self.log.record(self._first_seq, self.request_found, warn=warn)
        spec = spec_for(self.request.method, self.request.url.path)
        if spec is None:
            return
        retried = self._answers[:-1] if result is not None else self._answers
        for answer, seq in retried:
            content_type = answer.response.headers.get("content-type")
            found = response_violations(
                spec, answer.status, content_type, answer.body, functools.partial(json.loads, answer.body)
            )
            self.log.record(seq, found, warn=warn)
        if result is not None and self._answers:
            last, seq = self._answers[-1]
            # A 2xx body is parsed once, for the check and the caller alike. An error answer's
            # parsed body is redacted on arrival (its text could be changed), so its raw bytes,
            # small and rare, are parsed again here.
            parse = result.json if result.ok else functools.partial(json.loads, last.body)
            content_type = last.response.headers.get("content-type")  # raw: only its media type is used
            self.final = response_violations(spec, result.status, content_type, last.body, parse)
            self.log.record(seq, self.final, warn=warn)

    def enforce(self) -> None:
        """With `strict`, raise `ContractError` for the final answer's violations."""
        if self.strict:
            _raise_for(self.final, sent=True)
