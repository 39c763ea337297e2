"""The public names are a contract: pinned here, so adding, renaming or removing one is a deliberate
act recorded in CHANGELOG.md (the rule itself is in CONTRIBUTING.md)."""

from __future__ import annotations

import dataclasses
import inspect
import types
from typing import Any

import pytest

import dailypay_nb as dp
from dailypay_nb.widgets import TokenForm

ALL = [
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

HELPERS = [
    "account", "accounts", "create_account", "create_card_token", "create_transfer", "delete_account",
    "health", "job",
    "jobs", "organization", "organizations", "paycheck", "paychecks", "person", "transfer",
    "transfers", "update_job", "update_person",
]  # fmt: skip
SESSION_COMMON = [
    *HELPERS, "auth", "clear_timings", "contract_violations", "current_token", "get", "granted_scopes",
    "request", "timing_summary", "timings", "to_curl", "to_har", "token", "token_kind", "tokens",
    "with_user_token",
]  # fmt: skip
# fmt: off
PUBLIC: dict[type, list[str]] = {
    dp.Session: [*SESSION_COMMON, "bench", "close"],
    dp.AsyncSession: [*SESSION_COMMON, "aclose", "atoken"],
    dp.ApiResponse: [
        "content_type",
        "errors",
        "errors_frame",
        "frame",
        "headers",
        "included",
        "json",
        "ok",
        "raise_for_status",
        "request_id",
        "resource_type",
        "status",
        "timing",
        "to_curl",
        "to_error",
        "to_frame",
    ],
    dp.Token: [
        "access_token",
        "authorization",
        "client_id",
        "elapsed_ms",
        "environment",
        "expired",
        "expires_at",
        "expires_in",
        "fingerprint",
        "fresh",
        "from_response",
        "granted_scope",
        "id_token",
        "kind",
        "lifetime",
        "obtained_at",
        "refresh_token",
        "requested_scope",
        "scope_differs",
        "seconds_left",
        "status",
        "token_type",
    ],
    TokenForm: [
        "busy",
        "close",
        "current_token",
        "error",
        "fields",
        "forget_secret",
        "session",
        "submit",
        "test",
        "timings",
        "tokens",
        "wait",
    ],
}


def public_names(cls: type) -> list[str]:
    names = {n for n in dir(cls) if not n.startswith("_")}
    if dataclasses.is_dataclass(cls):
        names |= {f.name for f in dataclasses.fields(cls) if not f.name.startswith("_")}
    return sorted(names)


def test_all_is_pinned_and_sorted() -> None:
    """`dailypay_nb.__all__` is exactly the pinned list, sorted."""
    assert dp.__all__ == ALL
    assert dp.__all__ == sorted(dp.__all__)


def test_the_package_exports_nothing_else() -> None:
    """Every public attribute of the package is in `__all__` (submodules aside)."""
    extra = {
        name
        for name in dir(dp)
        if not name.startswith("_") and not isinstance(getattr(dp, name), types.ModuleType)
    }
    assert extra <= set(ALL)
    assert {name for name in ALL if not hasattr(dp, name)} == set()


@pytest.mark.parametrize("cls", list(PUBLIC), ids=lambda c: c.__name__)
def test_public_names_of_each_class(cls: type) -> None:
    """Each class's public attributes and methods are exactly the pinned ones."""
    assert public_names(cls) == sorted(PUBLIC[cls])


def _kind(cls: type, name: str) -> str:
    attribute = inspect.getattr_static(cls, name, None)
    if isinstance(attribute, property):
        return "property"
    if callable(attribute) or isinstance(attribute, (staticmethod, classmethod)):
        return "method"
    return "attribute"


def test_one_name_one_kind_across_classes() -> None:
    """A name is a property (no I/O) in one class and a method in another nowhere: `token()` is a
    method, `current_token` a property, everywhere."""
    kinds: dict[str, dict[str, str]] = {}
    for cls, names in PUBLIC.items():
        for name in names:
            kind = _kind(cls, name)
            kinds.setdefault(name, {})[cls.__name__] = "property" if kind == "attribute" else kind
    mixed = {name: by for name, by in kinds.items() if len(set(by.values())) > 1}
    assert mixed == {}


@pytest.mark.parametrize(
    "name", ["timings", "tokens", "errors_frame", "frame", "included", "contract_violations"]
)
def test_frame_properties_are_dataframes(name: str, sandbox: Any, connect_to: Any) -> None:
    """A name that is a DataFrame somewhere is a DataFrame everywhere it appears."""
    import pandas as pd

    session = connect_to(sandbox)
    response = session.get("/rest/organizations")
    for owner in (session, response):
        if hasattr(type(owner), name):
            assert isinstance(getattr(owner, name), pd.DataFrame), (type(owner).__name__, name)


def test_errors_is_a_list_everywhere(sandbox: Any, connect_to: Any) -> None:
    """`errors` is the list of error objects on ApiResponse and on ApiError alike."""
    session = connect_to(sandbox)
    response = session.get("/rest/people/00000000-0000-0000-0000-000000000000", raise_for_status=False)
    assert isinstance(response.errors, list)
    assert isinstance(response.to_error().errors, list)
    assert response.to_error().errors == response.errors
