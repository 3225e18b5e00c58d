"""Which local account a verified OIDC token stands for, provisioning one when the issuer allows it.

The primary issuer maps a claim to a user attribute (PROXY_USER_OIDC_CLAIM -> PROXY_USER_CS3_CLAIM).
A trusted foreign issuer's account is keyed by (issuer, sub) and never merged with a local account
of the same name: its provisioned user gets a name of its own (`<name>@<issuer host>`).
"""

from __future__ import annotations

import logging
import re
import secrets
from typing import Any
from urllib.parse import urlsplit

from ocis_server.domain.errors import (
    AlreadyExists,
    BadRequest,
    NotFound,
    Unauthenticated,
)
from ocis_server.identity import User, UserStore

from .oidc import VerifiedToken
from .personal import ensure_personal_space

log = logging.getLogger("ocis.auth.accounts")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.@-]+")
# oCIS role claim values (PROXY_ROLE_ASSIGNMENT_OIDC_CLAIM mapping) -> our roles
ROLE_CLAIMS = {"ocisAdmin": "admin", "ocisSpaceAdmin": "spaceadmin", "ocisUser": "user",
               "ocisGuest": "guest"}


async def _by_cs3(users: UserStore, attribute: str, value: str) -> User:
    if attribute == "userid":
        return await users.get(value)
    if attribute == "mail":
        matches = [u for u in await users.list() if u.email and u.email.lower() == value.lower()]
        if len(matches) != 1:           # no or ambiguous match: never pick one at random
            raise NotFound("no unique user with this e-mail")
        return matches[0]
    return await users.get_by_name(value)


def _claim(claims: dict[str, Any], name: str) -> str:
    value = claims.get(name)
    return value if isinstance(value, str) else ""


async def resolve_user(users: UserStore, storage: Any, token: VerifiedToken) -> User:
    """The account the token belongs to; Unauthenticated when there is none and none may be made."""
    policy, claims = token.policy, token.claims
    if not policy.primary:
        try:
            return await users.get_by_identity(token.issuer, token.subject)
        except NotFound:
            pass
    if policy.link_local:
        value = _claim(claims, policy.user_oidc_claim)
        if value:
            try:
                user = await _by_cs3(users, policy.user_cs3_claim, value)
            except (NotFound, BadRequest):
                user = None
            if user is not None:
                if not policy.primary:
                    await _link(users, token, user)
                return user
    if not policy.autoprovision:
        raise Unauthenticated("no account for this token")
    return await provision(users, storage, token)


async def _existing(users: UserStore, token: VerifiedToken) -> User | None:
    policy = token.policy
    try:
        if not policy.primary:
            return await users.get_by_identity(token.issuer, token.subject)
        return await _by_cs3(users, policy.user_cs3_claim, _claim(token.claims, policy.user_oidc_claim))
    except (NotFound, BadRequest):
        return None


async def _link(users: UserStore, token: VerifiedToken, user: User) -> None:
    try:
        await users.link_identity(token.issuer, token.subject, user.id)
    except AlreadyExists:
        pass


def _base_name(token: VerifiedToken) -> str:
    claims = token.claims
    name = (_claim(claims, token.policy.user_oidc_claim) or _claim(claims, "preferred_username")
            or token.subject)
    name = _UNSAFE.sub("-", name).strip(".-")[:120] or "user"
    if token.policy.primary:
        return name
    host = _UNSAFE.sub("-", urlsplit(token.issuer).netloc)[:120]
    return f"{name.split('@')[0]}@{host}"


def _role(token: VerifiedToken) -> str:
    roles = token.claims.get("roles")
    if token.policy.primary and isinstance(roles, list):
        for claim, role in ROLE_CLAIMS.items():     # most privileged first
            if claim in roles:
                return role
    return token.policy.role


async def provision(users: UserStore, storage: Any, token: VerifiedToken) -> User:
    """Create the account (a Guest for foreign issuers unless configured otherwise) and link it."""
    claims, policy = token.claims, token.policy
    base = _base_name(token)
    email = _claim(claims, "email")
    display = _claim(claims, "name") or base
    user_id = None
    if policy.primary and policy.user_cs3_claim == "userid":
        user_id = _claim(claims, policy.user_oidc_claim) or None
    # Guests may have no password at all (UserStore contract); a Member gets one nobody knows:
    # either way the account signs in only through its issuer.
    password = "" if policy.user_type == "Guest" else secrets.token_urlsafe(32)
    user: User | None = None
    for attempt in range(1, 20):
        name = base if attempt == 1 else f"{base}-{attempt}"
        try:
            user = await users.create(username=name, password=password, display_name=display[:255],
                                      email=email if "@" in email else "", role=_role(token),
                                      user_type=policy.user_type, user_id=user_id)
            break
        except AlreadyExists:
            again = await _existing(users, token)     # a concurrent request may have made it
            if again is not None:
                return again
            if policy.primary:                        # the name belongs to someone else
                raise Unauthenticated("no account for this token") from None
            continue
        except BadRequest as exc:
            log.warning("cannot provision %s from %s: %s", name, token.issuer, exc.message)
            raise Unauthenticated("no account for this token") from None
    if user is None:
        raise Unauthenticated("no account for this token")
    if not policy.primary:
        try:
            await users.link_identity(token.issuer, token.subject, user.id)
        except AlreadyExists:       # lost a race: keep the winner's account, drop ours
            await users.delete(user.id)
            return await users.get_by_identity(token.issuer, token.subject)
    if user.user_type == "Member":
        await ensure_personal_space(storage, user)
    log.info("provisioned %s (%s) for %s from %s", user.username, user.user_type,
             token.subject, token.issuer)
    return user
