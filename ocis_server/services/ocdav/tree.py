"""Tree changes: MKCOL, DELETE, COPY and MOVE (RFC 4918 §9.3, §9.6-9.9), with Destination
as an absolute URL or a bare path (owncloudcmd), Overwrite and Depth semantics.
"""

from __future__ import annotations

from aiohttp import web

from ocis_server.auth.authz import group_ids
from ocis_server.domain.errors import (
    AlreadyExists,
    BadGateway,
    BadRequest,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    UnsupportedMediaType,
)
from ocis_server.domain.paths import check_new_name
from ocis_server.storage import Node

from .config import CONTEXT_KEY
from .locking import check_locks
from .namespaces import (
    DavTarget,
    destination_target,
    jail_child,
    jail_rename,
    request_target,
    storage_of,
    user_of,
)
from .transfer import node_headers


async def _has_body(request: web.Request) -> bool:
    if request.content_length:
        return True
    if request.content_length == 0 or not request.body_exists:
        return False
    return bool(await request.content.read(1))


async def handle_mkcol(request: web.Request) -> web.StreamResponse:
    target = await request_target(request)
    if await _has_body(request):
        raise UnsupportedMediaType("MKCOL with a body is not supported")
    if not target.path:
        raise AlreadyExists("the space root exists")
    check_new_name(target.path[-1])
    target.access.require_write()
    await check_locks(request, target, membership=True, exists=False)
    node = await storage_of(request).mkdir(target.space_id, target.path)
    return web.Response(status=201, headers=node_headers(node, target))


async def handle_delete(request: web.Request) -> web.StreamResponse:
    target = await request_target(request)
    storage = storage_of(request)
    node = await storage.lookup(target.space_id, target.path)
    if not target.path:
        raise PermissionDenied("the space root cannot be deleted")
    _not_the_share_root(target, node)
    target.access.require_write()
    await check_locks(request, target, recursive=True, membership=True)
    await storage.delete(target.space_id, target.path)
    return web.Response(status=204)


def _overwrite(request: web.Request) -> bool:
    value = request.headers.get("Overwrite", "T").strip().upper()
    if value not in ("T", "F"):
        raise BadRequest("Overwrite must be T or F")
    return value == "T"


async def _prepare(request: web.Request) -> tuple[DavTarget, DavTarget, bool]:
    source = await request_target(request)
    try:
        destination = await destination_target(request)
    except NotFound:
        # a new name in the share jail root: no share there, but for a MOVE from outside every
        # share oCIS's gateway refuses first (the jail is another storage provider)
        if request.method == "MOVE" and _share_root(source) is None \
                and jail_child(request) is not None:
            raise BadGateway(CROSS_STORAGE) from None
        raise
    if destination.path:
        check_new_name(destination.path[-1])
    overwrite = _overwrite(request)
    node = await storage_of(request).lookup(source.space_id, source.path)
    if source.space_id == destination.space_id and source.path == destination.path:
        raise PermissionDenied("source and destination are the same resource")
    if not destination.path:
        raise PermissionDenied("cannot replace the space root")
    if request.method == "MOVE":
        _not_the_share_root(source, node)
        _not_across_shares(source, destination)
    if destination.access.shared and not destination.rel:
        raise PermissionDenied("the shared resource itself cannot be replaced")
    destination.access.require_write()
    await check_locks(request, destination, recursive=True, membership=True)
    return source, destination, overwrite


async def handle_copy(request: web.Request) -> web.StreamResponse:
    depth = request.headers.get("Depth", "infinity").strip().lower()
    if depth not in ("0", "infinity"):
        raise BadRequest("Invalid Depth header value")
    source, destination, overwrite = await _prepare(request)
    result = await storage_of(request).copy(
        source.space_id, source.path, destination.space_id, destination.path,
        overwrite=overwrite, depth_infinity=depth == "infinity")
    return web.Response(status=201 if result.created else 204,
                        headers=node_headers(result.node, destination))


async def handle_move(request: web.Request) -> web.StreamResponse:
    depth = request.headers.get("Depth", "infinity").strip().lower()
    if depth != "infinity":
        raise BadRequest("Invalid Depth header value")    # RFC 4918 §9.9.2
    renamed = await _rename_mount(request)
    if renamed is not None:
        return renamed
    source, destination, overwrite = await _prepare(request)
    if not source.path:
        raise PermissionDenied("the space root cannot be moved")
    source.access.require_write()
    await check_locks(request, source, recursive=True, membership=True)
    result = await storage_of(request).move(
        source.space_id, source.path, destination.space_id, destination.path,
        overwrite=overwrite)
    return web.Response(status=201 if result.created else 204,
                        headers=node_headers(result.node, destination))


CROSS_STORAGE = "cross storage moves are not supported, use copy and delete"


def _share_root(target: DavTarget) -> str | None:
    """The node of the received share a target is reached through (its mount point), or None."""
    if target.mount_id is not None:
        return target.mount_id
    share = target.access.share
    return None if share is None else share.node_id


def _not_across_shares(source: DavTarget, destination: DavTarget) -> None:
    """A MOVE out of a received share, into one, or from one share to another is 502 in oCIS: the
    share jail is a storage provider of its own (reva gateway `Move`, sharesstorageprovider `Move`:
    CODE_UNIMPLEMENTED -> ocdav 502), so clients copy and delete. Into a share the 502 comes before
    any permission check (acceptance `moveByFileId.feature`: a Viewer share too); out of one to a
    place outside every share, the source needs move rights and the destination write rights
    first (403), as the storage answers before the gateway there."""
    src_root, dst_root = _share_root(source), _share_root(destination)
    if src_root == dst_root:
        return
    if dst_root is None:
        source.access.require_write()
        destination.access.require_write()
    raise BadGateway(CROSS_STORAGE)


def _not_the_share_root(target: DavTarget, node: Node) -> None:
    """A recipient may change what is inside a shared folder, never remove or move the shared
    resource itself (that is the sharer's; the recipient declines the share instead)."""
    share = target.access.share
    if share is not None and node.id == share.node_id:
        raise PermissionDenied("the shared resource itself cannot be deleted or moved")


async def _rename_mount(request: web.Request) -> web.StreamResponse | None:
    """MOVE of a share jail mount point to a new name in the jail renames the recipient's
    mount point (oCIS: "rename a received share"); the sharer's resource keeps its name."""
    source = await request_target(request)
    name = await jail_rename(request, source)
    share = source.access.share
    if name is None or share is None:
        return None
    ctx = request.app[CONTEXT_KEY]
    user = user_of(request)
    gids = await group_ids(ctx.users, user)
    taken = {r.mount_point for r in await ctx.storage.received_shares(user.id, gids)
             if r.state == "accepted" and r.share.id != share.id}
    if name in taken:
        raise PreconditionFailed("a received share already has this name")
    await ctx.storage.set_received(share.id, user.id, mount_point=name)
    return web.Response(status=201)
