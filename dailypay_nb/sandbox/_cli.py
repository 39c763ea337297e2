"""The sandbox command line (also behind `dailypay-nb sandbox ...`)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from ._constants import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_SCOPES


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="dailypay-nb sandbox",
        description="Run a local imitation of the DailyPay API until Ctrl-C.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="port (0 picks a free one)")
    p.add_argument("--latency-ms", type=float, default=0, help="delay added to every response")
    p.add_argument("--jitter-ms", type=float, default=0, help="random extra delay, 0..N ms")
    p.add_argument("--seed", type=int, default=0, help="seed of the fake data")
    p.add_argument("--token-ttl", type=float, default=3600, help="token lifetime in seconds")
    p.add_argument("--size", default="small", help="small, medium, large or a number of people")
    p.add_argument("--error-code-field", action="store_true", help="also emit error_code in token errors")
    return p


def run(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from . import start

    try:
        handle = start(
            port=args.port,
            host=args.host,
            seed=args.seed,
            token_ttl=args.token_ttl,
            latency_ms=args.latency_ms,
            jitter_ms=args.jitter_ms,
            size=args.size,
            error_code_field=args.error_code_field,
        )
    except (OSError, ValueError) as exc:
        print(f"sandbox: cannot start: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_signal)
    print(f"DailyPay sandbox running at {handle.url}", flush=True)
    print(f"  api_url       {handle.url}   (operations under /rest)")
    print(f"  token_url     {handle.token_url}")
    print(f"  client_id     {DEMO_CLIENT_ID}")
    print(f"  client_secret {DEMO_CLIENT_SECRET}")
    print(f"  scopes        {DEMO_SCOPES}")
    print(f"  admin         {handle.url}/_sandbox/  (faults, latency, stats, user tokens)")
    print("Press Ctrl-C to stop.", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        handle.stop()
    print("sandbox stopped", flush=True)
    return 0
