"""What the IdP signs: access and id tokens with the claims the proxy and relying parties read
(iss, aud = client id, sub = user id, preferred_username, email, name, groups, roles). The grants in
grants.py put them into authlib's token responses (RFC 6749 §5.1); userinfo checks access tokens."""

from __future__ import annotations

import secrets
import time
from typing import Any

from authlib.oidc.core.util import create_half_hash  # type: ignore[import-untyped]

from ocis_server.auth.keys import KeySet
from ocis_server.domain.errors import OcisError, Unauthenticated
from ocis_server.identity import User, UserStore

from .config import IdpConfig
from .store import Grant

# oCIS role claim values (proxy role assignment driver `oidc`, protocol-notes.md §12)
ROLE_CLAIMS = {"admin": "ocisAdmin", "spaceadmin": "ocisSpaceAdmin", "user": "ocisUser",
               "guest": "ocisGuest"}
CLAIMS_SUPPORTED = ("iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "name",
                    "preferred_username", "email", "email_verified", "groups", "roles")


async def profile_claims(users: UserStore, user: User) -> dict[str, Any]:
    try:
        groups = sorted(g.name for g in await users.groups_of(user.id))
    except OcisError:
        groups = []
    return {"preferred_username": user.username, "name": user.display_name or user.username,
            "email": user.email, "email_verified": bool(user.email), "groups": groups,
            "roles": [ROLE_CLAIMS.get(user.role, "ocisUser")]}


def access_token(cfg: IdpConfig, keys: KeySet, grant: Grant, profile: dict[str, Any]) -> str:
    """The signed access token (a JWT the proxy verifies) for `grant`'s user, client and scope."""
    now = int(time.time())
    return keys.sign({"iss": cfg.issuer, "aud": grant.client_id, "sub": grant.user_id, **profile,
                      "iat": now, "exp": now + cfg.access_token_ttl, "jti": secrets.token_hex(16),
                      "scope": grant.scope, "client_id": grant.client_id,
                      "auth_time": grant.auth_time})


def id_token(cfg: IdpConfig, keys: KeySet, grant: Grant, profile: dict[str, Any],
             access: str) -> str:
    """The signed id token (OIDC Core §2) with at_hash (§3.1.3.6) and the request's nonce."""
    now = int(time.time())
    claims = {"iss": cfg.issuer, "aud": grant.client_id, "azp": grant.client_id,
              "sub": grant.user_id, **profile, "iat": now, "exp": now + cfg.id_token_ttl,
              "auth_time": grant.auth_time,
              "at_hash": create_half_hash(access, keys.algorithm).decode()}
    if grant.nonce:
        claims["nonce"] = grant.nonce
    return keys.sign(claims)


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
