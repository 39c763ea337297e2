"""What the toolkit adds per request, in µs of CPU time, with the network taken out.

P1 compares wall-clock latency against a real server, where a few µs of client code hide in
noise from the other processes on the machine. Here both sides talk to an in-memory httpcore
network backend that answers every request at once with a canned `/rest/health` response, so
the whole httpx → httpcore → h11 stack still runs (trace events included) but no syscall
does. The layers are added one at a time to show where the overhead goes:

    raw          httpx.Client.get with the bearer header
    +trace       the same with a no-op httpcore `trace` callback (what timing from trace events
                 would cost at least; the recording stamps at the network stream instead)
    +recording   the same through `RecordingTransport` (a timing row per request)
    +auth        the same with the session's `httpx.Auth` instead of a fixed header
    session.get  the real thing: request building, auth, recording, retry checks, ApiResponse
    session.get, unrecorded   the same with the recording transport taken out (what the
                 session layer costs on its own, so the recording's share is the difference)
    raw, tuned   raw with the two shortcuts session.get takes (absolute URL built once, cookies
                 extracted only from responses that set one): the fair floor for the layers

The figure (goal ≤ 30 µs) is `session.get` − `raw, tuned`: what the toolkit costs per request.

    .venv/bin/python bench/bench_overhead.py [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import httpcore
import httpx

import dailypay_nb as dp
from dailypay_nb._base import _Cookies
from dailypay_nb._config import load_settings
from dailypay_nb._timings import RecordingTransport, TimingRecorder

HEALTH = "/rest/health"
_BODY = b'{"status":"ok","version":"3.0.0-beta.117"}'
RESPONSE = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
    b"content-length: %d\r\nx-request-id: 4a2721f2-c3b1-48fe-8af1-a3e309134fc3\r\n"
    b"date: Sat, 29 Nov 2025 02:31:01 GMT\r\n\r\n" % len(_BODY)
) + _BODY


class _CannedStream(httpcore.NetworkStream):
    """Answers each request written to it with RESPONSE."""

    def __init__(self) -> None:
        self._pending = False

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if buffer:
            self._pending = True

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if self._pending:
            self._pending = False
            return RESPONSE
        return b""

    def close(self) -> None:
        pass

    def get_extra_info(self, info: str) -> Any:
        return None


class _CannedBackend(httpcore.NetworkBackend):
    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        return _CannedStream()


def canned_transport() -> httpx.HTTPTransport:
    """A real `httpx.HTTPTransport` whose connection pool uses the in-memory backend."""
    transport = httpx.HTTPTransport()
    transport._pool = httpcore.ConnectionPool(network_backend=_CannedBackend())
    return transport


def _per_call_us(call: Callable[[], Any], n: int) -> float:
    """CPU µs of this thread per call: time the machine spends on other processes is not counted."""
    clock = time.thread_time
    started = clock()
    for _ in range(n):
        call()
    return (clock() - started) / n * 1e6


def run(quick: bool = False) -> dict[str, Any]:
    """µs per request of each layer (median of interleaved blocks) and the ratio to raw."""
    from dailypay_nb import sandbox as sb

    rounds, block = (15, 200) if quick else (41, 400)
    with sb.start() as box:  # only for the token: API calls never reach it
        settings = load_settings(
            env_file=False,
            environment="sandbox",
            api_url=box.url,
            token_url=box.token_url,
            client_id=box.client_id,
            client_secret=box.client_secret,
        )
        session = dp.Session(settings, transport=canned_transport())
        token = session.token()
        unrecorded = dp.Session(settings, transport=canned_transport())
        unrecorded._client._transport = unrecorded._client._transport._inner  # type: ignore[attr-defined]
        unrecorded.token()
        headers = {**session._headers, "Accept": "application/json"}
        bearer = {**headers, "Authorization": token.authorization()}

        def noop_trace(name: str, info: dict[str, Any]) -> None:
            pass

        raw = httpx.Client(base_url=box.url, headers=bearer, transport=canned_transport())
        recorded = httpx.Client(
            base_url=box.url,
            headers=bearer,
            transport=RecordingTransport(canned_transport(), TimingRecorder(10_000)),
        )
        authed = httpx.Client(
            base_url=box.url,
            headers=headers,
            auth=session.auth,
            transport=RecordingTransport(canned_transport(), TimingRecorder(10_000)),
        )
        tuned = httpx.Client(headers=bearer, transport=canned_transport())
        tuned._cookies = _Cookies(tuned.cookies.jar)  # the session's shortcut: cookies only when set
        url = httpx.URL(box.url + HEALTH)
        layers: dict[str, Callable[[], Any]] = {
            "raw": lambda: raw.get(HEALTH),
            "+trace": lambda: raw.get(HEALTH, extensions={"trace": noop_trace}),
            "+recording": lambda: recorded.get(HEALTH),
            "+auth": lambda: authed.get(HEALTH),
            "session.get": lambda: session.get(HEALTH),
            "session.get, unrecorded": lambda: unrecorded.get(HEALTH),
            "raw, tuned": lambda: tuned.get(url),
        }
        for call in layers.values():  # warm-up
            _per_call_us(call, block)
        samples: dict[str, list[float]] = {name: [] for name in layers}
        ratios: list[float] = []
        names = list(layers)
        for index in range(rounds):
            order = names if index % 2 == 0 else names[::-1]
            figures = {name: _per_call_us(layers[name], block) for name in order}
            for name, value in figures.items():
                samples[name].append(value)
            ratios.append(figures["session.get"] / figures["raw"])
        session.close()
        unrecorded.close()
        for client in (raw, recorded, authed, tuned):
            client.close()
    us = {name: statistics.median(values) for name, values in samples.items()}
    return {
        "us": us,
        "value": us["session.get"] - us["raw, tuned"],
        "recording_us": us["session.get"] - us["session.get, unrecorded"],
        "added_us": us["session.get"] - us["raw"],
        "ratio": statistics.median(ratios),
        "ratio_q1": statistics.quantiles(ratios, n=4)[0],
        "ratio_q3": statistics.quantiles(ratios, n=4)[2],
        "rounds": rounds,
        "block": block,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    result = run(quick=parser.parse_args().quick)
    base = result["us"]["raw"]
    for name, value in result["us"].items():
        print(f"{name:<24} {value:8.1f} µs/request  {value - base:+7.1f} µs vs raw")
    print(
        f"toolkit cost over raw, tuned: {result['value']:+.1f} µs (goal <= 30), of which recording "
        f"{result['recording_us']:+.1f} µs"
    )
    print(
        f"session.get / raw: {result['ratio']:.3f} "
        f"(IQR {result['ratio_q1']:.3f}-{result['ratio_q3']:.3f}), {result['added_us']:+.1f} µs"
    )


if __name__ == "__main__":
    main()
