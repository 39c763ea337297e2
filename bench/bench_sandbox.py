"""Throughput of the sandbox's /rest/health next to a bare hello-world Starlette app.

Both servers run the same uvicorn configuration (the sandbox's own ServerThread: h11, asyncio,
no access log), each in its own process; one keep-alive httpx client in this process hits them
in interleaved rounds. The goal in the sandbox issue: ratio >= 0.7.

    python bench/bench_sandbox.py [--quick] [--rounds N] [--requests N]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import time
from multiprocessing.connection import Connection
from typing import Any

import httpx


def _serve_sandbox(conn: Connection) -> None:
    from dailypay_nb import sandbox as sb

    with sb.start() as handle:
        conn.send((f"{handle.url}/rest/health", {"Authorization": f"Bearer {handle.client_token()}"}))
        conn.recv()  # wait for "stop"


def _serve_baseline(conn: Connection) -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from dailypay_nb.sandbox._server import ServerThread

    async def hello(request: Request) -> JSONResponse:
        return JSONResponse({"hello": "world"})

    server = ServerThread(Starlette(routes=[Route("/", hello)]))
    server.start()
    try:
        conn.send((f"http://127.0.0.1:{server.port}/", {}))
        conn.recv()
    finally:
        server.stop()


def _rate(client: httpx.Client, url: str, headers: dict[str, str], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        response = client.get(url, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}")
    return n / (time.perf_counter() - start)


def run(quick: bool = False, rounds: int | None = None, requests: int | None = None) -> dict[str, Any]:
    """Measure both servers; return rps medians, the median ratio and the per-round figures."""
    rounds = rounds or (3 if quick else 5)
    requests = requests or (500 if quick else 2000)
    ctx = mp.get_context("spawn")
    servers = []
    targets = {}
    try:
        for name, target in (("sandbox", _serve_sandbox), ("baseline", _serve_baseline)):
            parent, child = ctx.Pipe()
            process = ctx.Process(target=target, args=(child,), daemon=True)
            process.start()
            servers.append((process, parent))
            targets[name] = parent.recv()
        per_round: list[dict[str, float]] = []
        with httpx.Client(timeout=30) as client:
            for name in targets:  # warm-up
                _rate(client, *targets[name], 200)
            for index in range(rounds):
                order = ["sandbox", "baseline"] if index % 2 == 0 else ["baseline", "sandbox"]
                figures = {name: _rate(client, *targets[name], requests) for name in order}
                figures["ratio"] = figures["sandbox"] / figures["baseline"]
                per_round.append(figures)
    finally:
        for process, parent in servers:
            parent.send("stop")
            process.join(10)
            if process.is_alive():
                process.kill()
    ratios = [r["ratio"] for r in per_round]
    return {
        "sandbox_rps": statistics.median(r["sandbox"] for r in per_round),
        "baseline_rps": statistics.median(r["baseline"] for r in per_round),
        "ratio": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "rounds": per_round,
        "requests_per_round": requests,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds of 500 requests")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--requests", type=int)
    args = parser.parse_args()
    result = run(quick=args.quick, rounds=args.rounds, requests=args.requests)
    for index, figures in enumerate(result["rounds"], 1):
        print(
            f"round {index}: sandbox {figures['sandbox']:8.0f} req/s   "
            f"baseline {figures['baseline']:8.0f} req/s   ratio {figures['ratio']:.3f}"
        )
    print(
        f"median: sandbox {result['sandbox_rps']:.0f} req/s, baseline {result['baseline_rps']:.0f} "
        f"req/s, ratio {result['ratio']:.3f} (spread {result['ratio_min']:.3f}-{result['ratio_max']:.3f};"
        f" goal >= 0.7)"
    )


if __name__ == "__main__":
    main()
