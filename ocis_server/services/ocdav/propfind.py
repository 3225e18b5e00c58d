"""PROPFIND properties: live properties as oCIS renders them (protocol-notes.md §4), dead
properties from storage, each response built from pre-escaped fragments (no DOM); the request
body's parsing. propstream.py streams them as a 207 multistatus.

Dead properties, share types and locks are fetched only when the request asks for something
that needs them, one query per page of entries.
"""

from __future__ import annotations

import asyncio
import mimetypes
import time
from collections.abc import Callable
from functools import lru_cache
from urllib.parse import quote
from xml.etree.ElementTree import Element

from aiohttp import web

from ocis_server.domain.errors import BadRequest, NotFound
from ocis_server.domain.previews import has_preview
from ocis_server.services.context import ServiceContext
from ocis_server.storage import LockRecord, Node, Storage

from .config import CONTEXT_KEY
from .locking import SUPPORTEDLOCK_XML, covers, lockdiscovery_xml
from .namespaces import DavTarget, config_of
from .xml import (
    NS_DAV,
    NS_OC,
    NS_OCS,
    QName,
    esc,
    is_tag,
    key_qname,
    parse_body,
    read_xml,
    prop_key,
    qname,
    tags,
)

FAVORITE_KEY = prop_key((NS_OC, "favorite"))
_PARSED_MAX = 4096   # PROPFIND bodies up to this size are parsed once and remembered
STATUS_200 = "<d:status>HTTP/1.1 200 OK</d:status></d:propstat>"
STATUS_404 = "<d:status>HTTP/1.1 404 Not Found</d:status></d:propstat>"


class RenderContext:
    """What every property renderer needs, computed once per request."""

    __slots__ = (
        "dead",
        "lock_owners",
        "locks",
        "owner_display",
        "owner_name",
        "owners",
        "perm_dir",
        "perm_file",
        "perm_of",
        "public_url",
        "share_ids",
        "share_perm_dir",
        "share_perm_file",
        "share_types",
        "space",
        "target",
        "user_id",
    )

    def __init__(self, target: DavTarget, owner_name: str, owner_display: str,
                 public_url: str) -> None:
        access = target.access
        self.target = target
        # The space as of this request when quota is asked for (the access check's copy may
        # lag behind recent uploads).
        self.space = access.space
        self.perm_dir = access.webdav_permissions(is_dir=True)
        self.perm_file = access.webdav_permissions(is_dir=False)
        # OCS bitmask of what may be granted further: read 1, update 2, create 4, delete 8, share 16.
        self.share_perm_dir = str(access.grantable(is_dir=True))
        self.share_perm_file = str(access.grantable(is_dir=False))
        # Nodes rendered with other permissions: a share's mount point (`M`), the jail's mounts.
        self.perm_of: dict[str, tuple[str, str]] = {}
        self.share_ids: dict[str, str] = {}        # jail mount node id -> share id
        self.share_types: dict[str, str] = {}      # node id -> rendered <oc:share-type> list
        self.owner_name = esc(owner_name)
        self.owner_display = esc(owner_display)
        self.owners: dict[str, tuple[str, str]] = {}   # other owners (jail mounts): id -> names
        self.public_url = public_url
        self.dead: dict[str, dict[str, str]] = {}
        self.locks: list[LockRecord] = []
        self.lock_owners: dict[str, str] = {}      # user id -> display name (oc:ownername)
        self.user_id = ""                          # the caller: whose favourites to show


Renderer = Callable[[Node, tuple[str, ...], RenderContext], str | None]


def mimetype(name: str) -> str:
    """The content type of a file name, cached per extension (a 10k listing has few)."""
    stem, dot, ext = name.rpartition(".")
    return _mimetype_of_ext(ext.lower() if dot and stem else "")


@lru_cache(maxsize=1024)
def _mimetype_of_ext(ext: str) -> str:
    guessed = mimetypes.guess_type(f"x.{ext}", strict=False)[0] if ext else None
    return guessed or "application/octet-stream"


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# Mtimes a client may set: 1970 up to the end of year 9999 (X-OC-Mtime outside -> 400).
MAX_MTIME = 253402300800.0


def clamp_mtime(mtime: float) -> float:
    """A stored mtime made renderable: nan, inf and out-of-range values become 0 or the end of
    year 9999, so one bad row can never break a listing or a download."""
    if 0 <= mtime < MAX_MTIME:               # false for nan too
        return mtime
    return MAX_MTIME - 1 if mtime > 0 else 0.0


def http_date(mtime: float) -> str:
    """RFC 1123 GMT date (`Mon, 02 Jan 2006 15:04:05 GMT`), locale-independent and fast;
    never raises (the mtime is clamped)."""
    return _http_date_of_second(int(clamp_mtime(mtime)))


@lru_cache(maxsize=4096)   # the files of a listing mostly share a few seconds
def _http_date_of_second(second: int) -> str:
    t = time.gmtime(second)
    return (f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT")


def _checksums(node: Node, _p: tuple[str, ...], _rc: RenderContext) -> str | None:
    sums = node.checksums
    if node.is_dir or not sums:
        return None
    if len(sums) == 3:   # the usual case: all three, in oCIS order
        return (f"<oc:checksum>SHA1:{sums['SHA1']} MD5:{sums['MD5']} "
                f"ADLER32:{sums['ADLER32']}</oc:checksum>")
    values = " ".join(f"{algo}:{sums[algo]}" for algo in ("SHA1", "MD5", "ADLER32") if algo in sums)
    return f"<oc:checksum>{values}</oc:checksum>"


def _quota_available(node: Node, _p: tuple[str, ...], rc: RenderContext) -> str | None:
    if not node.is_dir:
        return None
    space = rc.space
    if space.quota_total <= 0:
        return "-3"                          # unlimited, as oCIS reports it
    return str(max(0, space.quota_total - space.used))


def _lockdiscovery(node: Node, path: tuple[str, ...], rc: RenderContext) -> str:
    if not rc.locks:
        return ""
    space_id = rc.target.space_id
    mine = [lock for lock in rc.locks if covers(lock, space_id, path)]
    return lockdiscovery_xml(mine, rc.target, path, node.is_dir, rc.lock_owners)


def _favorite(node: Node, _p: tuple[str, ...], rc: RenderContext) -> str:
    value = rc.dead.get(node.id, {}).get(FAVORITE_KEY, "0").strip()
    return "1" if value == "1" else "0"


def _download_url(node: Node, path: tuple[str, ...], rc: RenderContext) -> str | None:
    """reva `propfind.go`: only a public link's files have one, the file's public-files URL; for
    a link with a password it carries the link signature (`?signature=&expiration=`) that opens
    the link for reading instead of the password (auth/linksignature.py). Nothing for folders
    and for every other namespace (oCIS has none there either)."""
    target = rc.target
    if not target.public or node.is_dir:
        return None
    href = target.href_of(path, is_dir=False)
    if href is None:
        return None
    signed = target.signature
    if signed is not None:
        href += f"?signature={signed.signature}&expiration={quote(signed.expiration, safe='')}"
    return esc(rc.public_url + href)


def _signature_auth(node: Node, path: tuple[str, ...], rc: RenderContext) -> str | None:
    """reva: `oc:signature-auth` of a password-protected link (`<oc:signature>`,
    `<oc:expiration>`), which ownCloud Web appends to archive downloads."""
    signed = rc.target.signature
    if not rc.target.public or signed is None:
        return None
    return (f"<oc:signature>{signed.signature}</oc:signature>"
            f"<oc:expiration>{signed.expiration}</oc:expiration>")


D, OC = NS_DAV, NS_OC
QUOTA_AVAILABLE = (D, "quota-available-bytes")
# Live properties: renderer returns escaped content, "" for an empty element, None for 404.
LIVE: dict[QName, Renderer] = {
    (D, "getetag"): lambda n, p, rc: f'"{n.etag}"',
    (D, "getlastmodified"): lambda n, p, rc: http_date(n.mtime),
    (D, "getcontentlength"): lambda n, p, rc: None if n.is_dir else str(n.size),
    (D, "getcontenttype"): lambda n, p, rc: ("httpd/unix-directory" if n.is_dir
                                             else mimetype(n.name)),
    (D, "resourcetype"): lambda n, p, rc: "<d:collection/>" if n.is_dir else "",
    (D, "displayname"): lambda n, p, rc: esc(n.name or rc.target.access.space.name),
    (D, "quota-used-bytes"): lambda n, p, rc: str(n.size) if n.is_dir else None,
    (D, "quota-available-bytes"): _quota_available,
    (D, "lockdiscovery"): _lockdiscovery,
    (D, "supportedlock"): lambda n, p, rc: SUPPORTEDLOCK_XML,
    (OC, "id"): lambda n, p, rc: n.resource_id,
    (OC, "fileid"): lambda n, p, rc: n.resource_id,
    # Through a public link, nothing about what lies outside it (the space, the parent of the
    # link's root, private links) nor the owner's login name: oCIS shows the display name at most.
    (OC, "spaceid"): lambda n, p, rc: None if rc.target.public else f"{n.storage_id}${n.space_id}",
    (OC, "file-parent"): lambda n, p, rc: (None if rc.target.public and len(p) <= len(rc.target.base)
                                           else n.parent_resource_id),
    (OC, "name"): lambda n, p, rc: esc(n.name or rc.target.access.space.name),
    (OC, "permissions"): lambda n, p, rc: (rc.perm_of[n.id][0] if n.id in rc.perm_of
                                           else rc.perm_dir if n.is_dir else rc.perm_file),
    (OC, "size"): lambda n, p, rc: str(n.size),
    (OC, "checksums"): _checksums,
    (OC, "owner-id"): lambda n, p, rc: (None if rc.target.public
                                        else rc.owners[n.owner_id][0] if n.owner_id in rc.owners
                                        else rc.owner_name),
    (OC, "owner-display-name"): lambda n, p, rc: (rc.owners[n.owner_id][1]
                                                  if n.owner_id in rc.owners
                                                  else rc.owner_display),
    (OC, "privatelink"): lambda n, p, rc: (None if rc.target.public
                                           else esc(f"{rc.public_url}/f/{n.resource_id}")),
    (OC, "favorite"): _favorite,
    (OC, "share-types"): lambda n, p, rc: rc.share_types.get(n.id, ""),
    (OC, "shareid"): lambda n, p, rc: rc.share_ids.get(n.id),
    (OC, "data-fingerprint"): lambda n, p, rc: "",
    (OC, "downloadURL"): _download_url,
    (OC, "signature-auth"): _signature_auth,
    # OpenCloud's hint that `?preview=1` will answer (reva #214): 1 for a file type with thumbnails.
    (OC, "has-preview"): lambda n, p, rc: "1" if not n.is_dir and has_preview(mimetype(n.name))
                                          else "0",
    (NS_OCS, "share-permissions"): lambda n, p, rc: (
        rc.perm_of[n.id][1] if n.id in rc.perm_of
        else rc.share_perm_dir if n.is_dir else rc.share_perm_file),
}
# What an empty body / <d:allprop/> returns (oCIS leaves quota, displayname and
# data-fingerprint to explicit requests).
ALLPROP: tuple[QName, ...] = (
    (OC, "id"), (OC, "fileid"), (OC, "spaceid"), (OC, "file-parent"), (OC, "name"),
    (D, "getetag"), (OC, "permissions"), (OC, "size"), (D, "getcontentlength"),
    (D, "getcontenttype"), (D, "resourcetype"), (D, "getlastmodified"), (OC, "checksums"),
    (OC, "owner-id"), (OC, "owner-display-name"), (OC, "favorite"), (OC, "privatelink"),
    (OC, "share-types"), (OC, "shareid"), (D, "lockdiscovery"), (D, "supportedlock"),
)
# Live properties PROPPATCH may not change (oc:favorite is the caller's flag, proppatch.py).
PROTECTED = frozenset(LIVE) - {(OC, "favorite")}


class PropSpec:
    __slots__ = ("close", "empty", "name", "open", "render")

    def __init__(self, name: QName) -> None:
        self.name = name
        self.open, self.close, self.empty = tags(name)
        live = LIVE.get(name)
        self.render: Renderer = live if live is not None else self._dead

    def _dead(self, node: Node, _p: tuple[str, ...], rc: RenderContext) -> str | None:
        return rc.dead.get(node.id, {}).get(prop_key(self.name))


@lru_cache(maxsize=256)
def _specs(names: tuple[QName, ...]) -> tuple[PropSpec, ...]:
    """The renderers of a property list (clients ask for the same few lists)."""
    return tuple(PropSpec(name) for name in names)


@lru_cache(maxsize=256)
def _needs(names: tuple[QName, ...]) -> tuple[bool, bool, bool, bool]:
    """What a property list needs loaded: dead properties (or favorites), share types, the
    space's current usage, locks."""
    return (any(n not in LIVE or n == (OC, "favorite") for n in names),
            (OC, "share-types") in names, QUOTA_AVAILABLE in names, (D, "lockdiscovery") in names)


def parse_request(body: Element | None) -> tuple[str, list[QName]]:
    """(mode, names): mode is allprop | propname | prop."""
    if body is None:
        return "allprop", []
    if not is_tag(body, NS_DAV, "propfind"):
        raise BadRequest("PROPFIND body must be a DAV:propfind")
    # RFC 4918 §14.20: exactly one of allprop | propname | prop; include only beside allprop.
    tags = [qname(child.tag) for child in body if isinstance(child.tag, str)]
    kinds = [local for ns, local in tags
             if ns == NS_DAV and local in ("allprop", "propname", "prop", "include")]
    modes = set(kinds) - {"include"}
    if len(modes) != 1 or len(kinds) - kinds.count("include") != 1:
        raise BadRequest("PROPFIND body needs exactly one of allprop, propname or prop")
    if "include" in kinds and modes != {"allprop"}:
        raise BadRequest("DAV:include is only allowed with DAV:allprop")
    mode = modes.pop()
    if mode != "prop":
        return mode, []
    names = [qname(el.tag) for el in body.iterfind("{DAV:}prop/*") if isinstance(el.tag, str)]
    return ("prop", names) if names else ("allprop", [])


def flat_depth(request: web.Request) -> str:
    """Depth of a PROPFIND on the trash bin or the versions, flat listings: "0", "1" or
    "infinity" (a missing header: "1")."""
    depth = request.headers.get("Depth", "1").strip().lower()
    if depth not in ("0", "1", "infinity"):
        raise BadRequest("Invalid Depth header value")
    return depth


async def wanted_props(request: web.Request,
                       allprop: tuple[QName, ...]) -> tuple[tuple[QName, ...], bool]:
    """The properties a PROPFIND body of a side namespace (meta, trash bin, versions) asks for,
    and whether it asked for all (then `allprop`, the namespace's own set)."""
    mode, names = parse_request(await read_xml(request, config_of(request)))
    return (tuple(names), False) if mode == "prop" else (allprop, True)


def _parse_propfind(data: bytes, max_depth: int) -> tuple[str, list[QName]]:
    """`parse_request` of a raw body; clients repeat the same few bodies, so small ones are
    parsed once (a bad body is never cached: it raises)."""
    if len(data) > _PARSED_MAX:
        return parse_request(parse_body(data, max_depth=max_depth))
    mode, names = _parse_small(data, max_depth)
    return mode, list(names)


@lru_cache(maxsize=256)
def _parse_small(data: bytes, max_depth: int) -> tuple[str, tuple[QName, ...]]:
    mode, names = parse_request(parse_body(data, max_depth=max_depth))
    return mode, tuple(names)


async def _owner_names(ctx: ServiceContext, target: DavTarget) -> tuple[str, str]:
    """(username, display name) of the space's owner."""
    owner_id = target.access.space.owner_id
    try:
        owner = await ctx.users.get(owner_id)
    except NotFound:
        return owner_id, ""
    return owner.username, owner.display_name


async def _load_owners(request: web.Request, rc: RenderContext, owner_ids: set[str]) -> None:
    users = request.app[CONTEXT_KEY].users
    for owner_id in owner_ids:
        try:
            owner = await users.get(owner_id)
            rc.owners[owner_id] = (esc(owner.username), esc(owner.display_name))
        except NotFound:
            rc.owners[owner_id] = (esc(owner_id), "")


async def _load_dead(storage: Storage, rc: RenderContext, nodes: list[Node]) -> None:
    """Dead properties of every listed node: one batch query where the storage offers it
    (`get_props_many`, added to the interface for this), else one query per node."""
    batch = getattr(storage, "get_props_many", None)
    if batch is not None:
        rc.dead = await batch([n.id for n in nodes])
    else:
        results = await asyncio.gather(*(storage.get_props(n.id) for n in nodes))
        rc.dead = {n.id: props for n, props in zip(nodes, results) if props}
    # oc:favorite is the caller's own flag (storage `favorites`), never a property of the node
    # that everyone with access would see: a value stored on the node is not shown.
    mine = await storage.favorite_ids(rc.user_id, [n.id for n in nodes])
    for node in nodes:
        props = rc.dead.get(node.id)
        if props is not None and FAVORITE_KEY in props:
            rc.dead[node.id] = props = {k: v for k, v in props.items() if k != FAVORITE_KEY}
        if node.id in mine:
            rc.dead[node.id] = {**(props or {}), FAVORITE_KEY: "1"}


async def _load_share_types(storage: Storage, rc: RenderContext, nodes: list[Node]) -> None:
    """`oc:share-types` of the listed nodes, for their owner or space manager (one query);
    never on a space root (protocol-notes.md §4)."""
    types: dict[str, set[int]] = {}
    ids = [n.id for n in nodes if n.parent_id]
    for share in await storage.list_shares(node_ids=ids):
        types.setdefault(share.node_id, set()).add(0 if share.grantee_type == "user" else 1)
    for link in await storage.list_links(node_ids=ids):     # public links: share type 3
        types.setdefault(link.node_id, set()).add(3)
    for sent in await storage.list_ocm_shares(node_ids=ids):    # federated: share type 6
        types.setdefault(sent.node_id, set()).add(6)
    rc.share_types = {nid: "".join(f"<oc:share-type>{t}</oc:share-type>" for t in sorted(found))
                      for nid, found in types.items()}


def _response(href: str, node: Node, path: tuple[str, ...], specs: list[PropSpec],
              rc: RenderContext, mode: str, minimal: bool) -> str:
    found: list[str] = []
    missing: list[str] = []
    for spec in specs:
        value = spec.render(node, path, rc)
        if value is None:
            missing.append(spec.empty)
        elif mode == "propname" or not value:
            found.append(spec.empty)
        else:
            found.append(spec.open + value + spec.close)
    if mode != "prop":
        # allprop/propname: properties that do not apply to this node are left out, and the
        # dead properties stored on the node are added.
        missing = []
        for key, value in rc.dead.get(node.id, {}).items():
            name = key_qname(key)
            if name in LIVE:
                continue
            open_tag, close_tag, empty = tags(name)
            found.append(empty if mode == "propname" or not value
                         else open_tag + value + close_tag)
    parts = [f"<d:response><d:href>{esc(href)}</d:href>"]
    if found:
        parts.append("<d:propstat><d:prop>" + "".join(found) + "</d:prop>" + STATUS_200)
    if missing and not minimal:
        parts.append("<d:propstat><d:prop>" + "".join(missing) + "</d:prop>" + STATUS_404)
    parts.append("</d:response>")
    return "".join(parts)
