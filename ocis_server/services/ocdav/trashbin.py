"""The trash bin over WebDAV (reva ocdav trashbin.go): `/[remote.php/]dav/spaces/trash-bin/<spaceid>/`
and the legacy personal `/[remote.php/]dav/trash-bin/<username>/`. PROPFIND lists, MOVE `<key>`
restores to `Destination`, DELETE `<key>` purges one item, DELETE of the root empties the trash.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from urllib.parse import quote

from aiohttp import web

from ocis_server.auth.authz import Access, space_access
from ocis_server.domain.errors import BadRequest, NotFound, PermissionDenied
from ocis_server.domain.ids import ResourceId
from ocis_server.domain.paths import decode_segment
from ocis_server.storage import Storage, TrashItem, knows_storage

from .errors import DavError, method_handler
from .locking import SUBMITTED_KEY, check_locks, evaluate_if
from .namespaces import destination_target, storage_of, strip_query, user_of
from .propfind import flat_depth, wanted_props
from .transfer import node_headers
from .xml import (
    CONTENT_TYPE,
    NS_DAV,
    NS_OC,
    ROOT_XMLNS,
    XML_DECL,
    QName,
    esc,
    response_xml,
)

SPACES_TRASH_ROOTS = ("/remote.php/dav/spaces/trash-bin/", "/dav/spaces/trash-bin/")
LEGACY_TRASH_ROOTS = ("/remote.php/dav/trash-bin/", "/dav/trash-bin/")
TRASH_ROOTS = SPACES_TRASH_ROOTS + LEGACY_TRASH_ROOTS
_STREAM_BATCH = 500   # items per write of a big listing
# allprop as reva renders it (itemToPropResponse): size as oc:size for folders, length for files.
_ALLPROP: tuple[QName, ...] = (
    (NS_OC, "trashbin-original-filename"), (NS_OC, "trashbin-original-location"),
    (NS_OC, "trashbin-delete-timestamp"), (NS_OC, "trashbin-delete-datetime"),
    (NS_DAV, "resourcetype"), (NS_OC, "size"), (NS_DAV, "getcontentlength"), (NS_OC, "spaceid"))


@dataclass(frozen=True, slots=True)
class TrashTarget:
    access: Access
    root_href: str            # the encoded trash root as the client sent it, no trailing slash
    key: str                  # "" for the trash root; `<key>/<name>/...` inside a trashed folder


async def _target(request: web.Request) -> TrashTarget:
    """Parse the URL, then authorize: a space the caller cannot see is not found."""
    raw = strip_query(request.raw_path)
    for root in TRASH_ROOTS:
        if raw.startswith(root):
            break
    else:   # pragma: no cover - dispatch only sends trash URLs here
        raise NotFound("no trash bin at this path")
    segment, _, rest = raw[len(root):].partition("/")
    if not segment:
        raise NotFound("no trash bin at this path")
    rest = rest.strip("/")
    key = "/".join(decode_segment(part) for part in rest.split("/")) if rest else ""
    user = user_of(request)
    name = decode_segment(segment)
    if root in LEGACY_TRASH_ROOTS:
        if name not in (user.username, user.id):
            raise NotFound("no such user trash bin")
        space_id = user.id
    else:
        try:
            rid = ResourceId.parse(name)
        except BadRequest:
            raise NotFound("invalid space id") from None
        if rid.node_id or not knows_storage(storage_of(request), rid.storage_id):
            raise NotFound("space not found")
        space_id = rid.space_id
    access = await space_access(storage_of(request), user, space_id)
    return TrashTarget(access, root + segment, key)


async def handle_trash(request: web.Request) -> web.StreamResponse:
    return await method_handler(request, _METHODS, " on the trash bin")(request)


async def _propfind(request: web.Request) -> web.StreamResponse:
    target = await _target(request)
    if not target.access.can_list_trash:
        raise PermissionDenied("no permission to list the trash bin")
    depth = flat_depth(request)
    wanted, allprop = await wanted_props(request, _ALLPROP)
    items = await _listing(storage_of(request), target, depth)
    head = [XML_DECL.decode(), f"<d:multistatus {ROOT_XMLNS}>"]
    if not target.key:
        head.append(response_xml(f"{target.root_href}/", [((NS_DAV, "resourcetype"),
                                                            "<d:collection/>")], allprop=True))
    headers = {"Content-Type": CONTENT_TYPE, "DAV": "1, 3, extended-mkcol"}
    space_id = target.access.space.id
    if len(items) <= _STREAM_BATCH:
        body = head + [_item_response(target.root_href, item, space_id, wanted, allprop=allprop)
                       for item in items]
        return web.Response(status=207, body="".join([*body, "</d:multistatus>"]).encode(),
                            headers=headers)
    # A big trash streams in batches, yielding between them: a 10k listing must not stall
    # concurrent requests.
    response = web.StreamResponse(status=207, headers=headers)
    await response.prepare(request)
    await response.write("".join(head).encode())
    for start in range(0, len(items), _STREAM_BATCH):
        await response.write("".join(
            _item_response(target.root_href, item, space_id, wanted, allprop=allprop)
            for item in items[start:start + _STREAM_BATCH]).encode())
        await asyncio.sleep(0)
    await response.write(b"</d:multistatus>")
    await response.write_eof()
    return response


def _value(item: TrashItem, name: QName, space_id: str) -> str | None:
    """The escaped content of one property, None when this item has none (404 propstat)."""
    ns, local = name
    if ns == NS_OC:
        match local:
            case "trashbin-original-filename":
                return esc(item.name)
            case "trashbin-original-location":
                return esc("/".join(item.original_path))
            case "trashbin-delete-timestamp":
                return str(int(item.deleted))
            case "trashbin-delete-datetime":
                return time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(item.deleted))
            case "size":
                return str(item.size)
            case "spaceid":
                return esc(space_id)
    elif ns == NS_DAV:
        match local:
            case "resourcetype":
                return "<d:collection/>" if item.is_dir else ""
            case "getcontentlength":
                return None if item.is_dir else str(item.size)
            case "getcontenttype":
                return "httpd/unix-directory" if item.is_dir else None
    return None


async def _listing(storage: Storage, target: TrashTarget, depth: str) -> list[TrashItem]:
    """As reva lists a trash: the root's items (Depth 1); an item itself (Depth 0) or what a
    trashed folder holds (Depth 1); with Depth infinity everything below, folder by folder."""
    space_id = target.access.space.id
    if not target.key:
        items = [] if depth == "0" else await storage.list_trash(space_id)
    else:
        item = await storage.trash_item(space_id, target.key)
        if depth == "0" or not item.is_dir:
            return [item]
        items = await storage.list_trash_folder(space_id, target.key)
    if depth != "infinity":
        return items
    listed, folders = list(items), [i.key for i in reversed(items) if i.is_dir]
    while folders:
        children = await storage.list_trash_folder(space_id, folders.pop())
        listed += children
        folders += [i.key for i in reversed(children) if i.is_dir]
    return listed


def _item_response(root_href: str, item: TrashItem, space_id: str, wanted: tuple[QName, ...], *,
                   allprop: bool) -> str:
    href = f"{root_href}/{quote(item.key, safe='/')}" + ("/" if item.is_dir else "")
    # reva's allprop: files report d:getcontentlength only, not oc:size
    values = ((name, _value(item, name, space_id)) for name in wanted
              if not (allprop and name == (NS_OC, "size") and not item.is_dir))
    return response_xml(href, values, allprop=allprop)


async def _move(request: web.Request) -> web.StreamResponse:
    """Restore (reva restore): 201 when the destination was free, 204 when it was replaced (the
    replaced item goes to the trash), 412 with Overwrite F, 409 when its parent is missing."""
    target = await _target(request)
    if not target.key:
        raise PermissionDenied("the trash bin itself cannot be moved")
    if not target.access.can_restore:
        raise PermissionDenied("no permission to restore from the trash bin")
    destination = await destination_target(request)
    overwrite = request.headers.get("Overwrite", "T").strip().upper()
    if overwrite not in ("T", "F"):
        raise BadRequest("Overwrite must be T or F")
    if destination.space_id != target.access.space.id:
        raise BadRequest("items can only be restored into their own space")
    if not destination.path:
        raise PermissionDenied("cannot replace the space root")
    destination.access.require_write()
    # The If header is evaluated against the destination: the request URL is no file namespace.
    request[SUBMITTED_KEY] = await evaluate_if(request, destination)
    await check_locks(request, destination, recursive=True, membership=True)
    result = await storage_of(request).restore_trash(
        destination.space_id, target.key, dst_path=destination.path, overwrite=overwrite == "T")
    return web.Response(status=201 if result.created else 204,
                        headers=node_headers(result.node, destination))


async def _delete(request: web.Request) -> web.StreamResponse:
    """Purge one item, or everything when the trash root is named (managers only: `P`)."""
    target = await _target(request)
    if not target.access.can_purge:
        raise PermissionDenied("no permission to purge the trash bin")
    storage = storage_of(request)
    if not target.key:
        await storage.empty_trash(target.access.space.id)
        return web.Response(status=204)
    try:
        await storage.purge_trash(target.access.space.id, target.key)
    except NotFound:
        # reva answers an unknown key with 409 ("key … not found").
        raise DavError(409, f"key {target.key} not found") from None
    return web.Response(status=204)


async def _options(request: web.Request) -> web.StreamResponse:
    return web.Response(status=204, headers={"DAV": "1, 2", "Allow": ", ".join(_METHODS)})


_METHODS = {"OPTIONS": _options, "PROPFIND": _propfind, "MOVE": _move, "DELETE": _delete}
