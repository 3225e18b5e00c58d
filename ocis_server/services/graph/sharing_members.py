"""Project space membership through sharing NG on a drive root: `root/invite`, `root/permissions`
(`u:<id>` / `g:<id>`), PATCH to change a role or expiry, DELETE to remove. Only the space's
Managers change members; the last Manager can never be removed or demoted (checked inside the
storage write). A membership may expire (`expirationDateTime`); an expired member has no access.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ocis_server.auth.authz import Access
from ocis_server.domain import roles
from ocis_server.domain.errors import BadRequest, NotFound, PermissionDenied
from ocis_server.identity import User
from ocis_server.storage import Space

from .config import CONTEXT_KEY
from .sharing_render import grantees_of, member_permission, parse_time

# unified role id -> the space role the storage keeps in `members`
MEMBER_ROLE = {role.id: name for name, role in roles.SPACE_ROLE_OF_MEMBER.items()}


def _require_manager(access: Access) -> Space:
    space = access.space
    if space.type != "project":
        raise BadRequest("only project spaces have members")
    if not access.can_manage:
        raise PermissionDenied("only managers of the space may change its members")
    return space


def _member_role(body: dict[str, Any]) -> tuple[roles.Role, str]:
    wanted = body.get("roles")
    if not isinstance(wanted, list) or len(wanted) != 1 or not isinstance(wanted[0], str):
        raise BadRequest("exactly one role id is required in roles")
    role = roles.by_id(wanted[0])
    if role.id not in MEMBER_ROLE or role not in roles.available_for(roles.ROOT):
        raise BadRequest("role not applicable to this resource")
    return role, MEMBER_ROLE[role.id]


async def invite_members(request: web.Request, user: User, access: Access,
                         body: dict[str, Any]) -> web.Response:
    space = _require_manager(access)
    _, member_role = _member_role(body)
    expires = parse_time(body.get("expirationDateTime"))
    ctx = request.app[CONTEXT_KEY]
    principals = await grantees_of(ctx, body)
    current = await ctx.storage.members(space.id)
    out = []
    for _, principal_id in principals:
        await ctx.storage.set_member(space.id, principal_id, member_role,
                                     keep_manager=principal_id in current, expires=expires)
        out.append(await member_permission(request, principal_id, member_role, expires))
    return web.json_response({"value": out})


async def member_permissions(request: web.Request, space: Space) -> list[dict[str, Any]]:
    if space.type != "project":
        return []
    storage = request.app[CONTEXT_KEY].storage
    members = await storage.members(space.id)
    expiry = await storage.member_expirations(space.id)
    return [await member_permission(request, pid, role, expiry.get(pid))
            for pid, role in sorted(members.items())]


async def _member_of_path(request: web.Request, space: Space) -> str:
    """The principal id of `{perm_id}` (`u:<id>` or `g:<id>`), a current member of the space."""
    perm_id = request.match_info["perm_id"]
    prefix, sep, principal_id = perm_id.partition(":")
    if not sep or prefix not in ("u", "g") or not principal_id:
        raise NotFound("permission not found")
    members = await request.app[CONTEXT_KEY].storage.members(space.id)
    if principal_id not in members:
        raise NotFound("permission not found")
    return principal_id


async def update_member(request: web.Request, user: User, access: Access,
                        body: dict[str, Any]) -> web.Response:
    """`roles` and/or `expirationDateTime` (null: never); what is not given stays."""
    space = _require_manager(access)
    principal_id = await _member_of_path(request, space)
    if "roles" not in body and "expirationDateTime" not in body:
        raise BadRequest("nothing to update: give roles or expirationDateTime")
    storage = request.app[CONTEXT_KEY].storage
    if "roles" in body:
        _, member_role = _member_role(body)
    else:
        member_role = (await storage.members(space.id))[principal_id]
    if "expirationDateTime" in body:
        expires = parse_time(body["expirationDateTime"])
    else:
        expires = (await storage.member_expirations(space.id)).get(principal_id)
    await storage.set_member(space.id, principal_id, member_role, keep_manager=True,
                             expires=expires)
    return web.json_response(await member_permission(request, principal_id, member_role, expires))


async def remove_member(request: web.Request, user: User, access: Access) -> None:
    space = _require_manager(access)
    principal_id = await _member_of_path(request, space)
    await request.app[CONTEXT_KEY].storage.set_member(space.id, principal_id, None,
                                                      keep_manager=True)

