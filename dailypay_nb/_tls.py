"""One TLS context per process for every httpx transport the toolkit builds.

Strictly private. Building an `ssl.SSLContext` loads the certificate roots (~20-35 ms), and each
`httpx.HTTPTransport()` builds its own: two per session (API and token clients). The context is
read-only once built and safe to share between threads, so one serves them all; it is rebuilt
only when `SSL_CERT_FILE` or `SSL_CERT_DIR` changes (what httpx reads when it builds one).
"""

from __future__ import annotations

import os
import ssl
import threading

import httpx

__all__ = ["async_transport", "ssl_context", "transport"]

_lock = threading.Lock()
_cached: tuple[tuple[str | None, str | None], ssl.SSLContext] | None = None


def ssl_context() -> ssl.SSLContext:
    """httpx's default verifying context (certifi's roots, or the SSL_CERT_* the environment names)."""
    global _cached
    key = (os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
    with _lock:
        if _cached is None or _cached[0] != key:
            _cached = (key, httpx.create_ssl_context())
        return _cached[1]


def transport() -> httpx.HTTPTransport:
    """A default sync transport on the shared context."""
    return httpx.HTTPTransport(verify=ssl_context())


def async_transport() -> httpx.AsyncHTTPTransport:
    """A default async transport on the shared context."""
    return httpx.AsyncHTTPTransport(verify=ssl_context())
