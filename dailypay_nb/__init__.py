"""Explore the DailyPay Public REST API from Jupyter.

```python
import dailypay_nb as dp
session = dp.connect()          # .env settings, or the embedded sandbox when there are none
session.token()                 # cached client-credentials token (masked)
session.jobs()                  # JSON:API data as a pandas DataFrame
session.timings                 # every request's phases as a DataFrame
session.to_har("trace.har")     # ... as a HAR file for DevTools, Postman, Charles, Fiddler
```

In IPython or Jupyter, `%load_ext dailypay_nb` adds the `%dailypay` and `%%dailypay` magics.
"""

import typing as _typing

from . import contract
from ._async_session import AsyncSession, connect_async
from ._auth import ClientCredentialsAuth
from ._bench import BenchRun
from ._config import Settings, load_settings
from ._exceptions import (
    ApiError,
    ApiTransportError,
    ArgumentError,
    BenchRefusedError,
    ContractError,
    DailyPayError,
    DocumentError,
    FilterError,
    ScopeError,
    SettingsError,
    TokenError,
    TokenTransportError,
    WriteRefusedError,
)
from ._explorer import Included
from ._har import read_har
from ._response import ApiResponse
from ._secret import Secret
from ._session import Session, connect
from ._token import Token
from ._version import __version__
from .contract import ContractWarning

if _typing.TYPE_CHECKING:
    import pandas as pd

    from . import sandbox
    from .widgets import TokenForm

__all__ = [
    "ApiError",
    "ApiResponse",
    "ApiTransportError",
    "ArgumentError",
    "AsyncSession",
    "BenchRefusedError",
    "BenchRun",
    "ClientCredentialsAuth",
    "ContractError",
    "ContractWarning",
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
    "contract",
    "form",
    "load_ipython_extension",
    "load_settings",
    "operations",
    "read_har",
    "sandbox",
]


def form(settings: "Settings | None" = None, **kw: _typing.Any) -> "TokenForm":
    """An ipywidgets form for the client-credentials flow (imports ipywidgets on first use)."""
    from .widgets import TokenForm

    return TokenForm(settings, **kw)


def load_ipython_extension(ipython: _typing.Any) -> None:
    """`%load_ext dailypay_nb`: registers `%dailypay` and `%%dailypay` (imports IPython only now)."""
    from ._magics import load_ipython_extension as load

    load(ipython)


def operations() -> "pd.DataFrame":
    """Every DailyPay operation this toolkit knows: helper, method, path, scopes, filters (a DataFrame)."""
    from ._explorer import operations_table

    return operations_table()


def __getattr__(name: str) -> _typing.Any:
    # The sandbox's server stack is imported only when it is first used.
    if name == "sandbox":
        import importlib

        return importlib.import_module(".sandbox", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
