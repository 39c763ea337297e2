"""The client against its floor: P1 latency, P2 throughput, P3 wait_ms accuracy, P4 single flight.

The sandbox runs in its own process (`RemoteSandbox`), so the client under test and the
server do not share a GIL: on a 2-core machine each gets a core, as with a real API. The two
sides of every comparison hit the same sandbox, interleaved in blocks, and each figure is a
median with its interquartile range.

    .venv/bin/python bench/bench_client.py [--quick] [p1 p2 p3 p4]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import shutil
import statistics
import subprocess
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from multiprocessing.connection import Connection
from typing import Any

import httpx

import dailypay_nb as dp

HEALTH = "/rest/health"


# -- statistics -------------------------------------------------------------------------------


def spread(values: Sequence[float]) -> dict[str, float]:
    """Median, quartiles and count of `values`."""
    ordered = sorted(values)
    if len(ordered) < 2:
        only = ordered[0] if ordered else float("nan")
        return {"median": only, "q1": only, "q3": only, "n": len(ordered)}
    q1, median, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
    return {"median": median, "q1": q1, "q3": q3, "n": len(ordered)}


# -- a sandbox in its own process ---------------------------------------------------------------


def _serve(conn: Connection, options: dict[str, Any]) -> None:
    from dailypay_nb import sandbox as sb

    with sb.start(**options) as handle:
        conn.send(
            {
                "url": handle.url,
                "token_url": handle.token_url,
                "client_id": handle.client_id,
                "client_secret": handle.client_secret,
            }
        )
        while (message := conn.recv()) is not None:
            name, args, kwargs = message
            try:
                conn.send(("ok", getattr(handle, name)(*args, **kwargs)))
            except Exception as exc:
                conn.send(("error", f"{type(exc).__name__}: {exc}"))


class RemoteSandbox:
    """`dailypay_nb.sandbox.start(**options)` in a child process; its handle's methods by pipe."""

    def __init__(self, **options: Any) -> None:
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve, args=(child, options), daemon=True)
        self._process.start()
        info = self._conn.recv()
        self.url: str = info["url"]
        self.token_url: str = info["token_url"]
        self.client_id: str = info["client_id"]
        self.client_secret: str = info["client_secret"]
        self._lock = threading.Lock()

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            self._conn.send((name, args, kwargs))
            status, value = self._conn.recv()
        if status != "ok":
            raise RuntimeError(f"sandbox.{name}: {value}")
        return value

    def token_requests(self) -> int:
        return int(self.call("stats")["token_requests"])

    def connect(self, **overrides: Any) -> dp.Session:
        return dp.connect(**self.settings(), **overrides)

    async def connect_async(self, **overrides: Any) -> dp.AsyncSession:
        return await dp.connect_async(**self.settings(), **overrides)

    def settings(self) -> dict[str, Any]:
        return {
            "environment": "sandbox",
            "api_url": self.url,
            "token_url": self.token_url,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "env_file": False,
        }

    def close(self) -> None:
        if self._process.is_alive():
            self._conn.send(None)
            self._process.join(10)
            if self._process.is_alive():
                self._process.kill()

    def __enter__(self) -> RemoteSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def raw_client(session: dp.Session, **kwargs: Any) -> Iterator[httpx.Client]:
    """A plain httpx.Client sending what `session.get` sends: same headers, same bearer token."""
    with httpx.Client(base_url=session.settings.api_url or "", headers=raw_headers(session), **kwargs) as c:
        yield c


def raw_headers(session: dp.Session) -> dict[str, str]:
    headers = dict(session._headers)  # Accept, DailyPay-API-Version, User-Agent
    headers["Accept"] = "application/json"  # what session sends to /health
    headers["Authorization"] = session.token().authorization()
    return headers


# -- P1: per-request latency ------------------------------------------------------------------


def _timed(call: Callable[[], Any], n: int, out: list[float]) -> None:
    clock = time.perf_counter
    for _ in range(n):
        started = clock()
        call()
        out.append((clock() - started) * 1000.0)


def p1_latency(box: RemoteSandbox, quick: bool = False) -> dict[str, Any]:
    """`session.get(HEALTH)` vs `httpx.Client.get` with the same headers, sequential, in blocks."""
    total = 300 if quick else 1000
    block = 50
    with box.connect() as session, raw_client(session) as raw:

        def ours() -> None:
            session.get(HEALTH)

        def theirs() -> None:
            response = raw.get(HEALTH)
            response.raise_for_status()

        _timed(ours, 100, [])  # warm-up: connections, token, code paths
        _timed(theirs, 100, [])
        mine: list[float] = []
        base: list[float] = []
        for index in range(total // block):
            order = [(ours, mine), (theirs, base)]
            for call, out in order if index % 2 == 0 else reversed(order):
                _timed(call, block, out)
    a, b = spread(mine), spread(base)
    return {
        "value": a["median"],
        "baseline": b["median"],
        "ratio": a["median"] / b["median"],
        "ours": a,
        "raw": b,
        "unit": "ms/request",
        "n": total,
    }


# -- P2: throughput ---------------------------------------------------------------------------


async def _raw_async(url: str, headers: dict[str, str], n: int, concurrency: int) -> float:
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=32)  # as the session
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits) as client:
        for _ in range(5):
            await client.get(HEALTH)
        semaphore = asyncio.Semaphore(concurrency)

        async def one() -> None:
            async with semaphore:
                response = await client.get(HEALTH)
                response.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        return n / (time.perf_counter() - started)


async def _raw_async_workers(url: str, headers: dict[str, str], n: int, concurrency: int) -> float:
    """The task pattern of `session.bench`: `concurrency` workers pulling from one counter."""
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=32)  # as the session
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits) as client:
        for _ in range(5):
            await client.get(HEALTH)
        remaining = iter(range(n))

        async def worker() -> None:
            for _ in remaining:
                response = await client.get(HEALTH)
                response.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return n / (time.perf_counter() - started)


def p2_throughput(box: RemoteSandbox, quick: bool = False) -> dict[str, Any]:
    """`session.bench(n, concurrency=16)` req/s vs raw AsyncClient, interleaved: with 2 000 tasks
    behind Semaphore(16) (the first baseline) and with 16 workers (session.bench's own pattern)."""
    n, rounds, concurrency = (1000, 3, 16) if quick else (2000, 5, 16)
    mine: list[float] = []
    base: list[float] = []
    ratios: list[float] = []
    workers: list[float] = []
    worker_ratios: list[float] = []
    with box.connect() as session:
        headers = raw_headers(session)
        for index in range(rounds):
            figures: dict[str, float] = {}
            sides = ("ours", "raw", "workers") if index % 2 == 0 else ("workers", "raw", "ours")
            for side in sides:
                if side == "ours":
                    session.clear_timings()
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")  # client-limited: that is what P2 compares
                        run = session.bench(HEALTH, n=n, concurrency=concurrency, progress=False)
                    if len(run.timings) != n or run.timings["error"].notna().any():
                        raise RuntimeError(f"bench returned {len(run.timings)} rows or errors")
                    figures[side] = run.requests_per_second
                elif side == "raw":
                    figures[side] = asyncio.run(_raw_async(box.url, headers, n, concurrency))
                else:
                    figures[side] = asyncio.run(_raw_async_workers(box.url, headers, n, concurrency))
            mine.append(figures["ours"])
            base.append(figures["raw"])
            ratios.append(figures["ours"] / figures["raw"])
            workers.append(figures["workers"])
            worker_ratios.append(figures["ours"] / figures["workers"])
    a, b, r = spread(mine), spread(base), spread(ratios)
    return {
        "value": a["median"],
        "baseline": b["median"],
        "ratio": r["median"],
        "ours": a,
        "raw": b,
        "ratios": r,
        "workers": spread(workers),
        "worker_ratios": spread(worker_ratios),
        "unit": "req/s",
        "n": n,
        "rounds": rounds,
    }


# -- P3: wait_ms against the injected delay and against curl ------------------------------------


def _curl(url: str, authorization: str, n: int, out: list[float], pre: list[float]) -> None:
    command = [
        "curl",
        "-s",
        "-o",
        "/dev/null",
        "-H",
        f"Authorization: {authorization}",
        "-H",
        "Accept: application/json",
        "-w",
        "%{time_pretransfer} %{time_starttransfer} %{http_code}",
        url,
    ]
    for _ in range(n):
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        pretransfer, starttransfer, code = done.stdout.split()
        if code != "200":
            raise RuntimeError(f"curl got HTTP {code}")
        out.append((float(starttransfer) - float(pretransfer)) * 1000.0)
        pre.append(float(pretransfer) * 1000.0)


def p3_wait_accuracy(box: RemoteSandbox, quick: bool = False, delay_ms: float = 50.0) -> dict[str, Any]:
    """Median wait_ms with `delay_ms` injected, vs the delay and vs curl in the same run."""
    if shutil.which("curl") is None:
        return {"error": "curl is not installed"}
    total, block = (60, 20) if quick else (200, 25)
    curl_waits: list[float] = []
    curl_pre: list[float] = []
    with box.connect() as session:
        authorization = session.token().authorization()
        session.get(HEALTH)  # the connection is open before the delay is injected
        session.clear_timings()  # from here on, every row is a delayed /rest/health
        fault = box.call("inject", HEALTH, delay_ms=delay_ms)
        try:

            def with_session() -> None:
                for _ in range(block):
                    session.get(HEALTH)

            def with_curl() -> None:
                _curl(box.url + HEALTH, authorization, block, curl_waits, curl_pre)

            for index in range(total // block):
                for step in (with_session, with_curl) if index % 2 == 0 else (with_curl, with_session):
                    step()
        finally:
            box.call("remove_fault", fault)
        rows = session.timings
        if len(rows) != total or not rows["status"].eq(200).all():
            raise RuntimeError(f"expected {total} delayed 200s, got {len(rows)} rows")
        waits = rows["wait_ms"].tolist()
        sends = (rows["send_ms"] + rows["wait_ms"]).tolist()
    ours, curl, ours_send = spread(waits), spread(curl_waits), spread(sends)
    return {
        "value": ours["median"],
        "error_vs_delay": abs(ours["median"] - delay_ms),
        "curl": curl["median"],
        "diff_vs_curl": abs(ours["median"] - curl["median"]),
        "send_wait_diff_vs_curl": abs(ours_send["median"] - curl["median"]),
        "ours": ours,
        "ours_send_wait": ours_send,
        "curl_spread": curl,
        "curl_pretransfer_ms": spread(curl_pre),
        "delay_ms": delay_ms,
        "n": total,
    }


# -- P4: token requests (single flight) ---------------------------------------------------------


def p4_single_flight(box: RemoteSandbox, quick: bool = False) -> dict[str, Any]:
    """Token requests for 10 000 calls in one TTL; for 32 cold threads; for 32 cold tasks."""
    calls, width = (1000 if quick else 10_000), 32
    results: dict[str, Any] = {"calls": calls, "width": width}

    box.call("reset_stats")
    with box.connect() as session:
        for _ in range(calls):
            session.get(HEALTH)
    results["sequential"] = box.token_requests()

    box.call("reset_stats")
    with box.connect() as session:
        barrier = threading.Barrier(width)
        errors: list[BaseException] = []

        def worker() -> None:
            barrier.wait()
            try:
                session.get(HEALTH)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=worker) for _ in range(width)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
    results["threads"] = box.token_requests()

    async def tasks() -> None:
        async with await box.connect_async() as session:
            await asyncio.gather(*(session.get(HEALTH) for _ in range(width)))

    box.call("reset_stats")
    asyncio.run(tasks())
    results["tasks"] = box.token_requests()
    results["value"] = max(results["sequential"], results["threads"], results["tasks"])
    return results


FIGURES: dict[str, Callable[..., dict[str, Any]]] = {
    "p1": p1_latency,
    "p2": p2_throughput,
    "p3": p3_wait_accuracy,
    "p4": p4_single_flight,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("figures", nargs="*", help=f"any of {', '.join(FIGURES)} (default: all)")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    unknown = set(args.figures) - set(FIGURES)
    if unknown:
        parser.error(f"unknown figures {sorted(unknown)}")
    with RemoteSandbox() as box:
        for name in args.figures or FIGURES:
            started = time.perf_counter()
            result = FIGURES[name](box, quick=args.quick)
            shown = {k: v for k, v in result.items() if not isinstance(v, dict)}
            print(f"{name} ({time.perf_counter() - started:.1f} s): {shown}")
            for key, value in result.items():
                if isinstance(value, dict):
                    print(f"    {key}: " + ", ".join(f"{k}={v:.4g}" for k, v in value.items()))


if __name__ == "__main__":
    main()
