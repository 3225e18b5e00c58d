"""The receiving side of sharing NG: `me/drive/sharedWithMe`, `sharedByMe`, the share jail as the
virtual drive `<jail>$<jail>` in `me/drives` with one `mountpoint` drive per accepted share, and
mounting (accept: `POST drives/<jail>/root/children`), hiding (PATCH) and unmounting (DELETE) an
item of the jail. Item ids are `<jail>$<jail>!<share id>`, as WebDAV's share jail names them.
What a share becomes for its recipient is the sharing layer's (`sharing/received.py`).
"""

from __future__ import annotations

import hashlib
from typing import Any

from aiohttp import web

from ocis_server.domain.errors import BadRequest, NotFound
from ocis_server.domain.ids import SHARE_JAIL_ID, ResourceId
from ocis_server.identity import User
from ocis_server.services.context import ServiceContext
from ocis_server.sharing import received as receiving
from ocis_server.sharing import shares
from ocis_server.sharing.received import Received
from ocis_server.storage import Node, ReceivedShare, Space

from . import remotes, sharing_remote
from .config import CONTEXT_KEY
from .drives import iso_time, list_my_drives, read_body, validate_text
from .me import principal
from .sharing_render import (
    JAIL_DRIVE,
    base_url,
    item_kind,
    node_item,
    share_permission,
    user_identity,
)

JAIL_ROOT = f"{JAIL_DRIVE}!{SHARE_JAIL_ID}"


def _ctx(request: web.Request) -> ServiceContext:
    return request.app[CONTEXT_KEY]


def mount_id(share_id: str) -> str:
    return f"{JAIL_DRIVE}!{share_id}"


async def _received(request: web.Request, user: User) -> list[tuple[ReceivedShare, Node, Space]]:
    """The caller's live received shares (sharing layer) as (received, node, space)."""
    return [_entry(e) for e in await receiving.live(_ctx(request), user)]


def _entry(entry: Received) -> tuple[ReceivedShare, Node, Space]:
    return entry.received, entry.node, entry.space


async def received_item(request: web.Request, received: ReceivedShare, node: Node,
                        space: Space) -> dict[str, Any]:
    share = received.share
    remote = await node_item(request, node, space)
    remote["spaceId"] = f"{space.storage_id}${space.id}"
    remote["driveAlias"] = space.alias
    remote["rootId"] = f"{space.storage_id}${space.id}!{space.id}"
    remote["permissions"] = [await share_permission(request, share)]
    remote["createdBy"] = {"user": await user_identity(request, share.creator_id)}
    remote["shared"] = {"sharedBy": {"user": await user_identity(request, share.creator_id)},
                        "sharedDateTime": iso_time(share.ctime),
                        "owner": {"user": await user_identity(request, node.owner_id)}}
    return {
        "id": mount_id(share.id),
        "name": received.mount_point,
        "eTag": f'"{node.etag}"',
        "size": node.size,
        "lastModifiedDateTime": iso_time(node.mtime),
        "parentReference": {"driveId": JAIL_DRIVE, "driveType": "virtual", "id": JAIL_ROOT},
        "createdBy": {"user": await user_identity(request, share.creator_id)},
        "@UI.Hidden": received.hidden,
        "@client.synchronize": received.state == "accepted",
        "remoteItem": remote,
        **item_kind(node),
    }


async def shared_with_me(request: web.Request) -> web.Response:
    user = principal(request)
    value = [await received_item(request, *entry) for entry in await _received(request, user)]
    value += await sharing_remote.shared_items(request, user)      # federated (OCM)
    return web.json_response({"value": value})


async def shared_by_me(request: web.Request) -> web.Response:
    """The items the caller shared, each with its permissions (one per share)."""
    user = principal(request)
    ctx = _ctx(request)
    by_node: dict[str, list[Any]] = {}
    for share in await shares.created_by(ctx, user):
        by_node.setdefault(share.node_id, []).append(share)
    value = []
    for node_id, made in by_node.items():
        try:
            node = await ctx.storage.get_node(node_id)
            space = await ctx.storage.get_space(node.space_id)
        except NotFound:
            continue
        item = await node_item(request, node, space)
        item["permissions"] = [await share_permission(request, s) for s in made]
        value.append(item)
    return web.json_response({"value": value})


# --- the jail and its mount points as drives ----------------------------------------------------

def _matches(drive: dict[str, Any], clauses: list[tuple[str, str]]) -> bool:
    return all(str(drive.get(field)) == value for field, value in clauses)


async def jail_drives(request: web.Request, user: User,
                      clauses: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The virtual share jail and one mountpoint drive per accepted share (for `me/drives`)."""
    base = base_url(request)
    mounted = [e for e in await _received(request, user) if e[0].state == "accepted"]
    digest = hashlib.md5(usedforsecurity=False)       # the jail's etag, as ocdav computes it
    for received, node, _ in mounted:
        digest.update(f"{received.share.id}:{node.etag};".encode())
    mtime = max((node.mtime for _, node, _ in mounted), default=0.0)
    drives = [{
        "id": JAIL_DRIVE, "name": "Shares", "driveType": "virtual", "driveAlias": "virtual/shares",
        "description": "", "owner": {"user": {"id": user.id, "displayName": user.display_name}},
        "lastModifiedDateTime": iso_time(mtime), "webUrl": f"{base}/f/{JAIL_DRIVE}",
        "root": {"id": JAIL_ROOT, "eTag": f'"{digest.hexdigest()}"',
                 "webDavUrl": f"{base}/dav/spaces/{JAIL_DRIVE}"},
    }]
    for received, node, space in mounted:
        item = await received_item(request, received, node, space)
        mid = mount_id(received.share.id)
        drives.append({
            "id": mid, "name": received.mount_point, "driveType": "mountpoint",
            "driveAlias": f"mountpoint/{received.mount_point.lower().replace(' ', '-')}",
            "description": "", "lastModifiedDateTime": iso_time(node.mtime),
            "webUrl": f"{base}/f/{mid}",
            "root": {"id": mid, "eTag": f'"{node.etag}"',
                     "webDavUrl": f"{base}/dav/spaces/{mid}", "remoteItem": item["remoteItem"]},
        })
    drives += await sharing_remote.remote_drives(request, user)    # federated (OCM)
    drives += await remotes.link_drives(request, user, [])         # registered by URL
    return [d for d in drives if _matches(d, clauses)]


async def my_drives(request: web.Request) -> web.Response:
    """`GET /v1beta1/me/drives`: the spaces plus the share jail and its mount points."""
    user = principal(request)
    return await list_my_drives(request, lambda clauses: jail_drives(request, user, clauses))


# --- mount, hide, unmount -----------------------------------------------------------------------

def require_jail(request: web.Request) -> None:
    try:
        drive = ResourceId.parse(request.match_info["drive_id"])
    except BadRequest:
        raise NotFound("drive not found") from None
    if drive.storage_id != SHARE_JAIL_ID or drive.space_id != SHARE_JAIL_ID or drive.node_id:
        raise NotFound("drive not found")


async def _jail_entry(request: web.Request,
                      user: User) -> tuple[ReceivedShare, Node, Space]:
    require_jail(request)
    try:
        item = ResourceId.parse(request.match_info["item_id"])
    except BadRequest:
        raise NotFound("item not found") from None
    for entry in await _received(request, user):
        if entry[0].share.id == item.node_id:
            return entry
    raise NotFound("item not found")


async def mount(request: web.Request) -> web.Response:
    """`POST drives/<jail>/root/children {"name"?, "remoteItem": {"id": <resource id>}}`: accept
    every share of that resource the caller received; 201 with the mounted item."""
    user = principal(request)
    require_jail(request)
    body = await read_body(request)
    remote = body.get("remoteItem")
    if not isinstance(remote, dict) or not isinstance(remote.get("id"), str):
        raise BadRequest("remoteItem.id is required")
    name = body.get("name")
    if name is not None:
        name = validate_text(name, "name").strip()
        if not name or "/" in name or name in (".", ".."):
            raise BadRequest("name is not a valid mount point name")
    try:
        wanted = ResourceId.parse(remote["id"])
    except BadRequest:
        raise NotFound("shared resource not found") from None
    mounted = await receiving.mount(_ctx(request), user, wanted.node_id, name)
    return web.json_response(await received_item(request, *_entry(mounted.value)), status=201)


async def get_jail_item(request: web.Request) -> web.Response:
    user = principal(request)
    entry = await _jail_entry(request, user)
    return web.json_response(await received_item(request, *entry))


async def hide_jail_item(request: web.Request) -> web.Response:
    """`PATCH {"@UI.Hidden": true|false}` hides or shows the share in listings."""
    user = principal(request)
    received, _, _ = await _jail_entry(request, user)
    body = await read_body(request)
    hidden = body.get("@UI.Hidden")
    if not isinstance(hidden, bool):
        raise BadRequest("@UI.Hidden must be true or false")
    await receiving.hide(_ctx(request), user, received.share.id, hidden)
    entry = await _jail_entry(request, user)
    return web.json_response(await received_item(request, *entry))


async def unmount(request: web.Request) -> web.Response:
    """`DELETE drives/<jail>/items/<id>`: decline the share (it stays in sharedWithMe)."""
    user = principal(request)
    received, _, _ = await _jail_entry(request, user)
    await receiving.answer(_ctx(request), user, received.share.id, "declined")
    return web.Response(status=204)

