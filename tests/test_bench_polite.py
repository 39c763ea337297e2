"""Polite by default: against uat or production a benchmark beyond the documented limits is
refused before any request (token requests included) leaves; `allow_load=True` lifts the
limits; the sandbox has none. Bad combinations of arguments are typed errors too."""

from __future__ import annotations

from typing import Any

import pytest

import dailypay_nb as dp
from dailypay_nb._bench import POLITE_CONCURRENCY, POLITE_RATE, POLITE_REQUESTS

HEALTH = "/rest/health"


@pytest.mark.parametrize("environment", ["uat", "production"])
@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"rate": 1000}, "rate=1000 req/s is above 5 req/s"),
        ({"rate": 5, "n": 500}, "505 requests (warm-up included) is above 200"),
        ({"concurrency": 8}, "concurrency=8 is above 1"),
        ({"duration": 10}, "bounded only by duration"),
    ],
)
def test_a_load_beyond_the_polite_limits_is_refused_before_anything_is_sent(
    sandbox: Any, connect_to: Any, environment: str, kwargs: dict[str, Any], named: str
) -> None:
    session = connect_to(sandbox, environment=environment)  # a real environment's name, a local server
    with pytest.raises(dp.BenchRefusedError) as caught:
        session.bench(HEALTH, progress=False, **kwargs)
    assert isinstance(caught.value, dp.ArgumentError)
    message = str(caught.value)
    assert named in message
    for limit in (
        f"{POLITE_RATE:g} requests a second",
        f"concurrency {POLITE_CONCURRENCY}",
        f"{POLITE_REQUESTS}",
    ):
        assert limit in message
    assert "nothing was sent" in message
    assert "allow_load=True" in message
    stats = sandbox.stats()
    assert stats["requests"] == 0  # not even a token request
    assert stats["token_requests"] == 0


def test_a_polite_run_and_an_allowed_load_go_ahead(sandbox: Any, connect_to: Any) -> None:
    session = connect_to(sandbox, environment="uat")
    polite = session.bench(HEALTH, rate=POLITE_RATE, n=5, warmup=0, progress=False)
    assert len(polite.timings) == 5
    default = session.bench(HEALTH, progress=False)  # closed, concurrency 1, 100 + 5 warm-up
    assert len(default.timings) == 100
    loaded = session.bench(HEALTH, rate=500, n=100, progress=False, allow_load=True)
    assert len(loaded.timings) == 100
    assert sandbox.stats()["routes"]["GET /rest/health"]["200"] == 5 + 105 + 105


def test_the_sandbox_has_no_limit(sandbox: Any, connect_to: Any) -> None:
    session = connect_to(sandbox)
    run = session.bench(HEALTH, rate=1000, n=300, progress=False)
    assert run.sent == 300


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rate": 10, "concurrency": 4}, "rate= (open model) or concurrency= (closed model), not both"),
        ({"n": 10, "duration": 1}, "n= or duration=, not both"),
        ({"max_in_flight": 10}, "max_in_flight= is for the open model"),
        ({"rate": 0}, "rate > 0"),
        ({"rate": 10, "max_in_flight": 0}, "max_in_flight >= 1"),
        ({"n": 0}, "n >= 1"),
        ({"concurrency": 0}, "concurrency >= 1"),
        ({"duration": -1}, "duration > 0"),
        ({"warmup": -1}, "warmup >= 0"),
    ],
)
def test_bad_arguments_are_argument_errors(
    sandbox: Any, connect_to: Any, kwargs: dict[str, Any], message: str
) -> None:
    session = connect_to(sandbox)
    with pytest.raises(dp.ArgumentError, match=message.replace("(", r"\(").replace(")", r"\)")):
        session.bench(HEALTH, progress=False, **kwargs)
    assert sandbox.stats()["requests"] == 0
