"""The one place the client reaches the sandbox: the embedded default of `connect()`.

Strictly private. With no credentials and no environment configured, `connect()` starts (once
per process) the built-in sandbox and points the settings at it; a sandbox this process already
started for the configured URL is attached so its controls are on `session.sandbox`. Nothing
else in the client imports `dailypay_nb.sandbox`.
"""

from __future__ import annotations

import sys
from typing import Any

from ._config import Settings, load_settings, with_sandbox

__all__ = ["prepare"]


def prepare(settings: Settings | None, overrides: dict[str, Any]) -> tuple[Settings, Any]:
    """The settings to use (`load_settings(**overrides)` by default) and the sandbox handle, if any."""
    if settings is None:
        settings = load_settings(**overrides)
    elif overrides:
        settings = settings.replace(**overrides)
    handle = None
    package = f"{__package__}.sandbox"
    if settings.environment == "sandbox" and settings.api_url and package in sys.modules:
        handle = sys.modules[package].find(settings.api_url)  # one this process started: its controls
    if settings.uses_embedded_sandbox:
        from . import sandbox

        handle = sandbox.shared()
        settings = with_sandbox(
            settings,
            url=handle.url,
            token_url=handle.token_url,
            client_id=handle.client_id,
            secret=handle.client_secret,
        )
    return settings, handle
