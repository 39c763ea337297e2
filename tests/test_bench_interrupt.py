"""An interrupt stops a benchmark: nothing more is sent, completed rows stay, the session works.

- `Session.bench` (its event loop runs in a worker thread; the interrupt arrives in the
  caller's thread as SIGINT, as a notebook's stop button sends it): `BenchInterrupted` within
  two seconds, carrying the partial run (`complete=False`); the server sees no request after
  half a second; the token cache and the session serve the next call.
- `AsyncSession.bench` under `asyncio.run` (which turns SIGINT into a cancellation): the same.
- `bench(plain function sleeping 0.2 s, n=16, concurrency=16, warmup=0)` takes under 0.5 s.

The sandbox runs in another process, so its request count is the server's own.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from _remote_sandbox import RemoteSandbox

import dailypay_nb as dp
from dailypay_nb._bench import BenchInterrupted

pytestmark = pytest.mark.timing  # bounds on how soon a run stops

HEALTH = "/rest/health"


@pytest.fixture(scope="module")
def remote() -> Iterator[RemoteSandbox]:
    box = RemoteSandbox()
    try:
        yield box
    finally:
        box.stop()


def _interrupt_after(seconds: float) -> dict[str, float]:
    """SIGINT to this process after `seconds` (as Jupyter's interrupt sends it); returns when."""
    sent: dict[str, float] = {}

    def fire() -> None:
        sent["at"] = time.monotonic()
        os.kill(os.getpid(), signal.SIGINT)

    threading.Timer(seconds, fire).start()
    return sent


def _requests(remote: RemoteSandbox) -> int:
    return int(remote.stats()["requests"])


def _assert_quiet_after(remote: RemoteSandbox, sent_at: float) -> int:
    """Nothing reaches the server from 0.5 s after the interrupt on; returns the count then."""
    time.sleep(max(0.0, sent_at + 0.5 - time.monotonic()))
    settled = _requests(remote)
    time.sleep(1.0)
    assert _requests(remote) == settled, "requests kept arriving after the interrupt"
    return settled


@pytest.mark.timeout(60)
@pytest.mark.parametrize("model", ["closed", "open"])
def test_an_interrupt_stops_session_bench(remote: RemoteSandbox, model: str) -> None:
    with dp.connect(**remote.settings()) as session:
        token = session.token()
        kwargs: dict[str, Any] = {"concurrency": 8} if model == "closed" else {"rate": 2000}
        sent = _interrupt_after(0.5)
        with pytest.raises(BenchInterrupted) as caught:
            session.bench(HEALTH, n=100_000, progress=False, **kwargs)
        raised = time.monotonic()
        assert raised - sent["at"] < 2.0, f"bench raised {raised - sent['at']:.2f} s after the interrupt"
        _assert_quiet_after(remote, sent["at"])

        run = caught.value.run
        assert isinstance(caught.value, KeyboardInterrupt)
        assert not run.complete
        assert run.model == model
        assert 0 < len(run.timings) < 100_000
        assert run.timings["status"].eq(200).all()  # rows of completed requests only
        kept = session.timings
        assert (kept["run_id"] == run.run_id).sum() == len(run.timings)
        assert "interrupted" in repr(run)

        assert session.current_token is token  # the token cache survived
        started = time.monotonic()
        assert session.get(HEALTH).status == 200
        assert time.monotonic() - started < 5


@pytest.mark.timeout(60)
def test_an_interrupt_stops_async_session_bench(remote: RemoteSandbox) -> None:
    holder: dict[str, Any] = {}

    async def run_bench() -> None:
        session = holder["session"] = await dp.connect_async(**remote.settings())
        await session.atoken()
        await session.bench(HEALTH, n=100_000, concurrency=8, progress=False)

    sent = _interrupt_after(1.0)  # the session connects and fetches a token first
    with pytest.raises(KeyboardInterrupt):
        asyncio.run(run_bench())
    raised = time.monotonic()
    assert raised - sent["at"] < 2.0
    _assert_quiet_after(remote, sent["at"])
    session = holder["session"]
    rows = session.timings
    benched = rows[rows["run_id"].notna()]
    assert len(benched) > 0
    assert benched["status"].eq(200).all()

    async def again() -> int:
        try:
            return (await session.get(HEALTH)).status
        finally:
            await session.aclose()

    assert asyncio.run(asyncio.wait_for(again(), 5)) == 200


def test_a_plain_function_runs_with_its_concurrency() -> None:
    def sleep_0_2s() -> None:
        time.sleep(0.2)

    with dp.connect(environment="sandbox", api_url="http://127.0.0.1:9", token_url="http://127.0.0.1:9/t",
                    client_id="x", client_secret="y", env_file=False) as session:  # fmt: skip
        started = time.perf_counter()
        run = session.bench(sleep_0_2s, n=16, concurrency=16, warmup=0)
        took = time.perf_counter() - started
    assert took < 0.5, f"16 calls of 0.2 s with 16 in flight took {took:.2f} s"
    assert run.engine == "thread"
    assert run.sent == 16


def test_an_answer_after_the_report_leaves_no_row(remote: RemoteSandbox) -> None:
    """Once a run is reported its rows are final: a request of the run answered later (one in
    flight when an interrupt stopped it, on a loaded machine) is not added to the session's."""
    from dailypay_nb._timings import current_run

    with dp.connect(**remote.settings()) as session:
        run = session.bench(HEALTH, n=5, concurrency=1, warmup=0, progress=False)
        reset = current_run.set(run.run_id)
        try:
            assert session.get(HEALTH).status == 200  # answered, as a late in-flight request is
        finally:
            current_run.reset(reset)
        session.get(HEALTH)  # outside the run: kept as usual
        kept = session.timings
        assert (kept["run_id"] == run.run_id).sum() == len(run.timings) == 5
        assert kept["seq"].is_unique
        assert len(kept) == 5 + 2
        assert len(session.to_har()["log"]["entries"]) == len(kept)
