"""TUS 1.0.0 (creation, creation-with-upload, checksum, expiration, termination): POST on a DAV
folder creates an upload session; `/data/<token>` (the token, HMAC-signed with the transfer
secret, is the credential) takes PATCH/HEAD/DELETE (protocol-notes.md §5). Bytes go to storage.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator

from aiohttp import web

from ocis_server.auth.authz import Access, member_access, node_access
from ocis_server.domain.errors import (
    BadRequest,
    ChecksumMismatch,
    Conflict,
    InvalidName,
    NotFound,
    Unauthenticated,
    UnsupportedMediaType,
)
from ocis_server.domain.paths import split_path
from ocis_server.storage import Node, UploadResult, UploadSession

from .config import CONTEXT_KEY
from .errors import DavError
from .locking import check_locks
from .namespaces import DavTarget, request_target, storage_of, user_of
from .propfind import http_date
from .transfer import digest_hex

log = logging.getLogger("ocis.ocdav.tus")
TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,creation-with-upload,checksum,expiration,termination"
TUS_CHECKSUMS = "md5,sha1,adler32,crc32"
OFFSET_TYPE = "application/offset+octet-stream"
DATA_MOUNT = "/data"
DEFAULT_EXPIRATION = 86400
TUS_HEADERS = {"Tus-Resumable": TUS_VERSION, "Tus-Version": TUS_VERSION,
               "Tus-Extension": TUS_EXTENSIONS, "Tus-Checksum-Algorithm": TUS_CHECKSUMS}
_EXPOSE = ("Tus-Resumable, Tus-Version, Tus-Extension, Tus-Checksum-Algorithm, Upload-Offset, "
           "Upload-Length, Upload-Expires, Location, OC-FileId, OC-ETag, ETag, OC-Perm, "
           "Last-Modified")
_FALLBACK_SECRET = secrets.token_bytes(32)   # no transfer secret configured: valid per process
# Counts of TUS requests served, by kind (observability; tests read it to see TUS was used).
STATS: dict[str, int] = {"create": 0, "patch": 0, "head": 0, "delete": 0, "finished": 0}


# --- transfer tokens ------------------------------------------------------------------------

def _secret(config: object) -> bytes:
    value = getattr(config, "transfer_secret", "") or ""
    return value.encode() if value else _FALLBACK_SECRET


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_token(secret: bytes, upload_id: str, user_id: str, expires: float) -> str:
    payload = _b64(json.dumps({"u": upload_id, "s": user_id, "e": int(expires)},
                              separators=(",", ":")).encode())
    mac = hmac.new(secret, payload.encode(), hashlib.sha256).digest()
    return f"{payload}.{_b64(mac)}"


def verify_token(secret: bytes, token: str) -> tuple[str, str]:
    """(upload id, user id) of a valid token; forged -> Unauthenticated, expired -> NotFound."""
    payload, _, mac = token.partition(".")
    try:
        given = _unb64(mac)
        claims = json.loads(_unb64(payload))
    except (ValueError, binascii.Error, UnicodeError):
        raise Unauthenticated("invalid transfer token") from None
    expected = hmac.new(secret, payload.encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(given, expected) or not isinstance(claims, dict):
        raise Unauthenticated("invalid transfer token")
    if float(claims.get("e", 0)) <= time.time():
        raise NotFound("the upload has expired")
    return str(claims.get("u", "")), str(claims.get("s", ""))


# --- request parsing --------------------------------------------------------------------------

def parse_metadata(header: str) -> dict[str, str]:
    """`Upload-Metadata: key b64,key b64,key` -> decoded values ("" when a key has none)."""
    out: dict[str, str] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition(" ")
        if not key:
            continue
        try:
            out[key] = base64.b64decode(value.strip(), validate=True).decode() if value else ""
        except (binascii.Error, UnicodeError):
            raise DavError(412, f"invalid Upload-Metadata value for {key!r}") from None
    return out


def _chunk_checksum(request: web.Request) -> tuple[str, str] | None:
    """`Upload-Checksum: <algo> <digest>` -> (algo, hex); the digest in base64 (tus) or hex (oCIS's
    acceptance suite sends `MD5 827ccb0e...`), the algorithm in any case."""
    value = request.headers.get("Upload-Checksum")
    if not value:
        return None
    algo, _, digest = value.strip().partition(" ")
    if algo.lower() not in TUS_CHECKSUMS.split(","):
        raise BadRequest("unsupported Upload-Checksum algorithm")
    hex_digest = digest_hex(algo, digest)
    if hex_digest is None:
        raise BadRequest("invalid Upload-Checksum value")
    return algo.lower(), hex_digest


def _file_checksum(meta: dict[str, str]) -> tuple[str, str] | None:
    algo, _, value = meta.get("checksum", "").strip().partition(" ")
    if algo.lower() in ("sha1", "md5", "adler32") and value.strip():
        return algo.lower(), digest_hex(algo, value) or value.strip().lower()
    return None


def _mtime(request: web.Request, meta: dict[str, str]) -> float | None:
    raw = meta.get("mtime") or request.headers.get("X-OC-Mtime")
    if not raw:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        raise BadRequest("invalid mtime") from None
    if not 0 <= value < 1e11:
        raise BadRequest("mtime is out of range")
    return value


def _offset_header(request: web.Request, name: str) -> int:
    raw = request.headers.get(name, "").strip()
    if not raw.isdigit():
        raise DavError(412 if name == "Upload-Length" else 400, f"missing or invalid {name}")
    return int(raw)


def _require_tus(request: web.Request) -> None:
    if request.headers.get("Tus-Resumable", "").strip() != TUS_VERSION:
        raise DavError(412, "Tus-Resumable 1.0.0 is required", headers=dict(TUS_HEADERS))


async def _body(request: web.Request) -> AsyncIterator[bytes]:
    async for chunk in request.content.iter_any():   # as received: no re-chunking copies
        yield chunk


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield b""  # pragma: no cover - makes this an async generator


def _base_headers(session: UploadSession) -> dict[str, str]:
    return {"Tus-Resumable": TUS_VERSION, "Upload-Offset": str(session.offset),
            "Upload-Expires": http_date(session.expires), "Cache-Control": "no-store",
            "Access-Control-Expose-Headers": _EXPOSE}


def _final_headers(node: Node, access: Access) -> dict[str, str]:
    etag = f'"{node.etag}"'
    return {"ETag": etag, "OC-ETag": etag, "OC-FileId": node.resource_id,
            "OC-Perm": access.webdav_permissions(is_dir=False),
            "Last-Modified": http_date(node.mtime), "X-OC-Mtime": "accepted"}


# --- creation: POST on a DAV folder -------------------------------------------------------

def _file_target(target: DavTarget, filename: str) -> DavTarget:
    """The upload's own target: `filename` below the request folder, or — starting with `/` —
    below the DAV root (owncloudcmd sends the path relative to the root, client-notes.md §2)."""
    try:
        parts = split_path(filename, encoded=False)
    except InvalidName:
        raise DavError(412, "invalid filename in Upload-Metadata") from None
    if not parts or not parts[-1].strip():      # reva ValidateName: a blank name is refused
        raise DavError(412, "invalid filename in Upload-Metadata")
    return target.with_rel(parts if filename.startswith("/") else target.rel + parts)


async def _append(request: web.Request, session: UploadSession, offset: int,
                  body: AsyncIterator[bytes], length: int | None
                  ) -> tuple[UploadSession, UploadResult | None]:
    try:
        return await storage_of(request).append_upload(
            session.id, offset, body, length=length, chunk_checksum=_chunk_checksum(request))
    except ChecksumMismatch:   # oCIS answers 406 (coreApiWebdavUploadTUS/checksums.feature)
        raise DavError(406, "Checksum Mismatch", headers={"Tus-Resumable": TUS_VERSION}) from None


async def handle_post(request: web.Request) -> web.StreamResponse:
    """TUS creation (and creation-with-upload) on any WebDAV flavour's folder URL."""
    _require_tus(request)
    length = _offset_header(request, "Upload-Length")
    target = await request_target(request)
    meta = parse_metadata(request.headers.get("Upload-Metadata", ""))
    if not meta.get("filename"):
        raise DavError(412, "Upload-Metadata needs a filename")
    storage = storage_of(request)
    try:
        folder = await storage.lookup(target.space_id, target.path)
    except NotFound:
        raise DavError(412, "the folder does not exist") from None
    if not folder.is_dir:
        raise DavError(412, "uploads are created in a folder")
    file_target = _file_target(target, meta["filename"])
    target.access.require_write()
    try:
        existing: Node | None = await storage.lookup(file_target.space_id, file_target.path)
    except NotFound:
        existing = None
    if existing is not None and existing.is_dir:
        raise Conflict("a folder exists at this path")
    await check_locks(request, file_target, membership=existing is None,
                      exists=existing is not None)
    ctx = request.app[CONTEXT_KEY]
    expires_in = getattr(ctx.config, "upload_expiration", None) or DEFAULT_EXPIRATION
    try:
        session = await storage.create_upload(
            file_target.space_id, file_target.path, size=length, user_id=user_of(request).id,
            mtime=_mtime(request, meta), checksum=_file_checksum(meta),
            if_match=request.headers.get("If-Match"), expires_in=float(expires_in))
    except Conflict as exc:   # parent missing (reva: InitiateFileUpload NOT_FOUND) -> 412
        raise DavError(412, exc.message) from None
    STATS["create"] += 1
    token = sign_token(_secret(ctx.config), session.id, session.user_id, session.expires)
    location = f"{ctx.public_url}{DATA_MOUNT}/{token}"
    with_body = request.content_type == OFFSET_TYPE and request.body_exists
    result: UploadResult | None = None
    if length == 0 or with_body:
        body = _body(request) if with_body else _nothing()
        session, result = await _append(request, session, 0, body,
                                        request.content_length if with_body else 0)
    headers = _base_headers(session)
    headers["Location"] = "" if length == 0 else location
    if result is not None:
        STATS["finished"] += 1
        headers.update(_final_headers(result.node, target.access))
    return web.Response(status=201, headers=headers)


# --- the data gateway: /data/<token> -----------------------------------------------------

async def _session_of(request: web.Request, token: str) -> UploadSession:
    ctx = request.app[CONTEXT_KEY]
    upload_id, user_id = verify_token(_secret(ctx.config), token)
    session = await ctx.storage.get_upload(upload_id)
    if session.user_id != user_id:
        raise NotFound("upload session not found")
    return session


async def _access(request: web.Request, session: UploadSession) -> Access:
    """The uploader's access where the upload lands, checked again on every PATCH: the space
    grant (membership, own or through a group), else the shares covering the file (an update)
    or its folder (a new file in a folder shared with them)."""
    ctx = request.app[CONTEXT_KEY]
    user = await ctx.users.get(session.user_id)
    try:
        return await member_access(ctx.storage, ctx.users, user, session.space_id)
    except NotFound:
        pass
    parts = tuple(session.path)
    try:
        node = await ctx.storage.lookup(session.space_id, parts)
    except NotFound:
        node = await ctx.storage.lookup(session.space_id, parts[:-1])
    return await node_access(ctx.storage, ctx.users, user, node)


async def handle_data(request: web.Request) -> web.StreamResponse:
    method = request.method
    if method == "POST":
        override = request.headers.get("X-HTTP-Method-Override", "").strip().upper()
        if override not in ("PATCH", "DELETE"):
            raise DavError(405, "POST needs X-HTTP-Method-Override: PATCH or DELETE")
        method = override
    if method == "OPTIONS":
        return web.Response(status=204, headers={**TUS_HEADERS,
                                                  "Access-Control-Expose-Headers": _EXPOSE})
    token = request.match_info.get("tail", "").strip("/")
    if method not in ("HEAD", "PATCH", "DELETE"):
        raise DavError(405, f"{method} is not supported here",
                       headers={"Allow": "OPTIONS, HEAD, PATCH, DELETE, POST"})
    _require_tus(request)
    session = await _session_of(request, token)
    if method == "HEAD":
        STATS["head"] += 1
        return web.Response(status=200, headers={**_base_headers(session),
                                                  "Upload-Length": str(session.size)})
    if method == "DELETE":
        STATS["delete"] += 1
        await storage_of(request).delete_upload(session.id)
        return web.Response(status=204, headers={"Tus-Resumable": TUS_VERSION})
    return await _patch(request, session)


async def _patch(request: web.Request, session: UploadSession) -> web.StreamResponse:
    if request.content_type != OFFSET_TYPE:
        raise UnsupportedMediaType(f"PATCH needs Content-Type: {OFFSET_TYPE}")
    offset = _offset_header(request, "Upload-Offset")
    access = await _access(request, session)
    access.require_write()
    STATS["patch"] += 1
    session, result = await _append(request, session, offset, _body(request),
                                    request.content_length)
    headers = _base_headers(session)
    if result is not None:
        STATS["finished"] += 1
        headers.update(_final_headers(result.node, access))
    return web.Response(status=204, headers=headers)


def add_data_routes(app: web.Application) -> None:
    """The `/data` mount: every method on `/data/<token>` goes to `handle_data`."""
    app.router.add_route("*", "/{tail:[\\s\\S]*}", handle_data)
