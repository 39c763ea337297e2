"""The sandbox command line (also behind `dailypay-nb sandbox ...`)."""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from ._constants import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_SCOPES
from ._options import SandboxOptions

#: Where the command line differs from `start()`: a fixed, well-known port.
CLI_DEFAULTS = {"port": 8765}
_CONVERTERS: dict[str, type] = {"int": int, "float": float}


def parser() -> argparse.ArgumentParser:
    """One `--flag` per `SandboxOptions` field (except those a command line cannot spell)."""
    p = argparse.ArgumentParser(
        prog="dailypay-nb sandbox",
        description="Run a local imitation of the DailyPay API until Ctrl-C.",
    )
    for option in dataclasses.fields(SandboxOptions):
        if not option.metadata.get("cli", True):
            continue
        flag = "--" + option.name.replace("_", "-")
        default = CLI_DEFAULTS.get(option.name, option.default)
        text = f"{option.metadata['help']} (default {default})"
        if option.type == "bool":
            p.add_argument(flag, action="store_true", help=option.metadata["help"])
        else:
            convert = _CONVERTERS.get(str(option.type), str)  # `size` stays text: "small" or "30"
            p.add_argument(flag, type=convert, default=default, help=text)
    return p


def run(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from ._handle import Sandbox

    try:
        handle = Sandbox(SandboxOptions(**vars(args)))
    except (OSError, ValueError) as exc:
        print(f"sandbox: cannot start: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    if threading.current_thread() is threading.main_thread():
        # Ctrl-C and SIGTERM end the wait below; a KeyboardInterrupt could instead land anywhere
        # in it (inside the event's lock wait, say) and leave the server running.
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
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
