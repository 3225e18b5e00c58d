"""Project space membership through sharing NG on a drive root: `root/invite`, `root/permissions`
(`u:<id>` / `g:<id>`), PATCH to change a role or expiry, DELETE to remove. Who may change members
and the last-Manager rule are the sharing layer's (`sharing/members.py`); an expired member has
no access and is no longer listed.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ocis_server.auth.authz import Access
from ocis_server.domain import roles
from ocis_server.domain.errors import BadRequest, NotFound
from ocis_server.identity import User
from ocis_server.sharing import members
from ocis_server.storage import Space

from .config import CONTEXT_KEY
from .sharing_render import grantees_of, member_permission, parse_time


def _role(body: dict[str, Any]) -> roles.Role:
    wanted = body.get("roles")
    if not isinstance(wanted, list) or len(wanted) != 1 or not isinstance(wanted[0], str):
        raise BadRequest("exactly one role id is required in roles")
    role = roles.by_id(wanted[0])
    members.member_role(role)
    return role


async def invite_members(request: web.Request, user: User, access: Access,
                         body: dict[str, Any]) -> web.Response:
    members.require_manager(access)
    role = _role(body)
    expires = parse_time(body.get("expirationDateTime"))
    ctx = request.app[CONTEXT_KEY]
    principals = [pid for _, pid in await grantees_of(ctx, body)]
    added = await members.add(ctx, user, access, role, principals, expires)
    return web.json_response({"value": [
        await member_permission(request, m.principal_id, m.role, m.expires)
        for m in added.value]})


async def member_permissions(request: web.Request, space: Space) -> list[dict[str, Any]]:
    return [await member_permission(request, m.principal_id, m.role, m.expires)
            for m in await members.listed(request.app[CONTEXT_KEY], space)]


def _principal_of_path(request: web.Request) -> str:
    """The principal id of `{perm_id}` (`u:<id>` or `g:<id>`)."""
    prefix, sep, principal_id = request.match_info["perm_id"].partition(":")
    if not sep or prefix not in ("u", "g") or not principal_id:
        raise NotFound("permission not found")
    return principal_id


async def update_member(request: web.Request, user: User, access: Access,
                        body: dict[str, Any]) -> web.Response:
    """`roles` and/or `expirationDateTime` (null: never); what is not given stays."""
    members.require_manager(access)
    principal_id = _principal_of_path(request)
    updated = await members.update(
        request.app[CONTEXT_KEY], user, access, principal_id,
        role=_role(body) if "roles" in body else None,
        set_expiry="expirationDateTime" in body,
        expires=parse_time(body.get("expirationDateTime")))
    member = updated.value
    return web.json_response(await member_permission(request, member.principal_id, member.role,
                                                     member.expires))


async def remove_member(request: web.Request, user: User, access: Access) -> None:
    members.require_manager(access)
    await members.remove(request.app[CONTEXT_KEY], user, access, _principal_of_path(request))
