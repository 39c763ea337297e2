"""P5: build `session.timings` from a full recorder of 100 000 realistic rows (goal ≤ 40 ms), and
what a row costs in the frame and in the recorder (goal ≤ 150 bytes each).

The recorder of a real session is filled with rows shaped like real traffic (a token request
now and then, five endpoints with templated paths whose URLs name one of 1 000 records, cold
and reused connections with NaN phases, a few errors and failed exchanges, bench run ids, a
unique X-Request-Id per row), then `session.timings` — snapshot plus `_frames.timings_frame` —
is timed. The same is measured with every URL unique (a new record each time), the case where
no text but the endpoint repeats.

    .venv/bin/python bench/bench_timings.py [--quick] [--rows N]
"""

from __future__ import annotations

import argparse
import gc
import math
import random
import statistics
import time
import uuid
from typing import Any

import dailypay_nb as dp
from dailypay_nb._config import load_settings
from dailypay_nb._timings import TimingRecorder

ROWS = 100_000
#: Distinct records the URLs name (ids in paths and filters): a session revisits what it explores.
IDS = 1_000
_BASE = "https://api.dailypay.com"
_ENDPOINTS = (
    ("GET", "/rest/health", "/rest/health"),
    ("GET", "/rest/jobs", "/rest/jobs?filter%5Bperson.id%5D={id}"),
    ("GET", "/rest/jobs/{job_id}", "/rest/jobs/{id}"),
    ("GET", "/rest/accounts/{account_id}", "/rest/accounts/{id}"),
    ("POST", "/rest/transfers", "/rest/transfers"),
)


def realistic_row(rng: random.Random, i: int, ids: int | None = IDS) -> list[Any]:
    """One timing row as `_Exchange.finish` builds it (seq is set by the recorder).

    URLs name one of `ids` records (None: a new record every time, so every URL is unique).
    """
    nan = math.nan
    if i % 500 == 0:
        kind, (method, endpoint, path) = "token", ("POST", "/oauth2/token", "/oauth2/token")
        url = "https://auth.dailypay.com/oauth2/token"
    else:
        kind, (method, endpoint, path) = "api", _ENDPOINTS[i % len(_ENDPOINTS)]
        record = rng.getrandbits(128) if ids is None else rng.randrange(ids)
        url = _BASE + path.format(id=uuid.UUID(int=record))
    cold = i % 100 == 0
    failed = i % 1000 == 999
    status = None if failed else (503 if i % 250 == 7 else 200)
    send, wait, download = rng.uniform(0.05, 0.4), rng.lognormvariate(3.0, 0.5), rng.uniform(0.1, 2.0)
    connect = rng.uniform(5, 30) if cold else nan
    tls = rng.uniform(10, 40) if cold else nan
    phases = [connect, tls, send, wait, download]
    if failed:
        phases = [connect, tls, nan, nan, nan]
    total = sum(p for p in phases if p == p) + rng.uniform(0.02, 0.1)
    started = 1.7e9 + i * 0.01
    return [
        0,
        started,
        kind,
        method,
        endpoint,
        url,
        status,
        2 if status == 503 else 1,
        None if failed else not cold,
        *phases,
        total,
        0 if failed else rng.randint(30, 40_000),
        None if failed else str(uuid.UUID(int=rng.getrandbits(128))),
        "ReadTimeout: timed out" if failed else ("HTTP 503" if status == 503 else None),
        f"run-{i // 10_000:08x}" if i % 3 == 0 else None,
        started,
        total,
    ]


def fill(recorder: TimingRecorder, n: int, seed: int = 0, ids: int | None = IDS) -> None:
    rng = random.Random(seed)
    for i in range(n):
        recorder.append(realistic_row(rng, i, ids))


def _measure(rows: int, repeats: int, ids: int | None) -> dict[str, Any]:
    settings = load_settings(
        env_file=False,
        environment="sandbox",
        api_url="http://127.0.0.1:9",
        token_url="http://127.0.0.1:9/oauth2/token",
        client_id="bench",
        client_secret="bench-secret",
        timings_buffer=rows,
    )
    with dp.Session(settings) as session:  # never sends: only its recorder is used
        fill(session._recorder, rows, ids=ids)
        assert len(session._recorder) == rows
        frame = session.timings  # warm-up (imports, caches)
        assert len(frame) == rows
        times: list[float] = []
        for _ in range(repeats):
            gc.collect()
            started = time.perf_counter()
            frame = session.timings
            times.append((time.perf_counter() - started) * 1000.0)
        snapshot: list[float] = []
        for _ in range(repeats):
            started = time.perf_counter()
            session._recorder.rows()
            snapshot.append((time.perf_counter() - started) * 1000.0)
        recorder_bytes = session._recorder.nbytes()
    q1, median, q3 = statistics.quantiles(times, n=4, method="inclusive")
    return {
        "value": median,
        "q1": q1,
        "q3": q3,
        "snapshot_ms": statistics.median(snapshot),
        "frame_bytes_per_row": frame.memory_usage(deep=True).sum() / rows,
        "recorder_bytes_per_row": recorder_bytes / rows,
        "memory_mb": frame.memory_usage(deep=True).sum() / 1e6,
    }


def run(quick: bool = False, rows: int = ROWS) -> dict[str, Any]:
    """Median ms (and quartiles) of `session.timings` with `rows` rows recorded, and bytes per
    row in the frame and in the recorder; for rows whose URLs name `IDS` records (the figure)
    and, for comparison, rows whose every URL is unique (no text repeats but the endpoint)."""
    repeats = 5 if quick else 11
    shaped = _measure(rows, repeats, IDS)
    unique = _measure(rows, max(3, repeats // 2), None)
    return {**shaped, "rows": rows, "repeats": repeats, "ids": IDS, "unique_urls": unique}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rows", type=int, default=ROWS)
    args = parser.parse_args()
    r = run(quick=args.quick, rows=args.rows)
    u = r["unique_urls"]
    print(
        f"session.timings with {r['rows']} rows: {r['value']:.1f} ms (IQR {r['q1']:.1f}-{r['q3']:.1f}; "
        f"snapshot {r['snapshot_ms']:.2f} ms); {r['frame_bytes_per_row']:.0f} bytes/row in the frame, "
        f"{r['recorder_bytes_per_row']:.0f} in the recorder; goals <= 40 ms, <= 150 bytes/row"
    )
    print(
        f"every URL unique: {u['value']:.1f} ms, {u['frame_bytes_per_row']:.0f} bytes/row in the frame, "
        f"{u['recorder_bytes_per_row']:.0f} in the recorder"
    )


if __name__ == "__main__":
    main()
