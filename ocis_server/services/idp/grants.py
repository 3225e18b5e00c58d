"""authlib's grants and endpoints as the IdP configures them: authorization code with PKCE (S256 only,
required for public clients) and OpenID Connect, refresh tokens (rotated; a reused one revokes its
family), the device grant and its authorization endpoint (RFC 8628), and revocation (RFC 7009).
They persist through IdpStore and sign with our joserfc KeySet (tokens.py): authlib's jose is never
used. Each runs on an OAuthServer worker thread and awaits the loop through `server.wait`."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar

from authlib.common.urls import add_params_to_uri  # type: ignore[import-untyped]
from authlib.oauth2.rfc6749 import (  # type: ignore[import-untyped]
    InvalidGrantError,
    InvalidRequestError,
    UnauthorizedClientError,
    grants,
)
from authlib.oauth2.rfc7009 import RevocationEndpoint  # type: ignore[import-untyped]
from authlib.oauth2.rfc7636 import (  # type: ignore[import-untyped]
    CodeChallenge,
    create_s256_code_challenge,
)
from authlib.oauth2.rfc8628 import (  # type: ignore[import-untyped]
    DeviceAuthorizationEndpoint,
    DeviceCodeGrant,
)
from authlib.oidc.core import OpenIDCode, OpenIDToken  # type: ignore[import-untyped]
from authlib.oidc.core.grants.util import (  # type: ignore[import-untyped]
    is_openid_scope,
    validate_request_prompt,
)

from ocis_server.domain.errors import NotFound
from ocis_server.identity import User

from .clients import DEVICE_GRANT, granted_scope
from .config import CODE_TTL, DEVICE_CODE_TTL, DEVICE_PAGE_PATH
from .store import Grant
from .tokens import access_token, id_token, profile_claims

if TYPE_CHECKING:
    from .oauth import AioRequest, OAuthServer

ALL_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]


@dataclass(frozen=True, slots=True)
class Issued:
    """A stored grant as authlib's models see it: an authorization code, a refresh token or a
    device credential (`outcome` is the device poll's answer, store.poll_device)."""
    grant: Grant | None
    client_id: str
    outcome: str = "approved"

    def get_redirect_uri(self) -> str:
        return self.grant.redirect_uri if self.grant else ""

    def get_scope(self) -> str:
        return self.grant.scope if self.grant else ""

    @property
    def code_challenge(self) -> str | None:
        return self.grant.challenge if self.grant else None

    @property
    def code_challenge_method(self) -> str | None:
        return "S256" if self.code_challenge else None

    def check_client(self, client: Any) -> bool:
        return bool(client.get_client_id() == self.client_id)

    def get_client_id(self) -> str:
        return self.client_id

    def get_user_code(self) -> str:
        return ""                  # the poll already resolved the person's decision

    def is_expired(self) -> bool:
        return self.outcome == "expired_token"


def _require(grant: Grant | None) -> Grant:
    if grant is None:
        raise InvalidGrantError("the grant is no longer valid")
    return grant


class _Issuing:
    """What our three token grants share: every client auth method (the client decides which it
    may use: Client.check_endpoint_auth_method), the user looked up on the loop, and tokens signed
    with our KeySet instead of a registered bearer-token generator."""
    TOKEN_ENDPOINT_AUTH_METHODS = ALL_AUTH_METHODS
    server: OAuthServer
    request: AioRequest

    def source(self) -> Grant:
        """The stored grant this request's token is issued from; each grant class below says
        where it comes from (a code, a refresh token, a device code)."""
        raise NotImplementedError(f"{type(self).__name__} names no grant source")

    def find_user(self, user_id: str) -> User:
        try:
            user = self.server.wait(self.server.state.users.get(user_id))
        except NotFound:
            raise InvalidGrantError("the account no longer exists") from None
        if not user.enabled:       # codes and refresh tokens of a disabled account are refused
            raise InvalidGrantError("the account is disabled")
        return user

    def generate_token(self, user: User | None = None, scope: str | None = None,
                       grant_type: str | None = None, expires_in: int | None = None,
                       include_refresh_token: bool = True) -> dict[str, Any]:
        if user is None:
            raise InvalidGrantError("the account no longer exists")
        state = self.server.state
        issued = replace(self.source(), scope=scope or "")
        profile = self.server.wait(profile_claims(state.users, user))
        self.request.issued, self.request.profile = issued, profile
        token: dict[str, Any] = {
            "access_token": access_token(state.cfg, state.keys, issued, profile),
            "token_type": "Bearer", "expires_in": state.cfg.access_token_ttl,
            "scope": issued.scope}
        if include_refresh_token:
            token["refresh_token"] = secrets.token_urlsafe(48)   # stored by server.save_token
        return token


class CodeGrant(_Issuing, grants.AuthorizationCodeGrant):  # type: ignore[misc]
    """RFC 6749 §4.1. A code is redeemed once, atomically, when it is looked up: a second
    redemption revokes the refresh tokens the first one produced (store.redeem_code)."""

    def source(self) -> Grant:
        return _require(self.request.authorization_code.grant)

    def save_authorization_code(self, code: str, request: AioRequest) -> None:
        data = request.payload.data
        grant = Grant(request.client.id, request.user.id, request.scope, request.auth_time,
                      secrets.token_hex(16), data.get("nonce"), request.payload.redirect_uri,
                      data.get("code_challenge"))
        self.server.wait(self.server.state.store.add_code(code, grant, CODE_TTL))

    def query_authorization_code(self, code: str, client: Any) -> Issued | None:
        grant = self.server.wait(self.server.state.store.redeem_code(code))
        if grant is None or grant.client_id != client.id:
            return None
        return Issued(grant, grant.client_id)

    def delete_authorization_code(self, authorization_code: Issued) -> None:
        """Nothing left to do: query_authorization_code spent the code."""

    def authenticate_user(self, authorization_code: Issued) -> User:
        return self.find_user(_require(authorization_code.grant).user_id)


def _s256_matches(verifier: str, challenge: str) -> bool:
    return hmac.compare_digest(create_s256_code_challenge(verifier).encode(), challenge.encode())


class S256Challenge(CodeChallenge):  # type: ignore[misc]
    """RFC 7636 with S256 only (no `plain`), compared in constant time; a public client must
    send a challenge (OAuth 2.0 Security BCP §2.1.1)."""
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = ["S256"]
    CODE_CHALLENGE_METHODS: ClassVar[dict[str, Callable[[str, str], bool]]] = {
        "S256": _s256_matches}

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        super().validate_code_challenge(grant, redirect_uri)
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            if grant.request.client.public:
                raise InvalidRequestError("PKCE (code_challenge, S256) is required")
        elif data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256")


class OpenIDTokens(OpenIDToken):  # type: ignore[misc]
    """authlib's id-token hook (scope openid) with our claims, signed by our joserfc KeySet."""

    def encode_id_token(self, token: dict[str, Any], request: AioRequest) -> str:
        state = request.idp
        return id_token(state.cfg, state.keys, _require(request.issued), request.profile,
                        token["access_token"])


class OpenIDCodeTokens(OpenIDTokens, OpenIDCode):  # type: ignore[misc]
    """OpenID Connect's code flow: nonce and prompt (none, login, consent) at the authorization
    endpoint, the id token at the token endpoint."""

    def exists_nonce(self, nonce: str, request: AioRequest) -> bool:
        """The relying party checks the nonce of the id token it receives (OIDC Core §3.1.3.7);
        codes are single-use, so the provider keeps no nonce registry."""
        return False

    def __call__(self, grant: Any) -> None:
        super().__call__(grant)
        payload = grant.request.payload
        if payload.response_type and not is_openid_scope(payload.scope):
            # prompt (none, login, consent) also holds for plain OAuth requests (no openid)
            grant.register_hook("after_validate_consent_request", validate_request_prompt)


class RefreshGrant(_Issuing, grants.RefreshTokenGrant):  # type: ignore[misc]
    """RFC 6749 §6 with rotation: a token is spent when it is looked up (store.use_refresh), so
    of two requests with one token only one succeeds, and a spent token that comes back revokes
    its whole family. A narrower scope may be asked for, never a wider one."""
    INCLUDE_NEW_REFRESH_TOKEN = True

    def source(self) -> Grant:
        return _require(self.request.refresh_token.grant)

    def authenticate_refresh_token(self, refresh_token: str) -> Issued | None:
        grant = self.server.wait(self.server.state.store.use_refresh(refresh_token))
        return Issued(grant, grant.client_id) if grant else None

    def issue_token(self, user: User, refresh_token: Issued) -> dict[str, Any]:
        asked = self.request.payload.scope
        scope = granted_scope(asked) if asked else refresh_token.get_scope()
        return self.generate_token(user=user, scope=scope,
                                   include_refresh_token=self.INCLUDE_NEW_REFRESH_TOKEN)

    def authenticate_user(self, refresh_token: Issued) -> User:
        return self.find_user(_require(refresh_token.grant).user_id)

    def revoke_old_credential(self, refresh_token: Issued) -> None:
        """Nothing left to do: authenticate_refresh_token spent the token."""


class DeviceGrant(_Issuing, DeviceCodeGrant):  # type: ignore[misc]
    """RFC 8628 §3.4-3.5: one atomic poll (store.poll_device) answers authlib's questions:
    expired, decided by the person (approved or denied), polled too fast, or still pending."""
    _polled: Issued

    def source(self) -> Grant:
        return _require(self.request.credential.grant)

    def query_device_credential(self, device_code: str) -> Issued:
        client_id = self.request.client.id
        outcome, grant = self.server.wait(self.server.state.store.poll_device(device_code,
                                                                               client_id))
        if outcome == "invalid_grant":      # unknown, another client's, or already used
            raise InvalidGrantError("the device code is invalid or was already used")
        self._polled = Issued(grant, client_id, outcome)
        return self._polled

    def query_user_grant(self, user_code: str) -> tuple[User | None, bool] | None:
        if self._polled.outcome == "approved":
            return self.find_user(_require(self._polled.grant).user_id), True
        if self._polled.outcome == "access_denied":
            return None, False
        return None

    def should_slow_down(self, credential: Issued) -> bool:
        return credential.outcome == "slow_down"


class DeviceEndpoint(DeviceAuthorizationEndpoint):  # type: ignore[misc]
    """RFC 8628 §3.1-3.2 for clients registered with the device grant (ocis-cli); user codes are
    authlib's (BCDF-GHJK: no vowels, no look-alikes), the entry page is ours (device.py)."""
    EXPIRES_IN = DEVICE_CODE_TTL
    server: OAuthServer

    def __init__(self, server: OAuthServer, interval: int) -> None:
        super().__init__(server)
        self.INTERVAL = interval

    def authenticate_client(self, request: AioRequest) -> Any:
        client = super().authenticate_client(request)
        if not client.check_grant_type(DEVICE_GRANT):
            raise UnauthorizedClientError("this client may not use the device grant")
        return client

    def get_verification_uri(self) -> str:
        return self.server.state.cfg.url(DEVICE_PAGE_PATH)

    def save_device_credential(self, client_id: str, scope: str | None,
                               data: dict[str, Any]) -> None:
        store = self.server.state.store
        scope = granted_scope("openid" if scope is None else scope)
        for _ in range(10):                # a user code is short: draw again on a collision
            if self.server.wait(store.add_device(data["device_code"], data["user_code"],
                                                 client_id, scope, self.EXPIRES_IN,
                                                 self.INTERVAL)):
                return
            data["user_code"] = self.generate_user_code()
            data["verification_uri_complete"] = add_params_to_uri(
                self.get_verification_uri(), [("user_code", data["user_code"])])
        raise RuntimeError("no free user code")


class Revocation(RevocationEndpoint):  # type: ignore[misc]
    """RFC 7009 for refresh tokens: revoking one revokes its family (a logout ends the session
    on that client). Access tokens are short-lived JWTs; they, like unknown tokens, get 200."""
    CLIENT_AUTH_METHODS = ALL_AUTH_METHODS
    server: OAuthServer

    def check_params(self, request: AioRequest, client: Any) -> None:
        super().check_params(request, client)
        if not request.form["token"]:
            raise InvalidRequestError("token is required")

    def query_token(self, token_string: str, token_type_hint: str | None) -> Issued | None:
        grant = self.server.wait(self.server.state.store.find_refresh(token_string))
        return Issued(grant, grant.client_id) if grant else None

    def revoke_token(self, token: Issued, request: AioRequest) -> None:
        self.server.wait(self.server.state.store.revoke_family(_require(token.grant).family))
