"""`httpx.Auth` classes that attach a DailyPay token, to this session's API origin only.

Strictly private (re-exported: `ClientCredentialsAuth`). Both send the token only to the
configured API origin (scheme, host and port): a request elsewhere goes out without an
`Authorization` header, and its 401 fetches nothing and evicts nothing.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator

import httpx

from ._config import Settings
from ._exceptions import ArgumentError
from ._provider import TokenProvider
from ._secret import Secret
from ._timings import TimingRecorder
from ._token import usable

__all__ = ["ClientCredentialsAuth", "StaticTokenAuth", "origin"]

_PORTS = {"http": 80, "https": 443}


def origin(url: httpx.URL | str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port filled in."""
    url = httpx.URL(url)
    return url.scheme, url.host, url.port or _PORTS.get(url.scheme)


class _OriginBound(httpx.Auth):
    def __init__(self, api_url: str | None) -> None:
        self._origin = origin(api_url) if api_url else None

    def _ours(self, request: httpx.Request) -> bool:
        if self._origin is None:
            return False
        url = request.url  # `origin(url)`, without copying the URL
        scheme = url.scheme
        return (scheme, url.host, url.port or _PORTS.get(scheme)) == self._origin


class ClientCredentialsAuth(_OriginBound):
    """An `httpx.Auth` that attaches a cached client-credentials token; usable with any httpx client.

    ```python
    auth = dp.ClientCredentialsAuth(dp.load_settings())   # or session.auth
    httpx.get(f"{settings.api_url}/rest/health", auth=auth)
    ```

    The token goes to `settings.api_url`'s origin only. On a 401 from it the token is dropped,
    a new one fetched once and the request sent once more; a second 401 is returned.
    """

    def __init__(self, settings: Settings) -> None:
        self._init(TokenProvider(settings, TimingRecorder(1_000)), settings)

    @classmethod
    def _of(cls, provider: TokenProvider, settings: Settings) -> ClientCredentialsAuth:
        auth = cls.__new__(cls)
        auth._init(provider, settings)
        return auth

    def _init(self, provider: TokenProvider, settings: Settings) -> None:
        super().__init__(settings.api_url)
        self.provider = provider

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if not self._ours(request):
            yield request
            return
        token = self.provider.get()
        request.headers["Authorization"] = token.authorization()
        response = yield request
        if response.status_code == 401:
            self.provider.invalidate(token)
            request.headers["Authorization"] = self.provider.get().authorization()
            yield request

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if not self._ours(request):
            yield request
            return
        token = await self.provider.aget()
        request.headers["Authorization"] = token.authorization()
        response = yield request
        if response.status_code == 401:
            self.provider.invalidate(token)
            request.headers["Authorization"] = (await self.provider.aget()).authorization()
            yield request

    def __repr__(self) -> str:
        s = self.provider.settings
        return f"ClientCredentialsAuth({s.environment}, api={s.api_url})"


class StaticTokenAuth(_OriginBound):
    """Attaches a token supplied by the caller (e.g. a user token); no refresh, no retry."""

    def __init__(self, token: Secret, api_url: str | None) -> None:
        super().__init__(api_url)
        self.token = token  # first: a traceback that shows locals calls this object's repr
        if not usable(token):
            raise ArgumentError(
                f"the user token has spaces or control characters ({token.masked}); nothing was sent",
                hint="a token must be visible ASCII to travel in an Authorization header; "
                "pass the token itself, without 'Bearer ' or quotes",
            )

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._ours(request):
            request.headers["Authorization"] = "Bearer " + self.token.reveal()
        yield request

    def __repr__(self) -> str:
        return f"StaticTokenAuth({self.token.masked})"
