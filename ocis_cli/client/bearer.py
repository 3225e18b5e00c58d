"""Bearer-token authentication with silent refresh, used by `HttpClient` for every request.

The access token is refreshed shortly before it expires, and once more after a 401. Refresh tokens
rotate, so concurrent refreshes (tasks in this process, other `ocis` processes) are serialised: a
`TokenKeeper` supplies a lock and the stored tokens, and a token another process already refreshed is
adopted instead of spending the old refresh token a second time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Protocol

import aiohttp

from ocis_cli.client.errors import AuthError
from ocis_cli.client.oidc import OidcClient, Provider, TokenSet


class TokenKeeper(Protocol):
    """Where the tokens persist between runs (the CLI's credential store)."""

    async def load(self) -> TokenSet | None: ...

    async def save(self, tokens: TokenSet) -> None: ...

    def locked(self) -> contextlib.AbstractAsyncContextManager[None]: ...


class _NoKeeper:
    async def load(self) -> TokenSet | None:
        return None

    async def save(self, tokens: TokenSet) -> None:
        return None

    @contextlib.asynccontextmanager
    async def locked(self) -> AsyncIterator[None]:
        yield


class BearerAuth:
    """The current token set for one provider and client, refreshed when needed."""

    def __init__(self, tokens: TokenSet, *, token_endpoint: str, client_id: str,
                 issuer: str = "", keeper: TokenKeeper | None = None, margin: float = 30.0) -> None:
        self.tokens = tokens
        self._provider = Provider(issuer=issuer, token_endpoint=token_endpoint)
        self._client_id = client_id
        self._keeper: TokenKeeper = keeper or _NoKeeper()
        self._margin = margin
        self._lock = asyncio.Lock()

    async def header(self, session: aiohttp.ClientSession) -> str:
        """The Authorization header value, refreshing first when the token is about to expire."""
        current = self.tokens
        if current.expires_soon(self._margin) and current.refresh_token:
            await self.refresh(session, stale=current.access_token)
        return f"Bearer {self.tokens.access_token}"

    async def refresh(self, session: aiohttp.ClientSession, *, stale: str) -> bool:
        """Replace the token `stale`; False when there is nothing to refresh with.

        Raises AuthError when the provider refuses the refresh token (the session ended)."""
        async with self._lock:
            if self.tokens.access_token != stale:
                return True                    # another task of this process already did it
            async with self._keeper.locked():
                stored = await self._keeper.load()
                if (stored is not None and stored.access_token != stale
                        and not stored.expires_soon(self._margin)):
                    self.tokens = stored       # another process refreshed meanwhile
                    return True
                refresh_token = (stored.refresh_token if stored is not None and
                                 stored.refresh_token else self.tokens.refresh_token)
                if not refresh_token:
                    return False
                client = OidcClient(session, self._provider, client_id=self._client_id)
                try:
                    fresh = await client.refresh(refresh_token)
                except AuthError as exc:
                    raise AuthError(f"the session has ended ({exc.message})", status=exc.status,
                                    code=exc.code) from None
                await self._keeper.save(fresh)
                self.tokens = fresh
                return True
