"""File versions over WebDAV (reva ocdav meta.go, versions.go): `/[remote.php/]dav/meta/<fileid>/v`
PROPFIND lists them, `/v/<key>` GET/HEAD downloads one, COPY `/v/<key>` restores it (204; the
Destination header is ignored, as in reva).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from aiohttp import web

from ocis_server.auth.authz import Access, space_access
from ocis_server.domain.errors import NotFound
from ocis_server.domain.paths import decode_segment
from ocis_server.services.downloads import DOWNLOAD_HEADERS, send_remote_blob
from ocis_server.storage import Node, Version

from .errors import DavError, method_handler
from .locking import SUBMITTED_KEY, check_locks, evaluate_if
from .meta import node_of_id, split_meta
from .namespaces import DavTarget, storage_of, user_of
from .propfind import flat_depth, http_date, mimetype, wanted_props
from .transfer import BlobResponse
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

_ALLPROP: tuple[QName, ...] = (
    (NS_DAV, "resourcetype"), (NS_DAV, "getetag"), (NS_DAV, "getcontentlength"),
    (NS_DAV, "getcontenttype"), (NS_DAV, "getlastmodified"), (NS_OC, "size"), (NS_OC, "checksums"))


@dataclass(frozen=True, slots=True)
class MetaTarget:
    access: Access
    node: Node
    versions_href: str        # the encoded `.../meta/<fileid>/v` as the client sent it
    key: str                  # "" for the versions collection


async def _target(request: web.Request) -> MetaTarget:
    root, segment, rest = split_meta(request.raw_path)
    parts = [p for p in rest.split("/") if p]
    if not segment or not parts or parts[0] != "v" or len(parts) > 2:
        raise NotFound("no meta data at this path")
    user = user_of(request)
    storage = storage_of(request)
    node = await node_of_id(storage, segment, invalid="invalid file id")
    access = await space_access(storage, user, node.space_id)
    key = decode_segment(parts[1]) if len(parts) == 2 else ""
    return MetaTarget(access, node, f"{root}{segment}/v", key)


async def handle_meta(request: web.Request) -> web.StreamResponse:
    return await method_handler(request, _METHODS, " on versions")(request)


async def _propfind(request: web.Request) -> web.StreamResponse:
    target = await _target(request)
    depth = flat_depth(request)
    wanted, allprop = await wanted_props(request, _ALLPROP)
    versions = await storage_of(request).list_versions(target.node.id)
    if target.key:
        versions = [v for v in versions if v.key == target.key]
        if not versions:
            raise NotFound("no such version")
    out = [XML_DECL.decode(), f"<d:multistatus {ROOT_XMLNS}>"]
    if not target.key:   # the version folder itself (reva adds this "." entry)
        out.append(_response(f"{target.versions_href}/", None, target.node, wanted, allprop))
    if depth != "0" or target.key:
        out.extend(_response(f"{target.versions_href}/{quote(v.key, safe='')}", v, target.node,
                             wanted, allprop) for v in versions)
    out.append("</d:multistatus>")
    return web.Response(status=207, body="".join(out).encode(), headers={
        "Content-Type": CONTENT_TYPE, "DAV": "1, 3, extended-mkcol", "Vary": "Prefer"})


def _value(version: Version | None, node: Node, name: QName) -> str | None:
    ns, local = name
    if version is None:   # the collection
        return "<d:collection/>" if name == (NS_DAV, "resourcetype") else None
    if ns == NS_DAV:
        match local:
            case "resourcetype":
                return ""
            case "getetag":
                return esc(f'"{version.etag}"')
            case "getcontentlength":
                return str(version.size)
            case "getcontenttype":
                return esc(mimetype(node.name))
            case "getlastmodified":
                return http_date(version.mtime)
    elif ns == NS_OC:
        match local:
            case "size":
                return str(version.size)
            case "checksums":
                sums = " ".join(f"{k}:{v}" for k, v in version.checksums.items())
                return f"<oc:checksum>{esc(sums)}</oc:checksum>" if sums else None
    return None


def _response(href: str, version: Version | None, node: Node, wanted: tuple[QName, ...],
              allprop: bool) -> str:
    return response_xml(href, ((name, _value(version, node, name)) for name in wanted),
                        allprop=allprop)


async def _get(request: web.Request) -> web.StreamResponse:
    target = await _target(request)
    if not target.key:
        raise DavError(405, "GET is not supported on the versions collection")
    storage = storage_of(request)
    version = next((v for v in await storage.list_versions(target.node.id)
                    if v.key == target.key), None)
    if version is None:
        raise NotFound("no such version")
    source = await storage.version_blob(target.node.id, target.key)
    shown = dataclasses.replace(target.node, size=version.size, mtime=version.mtime,
                                etag=version.etag, checksums=version.checksums)
    headers = {
        "Content-Type": mimetype(target.node.name),
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(target.node.name, safe='')}",
        "OC-ETag": f'"{version.etag}"',
        "Accept-Ranges": "bytes",
        **DOWNLOAD_HEADERS,
    }
    if "SHA1" in version.checksums:
        headers["OC-Checksum"] = f"SHA1:{version.checksums['SHA1']}"
    if version.size == 0:
        return web.Response(status=200, body=b"", headers={**headers, "ETag": f'"{version.etag}"'})
    if not isinstance(source, Path):     # a provider in another process: streamed through
        headers.update({"ETag": f'"{version.etag}"', "Last-Modified": http_date(version.mtime)})
        return await send_remote_blob(request, source, headers, request.headers.get("Range"))
    response = BlobResponse(shown, source, headers)
    await response.prepare(request)
    return response


async def _copy(request: web.Request) -> web.StreamResponse:
    """Restore a version (reva doRestore): 204, whatever Destination says."""
    target = await _target(request)
    if not target.key:
        raise DavError(405, "COPY needs a version key")
    target.access.require_write()
    storage = storage_of(request)
    # A locked file keeps its content: the lock holder must submit its token (If header),
    # evaluated against the file's spaces URL (the meta URL is no file namespace).
    path = tuple(await storage.node_path(target.node))
    root = f"/remote.php/dav/spaces/{quote(target.access.space.space_id, safe='')}"
    file_target = DavTarget(target.access, (), path, root,
                            root + "".join("/" + quote(n, safe="") for n in path))
    request[SUBMITTED_KEY] = await evaluate_if(request, file_target)
    await check_locks(request, file_target)
    await storage.restore_version(target.node.id, target.key)
    return web.Response(status=204)


async def _options(request: web.Request) -> web.StreamResponse:
    return web.Response(status=204, headers={"DAV": "1, 2", "Allow": ", ".join(_METHODS)})


_METHODS = {"OPTIONS": _options, "PROPFIND": _propfind, "GET": _get, "HEAD": _get, "COPY": _copy}
