"""Explore the DailyPay Public REST API from Jupyter.

```python
import dailypay_nb as dp
session = dp.connect()          # .env settings, or the embedded sandbox when there are none
session.token()                 # cached client-credentials token (masked)
session.jobs()                  # JSON:API data as a pandas DataFrame
session.timings                 # every request's phases as a DataFrame
```
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("dailypay_nb")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

from ._auth import ClientCredentialsAuth, Token
from ._client import AsyncSession, BenchRun, Session, connect, connect_async
from ._config import Settings, load_settings
from ._exceptions import (
    ApiError,
    ApiTransportError,
    ArgumentError,
    DailyPayError,
    DocumentError,
    FilterError,
    ScopeError,
    SettingsError,
    TokenError,
    TokenTransportError,
    WriteRefusedError,
)
from ._explorer import Included, operations_table
from ._response import ApiResponse
from ._secret import Secret

if TYPE_CHECKING:
    from . import sandbox
    from .widgets import TokenForm

__all__ = [
    "ApiError",
    "ApiResponse",
    "ApiTransportError",
    "ArgumentError",
    "AsyncSession",
    "BenchRun",
    "ClientCredentialsAuth",
    "DailyPayError",
    "DocumentError",
    "FilterError",
    "Included",
    "ScopeError",
    "Secret",
    "Session",
    "Settings",
    "SettingsError",
    "Token",
    "TokenError",
    "TokenTransportError",
    "WriteRefusedError",
    "__version__",
    "connect",
    "connect_async",
    "form",
    "load_settings",
    "operations",
    "sandbox",
]


def form(settings: Settings | None = None, **kw: Any) -> TokenForm:
    """An ipywidgets form for the client-credentials flow (imports ipywidgets on first use)."""
    from .widgets import TokenForm

    return TokenForm(settings, **kw)


def operations() -> Any:
    """Every DailyPay operation this toolkit knows: helper, method, path, scopes, filters (a DataFrame)."""
    return operations_table()


def __getattr__(name: str) -> Any:
    # The sandbox's server stack is imported only when it is first used.
    if name == "sandbox":
        import importlib

        return importlib.import_module(".sandbox", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
