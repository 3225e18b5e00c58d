"""Who is calling: turn a request's `Authorization` header into a User, one scheme at a time.

Each scheme is one entry in `Authenticators`; OIDC bearer tokens and app tokens join here later.
"""

from __future__ import annotations

from dataclasses import dataclass

from ocis_server.domain.errors import Unauthenticated
from ocis_server.identity import User, UserStore

from .basic import CHALLENGE as BASIC_CHALLENGE
from .basic import authenticate_basic


@dataclass(frozen=True, slots=True)
class Authenticators:
    users: UserStore
    basic: bool          # PROXY_ENABLE_BASIC_AUTH: off means Basic is refused, not ignored-and-allowed

    @property
    def challenge(self) -> str:
        """The `WWW-Authenticate` value a 401 carries."""
        return BASIC_CHALLENGE if self.basic else 'Bearer realm="ocis"'

    async def principal(self, authorization: str | None) -> User | None:
        """None without credentials; the user for valid ones; Unauthenticated for anything else."""
        if not authorization or not authorization.strip():
            return None
        scheme = authorization.strip().split(" ", 1)[0].lower()
        if scheme == "basic":
            if not self.basic:
                raise Unauthenticated("HTTP Basic authentication is disabled on this server")
            return await authenticate_basic(self.users, authorization)
        raise Unauthenticated(f"unsupported authorization scheme {scheme!r}")
