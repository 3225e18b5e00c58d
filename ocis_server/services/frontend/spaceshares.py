"""OCS share types 7 and 8: a user or group becomes a member of a project space (reva
`handlers/apps/sharing/shares/spaces.go`). Only `manager`, `spaceeditor`, `spaceviewer` apply;
legacy `viewer`/`editor` and the bitmasks 1/15/31 are translated; `expireDate` ends the membership.
Who may change members, and how, is the sharing layer's (`sharing/members.py`).
"""

from __future__ import annotations

from typing import Any

from ocis_server.domain import roles
from ocis_server.domain.errors import BadRequest, NotFound
from ocis_server.domain.ids import ResourceId
from ocis_server.identity import User
from ocis_server.services.context import ServiceContext
from ocis_server.sharing import members

from .sharerecord import SPACE_GROUP, format_time, int_param, parse_expiry

_LEGACY = {"viewer": roles.SPACE_VIEWER, "editor": roles.SPACE_EDITOR}


def _member_role(values: dict[str, str]) -> roles.Role:
    name = values.get("role", "").strip().lower()
    if name:
        return _LEGACY.get(name) or roles.by_name(name)
    perms = int_param(values, "permissions")
    found = roles.role_for_bits(perms if perms is not None else roles.READ, roles.ROOT)
    if found is None:
        raise BadRequest("permissions do not match a space role")
    return found


async def create_space_share(ctx: ServiceContext, user: User, values: dict[str, str],
                             share_type: int) -> dict[str, Any]:
    expires = parse_expiry(values.get("expireDate", ""))
    try:
        rid = ResourceId.parse(values.get("space") or values.get("space_ref") or "")
    except BadRequest:
        raise BadRequest("missing or invalid space") from None
    access = await members.space_of(ctx, user, rid.space_id)
    space = access.space
    if space.type != "project":
        raise BadRequest("Can not share space root")
    members.require_manager(access)
    role = _member_role(values)
    members.member_role(role)
    share_with = values.get("shareWith", "").strip()
    try:
        if share_type == SPACE_GROUP:
            group = await ctx.users.get_group_by_name(share_with)
            principal_id, display, info = group.id, group.name, ""
        else:
            member = await ctx.users.get_by_name(share_with)
            principal_id, display, info = member.id, member.display_name, member.email
    except NotFound:
        raise NotFound("group not found" if share_type == SPACE_GROUP else "user not found") from None
    await members.add(ctx, user, access, role, [principal_id], expires)
    return {
        "id": f"{space.storage_id}:{space.id}:{principal_id}",
        "share_type": share_type, "uid_owner": user.username,
        "displayname_owner": user.display_name, "permissions": role.bits,
        "stime": int(space.mtime), "expiration": format_time(expires), "state": 0, "path": "/",
        "item_type": "folder", "mimetype": "httpd/unix-directory",
        "space_id": space.space_id, "storage_id": space.space_id,
        "item_source": f"{space.space_id}!{space.id}", "file_source": f"{space.space_id}!{space.id}",
        "file_target": "/", "share_with": share_with, "share_with_displayname": display,
        "share_with_additional_info": info, "role": role.name,
    }


async def delete_space_share(ctx: ServiceContext, user: User, share_id: str) -> bool:
    """DELETE of a membership id `<storageid>:<spaceid>:<principalid>` (as created above): the
    member leaves the project space. False when the id names no membership the caller sees."""
    parts = share_id.split(":")
    if len(parts) != 3 or parts[0] != ctx.storage.storage_id:
        return False
    _, space_id, principal_id = parts
    try:
        access = await members.space_of(ctx, user, space_id)
        await members.member(ctx, access.space, principal_id)
    except NotFound:
        return False
    await members.remove(ctx, user, access, principal_id)
    return True
