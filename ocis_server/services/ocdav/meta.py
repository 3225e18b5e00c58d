"""PROPFIND `/[remote.php/]dav/meta/<fileid>` (reva ocdav meta.go handlePathForUser): where a
file id lies for the caller, as `oc:meta-path-for-user`, with `oc:id`. Private links (`/f/<id>`)
and the apps resolve ids this way. An id the caller cannot reach (no space membership, no share)
is 404 exactly like an unknown one, so the answer leaks nothing about existence. The versions
below it (`/meta/<fileid>/v`) stay in versions.py.
"""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from ocis_server.auth.authz import node_access
from ocis_server.domain.errors import BadRequest, NotFound
from ocis_server.domain.ids import ResourceId
from ocis_server.domain.paths import decode_segment

from .config import CONTEXT_KEY
from .errors import DavError
from .namespaces import config_of, storage_of, strip_query, user_of
from .propfind import parse_request
from .versions import META_ROOTS
from .xml import (
    CONTENT_TYPE,
    NS_OC,
    ROOT_XMLNS,
    XML_DECL,
    QName,
    esc,
    parse_body,
    read_body,
    response_xml,
)

PATH_FOR_USER = (NS_OC, "meta-path-for-user")
_ALLPROP: tuple[QName, ...] = (PATH_FOR_USER, (NS_OC, "id"))


def is_meta_node_path(raw: str) -> bool:
    """`/meta/<fileid>` itself (with or without a trailing slash), not the versions below it."""
    path = strip_query(raw)
    root = next((r for r in META_ROOTS if path.startswith(r)), None)
    if root is None:
        return False
    segment, _, rest = path[len(root):].partition("/")
    return bool(segment) and not rest


async def handle_meta_node(request: web.Request) -> web.StreamResponse:
    if request.method != "PROPFIND":
        raise DavError(405, f"{request.method} is not supported here", headers={"Allow": "PROPFIND"})
    path = strip_query(request.raw_path)
    root = next(r for r in META_ROOTS if path.startswith(r))
    segment = path[len(root):].rstrip("/")
    user = user_of(request)
    conf = config_of(request)
    mode, names = parse_request(parse_body(await read_body(request, conf),
                                           max_depth=conf.max_xml_depth))
    ctx = request.app[CONTEXT_KEY]
    storage = storage_of(request)
    try:
        rid = ResourceId.parse(decode_segment(segment))
    except BadRequest:
        raise NotFound("resource not found") from None
    if not rid.node_id or (rid.storage_id and rid.storage_id != storage.storage_id):
        raise NotFound("resource not found")
    node = await storage.get_node(rid.node_id)
    if node.space_id != rid.space_id:
        raise NotFound("resource not found")
    access = await node_access(storage, ctx.users, user, node)   # NotFound when unreachable
    full = tuple(await storage.node_path(node))
    if access.share is not None:
        # reached through a share: the path starts at the shared node (its name first)
        shared = await storage.get_node(access.share.node_id)
        start = len(await storage.node_path(shared)) - 1
        full = full[max(start, 0):]
    values = {PATH_FOR_USER: esc("/" + "/".join(full)), (NS_OC, "id"): node.resource_id}
    wanted = tuple(names) if mode == "prop" else _ALLPROP
    href = f"{root}{quote(decode_segment(segment), safe='$!')}/"
    body = (XML_DECL.decode() + f"<d:multistatus {ROOT_XMLNS}>"
            + response_xml(href, ((name, values.get(name)) for name in wanted),
                           allprop=mode != "prop")
            + "</d:multistatus>")
    return web.Response(status=207, body=body.encode(), headers={"Content-Type": CONTENT_TYPE})
