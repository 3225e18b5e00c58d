"""`/[remote.php/]dav/public-files/<token>/…`: WebDAV on a public link (protocol-notes.md §4, §7).

The token names the link and scopes every path to the linked resource's tree; a password comes
as HTTP Basic `public:<password>` (throttled per token), or, for reading, as the link signature
`oc:downloadURL` carries (`?signature=&expiration=`, auth/linksignature.py). Each method needs the link's bits (view:
read; upload: read + create; edit: all but share; file drop: create only, no listing, names made
unique "name (2).ext"), then the ordinary ocdav handler runs on the resolved target, acting as
the link's creator. The link is read on every request: a deleted link or new password holds at once.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from urllib.parse import quote

from aiohttp import web
from multidict import CIMultiDict

from ocis_server.auth import linksignature, publiclink
from ocis_server.auth.throttle import client_address
from ocis_server.domain import roles
from ocis_server.domain.errors import NotFound, PermissionDenied
from ocis_server.domain.paths import split_path
from ocis_server.storage import Link, Node

from .config import CONTEXT_KEY
from .errors import DavError, method_handler
from .namespaces import DESTINATION_KEY, TARGET_KEY, DavTarget
from .scoped import (
    Handler,
    TokenRoots,
    authorize_bits,
    existing,
    need,
    shared_path,
    upload_name,
)

PUBLIC = TokenRoots(("/remote.php/dav/public-files/", "/dav/public-files/"),
                    missing="no public link at this path",
                    outside="the destination is outside this link",
                    challenge='Basic realm="public link", charset="UTF-8"')
PASSWORDS_KEY = web.AppKey("ocdav_link_passwords", publiclink.LinkPasswords)


def is_public_path(raw: str) -> bool:
    return PUBLIC.owns(raw)


async def resolve_public(request: web.Request, raw: str) -> tuple[DavTarget, Link, Node]:
    """The link of a public-files URL, its password checked, and the target inside it."""
    ctx = request.app[CONTEXT_KEY]
    root_href, token, tail = PUBLIC.split(raw)
    rel = split_path(tail)
    try:
        link, node = await publiclink.open_link(ctx.storage, token)
    except NotFound:
        raise NotFound("link not found") from None
    if not linksignature.verify(link, request.query, request.method):
        password = publiclink.basic_password(request.headers.get("Authorization"))
        address = client_address(request, ctx.config.trusted_proxies)
        await request.app[PASSWORDS_KEY].check(link, password, address=address)
    access = await publiclink.link_access(ctx.storage, link)
    base, rel = await shared_path(ctx, node, rel)
    return DavTarget(access, base, rel, root_href, raw, public=True,
                     signature=linksignature.issue(link)), link, node


async def _unique_name(request: web.Request, target: DavTarget) -> DavTarget:
    """A file drop never overwrites: `name.ext` taken -> `name (2).ext`, `name (3).ext`, …"""
    if await existing(request, target) is None:
        return target
    name = target.rel[-1]
    stem, dot, ext = name.rpartition(".")
    if not stem:
        stem, dot, ext = name, "", ""
    n = 2
    while True:
        candidate = target.with_rel(target.rel[:-1] + (f"{stem} ({n}){dot}{ext}",))
        if await existing(request, candidate) is None:
            return candidate
        n += 1


async def _authorize(request: web.Request, target: DavTarget, link: Link) -> DavTarget:
    """Check the method against the link's bits; a file drop PUT gets a free name."""
    bits, method = link.permissions, request.method
    if link.link_type == "file-drop":
        if method == "PROPFIND" and not target.rel:
            return target                      # the drop folder itself, never its contents
        if method == "PUT" and len(target.rel) == 1:
            need(bits, roles.CREATE)
            return await _unique_name(request, target)
        if method == "POST" and not target.rel:      # TUS: _drop_tus already chose the name
            need(bits, roles.CREATE)
            return target
        raise PermissionDenied("a file drop only accepts new files")
    await authorize_bits(request, target, bits)
    return target


async def _destination(request: web.Request, link: Link) -> DavTarget:
    """A MOVE/COPY stays inside the same link onto a folder; replacing needs the update bit."""
    target, _, node = await resolve_public(request, PUBLIC.destination(request, link.token))
    if not node.is_dir:
        raise PermissionDenied("a file link cannot be copied or moved onto")
    if await existing(request, target) is not None:
        need(link.permissions, roles.UPDATE)
    return target


async def _drop_tus(request: web.Request, target: DavTarget) -> web.Request:
    """A TUS creation into a file drop: the `filename` must be a plain name and is made unique
    the way PUT does (the request is re-issued with the chosen name in Upload-Metadata)."""
    name, parts = upload_name(request)
    if len(parts) != 1 or "/" in name:
        raise PermissionDenied("a file drop only accepts files in its own folder")
    chosen = (await _unique_name(request, target.with_rel(parts))).rel[-1]
    header = request.headers.get("Upload-Metadata", "")
    items = [item for item in header.split(",")
             if item.strip() and item.strip().partition(" ")[0] != "filename"]
    items.append("filename " + base64.b64encode(chosen.encode()).decode())
    headers = CIMultiDict(request.headers)
    headers["Upload-Metadata"] = ",".join(items)
    return request.clone(headers=headers)


def _internal(request: web.Request, node: Node) -> web.StreamResponse:
    """An internal link grants nothing itself: a signed-in caller is sent to the resource's
    own URL, where their own access decides (oCIS: 307 to /dav/spaces/<resource id>)."""
    if request.get("principal") is None:
        raise DavError(401, "an internal link needs a signed-in user",
                       headers={"WWW-Authenticate": PUBLIC.challenge})
    location = "/dav/spaces/" + quote(node.resource_id, safe="$!")
    return web.Response(status=307, headers={"Location": location})


async def handle_public(request: web.Request, methods: Mapping[str, Handler]) -> web.StreamResponse:
    """Resolve and authorize a public-files request, then run the method's ocdav handler."""
    handler = method_handler(request, methods)
    if request.method == "OPTIONS":
        return await handler(request)
    target, link, node = await PUBLIC.resolve(request, resolve_public)
    if link.link_type == "internal":
        return _internal(request, node)
    if link.link_type == "file-drop" and request.method == "PROPFIND":
        headers = CIMultiDict(request.headers)
        headers["Depth"] = "0"
        request = request.clone(headers=headers)
    elif link.link_type == "file-drop" and request.method == "POST" and not target.rel:
        request = await _drop_tus(request, target)
    target = await _authorize(request, target, link)
    ctx = request.app[CONTEXT_KEY]
    try:
        creator = await ctx.users.get(link.creator_id)
    except NotFound:
        raise NotFound("link not found") from None
    if request.method in ("MOVE", "COPY"):
        request[DESTINATION_KEY] = await _destination(request, link)
    request[TARGET_KEY] = target
    request["principal"] = creator       # the link acts for its creator (reva public scope)
    return await handler(request)
