"""WebDAV on the spaces endpoint: `/remote.php/dav/spaces/<drive id>/<path>` (protocol-notes.md §4).

Paths given to this module are space-relative (`/docs/a.txt`); this module alone knows the URL layout,
the PROPFIND XML and the transfer headers (OC-Checksum, X-OC-Mtime).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote, unquote, urlsplit

from defusedxml import ElementTree  # type: ignore[import-untyped]

from ocis_cli.client.errors import AuthError, IntegrityError, NotFound, ServerError
from ocis_cli.client.http import HttpClient
from ocis_cli.client.models import Resource

CHUNK = 256 * 1024
_D = "{DAV:}"
_OC = "{http://owncloud.org/ns}"
_PROPFIND_BODY = (
    b'<?xml version="1.0" encoding="utf-8"?>'
    b'<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop>'
    b"<d:resourcetype/><d:getcontentlength/><d:getlastmodified/><d:getetag/><d:getcontenttype/>"
    b"<oc:id/><oc:fileid/><oc:name/><oc:size/><oc:permissions/><oc:checksums/><oc:share-types/>"
    b"</d:prop></d:propfind>"
)

SEARCH_PAGE = 1000        # the most the server answers per REPORT (ocdav report.py MAX_LIMIT)

Progress = Callable[[int], None]


def split_path(path: str) -> list[str]:
    """The non-empty segments of a space-relative path; `.` and `..` are refused, not resolved."""
    segments = [s for s in path.split("/") if s]
    for seg in segments:
        if seg in (".", ".."):
            raise ValueError(f"path segments '.' and '..' are not allowed: {path}")
    return segments


def dav_path(space_id: str, path: str) -> str:
    """The quoted server path of a resource in a space."""
    quoted = "/".join(quote(seg, safe="") for seg in split_path(path))
    return f"/remote.php/dav/spaces/{quote(space_id, safe='')}/{quoted}"


def sha1_of_file(local: Path) -> str:
    """Hex SHA1 of a local file (blocking: call in a thread)."""
    digest = hashlib.sha1()
    with local.open("rb") as fh:
        while chunk := fh.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def checksum_from_header(value: str | None, algorithm: str = "SHA1") -> str | None:
    """The hex digest for `algorithm` in an `OC-Checksum`/`oc:checksums` value (`SHA1:ab MD5:cd`)."""
    for token in (value or "").replace(",", " ").split():
        algo, _, digest = token.partition(":")
        if algo.upper() == algorithm and digest:
            return digest.lower()
    return None


@dataclass(frozen=True, slots=True)
class Download:
    size: int
    sha1: str
    server_sha1: str | None
    last_modified: datetime | None


class WebDav:
    """The WebDAV operations the CLI and TUI need, on one space at a time."""

    def __init__(self, http: HttpClient) -> None:
        self.http = http

    def _path(self, space_id: str, path: str) -> str:
        """The server path of a resource, or for a remote space registered by URL (`ocis remote
        add`) the absolute URL below it on the other server, opened with the user's own OIDC
        token: a password is never sent there, so a Basic sign-in cannot use it."""
        remote = self.http.remote_spaces.get(space_id)
        if remote is None:
            return dav_path(space_id, path)
        if self.http.bearer is None:
            raise AuthError(f"{remote} is on another server: sign in with `ocis login` (OpenID "
                            "Connect) to use it, a password is never sent there")
        return remote + "/".join(quote(seg, safe="") for seg in split_path(path))

    async def propfind(self, space_id: str, path: str, *, depth: int = 1) -> list[Resource]:
        """The resource at `path` first, then (depth 1) its children."""
        _, _, body = await self.http.request(
            "PROPFIND", self._path(space_id, path), data=_PROPFIND_BODY,
            headers={"Depth": str(depth), "Content-Type": "application/xml; charset=utf-8"})
        return parse_multistatus(body)

    async def search(self, space_id: str, path: str, pattern: str, *, limit: int = 100,
                     offset: int = 0) -> tuple[list[Resource], int]:
        """Names matching `pattern` below `path` (REPORT oc:search-files), ordered by path, at
        most `limit` of them from `offset` on (several pages if need be), and how many matched."""
        found: list[Resource] = []
        total = 0
        while len(found) < limit:
            page = min(limit - len(found), SEARCH_PAGE)
            body = _search_body(pattern, page, offset + len(found))
            _, headers, data = await self.http.request(
                "REPORT", self._path(space_id, path), data=body,
                headers={"Content-Type": "application/xml; charset=utf-8"})
            batch = parse_multistatus(data)
            total = _rows_total(headers.get("Content-Range"), len(found) + len(batch))
            found.extend(batch)
            if len(batch) < page:
                break
        return found, total

    async def thumbnail(self, space_id: str, path: str, *, width: int, height: int,
                        processor: str = "fit", limit: int = 8 * 1024 * 1024) -> bytes:
        """A thumbnail of the file (oCIS `?preview=1&x=&y=&processor=`): PNG, JPEG or GIF bytes
        at most the closest server resolution to width x height; NotFound when it has none."""
        params = {"preview": "1", "x": str(width), "y": str(height), "processor": processor}
        async with self.http.stream("GET", self._path(space_id, path), params=params) as resp:
            data = await resp.content.read(limit + 1)
        if len(data) > limit:
            raise ServerError(f"{path}: the thumbnail is larger than {limit} bytes", status=200)
        return data

    async def stat(self, space_id: str, path: str) -> Resource:
        found = await self.propfind(space_id, path, depth=0)
        if not found:
            raise NotFound(f"{path}: not found", status=404)
        return found[0]

    async def exists(self, space_id: str, path: str) -> Resource | None:
        try:
            return await self.stat(space_id, path)
        except NotFound:
            return None

    async def mkcol(self, space_id: str, path: str) -> None:
        await self.http.request("MKCOL", self._path(space_id, path))

    async def delete(self, space_id: str, path: str) -> None:
        await self.http.request("DELETE", self._path(space_id, path))

    async def move(self, space_id: str, src: str, dst_space_id: str, dst: str, *,
                   overwrite: bool = True) -> int:
        return await self._relocate("MOVE", space_id, src, dst_space_id, dst, overwrite)

    async def copy(self, space_id: str, src: str, dst_space_id: str, dst: str, *,
                   overwrite: bool = True) -> int:
        return await self._relocate("COPY", space_id, src, dst_space_id, dst, overwrite)

    async def _relocate(self, method: str, space_id: str, src: str, dst_space_id: str, dst: str,
                        overwrite: bool) -> int:
        headers = {"Destination": self.http.url(self._path(dst_space_id, dst)),
                   "Overwrite": "T" if overwrite else "F"}
        status, _, _ = await self.http.request(method, self._path(space_id, src), headers=headers)
        return status

    async def upload(self, space_id: str, path: str, local: Path, *, sha1: str, mtime: int,
                     progress: Progress | None = None) -> dict[str, str]:
        """PUT a local file, streamed; the server verifies `sha1`. Returns the answer's headers."""
        size = local.stat().st_size
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size),
                   "OC-Checksum": f"SHA1:{sha1}", "X-OC-Mtime": str(mtime)}
        _, resp_headers, _ = await self.http.request(
            "PUT", self._path(space_id, path), headers=headers, data=_file_chunks(local, progress))
        return {k: v for k, v in resp_headers.items()}

    async def download(self, space_id: str, path: str, sink: BinaryIO, *,
                       progress: Progress | None = None) -> Download:
        """GET a file into `sink`, hashing as it streams; the caller decides what a mismatch means."""
        digest = hashlib.sha1()
        size = 0
        async with self.http.stream("GET", self._path(space_id, path)) as resp:
            server_sha1 = checksum_from_header(resp.headers.get("OC-Checksum"))
            last_modified = parse_http_date(resp.headers.get("Last-Modified"))
            async for chunk in resp.content.iter_chunked(CHUNK):
                digest.update(chunk)
                await asyncio.to_thread(sink.write, chunk)
                size += len(chunk)
                if progress:
                    progress(len(chunk))
        return Download(size=size, sha1=digest.hexdigest(), server_sha1=server_sha1,
                        last_modified=last_modified)


def verify_download(result: Download, what: str) -> None:
    """Raise IntegrityError when the server announced a SHA1 that the bytes do not match."""
    if result.server_sha1 and result.server_sha1 != result.sha1:
        raise IntegrityError(f"{what}: checksum mismatch (server SHA1 {result.server_sha1}, "
                             f"received {result.sha1})")


async def _file_chunks(local: Path, progress: Progress | None) -> AsyncIterator[bytes]:
    with local.open("rb") as fh:
        while chunk := await asyncio.to_thread(fh.read, CHUNK):
            if progress:
                progress(len(chunk))
            yield chunk


def parse_http_date(value: str | None) -> datetime | None:
    """An HTTP date (Last-Modified, getlastmodified) as an aware datetime; None when absent or bad."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _space_relative(href: str) -> str:
    """`/remote.php/dav/spaces/<id>/a/b` (any quoting, absolute or not) -> `/a/b`."""
    path = unquote(urlsplit(href).path)
    marker = "/dav/spaces/"
    at = path.find(marker)
    if at < 0:
        return path
    rest = path[at + len(marker):]
    _, _, inner = rest.partition("/")
    return "/" + inner.strip("/")


def _search_body(pattern: str, limit: int, offset: int) -> bytes:
    escaped = pattern.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    props = _PROPFIND_BODY.split(b"<d:prop>", 1)[1].split(b"</d:prop>", 1)[0]
    return (b'<?xml version="1.0" encoding="utf-8"?>'
            b'<oc:search-files xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop>' + props
            + b"</d:prop><oc:search><oc:pattern>" + escaped.encode() + b"</oc:pattern>"
            + f"<oc:limit>{limit}</oc:limit><oc:offset>{offset}</oc:offset>".encode()
            + b"</oc:search></oc:search-files>")


def _rows_total(content_range: str | None, seen: int) -> int:
    """The total of `Content-Range: rows 0-9/42` (or `rows */42`); `seen` without one."""
    _, _, total = (content_range or "").rpartition("/")
    return int(total) if total.strip().isdigit() else seen


def parse_multistatus(body: bytes) -> list[Resource]:
    """Resources from a 207 multistatus body, in document order."""
    try:
        root = ElementTree.fromstring(body)
    except Exception as exc:
        raise ServerError("the server sent an unreadable PROPFIND answer", status=207) from exc
    return [_resource(resp) for resp in root.iter(f"{_D}response")]


def _resource(resp: ElementTree.Element) -> Resource:
    path = _space_relative(resp.findtext(f"{_D}href") or "/")
    props: dict[str, ElementTree.Element] = {}
    for propstat in resp.iter(f"{_D}propstat"):
        if " 200 " in (propstat.findtext(f"{_D}status") or "") + " ":
            for prop in propstat.iter(f"{_D}prop"):
                for child in prop:
                    props[child.tag] = child

    def text(tag: str) -> str:
        el = props.get(tag)
        return (el.text or "").strip() if el is not None else ""

    resourcetype = props.get(f"{_D}resourcetype")
    is_folder = resourcetype is not None and resourcetype.find(f"{_D}collection") is not None
    size_text = text(f"{_OC}size") or text(f"{_D}getcontentlength") or "0"
    checksums = props.get(f"{_OC}checksums")
    checksum_text = " ".join(t.strip() for t in checksums.itertext()) if checksums is not None else ""
    shares = props.get(f"{_OC}share-types")
    share_types = tuple(sorted({int(t.text.strip()) for t in shares.iter(f"{_OC}share-type")
                                if t.text and t.text.strip().isdigit()})) if shares is not None else ()
    return Resource(
        path=path,
        name=text(f"{_OC}name") or (path.rsplit("/", 1)[-1] if path != "/" else "/"),
        is_folder=is_folder,
        size=int(size_text) if size_text.isdigit() else 0,
        mtime=parse_http_date(text(f"{_D}getlastmodified")),
        etag=text(f"{_D}getetag"),
        id=text(f"{_OC}fileid") or text(f"{_OC}id"),
        permissions=text(f"{_OC}permissions"),
        content_type=text(f"{_D}getcontenttype"),
        checksums=checksum_text,
        share_types=share_types,
    )
