"""Who is calling: turn a request's `Authorization` header into a User, one scheme at a time.

Bearer: an OpenID Connect token of a trusted issuer (oidc.py, accounts.py). Basic: an app token
(PROXY_ENABLE_APP_AUTH), checked first and never throttled (it cannot be guessed, and failures on
the account must not stop a sync client), or the password (PROXY_ENABLE_BASIC_AUTH), which goes
through the login throttle every password path shares (logins.py): 429 for a client that kept
guessing, a short wait for everyone else while the account is under attack.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ocis_server.domain.errors import BadRequest, NotFound, Unauthenticated
from ocis_server.identity import User, UserStore

from .accounts import resolve_user
from .basic import CHALLENGE as BASIC_CHALLENGE
from .basic import authenticate_basic, looks_like_app_token, parse_basic
from .oidc import OidcVerifier
from .logins import LoginThrottle
from .throttle import address_key

log = logging.getLogger("ocis.auth")
BEARER_CHALLENGE = 'Bearer realm="ocis"'
THROTTLE_SOURCE = "basic"     # this path's failures in the shared throttle (throttle.py)


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated principal and how it proved who it is."""
    user: User
    method: str                          # basic | app | bearer | signed-url
    claims: dict[str, Any] | None = None  # the verified token claims (bearer only)


@dataclass(slots=True)
class Authenticators:
    users: UserStore
    basic: bool          # PROXY_ENABLE_BASIC_AUTH: off means Basic is refused, not ignored-and-allowed
    app_auth: bool = False               # PROXY_ENABLE_APP_AUTH
    app_tokens: Callable[[], Any] = lambda: None   # () -> the AppTokenStore, None when not running
    verifier: OidcVerifier | None = None
    throttle: LoginThrottle | None = None   # failed logins, all password paths (logins.py)
    storage: Callable[[], Any] = lambda: None      # () -> Storage (personal spaces of new accounts)

    @property
    def challenge(self) -> str:
        """The `WWW-Authenticate` value a 401 carries."""
        # Basic clients (neon, litmus) send credentials only after a Basic challenge: app tokens
        # need one too, even with password Basic off.
        return BASIC_CHALLENGE if self.basic or self.app_auth else BEARER_CHALLENGE

    async def principal(self, authorization: str | None, address: str = "") -> User | None:
        """None without credentials; the user for valid ones; Unauthenticated for anything else."""
        caller = await self.caller(authorization, address)
        return caller.user if caller else None

    async def caller(self, authorization: str | None, address: str = "") -> Caller | None:
        if not authorization or not authorization.strip():
            return None
        scheme, _, rest = authorization.strip().partition(" ")
        scheme = scheme.lower()
        if scheme == "basic":
            return await self._basic(authorization, address)
        if scheme == "bearer":
            if self.verifier is None:
                raise Unauthenticated("bearer tokens are not accepted by this server")
            try:
                token = await self.verifier.verify(rest.strip())
                user = await resolve_user(self.users, self.storage(), token)
                if not user.enabled:     # a session of an account disabled since it began
                    raise Unauthenticated(f"account {user.username} is disabled")
            except Unauthenticated as exc:
                # The reason goes to the log; the client learns only that the token failed.
                log.info("bearer token refused: %s", exc.message)
                raise Unauthenticated("invalid or expired token") from None
            return Caller(user, "bearer", token.claims)
        raise Unauthenticated(f"unsupported authorization scheme {scheme[:20]!r}")

    async def _basic(self, header: str, address: str) -> Caller:
        store = self.app_tokens() if self.app_auth else None
        if not self.basic and store is None:
            raise Unauthenticated("HTTP Basic authentication is disabled on this server")
        username, password = parse_basic(header)
        account, origin = f"user:{username.lower()}", address_key(address)
        if store is not None and looks_like_app_token(password):
            # Before the throttle: a valid app token works whatever guessers did to the account.
            caller = await self._app_token(store, username, password)
            if caller is not None:
                return caller
        if self.throttle is not None:
            await self.throttle.admit(account, origin)    # 429 before any password is looked at
        user = None
        if self.basic:
            try:
                user = await authenticate_basic(self.users, header, (username, password))
            except Unauthenticated:
                user = None
        if user is None:
            if self.throttle is not None:
                await self.throttle.failed(account, origin, source=THROTTLE_SOURCE)
            raise Unauthenticated("username or password was incorrect")
        if self.throttle is not None:
            self.throttle.success(account, origin, source=THROTTLE_SOURCE)
        return Caller(user, "basic")

    async def _app_token(self, store: Any, username: str, token: str) -> Caller | None:
        try:
            user = await self.users.get_by_name(username)
        except (NotFound, BadRequest):   # unknown, or a name the store refuses: the same failure
            return None
        if not user.enabled:             # a disabled account's tokens stop working (and
            return None                  # work again when it is enabled)
        return Caller(user, "app") if await store.verify(user.id, token) else None
