"""REPORT on the file namespaces (reva ocdav report.go, oCIS webdav search.go):
`oc:filter-files` with `<oc:favorite>1</oc:favorite>` lists the favourites, `oc:search-files`
finds names matching `oc:pattern` (paged by `oc:offset`/`oc:limit`; `Content-Range: rows
first-last/total` tells the total). Both are answered from the storage's indexes
(`storage.search_names`, `storage.favorites`), scoped to the request path, which the caller may
read (a Denied share below it already refuses the request path itself). The body of each match
is the PROPFIND rendering of the properties asked for (`d:prop`; none = allprop).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from xml.etree.ElementTree import Element

from aiohttp import web

from ocis_server.domain.errors import BadRequest, NotSupported
from ocis_server.storage import Node, SearchPage

from .config import CONTEXT_KEY
from .namespaces import DavTarget, config_of, request_target, storage_of, user_of
from .propfind import (
    ALLPROP,
    PropSpec,
    RenderContext,
    _load_dead,
    _needs,
    _owner_names,
    _response,
    _specs,
)
from .xml import CONTENT_TYPE, NS_DAV, NS_OC, ROOT_XMLNS, XML_DECL, QName, is_tag, qname, read_xml

DEFAULT_LIMIT = 200       # matches per page when the client names no limit
MAX_LIMIT = 1000          # a larger limit is cut to this (the total is still reported)


@dataclass(frozen=True, slots=True)
class ReportQuery:
    kind: str                      # favorites | search
    names: tuple[QName, ...]       # empty: allprop
    pattern: str = ""
    offset: int = 0
    limit: int = DEFAULT_LIMIT


def parse_report(body: Element | None) -> ReportQuery:
    if body is None:
        raise BadRequest("REPORT needs a body: oc:filter-files or oc:search-files")
    names = tuple(qname(el.tag) for el in body.iterfind("{DAV:}prop/*") if isinstance(el.tag, str))
    if is_tag(body, NS_OC, "filter-files"):
        rules = body.find(f"{{{NS_OC}}}filter-rules")
        favorite = None if rules is None else rules.find(f"{{{NS_OC}}}favorite")
        if favorite is None or "".join(favorite.itertext()).strip() != "1":
            raise BadRequest("oc:filter-files needs oc:filter-rules with oc:favorite 1")
        return ReportQuery("favorites", names)
    if is_tag(body, NS_OC, "search-files"):
        search = body.find(f"{{{NS_OC}}}search")
        if search is None:
            raise BadRequest("oc:search-files needs oc:search")
        pattern = _text(search, "pattern")
        if not pattern:
            raise BadRequest("oc:search needs a non-empty oc:pattern")
        offset = _number(search, "offset", 0)
        limit = _number(search, "limit", DEFAULT_LIMIT) or DEFAULT_LIMIT
        return ReportQuery("search", names, pattern, offset, min(limit, MAX_LIMIT))
    if is_tag(body, NS_DAV, "sync-collection") or is_tag(body, NS_OC, "search-query"):
        raise NotSupported("this REPORT is not supported")
    raise BadRequest("unknown REPORT body: expected oc:filter-files or oc:search-files")


def _text(parent: Element, local: str) -> str:
    el = parent.find(f"{{{NS_OC}}}{local}")
    return "" if el is None else "".join(el.itertext()).strip()


def _number(parent: Element, local: str, default: int) -> int:
    text = _text(parent, local)
    if not text:
        return default
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise BadRequest(f"oc:{local} must be a non-negative integer")
    return int(text)


async def handle_report(request: web.Request) -> web.StreamResponse:
    target = await request_target(request)
    conf = config_of(request)
    query = parse_report(await read_xml(request, conf))
    if target.public:
        raise NotSupported("REPORT is not available through public links")
    if target.jail is not None:
        raise NotSupported("REPORT on the share jail root is not supported; search a share")
    storage = storage_of(request)
    await storage.lookup(target.space_id, target.path)    # the scope must exist (else 404)
    if query.kind == "favorites":
        page = await storage.favorites(target.space_id, target.path,
                                       user_id=user_of(request).id)
    else:
        page = await storage.search_names(target.space_id, target.path, query.pattern,
                                          offset=query.offset, limit=query.limit)
    ctx = request.app[CONTEXT_KEY]
    owner = await _owner_names(ctx, target)
    rc = RenderContext(target, owner[0], owner[1], ctx.public_url)
    rc.user_id = user_of(request).id
    wanted = query.names or ALLPROP
    specs = list(_specs(wanted))
    if not query.names or _needs(wanted)[0]:
        await _load_dead(storage, rc, [node for node, _ in page.hits])
    body = "".join(_multistatus(target, page, specs, rc, "prop" if query.names else "allprop"))
    headers = {"Content-Type": CONTENT_TYPE}
    if query.kind == "search":
        last = query.offset + len(page.hits) - 1
        headers["Content-Range"] = (f"rows {query.offset}-{last}/{page.total}" if page.hits
                                    else f"rows */{page.total}")
    return web.Response(status=207, body=body.encode(), headers=headers)


def _multistatus(target: DavTarget, page: SearchPage, specs: list[PropSpec], rc: RenderContext,
                 mode: str) -> Iterator[str]:
    yield XML_DECL.decode() + f"<d:multistatus {ROOT_XMLNS}>"
    for node, path in page.hits:
        href = _href(target, node, path)
        if href is not None:
            yield _response(href, node, path, specs, rc, mode, False)
    yield "</d:multistatus>"


def _href(target: DavTarget, node: Node, path: tuple[str, ...]) -> str | None:
    return target.href_of(path, is_dir=node.is_dir)
