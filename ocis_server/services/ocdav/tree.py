"""Tree changes: MKCOL, DELETE, COPY and MOVE (RFC 4918 §9.3, §9.6-9.9), with Destination
as an absolute URL or a bare path (owncloudcmd), Overwrite and Depth semantics.
"""

from __future__ import annotations

from aiohttp import web

from ocis_server.domain.errors import (
    AlreadyExists,
    BadRequest,
    PermissionDenied,
    UnsupportedMediaType,
)

from .locking import check_locks
from .namespaces import DavTarget, destination_target, request_target, storage_of
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
    target.access.require_write()
    await check_locks(request, target, membership=True, exists=False)
    node = await storage_of(request).mkdir(target.space_id, target.path)
    return web.Response(status=201, headers=node_headers(node, target))


async def handle_delete(request: web.Request) -> web.StreamResponse:
    target = await request_target(request)
    storage = storage_of(request)
    await storage.lookup(target.space_id, target.path)
    if not target.path:
        raise PermissionDenied("the space root cannot be deleted")
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
    destination = await destination_target(request)
    overwrite = _overwrite(request)
    await storage_of(request).lookup(source.space_id, source.path)
    if source.space_id == destination.space_id and source.path == destination.path:
        raise PermissionDenied("source and destination are the same resource")
    if not destination.path:
        raise PermissionDenied("cannot replace the space root")
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
