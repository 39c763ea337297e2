"""P8: is the client the bottleneck of its own measurement? `session.bench` against raw aiohttp.

Both sides hit `minimal_server.py` (asyncio, answers from memory, in another process) with 16
requests in flight, the same task pattern (16 workers pulling from one counter), in alternating
rounds; the figure is the median of the per-round ratios of requests a second (goal ≥ 0.5).
For context the same rounds time raw `httpx.AsyncClient` (16 workers) and, when the
`httpx-aiohttp` package is installed, httpx over aiohttp's transport; and an open-model run
shows the rate the client can hold on a schedule.

    .venv/bin/python bench/bench_throughput.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import aiohttp
import httpx

import dailypay_nb as dp

HERE = Path(__file__).resolve().parent
HEALTH = "/rest/health"
IN_FLIGHT = 16


class MinimalServer:
    """`minimal_server.py` in a child process."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "minimal_server.py")], stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        self.url = f"http://127.0.0.1:{int(self.proc.stdout.readline().split()[1])}"

    def __enter__(self) -> MinimalServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


async def _workers(n: int, one: Any) -> float:
    """req/s of n calls of `one()` by IN_FLIGHT workers pulling from one counter."""
    remaining = iter(range(n))

    async def worker() -> None:
        for _ in remaining:
            await one()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
    return n / (time.perf_counter() - started)


async def raw_aiohttp(url: str, headers: dict[str, str], n: int) -> float:
    connector = aiohttp.TCPConnector(limit=IN_FLIGHT)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as client:

        async def one() -> None:
            async with client.get(url + HEALTH) as response:
                await response.read()

        for _ in range(5):
            await one()
        return await _workers(n, one)


async def raw_httpx(url: str, headers: dict[str, str], n: int, transport: Any = None) -> float:
    async with httpx.AsyncClient(base_url=url, headers=headers, transport=transport) as client:

        async def one() -> None:
            await client.get(HEALTH)

        for _ in range(5):
            await one()
        return await _workers(n, one)


def _httpx_aiohttp() -> Any:
    try:
        from httpx_aiohttp import AiohttpTransport  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    return AiohttpTransport


def run(quick: bool = False) -> dict[str, Any]:
    rounds, n = (3, 3000) if quick else (7, 6000)
    ours: list[float] = []
    raw: list[float] = []
    ratios: list[float] = []
    cpu: list[float] = []
    limited = 0
    others: dict[str, list[float]] = {"raw httpx.AsyncClient": []}
    transport = _httpx_aiohttp()
    if transport is not None:
        others["httpx + aiohttp transport"] = []
    with MinimalServer() as server:
        settings: dict[str, Any] = {
            "environment": "sandbox",
            "api_url": server.url,
            "token_url": server.url + "/oauth2/token",
            "client_id": "bench",
            "client_secret": "bench-secret",
            "env_file": False,
        }
        with dp.connect(**settings) as session:
            headers = {**session._headers, "Authorization": session.token().authorization()}
            for index in range(rounds):
                figures: dict[str, float] = {}
                for side in ("ours", "raw") if index % 2 == 0 else ("raw", "ours"):
                    if side == "ours":
                        session.clear_timings()
                        with warnings.catch_warnings(record=True) as caught:
                            warnings.simplefilter("always")
                            result = session.bench(HEALTH, n=n, concurrency=IN_FLIGHT, progress=False)
                        if len(result.timings) != n or result.timings["error"].notna().any():
                            raise RuntimeError(f"bench returned {len(result.timings)} rows or errors")
                        figures[side] = result.requests_per_second
                        cpu.append(result.cpu_per_request_us)
                        limited += bool(caught)
                    else:
                        figures[side] = asyncio.run(raw_aiohttp(server.url, headers, n))
                ours.append(figures["ours"])
                raw.append(figures["raw"])
                ratios.append(figures["ours"] / figures["raw"])
                others["raw httpx.AsyncClient"].append(asyncio.run(raw_httpx(server.url, headers, n // 8)))
                if transport is not None:
                    others["httpx + aiohttp transport"].append(
                        asyncio.run(raw_httpx(server.url, headers, n // 2, transport()))
                    )
            session.clear_timings()
            target = 2000.0
            paced = session.bench(HEALTH, rate=target, duration=2.0 if quick else 4.0, progress=False)
    q1, median, q3 = statistics.quantiles(ratios, n=4, method="inclusive")
    return {
        "value": statistics.median(ours),
        "baseline": statistics.median(raw),
        "ratio": median,
        "ratio_q1": q1,
        "ratio_q3": q3,
        "rounds": rounds,
        "n": n,
        "cpu_us": statistics.median(cpu),
        "client_limited_rounds": limited,
        "others": {name: statistics.median(values) for name, values in others.items()},
        "open": {
            "target": target,
            "achieved": paced.achieved_rate,
            "lateness_p99_ms": paced.lateness_ms[1],
            "late": paced.late,
            "dropped": paced.dropped,
            "sent": paced.sent,
            "cpu_us": paced.cpu_per_request_us,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    r = run(quick=parser.parse_args().quick)
    print(
        f"session.bench {r['value']:.0f} req/s, raw aiohttp {r['baseline']:.0f} req/s: "
        f"ratio {r['ratio']:.3f} "
        f"(IQR {r['ratio_q1']:.3f}-{r['ratio_q3']:.3f}); bench CPU {r['cpu_us']:.1f} µs/request; goal >= 0.5"
    )
    for name, value in r["others"].items():
        print(f"  {name}: {value:.0f} req/s")
    o = r["open"]
    print(
        f"  open model at {o['target']:.0f} req/s: achieved {o['achieved']:.1f}, lateness p99 "
        f"{o['lateness_p99_ms']:.2f} ms, {o['late']} late, {o['dropped']} dropped, "
        f"{o['cpu_us']:.1f} µs/request"
    )


if __name__ == "__main__":
    main()
