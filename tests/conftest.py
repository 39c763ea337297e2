"""Shared fixtures: a clean environment per test and a real sandbox on 127.0.0.1."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest

#: Under xdist (the README's `-n 3`) the longest tests start first, so that the run does not end
#: waiting on one of them (about, on 2 cores); the others follow in pytest's order.
LONGEST_FIRST = (
    "test_browser_form.py",  # a JupyterLab, two browser runs: ~50 s
    "test_sandbox_schemathesis.py",  # ~40 s
    "test_secrets_canary.py",  # the tutorials with a canary environment: ~30 s
    "test_soak.py",  # 4800 calls, ~20 s (alone)
    "test_lint.py",  # mypy: ~15 s
    "test_secrets_echo.py::test_cli_batch",  # ~20 s
    "test_secrets_echo.py::test_notebook_batch",  # ~15 s
    "test_notebooks.py",
    "test_frames_browser.py",
    "test_sandbox_lifecycle.py",
    "test_magics.py",
    "test_fuzz_jsonapi.py",
)
#: Modules whose module-scoped fixture is costly (a JupyterLab, notebooks executed in a kernel):
#: all their tests go to one worker, which builds it once.
ONE_WORKER = ("test_browser_form.py", "test_frames_browser.py", "test_secrets_canary.py", "test_magics.py")


def pytest_configure(config: pytest.Config) -> None:
    """Let the suite's processes keep the bytecode they compile, even where PYTHONDONTWRITEBYTECODE
    is set (as in many container images): the suite starts some forty Python processes (xdist
    workers, kernels, the CLI, sandboxes, a JupyterLab), and without `__pycache__` (ignored by git)
    each compiles every module it imports from source again, and pytest rewrites every test and
    plugin module again in each worker (~7 s of CPU a process here)."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    sys.dont_write_bytecode = False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In an xdist worker: `LONGEST_FIRST` first (stable, so the rest keep pytest's order)."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return

    def rank(item: pytest.Item) -> int:
        where = item.nodeid.removeprefix("tests/")
        return next((i for i, name in enumerate(LONGEST_FIRST) if where.startswith(name)), len(LONGEST_FIRST))

    items.sort(key=rank)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Test by test in collection order, each to the next free worker, except that a module of
    `ONE_WORKER` goes to one worker whole (xdist's `loadgroup`, keyed by module, which also
    works where pytest 9 ignores the group suffix that xdist 3.8 puts on node ids)."""
    from xdist.scheduler import LoadScopeScheduling

    class Scheduler(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return module if module.removeprefix("tests/") in ONE_WORKER else nodeid

    config.option.loadscopereorder = False  # keep LONGEST_FIRST's order
    return Scheduler(config, log)


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No DAILYPAY_* variable and no stray .env leaks into a test: each runs in an empty folder."""
    for name in list(os.environ):
        if name.startswith("DAILYPAY_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


@pytest.fixture(autouse=True)
def no_backoff_waits(request: pytest.FixtureRequest) -> Iterator[None]:
    """stamina's testing mode: retries happen (as many as configured) without waiting, so a
    test of retry behaviour costs no back-off time. Tests that measure the waits themselves
    are marked `real_backoff`."""
    import stamina

    if request.node.get_closest_marker("real_backoff"):
        yield
        return
    stamina.set_testing(True, attempts=1000, cap=True)
    try:
        yield
    finally:
        stamina.set_testing(False)


@pytest.fixture(scope="module", autouse=True)
def forget_module_secrets() -> Iterator[None]:
    """The redactor is process-wide: what one module's tests register (fuzzed "secrets" such as
    "client:lookup" or "7" * 300_000) is forgotten after it, or it would mask ordinary text in the
    modules that follow."""
    from collections import OrderedDict

    from dailypay_nb._redact import REDACTOR as r

    with r._lock:
        saved = (OrderedDict(r._values), dict(r._grams), r._short, r._live)
    yield
    with r._lock:
        r._values, r._grams, r._short, r._live = saved


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[object]:
    """One sandbox for the whole run (tests that change its state use `sandbox`)."""
    from dailypay_nb import sandbox as sb

    with sb.start() as handle:
        yield handle


@pytest.fixture
def sandbox(sandbox_server: object) -> Iterator[object]:
    """The shared sandbox with no faults, no added latency and zeroed counters."""
    sandbox_server.clear_faults()  # type: ignore[attr-defined]
    sandbox_server.set_latency(0)  # type: ignore[attr-defined]
    sandbox_server.reset_stats()  # type: ignore[attr-defined]
    yield sandbox_server
    sandbox_server.clear_faults()  # type: ignore[attr-defined]
    sandbox_server.set_latency(0)  # type: ignore[attr-defined]


@pytest.fixture
def fresh_sandbox() -> Iterator[object]:
    """A private sandbox for tests that need their own TTL, data or client registry."""
    from dailypay_nb import sandbox as sb

    with sb.start() as handle:
        yield handle


@pytest.fixture
def connect_to() -> Iterator[Any]:
    """`connect_to(handle, **settings)`: a Session on that sandbox, closed after the test."""
    import dailypay_nb as dp

    sessions: list[Any] = []

    def make(handle: Any, **overrides: Any) -> Any:
        values = {
            "environment": "sandbox",
            "api_url": handle.url,
            "token_url": handle.token_url,
            "client_id": handle.client_id,
            "client_secret": handle.client_secret,
            **overrides,
        }
        session = dp.connect(**values)
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        session.close()
