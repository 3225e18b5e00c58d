"""OCS share types 7 and 8: a user or group becomes a member of a project space (reva
`handlers/apps/sharing/shares/spaces.go`). Only `manager`, `spaceeditor`, `spaceviewer` apply;
legacy `viewer`/`editor` and the bitmasks 1/15/31 are translated; `expireDate` ends the membership.
Who may change members, and how, is the sharing layer's (`sharing/members.py`); OCS answers a
member who may not change members with 404 "No share permission", as reva does.
"""

from __future__ import annotations

from typing import Any

from ocis_server.domain import roles
from ocis_server.auth.authz import Access
from ocis_server.domain.errors import BadRequest, NotFound, OcisError, PermissionDenied
from ocis_server.domain.ids import ResourceId
from ocis_server.identity import User
from ocis_server.services.context import ServiceContext
from ocis_server.sharing import members
from ocis_server.storage import knows_storage

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


class NoSharePermission(OcisError):
    """No share permission"""

    # reva writes statuscode 404 itself here, not its "not found" meta (998): the OCS envelope
    # passes it through (HTTP 404 on v2).
    status = 404


def _require_manager(access: Access) -> None:
    """oCIS shareSpaces.feature: an editor or viewer adding or removing members gets HTTP and
    OCS 404 "No share permission" (Graph answers 403)."""
    try:
        members.require_manager(access)
    except PermissionDenied:
        raise NoSharePermission("No share permission") from None


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
    _require_manager(access)
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


async def delete_space_share(ctx: ServiceContext, user: User, share_id: str,
                             share_with: str | None) -> bool:
    """DELETE of a membership: by the id `<storageid>:<spaceid>:<principalid>` created above, or
    as reva takes it, the space id with `?shareWith=<user or group name>`. False when the id
    names no membership the caller sees."""
    found = await _membership(ctx, user, share_id, share_with)
    if found is None:
        return False
    access, principal_id = found
    _require_manager(access)
    await members.remove(ctx, user, access, principal_id)
    return True


async def _membership(ctx: ServiceContext, user: User, share_id: str,
                      share_with: str | None) -> tuple[Access, str] | None:
    parts = share_id.split(":")
    try:
        if len(parts) == 3 and parts[0] and knows_storage(ctx.storage, parts[0]):
            space_id, principal_id = parts[1], parts[2]
        elif share_with and "$" in share_id and "!" not in share_id:
            rid = ResourceId.parse(share_id)
            if not knows_storage(ctx.storage, rid.storage_id):
                return None
            space_id, principal_id = rid.space_id, await _principal_named(ctx, share_with)
        else:
            return None
        access = await members.space_of(ctx, user, space_id)
        await members.member(ctx, access.space, principal_id)
    except (NotFound, BadRequest):
        return None
    return access, principal_id


async def _principal_named(ctx: ServiceContext, name: str) -> str:
    """A user by login name, else a group by name (reva `getGrantee`)."""
    try:
        return (await ctx.users.get_by_name(name)).id
    except NotFound:
        return (await ctx.users.get_group_by_name(name)).id
