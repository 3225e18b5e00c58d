"""How sharing NG renders shares, space members and shared items as LibreGraph JSON: `permission`,
`unifiedRoleDefinition`, `driveItem` (protocol-notes.md §6, §7; oCIS `services/graph/pkg/service/v0/
{utils,sharedwithme,sharedbyme}.go`), and the ISO times and request values those carry.
"""

from __future__ import annotations

import mimetypes
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from ocis_server.domain import roles
from ocis_server.domain.errors import BadRequest, NotFound
from ocis_server.domain.ids import SHARE_JAIL_ID
from ocis_server.services.context import ServiceContext
from ocis_server.storage import Node, Share, Space

from .config import CONFIG_KEY, CONTEXT_KEY
from .drives import iso_time

JAIL_DRIVE = f"{SHARE_JAIL_ID}${SHARE_JAIL_ID}"
USER_TYPE = {"user": "Member", "guest": "Guest"}
ALL_ACTIONS = sorted({action for role in roles.ROLES for action in role.actions})


def parse_time(value: Any, what: str = "expirationDateTime") -> float | None:
    """An RFC 3339 time -> unix seconds; None/"" -> None; else 400. (A past time is refused by
    the sharing layer's expiry policy, `sharing.rules.require_future`.)"""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{what} must be a string")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise BadRequest(f"{what} is not a valid date") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def resource_id(node: Node) -> str:
    return f"{node.storage_id}${node.space_id}!{node.id}"


def kind(node: Node) -> str:
    return roles.kind_of(is_dir=node.is_dir, is_root=node.parent_id is None)


def base_url(request: web.Request) -> str:
    return request.app[CONFIG_KEY].public_url


# --- identities ---------------------------------------------------------------------------------

async def user_identity(request: web.Request, user_id: str) -> dict[str, Any]:
    users = request.app[CONTEXT_KEY].users
    identity: dict[str, Any] = {"id": user_id}
    try:
        found = await users.get(user_id)
    except NotFound:
        return identity
    identity["displayName"] = found.display_name
    identity["@libre.graph.userType"] = USER_TYPE.get(found.user_type.lower(), "Member")
    return identity


async def group_identity(request: web.Request, group_id: str) -> dict[str, Any]:
    identity: dict[str, Any] = {"id": group_id}
    get_group = getattr(request.app[CONTEXT_KEY].users, "get_group", None)
    if get_group is not None:
        try:
            identity["displayName"] = (await get_group(group_id)).name
        except NotFound:
            pass
    return identity


async def grantee(request: web.Request, grantee_type: str, grantee_id: str) -> dict[str, Any]:
    if grantee_type == "group":
        return {"group": await group_identity(request, grantee_id)}
    return {"user": await user_identity(request, grantee_id)}


# --- recipients ---------------------------------------------------------------------------------

async def recipient(ctx: ServiceContext, entry: Any) -> tuple[str, str]:
    """(grantee type, id) of one `recipients[]` entry; NotFound when nobody has that id."""
    if not isinstance(entry, dict) or not isinstance(entry.get("objectId"), str):
        raise BadRequest("each recipient needs an objectId")
    rtype = entry.get("@libre.graph.recipient.type", "user")
    object_id = entry["objectId"]
    if rtype == "user":
        try:
            return "user", (await ctx.users.get(object_id)).id
        except NotFound:
            raise NotFound("recipient user not found") from None
    if rtype == "group":
        try:
            return "group", (await ctx.users.get_group(object_id)).id
        except NotFound:
            raise NotFound("recipient group not found") from None
    raise BadRequest("@libre.graph.recipient.type must be user or group")


MAX_RECIPIENTS = 100


def recipients_of(body: dict[str, Any]) -> list[Any]:
    found = body.get("recipients")
    if not isinstance(found, list) or not found:
        raise BadRequest("recipients must be a non-empty list")
    if len(found) > MAX_RECIPIENTS:
        raise BadRequest(f"at most {MAX_RECIPIENTS} recipients at once")
    return found


async def grantees_of(ctx: ServiceContext, body: dict[str, Any]) -> list[tuple[str, str]]:
    """The distinct (type, id) recipients of an invite, all resolved before anything changes."""
    found = [await recipient(ctx, entry) for entry in recipients_of(body)]
    return list(dict.fromkeys(found))


# --- permissions --------------------------------------------------------------------------------

def role_refs(role_id: str, bits: int) -> dict[str, Any]:
    """`roles: [id]` for a unified role; a custom bitmask as its allowed actions instead."""
    if role_id:
        return {"roles": [role_id]}
    actions = [a for a in ALL_ACTIONS if _bits_allow(a, bits)]
    return {"@libre.graph.permissions.actions": actions}


def _bits_allow(action: str, bits: int) -> bool:
    if action.endswith(("/read",)):
        return bool(bits & roles.READ)
    if action.endswith(("children/create", "upload/create")):
        return bool(bits & (roles.CREATE | roles.UPDATE))
    if action.endswith(("standard/delete", "deleted/update")):
        return bool(bits & roles.DELETE)
    if action.endswith("path/update"):
        return bool(bits & roles.UPDATE)
    return False


async def share_permission(request: web.Request, share: Share) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": share.id,
        **role_refs(share.role_id, share.permissions),
        "grantedToV2": await grantee(request, share.grantee_type, share.grantee_id),
        "invitation": {"invitedBy": {"user": await user_identity(request, share.creator_id)}},
        "createdDateTime": iso_time(share.ctime),
    }
    if share.expiration is not None:
        body["expirationDateTime"] = iso_time(share.expiration)
    return body


def member_permission_id(principal_type: str, principal_id: str) -> str:
    return f"{'g' if principal_type == 'group' else 'u'}:{principal_id}"


async def member_permission(request: web.Request, principal_id: str, role: str,
                            expires: float | None = None) -> dict[str, Any]:
    """A project space member (`u:<id>` / `g:<id>`) with its space role as a unified role."""
    ptype = "user"
    try:
        await request.app[CONTEXT_KEY].users.get(principal_id)
    except NotFound:
        get_group = getattr(request.app[CONTEXT_KEY].users, "get_group", None)
        if get_group is not None:
            try:
                await get_group(principal_id)
                ptype = "group"
            except NotFound:
                pass
    unified = roles.SPACE_ROLE_OF_MEMBER.get(role)
    body: dict[str, Any] = {
        "id": member_permission_id(ptype, principal_id),
        "roles": [unified.id if unified else role],
        "grantedToV2": await grantee(request, ptype, principal_id),
    }
    if expires is not None:
        body["expirationDateTime"] = iso_time(expires)
    return body


def role_definition(role: roles.Role, weight: int) -> dict[str, Any]:
    return {
        "id": role.id,
        "displayName": role.display_name,
        "description": role.display_name,
        "rolePermissions": [{"allowedResourceActions": list(role.actions), "condition": cond}
                            for cond in role.conditions],
        "@libre.graph.weight": weight,
    }


def weight_of(role: roles.Role) -> int:
    return roles.ROLES.index(role) + 1


def allowed_role(role: roles.Role) -> dict[str, Any]:
    return {"id": role.id, "displayName": role.display_name, "description": role.display_name,
            "@libre.graph.weight": weight_of(role)}


# --- drive items --------------------------------------------------------------------------------

def item_kind(node: Node) -> dict[str, Any]:
    if node.is_dir:
        return {"folder": {}}
    mime = mimetypes.guess_type(node.name, strict=False)[0] or "application/octet-stream"
    return {"file": {"mimeType": mime}}


async def parent_path(request: web.Request, node: Node) -> str:
    """The path of the node's folder from its space root (`/`, `/a/b`); `.` for a root."""
    if node.parent_id is None:
        return "."
    parts = await request.app[CONTEXT_KEY].storage.node_path(node)
    return "/" + "/".join(parts[:-1])


async def node_item(request: web.Request, node: Node, space: Space) -> dict[str, Any]:
    """A driveItem of a node in its own space (sharedByMe, remoteItem)."""
    drive_id = f"{space.storage_id}${space.id}"
    return {
        "id": resource_id(node),
        "name": node.name or space.name,
        "eTag": f'"{node.etag}"',
        "size": node.size,
        "lastModifiedDateTime": iso_time(node.mtime),
        "parentReference": {"driveId": drive_id, "driveType": space.type,
                            "id": f"{drive_id}!{node.parent_id or space.id}",
                            "path": await parent_path(request, node)},
        "webDavUrl": f"{base_url(request)}/dav/spaces/{resource_id(node)}",
        **item_kind(node),
    }
