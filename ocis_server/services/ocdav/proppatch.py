"""PROPPATCH: set and remove dead properties atomically (RFC 4918 §9.2). A protected live
property fails the whole request: 403 for it, 424 for every other property, nothing applied.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element

from aiohttp import web

from ocis_server.domain.errors import BadRequest

from .locking import check_locks
from .namespaces import config_of, principal_of, request_target, storage_of, user_of
from .propfind import PROTECTED
from .xml import (
    CONTENT_TYPE,
    NS_DAV,
    NS_OC,
    ROOT_XMLNS,
    XML_DECL,
    QName,
    esc,
    inner_xml,
    is_tag,
    prop_key,
    qname,
    read_xml,
    tags,
    text_of,
)

_STATUS = {200: "200 OK", 403: "403 Forbidden", 424: "424 Failed Dependency"}


async def handle_proppatch(request: web.Request) -> web.StreamResponse:
    target = await request_target(request)
    body = await read_xml(request, config_of(request))
    if body is None or not is_tag(body, NS_DAV, "propertyupdate"):
        raise BadRequest("PROPPATCH body must be a DAV:propertyupdate")
    operations = _operations(body)
    storage = storage_of(request)
    node = await storage.lookup(target.space_id, target.path)
    target.access.require_write()
    await check_locks(request, target)
    names = [name for name, _ in operations]
    # oc:favorite is a user's own flag: nobody to keep it for through a public link
    anonymous = target.public or principal_of(request) is None
    forbidden = {name for name in names
                 if name in PROTECTED or (anonymous and name == (NS_OC, "favorite"))}
    if forbidden:
        statuses = {name: 403 if name in forbidden else 424 for name in names}
    else:
        # Document order matters: a later set/remove of the same property wins.
        final: dict[str, str | None] = {}
        for name, value in operations:
            final[prop_key(name)] = value
        favorite = final.pop(prop_key((NS_OC, "favorite")), False)
        set_props = {k: v for k, v in final.items() if v is not None}
        remove = [k for k, v in final.items() if v is None]
        if set_props or remove:
            await storage.patch_props(node.id, set_props, remove)
        if favorite is not False:
            # the caller's own flag (oCIS keeps one per user), not a property others see
            await storage.set_favorite(user_of(request).id, node.id, favorite == "1")
        statuses = {name: 200 for name in names}
    href = target.self_href(is_dir=node.is_dir)
    return web.Response(status=207, body=_multistatus(href, statuses),
                        headers={"Content-Type": CONTENT_TYPE})


def _operations(body: Element) -> list[tuple[QName, str | None]]:
    """(name, value) in document order; value None means remove."""
    ops: list[tuple[QName, str | None]] = []
    for op in body:
        is_set = is_tag(op, NS_DAV, "set")
        if not is_set and not is_tag(op, NS_DAV, "remove"):
            continue
        for prop in op:
            if not is_tag(prop, NS_DAV, "prop"):
                continue
            for el in prop:
                name = qname(el.tag)
                if not is_set:
                    ops.append((name, None))
                elif name == (NS_OC, "favorite"):
                    ops.append((name, "1" if text_of(el) == "1" else "0"))
                else:
                    ops.append((name, inner_xml(el)))
    if not ops:
        raise BadRequest("PROPPATCH without properties")
    return ops


def _multistatus(href: str, statuses: dict[QName, int]) -> bytes:
    by_status: dict[int, list[str]] = {}
    for name, status in statuses.items():
        by_status.setdefault(status, []).append(tags(name)[2])
    propstats = "".join(
        f"<d:propstat><d:prop>{''.join(elements)}</d:prop>"
        f"<d:status>HTTP/1.1 {_STATUS[status]}</d:status></d:propstat>"
        for status, elements in by_status.items())
    return XML_DECL + (f"<d:multistatus {ROOT_XMLNS}><d:response><d:href>{esc(href)}</d:href>"
                       f"{propstats}</d:response></d:multistatus>").encode()
