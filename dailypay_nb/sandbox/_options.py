"""The sandbox's settings and a fault rule's settings, each defined once as a frozen dataclass.

`start(...)`, `Sandbox(...)`, the command line, `h.inject(...)` and the admin routes all take
their keywords from these classes, so a new option is added in one place.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Concatenate, ParamSpec, TypeVar

from ._constants import SIZES

P = ParamSpec("P")
T = TypeVar("T")
R = TypeVar("R")
S = TypeVar("S")

Clients = Mapping[str, tuple[str, Sequence[str] | str]]


def _help(text: str, *, cli: bool = True) -> dict[str, Any]:
    return {"help": text, "cli": cli}


def people_count(size: int | str) -> int:
    """Translate `size` ("small", "medium", "large" or a number of people)."""
    if isinstance(size, str):
        if size in SIZES:
            return SIZES[size]
        if size.isdigit() and int(size) >= 1:
            return int(size)
        raise ValueError(f"size must be one of {sorted(SIZES)} or a number of people")
    if isinstance(size, bool) or int(size) < 1:
        raise ValueError("size must be a positive number of people")
    return int(size)


@dataclass(frozen=True, slots=True, kw_only=True)
class SandboxOptions:
    """How a sandbox is started (every field is also a keyword of `start()`)."""

    port: int = field(default=0, metadata=_help("port (0 picks a free one)"))
    host: str = field(default="127.0.0.1", metadata=_help("address to listen on"))
    seed: int = field(default=0, metadata=_help("seed of the fake data"))
    token_ttl: float = field(default=3600, metadata=_help("token lifetime in seconds"))
    latency_ms: float = field(default=0, metadata=_help("delay added to every response"))
    jitter_ms: float = field(default=0, metadata=_help("random extra delay, 0..N ms"))
    size: int | str = field(default="small", metadata=_help("small, medium, large or a number of people"))
    error_code_field: bool = field(default=False, metadata=_help("also emit error_code in token errors"))
    clients: Clients | None = field(
        default=None, metadata=_help("extra OAuth clients {id: (secret, scopes)}", cli=False)
    )

    def __post_init__(self) -> None:
        if self.token_ttl <= 0:
            raise ValueError("token_ttl must be positive (seconds)")
        if self.latency_ms < 0 or self.jitter_ms < 0:
            raise ValueError("latency_ms and jitter_ms must be >= 0")
        people_count(self.size)


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultSpec:
    """One fault rule: what to do to requests whose path starts with `prefix` (and `method`)."""

    prefix: str = field(kw_only=False)
    status: int | None = None
    body: object = None
    headers: Mapping[str, str] | None = None
    content_type: str | None = None
    times: int | None = None
    rate: float | None = None
    delay_ms: float = 0
    jitter_ms: float = 0
    drop: bool | str = False
    malformed: bool = False
    method: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.prefix, str) or not self.prefix.startswith("/"):
            raise ValueError("prefix must start with '/', e.g. '/rest/jobs'")
        if self.status is not None and not 100 <= int(self.status) <= 599:
            raise ValueError("status must be an HTTP status code (100-599)")
        if self.times is not None and int(self.times) < 1:
            raise ValueError("times must be >= 1")
        if self.rate is not None and not 0.0 < float(self.rate) <= 1.0:
            raise ValueError("rate must be in (0, 1]")
        if float(self.delay_ms) < 0 or float(self.jitter_ms) < 0:
            raise ValueError("delay_ms and jitter_ms must be >= 0")
        if self.drop not in (False, None, "", "none", True, "before", "mid"):
            raise ValueError("drop must be True/False, 'before' or 'mid'")


def _signature_of(factory: Callable[..., Any], returns: Any, *, self_first: bool) -> inspect.Signature:
    """The factory's keyword signature, returning `returns` (what `help()` shows)."""
    params = list(inspect.signature(factory).parameters.values())
    if self_first:
        params.insert(0, inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY))
    return inspect.Signature(params, return_annotation=returns)


def spelled_as(factory: Callable[P, T]) -> Callable[[Callable[[T], R]], Callable[P, R]]:
    """Let a function that takes one `T` be called with `T`'s own arguments instead."""

    def decorate(func: Callable[[T], R]) -> Callable[P, R]:
        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            return func(factory(*args, **kwargs))

        wrapper.__signature__ = _signature_of(  # type: ignore[attr-defined]
            factory, inspect.signature(func).return_annotation, self_first=False
        )
        return wrapper

    return decorate


def method_spelled_as(
    factory: Callable[P, T],
) -> Callable[[Callable[[S, T], R]], Callable[Concatenate[S, P], R]]:
    """`spelled_as` for methods: `obj.m(*args, **kwargs)` calls `m(obj, factory(*args, **kwargs))`."""

    def decorate(func: Callable[[S, T], R]) -> Callable[Concatenate[S, P], R]:
        @functools.wraps(func)
        def wrapper(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
            return func(self, factory(*args, **kwargs))

        wrapper.__signature__ = _signature_of(  # type: ignore[attr-defined]
            factory, inspect.signature(func).return_annotation, self_first=True
        )
        return wrapper

    return decorate
