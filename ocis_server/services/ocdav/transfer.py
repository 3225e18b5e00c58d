"""GET/HEAD (sendfile, single Range, conditional requests) and PUT (streamed into storage,
X-OC-Mtime, OC-Checksum, If-Match) with the headers ownCloud clients read (protocol-notes.md §4).
"""

from __future__ import annotations

import base64
import binascii
import re
import string
from collections.abc import AsyncIterator
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web
from multidict import CIMultiDict

from ocis_server.domain.errors import BadRequest, Conflict, MethodNotAllowed, NotFound
from ocis_server.domain.paths import check_new_name
from ocis_server.services.downloads import DOWNLOAD_HEADERS, send_remote_blob
from ocis_server.storage import Node

from .errors import DavError
from .locking import check_locks
from .namespaces import DavTarget, mark_replayable, request_target, storage_of
from .preview import handle_preview, is_preview
from .propfind import MAX_MTIME, clamp_mtime, http_date, mimetype
from .zerocopy import send_file

CHECKSUM_ALGOS = ("SHA1", "MD5", "ADLER32")
# oC <= 9 chunking (`name-chunking-<transfer>-<count>-<index>`, reva chunking.IsChunked): oCIS
# does not take it; its acceptance suite expects 503 (coreApiMain/checksums.feature).
OLD_CHUNKING = re.compile(r".-chunking-\w+-\d+-\d+$")
DIGEST_SIZES = {"sha1": 20, "md5": 16, "adler32": 4, "crc32": 4}   # bytes
SMALL_FILE = 64 * 1024   # GETs up to this size are read into memory instead of sendfile
# Conditional headers evaluated here against the node etag, so FileResponse never sees them.
_CONDITIONAL = ("If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since",
                "If-Range", "Accept-Encoding")


def node_headers(node: Node, target: DavTarget) -> dict[str, str]:
    """ETag, OC-ETag, OC-FileId, Last-Modified: what PUT, MOVE and GET all report."""
    etag = f'"{node.etag}"'
    return {"ETag": etag, "OC-ETag": etag, "OC-FileId": node.resource_id,
            "Last-Modified": http_date(node.mtime),
            "OC-Perm": target.access.webdav_permissions(is_dir=node.is_dir)}


def _etag_list(header: str) -> list[str]:
    return [e.strip().removeprefix("W/") for e in header.split(",") if e.strip()]


def _precondition(request: web.Request, node: Node | None, *, safe: bool) -> None:
    """If-Match / If-None-Match / If-Modified-Since against the node (RFC 9110 §13.2.2)."""
    etag = f'"{node.etag}"' if node else None
    if_match = request.headers.get("If-Match")
    if if_match is not None:
        tags = _etag_list(if_match)
        if etag is None or ("*" not in tags and etag not in tags):
            raise DavError(412, "The If-Match precondition failed")
    if_none = request.headers.get("If-None-Match")
    if if_none is not None and etag is not None:
        tags = _etag_list(if_none)
        if "*" in tags or etag in tags:
            if safe:
                raise web.HTTPNotModified(headers={"ETag": etag})
            raise DavError(412, "The If-None-Match precondition failed")
    ims = request.headers.get("If-Modified-Since")
    if safe and ims and if_none is None and node is not None:
        try:
            since = parsedate_to_datetime(ims).timestamp()
        except (TypeError, ValueError):
            return
        if int(clamp_mtime(node.mtime)) <= since:
            raise web.HTTPNotModified(headers={"ETag": f'"{node.etag}"'})


class BlobResponse(web.FileResponse):
    """FileResponse (sendfile, Range) that reports the node's etag and mtime, not the blob's."""

    def __init__(self, node: Node, path: Any, headers: dict[str, str]) -> None:
        super().__init__(path, headers=headers)
        self._node = node

    async def prepare(self, request: Any) -> Any:
        # The handler prepares with a request stripped of conditional headers; aiohttp's own
        # second call (with the original request) must not send the file again.
        if self.prepared:
            return None
        return await super().prepare(request)

    async def _sendfile(self, request: Any, fobj: Any, offset: int, count: int) -> Any:
        # aiohttp's own path falls back to read+write chunks when the loop has no sendfile
        # (uvloop); send_file stays zero-copy there too.
        writer = await web.StreamResponse.prepare(self, request)
        transport = request.transport
        if transport is None or writer is None:
            raise ConnectionResetError("Connection lost")
        if self.compression or not await send_file(transport, fobj, offset, count):
            return await self._sendfile_fallback(writer, fobj, offset, count)
        await web.StreamResponse.write_eof(self)
        return writer

    @property
    def etag(self) -> Any:
        return web.StreamResponse.etag.fget(self)  # type: ignore[attr-defined]

    @etag.setter
    def etag(self, value: Any) -> None:
        web.StreamResponse.etag.fset(self, self._node.etag)  # type: ignore[attr-defined]

    @property
    def last_modified(self) -> Any:
        return web.StreamResponse.last_modified.fget(self)  # type: ignore[attr-defined]

    @last_modified.setter
    def last_modified(self, value: Any) -> None:
        # Whole seconds, rounded down like PROPFIND's getlastmodified: aiohttp would round a float
        # up, and nextcloudcmd then "corrects" the local mtime on every sync.
        web.StreamResponse.last_modified.fset(  # type: ignore[attr-defined]
            self, int(clamp_mtime(self._node.mtime)))


async def handle_get(request: web.Request) -> web.StreamResponse:
    if is_preview(request):          # a thumbnail, not the file (preview.py)
        return await handle_preview(request)
    target = await request_target(request)
    storage = storage_of(request)
    node = await storage.lookup(target.space_id, target.path)
    _precondition(request, node, safe=True)
    if node.is_dir:
        if request.method == "HEAD":   # a stat of a folder: its etag and id, no body
            return web.Response(status=200, headers=node_headers(node, target))
        raise MethodNotAllowed("GET is not supported on collections")
    headers = node_headers(node, target)
    headers["Content-Type"] = mimetype(node.name)
    headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(node.name, safe='')}"
    headers["Accept-Ranges"] = "bytes"
    headers.update(DOWNLOAD_HEADERS)
    if "SHA1" in node.checksums:
        headers["OC-Checksum"] = f"SHA1:{node.checksums['SHA1']}"
    if node.size == 0 or node.blob_id is None:
        await mark_replayable(request, target)
        return web.Response(status=200, body=b"", headers=headers)
    if request.method == "GET" and node.size <= SMALL_FILE and "Range" not in request.headers:
        # Small whole-file GETs: one read (often from the storage's memory) beats sendfile's
        # per-request set-up; the proxy may write the answer again (runtime/replay.py).
        body = await storage.read_small(node)
        await mark_replayable(request, target)
        return web.Response(status=200, body=body, headers=headers)
    clean = CIMultiDict(request.headers)
    if_range = clean.get("If-Range")
    if if_range is not None and if_range.strip().removeprefix("W/") != headers["ETag"]:
        clean.popall("Range", None)     # a stale If-Range means: send the whole file
    for name in _CONDITIONAL:
        clean.popall(name, None)
    source = storage.blob(node)
    if not isinstance(source, Path):     # a provider in another process: streamed through
        return await send_remote_blob(request, source, headers, clean.get("Range"))
    response = BlobResponse(node, source, headers)
    await response.prepare(request.clone(headers=clean))
    return response


async def body_stream(request: web.Request) -> AsyncIterator[bytes]:
    """A PUT's body in 256 KiB pieces (also a chunk of a chunked upload, chunking.py)."""
    async for chunk in request.content.iter_chunked(256 * 1024):
        yield chunk


def mtime_header(request: web.Request) -> float | None:
    """X-OC-Mtime: the file's modification time the client wants kept (None: now)."""
    value = request.headers.get("X-OC-Mtime")     # header names are case-insensitive (rclone)
    if value is None:
        return None
    try:
        mtime = float(value.strip())
    except ValueError:
        raise BadRequest("invalid X-OC-Mtime header") from None
    # oCIS parses integer seconds; nan, inf and absurd values would only break rendering later.
    if not 0 <= mtime < MAX_MTIME:
        raise BadRequest("X-OC-Mtime is out of range")
    return mtime


def checksum_header(request: web.Request) -> tuple[str, str] | None:
    """OC-Checksum `<ALGO>:<hex>` -> (algo, digest) the stored file must match (reva put.go)."""
    value = request.headers.get("OC-Checksum")
    if not value:
        return None
    algo, sep, digest = value.strip().partition(":")
    if not sep or not digest:
        raise BadRequest("invalid OC-Checksum header")
    algo = algo.upper()
    if algo not in CHECKSUM_ALGOS:     # reva put.go: an algorithm it cannot verify is a 400
        raise BadRequest(f"unsupported checksum algorithm {algo[:16]!r}")
    return algo, digest_hex(algo, digest) or digest.strip().lower()


def digest_hex(algo: str, value: str) -> str | None:
    """A digest as oCIS accepts it, hex (what reva compares and the acceptance suite sends) or
    base64 (the tus checksum extension), as lower-case hex; None when it is neither. The two
    cannot be confused: a hex digest has exactly twice the digest size in hex digits, a base64
    one is shorter and, for these sizes, padded or not made of hex digits alone."""
    value, size = value.strip(), DIGEST_SIZES.get(algo.lower())
    if size is None or not value:
        return None
    if len(value) == 2 * size and all(c in string.hexdigits for c in value):
        return value.lower()
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.hex() if len(raw) == size else None


async def _put_target(request: web.Request, target: DavTarget) -> Node | None:
    """The file a PUT replaces, when the handler needs to know it. Without If-Match or
    If-None-Match, and with no lock in the way of creating the file nor of replacing it (both
    checks at once, from the lock cache), the lookup is skipped: the storage commit checks the
    folder conflict, the parent and the quota again anyway (None then means "not looked up")."""
    if "If-Match" not in request.headers and "If-None-Match" not in request.headers:
        try:
            await check_locks(request, target, membership=True, exists=True)
            return None
        except DavError as exc:
            if exc.status != 423:
                raise                 # a lock only matters in one case: decide precisely below
    try:
        node: Node | None = await storage_of(request).lookup(target.space_id, target.path)
    except NotFound:
        node = None
    if node is not None and node.is_dir:
        raise Conflict("a folder with this name exists")
    await check_locks(request, target, membership=node is None, exists=node is not None)
    _precondition(request, node, safe=False)
    return node


def _check_put_name(request: web.Request, name: str) -> None:
    """What oCIS refuses before taking a body: a name of spaces only (reva ValidateName, 400) and
    the oC <= 9 chunked PUT, with or without `OC-Chunked` (503, as oCIS's acceptance suite)."""
    check_new_name(name)
    if request.headers.get("OC-Chunked") or OLD_CHUNKING.search(name):
        raise DavError(503, "chunked uploads of ownCloud <= 9 (-chunking-) are not supported; "
                       "use TUS or chunking NG")


async def handle_put(request: web.Request) -> web.StreamResponse:
    target = await request_target(request)
    if "Content-Range" in request.headers:
        raise BadRequest("Content-Range is not allowed on PUT")   # reva put.go
    if not target.rel and not target.base:
        raise Conflict("cannot PUT to the space root")
    _check_put_name(request, target.rel[-1] if target.rel else target.base[-1])
    target.access.require_write()
    storage = storage_of(request)
    node = await _put_target(request, target)
    length = request.content_length
    expected = request.headers.get("X-Expected-Entity-Length", "")
    if length is None and expected.isdigit():
        length = int(expected)
    mtime = mtime_header(request)
    result = await storage.upload(
        target.space_id, target.path, body_stream(request), length=length, mtime=mtime,
        if_match=node.etag if node is not None and "If-Match" in request.headers else None,
        if_none_match_any=request.headers.get("If-None-Match", "").strip() == "*",
        checksum=checksum_header(request))
    headers = node_headers(result.node, target)
    if mtime is not None:
        headers["X-OC-Mtime"] = "accepted"
    return web.Response(status=201 if result.created else 204, headers=headers)
