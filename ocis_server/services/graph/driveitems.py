"""`GET /v1.0/me/drive/root/children`: the entries at the root of the caller's personal drive as
LibreGraph driveItems, as oCIS's GetRootDriveChildren renders them (`services/graph/pkg/service/
v0/driveitems.go`, cs3ResourceToDriveItem): id, name, eTag, lastModifiedDateTime, size,
parentReference {driveType, driveId, id} and `file {mimeType}` or `folder {}`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ocis_server.auth.authz import space_access
from ocis_server.domain.errors import NotFound
from ocis_server.storage import Node, Space

from .config import CONTEXT_KEY
from .drives import iso_time
from .me import principal
from .sharing_render import item_kind, resource_id


def drive_item(node: Node, space: Space) -> dict[str, Any]:
    drive_id = f"{space.storage_id}${space.id}"
    item: dict[str, Any] = {
        "id": resource_id(node),
        "name": node.name,
        "eTag": f'"{node.etag}"',
        "lastModifiedDateTime": iso_time(node.mtime),
        "size": node.size,
        **item_kind(node),
    }
    if node.parent_id is not None:
        item["parentReference"] = {"driveType": space.type, "driveId": drive_id,
                                   "id": f"{drive_id}!{node.parent_id}"}
    return item


async def root_children(request: web.Request) -> web.Response:
    """The caller's personal drive's root entries (404 for a user without one)."""
    user = principal(request)
    storage = request.app[CONTEXT_KEY].storage
    space = (await space_access(storage, user, user.id)).space
    if space.type != "personal":
        raise NotFound("no personal drive")
    root = await storage.lookup(space.id, ())
    children = await storage.children(root)
    return web.json_response({"value": [drive_item(n, space) for n in children]})
