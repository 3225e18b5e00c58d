"""Chunking NG (client-notes.md §3): `MKCOL …/dav/uploads/<user>/<transfer>`, chunk PUTs named by
zero-padded offset (any order, in parallel), `PROPFIND` to resume, `MOVE <transfer>/.file` to
the destination (assembled and committed like a PUT), `DELETE` to abort. Bytes go to storage.
"""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from ocis_server.domain.errors import (
    AlreadyExists,
    BadRequest,
    Conflict,
    MethodNotAllowed,
    NotFound,
)
from ocis_server.domain.paths import decode_segment, split_path
from ocis_server.identity import User

from .config import CONTEXT_KEY
from .errors import DavError
from .locking import check_locks, parse_if
from .namespaces import TARGET_KEY, destination_target, storage_of, strip_query, user_of
from .propfind import http_date
from .transfer import body_stream, checksum_header, mtime_header, node_headers
from .tus import DEFAULT_EXPIRATION
from .xml import CONTENT_TYPE, XML_DECL, esc

UPLOADS_ROOTS = ("/remote.php/dav/uploads/", "/dav/uploads/")
FINAL_NAME = ".file"


def is_uploads_path(raw: str) -> bool:
    return raw.startswith(UPLOADS_ROOTS)


def _split(raw: str, user: User) -> tuple[str, str, str, str]:
    """(root href of the user's uploads, transfer id, chunk name, user segment)."""
    for root in UPLOADS_ROOTS:
        if raw.startswith(root):
            rest = raw[len(root):]
            break
    else:
        raise NotFound("no uploads namespace here")
    segments = [s for s in rest.split("/") if s]
    if not segments or decode_segment(segments[0]) not in (user.username, user.id):
        raise NotFound("no such user namespace")
    if len(segments) > 3:
        raise NotFound("resource not found")
    names = [decode_segment(s) for s in segments[1:]]
    if names:
        split_path(names[0], encoded=False)   # the transfer id follows the naming rules
    transfer = names[0] if names else ""
    chunk = names[1] if len(names) > 1 else ""
    return root + segments[0], transfer, chunk, segments[0]


async def handle_uploads(request: web.Request) -> web.StreamResponse:
    user = user_of(request)
    root, transfer, chunk, _ = _split(strip_query(request.raw_path), user)
    method = request.method
    if not transfer:
        if method == "PROPFIND":
            return _multistatus([(root + "/", None)])
        raise MethodNotAllowed(f"{method} is not supported here")
    if method == "MKCOL" and not chunk:
        return await _mkcol(request, user, transfer)
    storage = storage_of(request)
    session = await storage.find_chunked_upload(user.id, transfer)
    if method == "PUT" and chunk and chunk != FINAL_NAME:
        length = request.content_length
        await storage.put_upload_chunk(session.id, chunk, body_stream(request), length=length)
        return web.Response(status=201)
    if method == "PROPFIND" and not chunk:
        href = f"{root}/{quote(transfer, safe='')}/"
        entries: list[tuple[str, tuple[int, float] | None]] = [(href, None)]
        if request.headers.get("Depth", "1").strip() != "0":
            entries += [(href + name, (size, mtime))
                        for name, size, mtime in await storage.upload_chunks(session.id)]
        return _multistatus(entries)
    if method == "MOVE" and chunk == FINAL_NAME:
        return await _finish(request, session.id)
    if method == "DELETE" and not chunk:
        await storage.delete_upload(session.id)
        return web.Response(status=204)
    raise MethodNotAllowed(f"{method} is not supported here")


async def _mkcol(request: web.Request, user: User, transfer: str) -> web.StreamResponse:
    total = request.headers.get("OC-Total-Length", "").strip()
    if total and not total.isdigit():
        raise BadRequest("invalid OC-Total-Length")
    ctx = request.app[CONTEXT_KEY]
    expires_in = getattr(ctx.config, "upload_expiration", None) or DEFAULT_EXPIRATION
    try:
        await storage_of(request).create_chunked_upload(
            user.id, transfer, size=int(total) if total else None, expires_in=float(expires_in))
    except AlreadyExists:
        raise DavError(405, "The resource you tried to create already exists") from None
    return web.Response(status=201)


def _if_etag(request: web.Request) -> str | None:
    """The etag of `If: <dest> (["etag"])`, the NG client's If-Match."""
    header = request.headers.get("If")
    if not header:
        return None
    for entry in parse_if(header):
        for negate, kind, value in entry.conditions:
            if kind == "etag" and not negate:
                return value
    return None


async def _finish(request: web.Request, upload_id: str) -> web.StreamResponse:
    dest = await destination_target(request)
    if not dest.rel and not dest.base:
        raise Conflict("cannot upload to the space root")
    dest.access.require_write()
    storage = storage_of(request)
    try:
        existing = await storage.lookup(dest.space_id, dest.path)
    except NotFound:
        existing = None
    if existing is not None and existing.is_dir:
        raise Conflict("a folder exists at the destination")
    request[TARGET_KEY] = dest       # the If header speaks of the destination
    await check_locks(request, dest, membership=existing is None, exists=existing is not None)
    total = request.headers.get("OC-Total-Length", "").strip()
    mtime = mtime_header(request)
    result = await storage.finish_chunked_upload(
        upload_id, dest.space_id, dest.path, size=int(total) if total.isdigit() else None,
        mtime=mtime, checksum=checksum_header(request), if_match=_if_etag(request))
    headers = node_headers(result.node, dest)
    if mtime is not None:
        headers["X-OC-Mtime"] = "accepted"
    return web.Response(status=201 if result.created else 204, headers=headers)


def _multistatus(entries: list[tuple[str, tuple[int, float] | None]]) -> web.Response:
    parts = ['<d:multistatus xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">']
    for href, chunk in entries:
        if chunk is None:
            props = "<d:resourcetype><d:collection/></d:resourcetype>"
        else:
            size, mtime = chunk
            props = (f"<d:resourcetype/><d:getcontentlength>{size}</d:getcontentlength>"
                     f"<d:getlastmodified>{http_date(mtime)}</d:getlastmodified>"
                     f'<d:getetag>"{size:x}-{int(mtime * 1e6):x}"</d:getetag>')
        parts.append(f"<d:response><d:href>{esc(href)}</d:href><d:propstat><d:prop>{props}"
                     "</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>")
    parts.append("</d:multistatus>")
    return web.Response(status=207, body=XML_DECL + "".join(parts).encode(),
                        headers={"Content-Type": CONTENT_TYPE})
