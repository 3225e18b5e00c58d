"""`/[remote.php/]dav/public-files/<token>/…`: WebDAV on a public link (protocol-notes.md §4, §7).

The token names the link and scopes every path to the linked resource's tree; a password comes
as HTTP Basic `public:<password>` (throttled per token). Each method needs the link's bits (view:
read; upload: read + create; edit: all but share; file drop: create only, no listing, names made
unique "name (2).ext"), then the ordinary ocdav handler runs on the resolved target, acting as
the link's creator. The link is read on every request: a deleted link or new password holds at once.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Mapping
from urllib.parse import quote

from aiohttp import web
from multidict import CIMultiDict

from ocis_server.auth import publiclink
from ocis_server.auth.throttle import client_address
from ocis_server.domain import roles
from ocis_server.domain.errors import (
    BadGateway,
    InvalidName,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from ocis_server.domain.paths import split_path
from ocis_server.storage import Link, Node

from .config import CONTEXT_KEY
from .errors import DavError
from .namespaces import (
    DESTINATION_KEY,
    TARGET_KEY,
    DavTarget,
    destination_path,
    strip_query,
)
from .tus import parse_metadata

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PUBLIC_ROOTS = ("/remote.php/dav/public-files/", "/dav/public-files/")
PASSWORDS_KEY = web.AppKey("ocdav_link_passwords", publiclink.LinkPasswords)
CHALLENGE = 'Basic realm="public link", charset="UTF-8"'
_READ_METHODS = ("GET", "HEAD", "PROPFIND")
_UPDATE_METHODS = ("PROPPATCH", "LOCK", "UNLOCK")


def is_public_path(raw: str) -> bool:
    return raw.startswith(PUBLIC_ROOTS)


def _split(raw: str) -> tuple[str, str, str]:
    """(root href of the link, token, encoded tail) of a public-files path."""
    for root in PUBLIC_ROOTS:
        if raw.startswith(root):
            token, slash, tail = raw[len(root):].partition("/")
            if token:
                return root + token, token, slash + tail
    raise NotFound("no public link at this path")


async def resolve_public(request: web.Request, raw: str) -> tuple[DavTarget, Link, Node]:
    """The link of a public-files URL, its password checked, and the target inside it."""
    ctx = request.app[CONTEXT_KEY]
    root_href, token, tail = _split(raw)
    rel = split_path(tail)
    try:
        link, node = await publiclink.open_link(ctx.storage, token)
    except NotFound:
        raise NotFound("link not found") from None
    password = publiclink.basic_password(request.headers.get("Authorization"))
    address = client_address(request, ctx.config.trusted_proxies)
    await request.app[PASSWORDS_KEY].check(link, password, address=address)
    access = await publiclink.link_access(ctx.storage, link)
    if not node.is_dir:           # a file link: the token root and `<token>/<name>` are the file
        if rel not in ((), (node.name,)):
            raise NotFound("resource not found")
        rel = ()
    base = tuple(await ctx.storage.node_path(node))
    return DavTarget(access, base, rel, root_href, raw, public=True,
                     protected=link.password_hash is not None), link, node


async def _existing(request: web.Request, target: DavTarget) -> Node | None:
    try:
        return await request.app[CONTEXT_KEY].storage.lookup(target.space_id, target.path)
    except NotFound:
        return None


def _need(bits: int, wanted: int) -> None:
    if bits & wanted != wanted:
        raise PermissionDenied("the link or share does not allow this")


async def _unique_name(request: web.Request, target: DavTarget) -> DavTarget:
    """A file drop never overwrites: `name.ext` taken -> `name (2).ext`, `name (3).ext`, …"""
    if await _existing(request, target) is None:
        return target
    name = target.rel[-1]
    stem, dot, ext = name.rpartition(".")
    if not stem:
        stem, dot, ext = name, "", ""
    n = 2
    while True:
        candidate = target.with_rel(target.rel[:-1] + (f"{stem} ({n}){dot}{ext}",))
        if await _existing(request, candidate) is None:
            return candidate
        n += 1


async def _authorize(request: web.Request, target: DavTarget, link: Link) -> DavTarget:
    """Check the method against the link's bits; a file drop PUT gets a free name."""
    bits, method = link.permissions, request.method
    if link.link_type == "file-drop":
        if method == "PROPFIND" and not target.rel:
            return target                      # the drop folder itself, never its contents
        if method == "PUT" and len(target.rel) == 1:
            _need(bits, roles.CREATE)
            return await _unique_name(request, target)
        if method == "POST" and not target.rel:      # TUS: _drop_tus already chose the name
            _need(bits, roles.CREATE)
            return target
        raise PermissionDenied("a file drop only accepts new files")
    await authorize_bits(request, target, bits)
    return target


async def authorize_bits(request: web.Request, target: DavTarget, bits: int) -> None:
    """Check the method against the OCS bits a token grants (a link's, a federated share's)."""
    method = request.method
    if method in _READ_METHODS:
        _need(bits, roles.READ)
    elif method == "PUT":
        exists = await _existing(request, target) is not None
        _need(bits, roles.UPDATE if exists else roles.CREATE)
    elif method == "POST":      # TUS creation: the file it names must be new, or editable
        _need(bits, roles.CREATE)
        name = parse_metadata(request.headers.get("Upload-Metadata", "")).get("filename", "")
        try:
            parts = split_path(name, encoded=False)
        except InvalidName:
            parts = ()
        upload = target.with_rel(parts if name.startswith("/") else target.rel + parts)
        if parts and await _existing(request, upload) is not None:
            _need(bits, roles.UPDATE)
    elif method == "MKCOL":
        _need(bits, roles.CREATE)
    elif method == "DELETE":
        _need(bits, roles.DELETE)
    elif method in ("MOVE", "COPY"):
        _need(bits, roles.CREATE | (roles.DELETE if method == "MOVE" else roles.READ))
    elif method in _UPDATE_METHODS:
        _need(bits, roles.UPDATE)


async def _destination(request: web.Request, link: Link) -> DavTarget:
    """A MOVE/COPY stays inside the same link (another namespace or link -> 502, as oCIS)."""
    ctx = request.app[CONTEXT_KEY]
    raw = strip_query(destination_path(request.headers.get("Destination"), request.host,
                                       ctx.public_url))
    if not is_public_path(raw) or _split(raw)[1] != link.token:
        raise BadGateway("the destination is outside this link")
    target, _, node = await resolve_public(request, raw)
    if not node.is_dir:
        raise PermissionDenied("a file link cannot be copied or moved onto")
    if await _existing(request, target) is not None:
        _need(link.permissions, roles.UPDATE)
    return target


async def _drop_tus(request: web.Request, target: DavTarget) -> web.Request:
    """A TUS creation into a file drop: the `filename` must be a plain name and is made unique
    the way PUT does (the request is re-issued with the chosen name in Upload-Metadata)."""
    header = request.headers.get("Upload-Metadata", "")
    meta = parse_metadata(header)
    name = meta.get("filename", "")
    try:
        parts = split_path(name, encoded=False)
    except InvalidName:
        parts = ()
    if len(parts) != 1 or "/" in name:
        raise PermissionDenied("a file drop only accepts files in its own folder")
    chosen = (await _unique_name(request, target.with_rel(parts))).rel[-1]
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
                       headers={"WWW-Authenticate": CHALLENGE})
    location = "/dav/spaces/" + quote(node.resource_id, safe="$!")
    return web.Response(status=307, headers={"Location": location})


async def handle_public(request: web.Request, methods: Mapping[str, Handler]) -> web.StreamResponse:
    """Resolve and authorize a public-files request, then run the method's ocdav handler."""
    handler = methods.get(request.method)
    if handler is None:
        raise DavError(405, f"{request.method} is not supported",
                       headers={"Allow": ", ".join(methods)})
    if request.method == "OPTIONS":
        return await handler(request)
    raw = strip_query(request.raw_path)
    try:
        target, link, node = await resolve_public(request, raw)
    except Unauthenticated as exc:
        raise DavError(401, exc.message, headers={"WWW-Authenticate": CHALLENGE}) from None
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
