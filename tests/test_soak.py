"""Soak: 16 threads × 300 calls on a private sandbox with 2 s tokens and 1 % injected 503s.

Zero failed calls; one timing row per attempt (counted against the server); one token
fetch per expiry (single flight under load); a bounded timing buffer and flat memory.
The sandbox runs in another process: the client's allocations alone are traced, and client and
server do not share a GIL. Nothing here bounds elapsed time (load beside it only makes it longer),
so it runs in the parallel part of the suite, not with the `timing` tests.
"""

from __future__ import annotations

import gc
import itertools
import logging
import math
import threading
import time
import tracemalloc
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from _remote_sandbox import RemoteSandbox

import dailypay_nb as dp
from dailypay_nb import _redact

THREADS = 16
CALLS = 300
WARMUP, FIRST, SECOND = 30, 100, 220  # per thread: tracing starts, first and second memory reading
TTL = 2.0
SKEW = 0.5
BUFFER = 500


def calls_for(session: dp.Session, h: RemoteSandbox) -> list[Callable[[], Any]]:
    """Mixed endpoints: raw GETs (parsed JSON) and explorer helpers (frames)."""
    data = httpx.get(f"{h.url}/_sandbox/data", timeout=10).json()
    person, org = data["person_id"], data["organization_ids"][0]
    job = session.jobs(person_id=person)["id"].iloc[0]
    account = session.accounts(person_id=person)["id"].iloc[0]  # the earnings balance
    return [
        lambda: session.get("/rest/health").json(),
        lambda: session.get("/rest/organizations").json(),
        lambda: session.get(f"/rest/jobs/{job}").json(),
        lambda: session.get("/rest/accounts", params={"filter[person.id]": person}).json(),
        lambda: session.get(f"/rest/people/{person}").json(),
        lambda: session.get(f"/rest/accounts/{account}").json(),
        lambda: session.get(f"/rest/organizations/{org}").json(),
        lambda: session.jobs(person_id=person),
        lambda: session.health(),
        lambda: session.organization(org),
    ]


class _Counted(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.records += 1


@pytest.fixture
def retry_log() -> Iterator[_Counted]:
    """stamina's retry warnings go through logging to a handler that counts and drops them.

    pytest's log capture keeps every record until the test ends, so ~50 retry warnings in
    the measured window would read as the toolkit's memory growth.
    """
    logger = logging.getLogger("stamina")
    handler, propagate = _Counted(), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def traced_outside_redactor() -> int:
    """Bytes traced now, less the redactor's index of known secrets.

    That index grows by design with every token fetched (old tokens stay masked), up to a
    fixed number of values; the test checks its count instead.
    """
    snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, _redact.__file__)])
    return sum(stat.size for stat in snapshot.statistics("filename"))


@pytest.mark.soak
@pytest.mark.timeout(120)
def test_soak(retry_log: _Counted) -> None:
    """4800 calls, token churn, 1 % 503s: nothing fails, nothing is lost or doubled, memory is flat."""
    h = RemoteSandbox("--token-ttl", str(TTL))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        session = dp.connect(
            **h.settings(),
            token_skew=SKEW,
            timings_buffer=BUFFER,
            retry_attempts=6,
            retry_timeout=20,
        )
        work = calls_for(session, h)  # a first token and the ids, before anything is counted
        provider = session._provider
        fetched_before, held_before = provider.fetches, len(provider.history)
        known_before = len(_redact.REDACTOR._values)
        h.reset_stats()
        setup_rows = len(session.timings)  # seq goes on counting after clear_timings()
        session.clear_timings()
        rows_by_kind: Counter[str] = Counter()
        append = session._recorder.append
        lock = threading.Lock()

        def counting_append(row: list[Any]) -> tuple[Any, ...]:
            with lock:
                rows_by_kind[row[2]] += 1  # the "kind" column
            return append(row)

        session._recorder.append = counting_append  # type: ignore[method-assign]
        h.inject("/", status=503, rate=0.01)
        failures: list[BaseException] = []
        done = Counter[str]()
        # memory is traced from call WARMUP on; readings at calls FIRST and SECOND of every thread:
        # by FIRST the bounded buffer holds only traced rows, so SECOND - FIRST is pure growth
        marks = {i: threading.Barrier(THREADS + 1) for i in (WARMUP, FIRST, SECOND)}
        resume = {i: threading.Event() for i in marks}

        def worker(index: int) -> None:
            for i in range(CALLS):
                if i in marks:
                    marks[i].wait()
                    resume[i].wait()
                try:
                    work[(index + i) % len(work)]()
                except BaseException as exc:
                    failures.append(exc)
                with lock:
                    done["calls"] += 1

        started = time.monotonic()
        threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(THREADS)]
        for t in threads:
            t.start()
        readings = []
        for i in (WARMUP, FIRST, SECOND):
            marks[i].wait(timeout=60)
            if i == WARMUP:
                tracemalloc.start(1)
            else:
                gc.collect()  # every worker is parked at the barrier: only live objects remain
                readings.append(traced_outside_redactor())
            if i == SECOND:
                tracemalloc.stop()
            resume[i].set()
        growth = readings[1] - readings[0]
        for t in threads:
            t.join(timeout=100)
        elapsed = time.monotonic() - started
        h.clear_faults()
        stats = h.stats()
        fetches = provider.fetches - fetched_before
        known = len(_redact.REDACTOR._values) - known_before
        session.close()
        h.stop()

    routes = stats["routes"]
    token_503 = routes.get("POST /oauth2/token", {}).get("503", 0)
    api_503 = sum(v.get("503", 0) for k, v in routes.items() if k != "POST /oauth2/token")
    api_401 = sum(v.get("401", 0) for v in routes.values())
    print(
        f"soak: {done['calls']} calls in {elapsed:.1f}s, {stats['requests']} requests "
        f"({stats['token_requests']} token, {token_503} token 503s, {api_503} api 503s, {api_401} 401s), "
        f"{fetches} token fetches, {retry_log.records} retry warnings, "
        f"{growth / 1e3:+.0f} kB over {THREADS * (SECOND - FIRST)} calls"
    )

    # zero failed calls
    assert not failures, f"{len(failures)} failed calls, first: {failures[0]!r}"
    assert done["calls"] == THREADS * CALLS
    assert api_503 > 0  # the faults really fired
    assert retry_log.records == api_503 + token_503  # every retry was logged (and dropped)

    # one timing row per attempt: none lost, none duplicated
    assert rows_by_kind["token"] + rows_by_kind["api"] == stats["requests"]
    assert rows_by_kind["token"] == stats["token_requests"] == fetches + token_503
    assert rows_by_kind["api"] == THREADS * CALLS + api_503 + api_401
    frame = session.timings  # the buffer as a frame (readable after close)
    assert len(frame) == BUFFER
    assert frame.attrs["dropped_rows"] == stats["requests"] - BUFFER  # counted, not lost silently
    dropped_warnings = [w for w in caught if issubclass(w.category, dp.TimingsDroppedWarning)]
    assert len(dropped_warnings) == 1  # once per session
    last = setup_rows + stats["requests"]
    assert frame["seq"].tolist() == list(range(last - BUFFER + 1, last + 1))

    # single flight: one fetch per expiry, each only once the previous token went stale
    tokens = list(provider.history)[held_before:]
    assert stats["tokens_issued"] == fetches == len(tokens)
    early = [
        (n, (b.obtained_at - a.expires_at).total_seconds() + SKEW)
        for n, (a, b) in enumerate(itertools.pairwise(tokens))
        if (b.obtained_at - a.expires_at).total_seconds() + SKEW < -0.05
    ]
    assert len(early) <= api_401, f"tokens fetched while the previous one was fresh: {early}"
    windows = [(t.expires_at - t.obtained_at).total_seconds() - SKEW for t in tokens]  # fresh spans
    assert min(windows) > 0
    assert fetches <= math.ceil(elapsed / min(windows)) + 1 + api_401

    # every token fetched stays masked (the redactor's index is bounded, see test_redact)
    assert known == min(fetches, _redact._MAX_VALUES - known_before)

    # memory: the bounded buffer holds, and 1920 more calls leave nothing more allocated
    assert len(session._recorder) == BUFFER
    assert growth < 500_000, f"memory grew by {growth} bytes over {THREADS * (SECOND - FIRST)} calls"
