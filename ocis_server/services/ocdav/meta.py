"""PROPFIND `/[remote.php/]dav/meta/<fileid>` (reva ocdav meta.go handlePathForUser): where a
file id lies for the caller, as `oc:meta-path-for-user`, with `oc:id`; and the `/meta` roots and
file id lookup that the versions below it (`/meta/<fileid>/v`, versions.py) share. Private links (`/f/<id>`)
and the apps resolve ids this way. An id the caller cannot reach (no space membership, no share)
is 404 exactly like an unknown one, so the answer leaks nothing about existence.
"""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from ocis_server.auth.authz import node_access
from ocis_server.domain.errors import BadRequest, NotFound
from ocis_server.domain.ids import ResourceId
from ocis_server.domain.paths import decode_segment
from ocis_server.storage import Node, Storage, knows_storage

from .config import CONTEXT_KEY
from .errors import DavError
from .namespaces import storage_of, strip_query, user_of
from .propfind import wanted_props
from .xml import CONTENT_TYPE, NS_OC, ROOT_XMLNS, XML_DECL, QName, esc, response_xml

META_ROOTS = ("/remote.php/dav/meta/", "/dav/meta/")
PATH_FOR_USER = (NS_OC, "meta-path-for-user")
_ALLPROP: tuple[QName, ...] = (PATH_FOR_USER, (NS_OC, "id"))


def split_meta(raw: str) -> tuple[str, str, str]:
    """(root, encoded file id, what follows it) of a `/meta` request path."""
    path = strip_query(raw)
    root = next((r for r in META_ROOTS if path.startswith(r)), None)
    if root is None:
        raise NotFound("no meta data at this path")
    segment, _, rest = path[len(root):].partition("/")
    return root, segment, rest


def is_meta_node_path(raw: str) -> bool:
    """`/meta/<fileid>` itself (with or without a trailing slash), not the versions below it."""
    try:
        _, segment, rest = split_meta(raw)
    except NotFound:
        return False
    return bool(segment) and not rest


async def node_of_id(storage: Storage, segment: str, *,
                     invalid: str = "resource not found") -> Node:
    """The node an encoded file id names in this storage; 404 for an id of another storage, an
    unknown node, or a node not in the id's space (`invalid`: the message for an unparsable id)."""
    try:
        rid = ResourceId.parse(decode_segment(segment))
    except BadRequest:
        raise NotFound(invalid) from None
    if not rid.node_id or not knows_storage(storage, rid.storage_id):
        raise NotFound("resource not found")
    node = await storage.get_node(rid.node_id)
    if node.space_id != rid.space_id:
        raise NotFound("resource not found")
    return node


async def handle_meta_node(request: web.Request) -> web.StreamResponse:
    if request.method != "PROPFIND":
        raise DavError(405, f"{request.method} is not supported here", headers={"Allow": "PROPFIND"})
    root, segment, _ = split_meta(request.raw_path)
    user = user_of(request)
    wanted, allprop = await wanted_props(request, _ALLPROP)
    ctx = request.app[CONTEXT_KEY]
    storage = storage_of(request)
    node = await node_of_id(storage, segment)
    access = await node_access(storage, ctx.users, user, node)   # NotFound when unreachable
    full = tuple(await storage.node_path(node))
    if access.share is not None:
        # reached through a share: the path starts at the shared node (its name first)
        shared = await storage.get_node(access.share.node_id)
        start = len(await storage.node_path(shared)) - 1
        full = full[max(start, 0):]
    values = {PATH_FOR_USER: esc("/" + "/".join(full)), (NS_OC, "id"): node.resource_id}
    href = f"{root}{quote(decode_segment(segment), safe='$!')}/"
    body = (XML_DECL.decode() + f"<d:multistatus {ROOT_XMLNS}>"
            + response_xml(href, ((name, values.get(name)) for name in wanted),
                           allprop=allprop)
            + "</d:multistatus>")
    return web.Response(status=207, body=body.encode(), headers={"Content-Type": CONTENT_TYPE})
