"""`cloud/user` (who am I) and `cloud/users/{userid}` (a user with the quota of their personal space).

owncloudcmd reads `data.id` as the DAV user of `/remote.php/dav/files/<id>/`, so `id` is the login
name, as in oCIS (reva `handlers/cloud/user`, `handlers/cloud/users`).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ocis_server.auth import authz
from ocis_server.auth.signedurl import new_key
from ocis_server.domain.errors import NotFound, PermissionDenied, Unauthenticated
from ocis_server.identity import User

from . import ocs
from .config import CONTEXT_KEY

# ownCloud's "unlimited" marker (the same -3 WebDAV's quota-available-bytes uses).
SPACE_UNLIMITED = -3


def principal(request: web.Request) -> User:
    """The authenticated user; the proxy leaves None on unprotected paths -> 997 / HTTP 401."""
    user = request.get("principal")
    if not isinstance(user, User):
        raise Unauthenticated("authentication required")
    return user


def quota(used: int, total: int) -> dict[str, Any]:
    """OCS quota of a personal space; `total` 0 means unlimited."""
    if total <= 0:
        return {"free": SPACE_UNLIMITED, "used": used, "total": SPACE_UNLIMITED,
                "relative": 0, "definition": "none"}
    return {
        "free": max(total - used, 0),
        "used": used,
        "total": total,
        "relative": round(used * 100 / total, 2),
        "definition": str(total),
    }


async def get_current_user(request: web.Request) -> web.Response:
    user = principal(request)
    return ocs.respond(request, {
        "id": user.username,
        "display-name": user.display_name,
        "email": user.email,
        "user-type": "primary",
    })


async def _find_user(request: web.Request, userid: str) -> User:
    """Look a user up by login name (what OCS clients send) or, failing that, by id."""
    users = request.app[CONTEXT_KEY].users
    try:
        return await users.get_by_name(userid)
    except NotFound:
        return await users.get(userid)


async def _visible_user(request: web.Request) -> User:
    """The user named in the URL: self, or anyone for admins; every other lookup answers 998
    so that user names do not leak."""
    caller = principal(request)
    userid = request.match_info["userid"]
    if userid not in (caller.username, caller.id) and not authz.has(caller, authz.ACCOUNTS):
        raise NotFound("The requested user could not be found")
    try:
        return await _find_user(request, userid)
    except NotFound:
        raise NotFound("The requested user could not be found") from None


async def get_user_groups(request: web.Request) -> web.Response:
    """`cloud/users/{userid}/groups`: groups are not modelled yet, so nobody is in one."""
    await _visible_user(request)
    return ocs.respond(request, {"groups": []})


async def get_user(request: web.Request) -> web.Response:
    user = await _visible_user(request)
    storage = request.app[CONTEXT_KEY].storage
    try:
        space = await storage.get_space(user.id)
        used, total = space.used, space.quota_total
    except NotFound:
        used, total = 0, 0          # the personal space is created on first use
    return ocs.respond(request, {
        "id": user.username,
        "enabled": "true",
        "quota": quota(used, total),
        "email": user.email,
        "displayname": user.display_name,
        "display-name": user.display_name,
        "user-type": "primary",
        "two_factor_auth_enabled": False,
    })


async def get_signing_key(request: web.Request) -> web.Response:
    """`cloud/user/signing-key`: the caller's key for pre-signed URLs, made on first use
    (oCIS ocs `GetSigningKey`: `{user: <user id>, signing-key: <128 hex digits>}`)."""
    user = principal(request)
    if request.get("caller") is not None and getattr(request["caller"], "method", "") == \
            "signed-url":
        raise PermissionDenied("a signed URL cannot fetch a signing key")
    storage = request.app[CONTEXT_KEY].storage
    key = await storage.signing_key(user.id)
    if key is None:
        key = await storage.set_signing_key(user.id, new_key(), replace=False)
    return ocs.respond(request, {"user": user.id, "signing-key": key})


async def delete_signing_key(request: web.Request) -> web.Response:
    """Rotate: every URL signed with the old key stops working; the next GET makes a new key
    (our addition: oCIS keeps a key until its store forgets it)."""
    user = principal(request)
    await request.app[CONTEXT_KEY].storage.set_signing_key(user.id, new_key())
    return ocs.respond(request, None)
