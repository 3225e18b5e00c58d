"""What the IdP signs: access and id tokens with the claims the proxy and relying parties read
(iss, aud = client id, sub = user id, preferred_username, email, name, groups, roles), and the token
response of RFC 6749 §5.1 with a rotated refresh token."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from typing import Any

from ocis_server.auth.keys import KeySet
from ocis_server.domain.errors import OcisError, Unauthenticated
from ocis_server.identity import User, UserStore

from .config import IdpConfig
from .store import Grant, IdpStore

# oCIS role claim values (proxy role assignment driver `oidc`, reference/ocis-api.md §6)
ROLE_CLAIMS = {"admin": "ocisAdmin", "spaceadmin": "ocisSpaceAdmin", "user": "ocisUser",
               "guest": "ocisGuest"}
SUPPORTED_SCOPES = ("openid", "profile", "email", "offline_access")
CLAIMS_SUPPORTED = ("iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "name",
                    "preferred_username", "email", "email_verified", "groups", "roles")


def granted_scope(requested: str) -> str:
    """The supported scopes out of a request, in a stable order; unknown ones are dropped."""
    asked = set(requested.split())
    return " ".join(s for s in SUPPORTED_SCOPES if s in asked)


async def profile_claims(users: UserStore, user: User) -> dict[str, Any]:
    try:
        groups = sorted(g.name for g in await users.groups_of(user.id))
    except OcisError:
        groups = []
    return {"preferred_username": user.username, "name": user.display_name or user.username,
            "email": user.email, "email_verified": bool(user.email), "groups": groups,
            "roles": [ROLE_CLAIMS.get(user.role, "ocisUser")]}


def _at_hash(access_token: str) -> str:
    """OIDC Core §3.1.3.6: left half of the SHA-256 of the access token (RS256/PS256)."""
    half = hashlib.sha256(access_token.encode()).digest()[:16]
    return base64.urlsafe_b64encode(half).rstrip(b"=").decode()


async def token_response(cfg: IdpConfig, keys: KeySet, store: IdpStore, users: UserStore,
                         user: User, grant: Grant, *, refresh: bool = True) -> dict[str, Any]:
    """Sign an access token (and an id token for scope openid) and mint a refresh token in the
    grant's family. The caller has checked the client and the grant."""
    now = int(time.time())
    profile = await profile_claims(users, user)
    access = keys.sign({"iss": cfg.issuer, "aud": grant.client_id, "sub": user.id, **profile,
                        "iat": now, "exp": now + cfg.access_token_ttl, "jti": secrets.token_hex(16),
                        "scope": grant.scope, "client_id": grant.client_id,
                        "auth_time": grant.auth_time})
    body: dict[str, Any] = {"access_token": access, "token_type": "Bearer",
                            "expires_in": cfg.access_token_ttl, "scope": grant.scope}
    if "openid" in grant.scope.split():
        id_claims = {"iss": cfg.issuer, "aud": grant.client_id, "azp": grant.client_id,
                     "sub": user.id, **profile, "iat": now, "exp": now + cfg.id_token_ttl,
                     "auth_time": grant.auth_time, "at_hash": _at_hash(access)}
        if grant.nonce:
            id_claims["nonce"] = grant.nonce
        body["id_token"] = keys.sign(id_claims)
    if refresh:
        body["refresh_token"] = await store.add_refresh(grant, cfg.refresh_token_ttl)
    return body


def check_access_token(cfg: IdpConfig, keys: KeySet, token: str,
                       audiences: set[str]) -> dict[str, Any]:
    """Claims of a live access token this IdP issued to one of `audiences` (userinfo)."""
    claims = keys.verify(token)
    now = time.time()
    aud = claims.get("aud")
    aud_ok = aud in audiences if isinstance(aud, str) else (
        isinstance(aud, list) and any(a in audiences for a in aud))
    exp = claims.get("exp")
    if (claims.get("iss") != cfg.issuer or not aud_ok or not isinstance(exp, (int, float))
            or exp < now or "client_id" not in claims or not isinstance(claims.get("sub"), str)):
        raise Unauthenticated("invalid token")
    return claims
