"""`dailypay-nb`: the toolkit from a terminal. Output is masked; no secret is ever printed.

dailypay-nb quickstart            token + a few calls + the token and timings frames
dailypay-nb token                 the token frame
dailypay-nb get /rest/jobs --filter person.id=…   a JSON:API list as a table (--json: raw)
dailypay-nb bench /rest/health -n 200 -c 8        a benchmark summary (closed model)
dailypay-nb bench /rest/health --rate 50 --duration 10   open model: a fixed schedule
dailypay-nb sandbox --port 8765   a local DailyPay in the foreground
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["main"]


def _session(args: argparse.Namespace) -> Any:
    from . import connect

    overrides = {k: v for k, v in (("environment", args.environment), ("scope", args.scope)) if v}
    return connect(**overrides)


def _show(frame: Any) -> None:
    import pandas as pd

    with pd.option_context("display.width", 200, "display.max_columns", 30, "display.max_colwidth", 60):
        print(frame.to_string(float_format=lambda v: f"{v:.3f}"))


def _timing_view(frame: Any) -> Any:
    cols = [
        "kind",
        "method",
        "endpoint",
        "status",
        "total_ms",
        "wait_ms",
        "connect_ms",
        "send_ms",
        "download_ms",
        "attempt",
        "reused_connection",
    ]
    return frame[cols]


def cmd_quickstart(args: argparse.Namespace) -> int:
    with _session(args) as session:
        where = "embedded sandbox" if session.sandbox else session.settings.environment
        print(f"dailypay_nb quickstart against {where} ({session.settings.api_url})")
        print(repr(session.token()))
        session.get("/rest/health")
        session.get("/rest/health")
        print("\nTokens:")
        _show(session.tokens)
        print("\nTimings:")
        _show(_timing_view(session.timings))
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    with _session(args) as session:
        session.token()
        _show(session.tokens)
    return 0


def _parse_filters(items: Sequence[str]) -> dict[str, str]:
    params = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--filter takes NAME=VALUE, got {item!r}")
        key = name if name.startswith("filter") else f"filter[{name}]"
        params[key] = value
    return params


def cmd_get(args: argparse.Namespace) -> int:
    params = _parse_filters(args.filter or [])
    if args.include:
        params["include"] = args.include
    with _session(args) as session:
        response = session.get(args.path, params=params, raise_for_status=False)
        if args.json:
            print(json.dumps(response.json(), indent=2))
        elif response.ok:
            _show(response.frame)
        else:
            _show(response.errors_frame)
        return 0 if response.ok else 1


def cmd_bench(args: argparse.Namespace) -> int:
    from ._frames import text_cells

    concurrency = args.c if args.c is not None or args.rate is not None else 8
    n = args.n if args.n is not None or args.duration is not None else 200
    with _session(args) as session:
        run = session.bench(
            args.path,
            n=n,
            concurrency=concurrency,
            warmup=args.warmup,
            progress=not args.quiet,
            rate=args.rate,
            duration=args.duration,
            max_in_flight=args.max_in_flight,
            allow_load=args.allow_load,
        )
        print(f"{run.run_id}:")
        for line in run.describe():
            print(f"  {line}")
        _show(text_cells(run.summary).T)
    return 0


def cmd_sandbox(rest: list[str]) -> int:
    from .sandbox import main as sandbox_main

    return int(sandbox_main(rest) or 0)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dailypay-nb", description="DailyPay API from a terminal.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--environment", help="sandbox | uat | production (default: from .env)")
    common.add_argument("--scope", help="space-separated scopes to request")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("quickstart", parents=[common], help="token, a call, and the frames")
    sub.add_parser("token", parents=[common], help="print the token frame (masked)")
    get = sub.add_parser("get", parents=[common], help="GET a path and print the frame")
    get.add_argument("path")
    get.add_argument("--filter", action="append", metavar="NAME=VALUE", help="e.g. person.id=…")
    get.add_argument("--include")
    get.add_argument("--json", action="store_true", help="print the raw JSON body")
    bench = sub.add_parser("bench", parents=[common], help="benchmark a path")
    bench.add_argument("path", nargs="?", default="/rest/health")
    bench.add_argument("-n", type=int, default=None, help="requests (default 200)")
    bench.add_argument("-c", type=int, default=None, help="closed model: concurrency (default 8)")
    bench.add_argument("--rate", type=float, help="open model: requests a second, on a fixed schedule")
    bench.add_argument("--duration", type=float, help="seconds to run (instead of -n)")
    bench.add_argument("--max-in-flight", type=int, help="open model: cap on requests in flight (256)")
    bench.add_argument("--allow-load", action="store_true", help="lift the polite limits of uat/production")
    bench.add_argument("--warmup", type=int, default=5)
    bench.add_argument("--quiet", action="store_true", help="no progress bar")
    sub.add_parser("sandbox", help="run a local DailyPay (see `dailypay-nb sandbox --help`)", add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `dailypay-nb` and `python -m dailypay_nb`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "sandbox":
        return cmd_sandbox(argv[1:])
    args = _parser().parse_args(argv)
    handler = {
        "quickstart": cmd_quickstart,
        "token": cmd_token,
        "get": cmd_get,
        "bench": cmd_bench,
        None: cmd_quickstart,
    }[args.command]
    if args.command is None:
        args.environment = args.scope = None
    from ._exceptions import DailyPayError

    try:
        return handler(args)
    except DailyPayError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
