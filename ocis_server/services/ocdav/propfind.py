"""PROPFIND: live properties as oCIS renders them (protocol-notes.md §4), dead properties from
storage, streamed as a 207 multistatus built from pre-escaped fragments (no DOM).

One storage.children() call per Depth-1 request; dead properties and locks are fetched only
when the request asks for something that needs them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import mimetypes
import time
from collections.abc import Callable, Iterator
from functools import lru_cache
from xml.etree.ElementTree import Element

from aiohttp import web

from ocis_server.domain.errors import BadRequest, NotFound
from ocis_server.domain.roles import READ
from ocis_server.domain.previews import has_preview
from ocis_server.services.context import ServiceContext
from ocis_server.storage import LockRecord, Node, Storage

from .config import CONTEXT_KEY, POLLS_KEY, PollCache
from .locking import SUPPORTEDLOCK_XML, covers, lockdiscovery_xml, owner_names
from .namespaces import (
    SHARES_FOLDER,
    DavTarget,
    config_of,
    request_target,
    storage_of,
    user_of,
)
from .sharejail import jail_listing
from .xml import (
    CONTENT_TYPE,
    NS_DAV,
    NS_OC,
    NS_OCS,
    ROOT_XMLNS,
    XML_DECL,
    QName,
    esc,
    is_tag,
    key_qname,
    parse_body,
    prop_key,
    qname,
    read_body,
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
    (OC, "downloadURL"): lambda n, p, rc: None,
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
# Live properties PROPPATCH may not change (oc:favorite is stored as a dead property).
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


def _depth(request: web.Request) -> str:
    # reva: a missing Depth header means 1; infinity only when configured.
    depth = request.headers.get("Depth", "1").strip().lower()
    if depth in ("0", "1") or (depth == "infinity" and config_of(request).allow_propfind_depth_infinity):
        return depth
    raise BadRequest("Invalid Depth header value")


async def _walk(storage: Storage, node: Node, path: tuple[str, ...],
                depth: str) -> list[tuple[Node, tuple[str, ...]]]:
    if depth == "0" or not node.is_dir:
        return []
    kids = await storage.children(node)
    if depth != "infinity":
        return [(child, (*path, child.name)) for child in kids]
    out = []
    for child in kids:
        out.append((child, (*path, child.name)))
        if child.is_dir:
            out.extend(await _walk(storage, child, (*path, child.name), depth))
    return out


async def handle_propfind(request: web.Request) -> web.StreamResponse:
    target = await request_target(request)
    depth = _depth(request)
    conf = config_of(request)
    mode, names = _parse_propfind(await read_body(request, conf), conf.max_xml_depth)
    storage = storage_of(request)
    wanted = ALLPROP if mode != "prop" else tuple(names)
    if len(wanted) <= 64:
        specs, (dead, share_types, quota, locks) = list(_specs(wanted)), _needs(wanted)
    else:
        specs, (dead, share_types, quota, locks) = ([PropSpec(n) for n in wanted],
                                                    _needs.__wrapped__(wanted))
    minimal = "return=minimal" in request.headers.get("Prefer", "").replace(" ", "").lower()
    headers = {"Content-Type": CONTENT_TYPE}
    ctx = request.app[CONTEXT_KEY]
    owner = await _owner_names(ctx, target)
    # A Depth 0 poll is answered from the last rendering while nothing stored has changed
    # (the access check above ran anyway). Not for lock or share properties: their expiry
    # makes the answer depend on the time, too.
    polls: PollCache | None = None
    stamp: object = None
    key: tuple[object, ...] = ()
    if (depth == "0" and target.jail is None and target.mount_id is None and not locks
            and not share_types):
        polls, stamp, access = request.app[POLLS_KEY], storage.change_stamp, target.access
        key = (request.raw_path, mode, wanted, minimal, owner, access.role, access.permissions,
               access.share.id if access.share is not None else None)
        body = polls.get(stamp, key)
        if body is not None:
            return web.Response(status=207, body=body, headers=headers)
    rc = RenderContext(target, owner[0], owner[1], ctx.public_url)
    if target.jail is not None:        # the share jail root: its mount points (sharejail.py)
        node = target.jail.root
        entries = target.jail.entries if depth != "0" else []
        rc.perm_of.update(target.jail.perms)
        rc.share_ids.update(target.jail.share_ids)
        await _load_owners(request, rc, {n.owner_id for n, _ in entries})
    else:
        node = await storage.lookup(target.space_id, target.path)
        entries = await _walk(storage, node, tuple(target.path), depth)
        if target.legacy and not target.path and depth != "0":
            entries += await _shares_folder(request, rc, node, entries)
        if target.mount_id is not None:
            access = target.access
            rc.perm_of[target.mount_id] = (
                access.webdav_permissions(is_dir=node.is_dir, mounted=True),
                str(access.grantable(is_dir=node.is_dir)))
    if mode != "prop" or dead:
        await _load_dead(storage, rc, [node] + [n for n, _ in entries])
    if target.jail is None and target.access.can_manage and share_types:
        await _load_share_types(storage, rc, [node] + [n for n, _ in entries])
    if target.jail is None and quota:
        rc.space = await storage.get_space(target.space_id)
    if locks:
        rc.locks = await _load_locks(storage, target, depth)
        rc.lock_owners = await owner_names(request, rc.locks)
    response: web.StreamResponse | None = None   # started once the body outgrows one chunk
    chunk: list[str] = []
    size = 0
    for fragment in _multistatus(target, node, entries, specs, rc, mode, minimal):
        chunk.append(fragment)
        size += len(fragment)
        if size >= conf.stream_chunk:
            if response is None:
                response = web.StreamResponse(status=207, headers=headers)
                await response.prepare(request)
            await response.write("".join(chunk).encode())
            chunk, size = [], 0
            await asyncio.sleep(0)   # a 10k listing must not stall concurrent requests
    tail = "".join(chunk).encode()
    if response is None:   # a small multistatus (a Depth 0 poll): one send, with Content-Length
        if polls is not None and storage.change_stamp == stamp:   # nothing changed meanwhile
            polls.put(stamp, key, tail)
        return web.Response(status=207, body=tail, headers=headers)
    await response.write(tail)
    await response.write_eof()
    return response


async def _owner_names(ctx: ServiceContext, target: DavTarget) -> tuple[str, str]:
    """(username, display name) of the space's owner."""
    owner_id = target.access.space.owner_id
    try:
        owner = await ctx.users.get(owner_id)
    except NotFound:
        return owner_id, ""
    return owner.username, owner.display_name


async def _shares_folder(request: web.Request, rc: RenderContext, home: Node,
                         entries: list[tuple[Node, tuple[str, ...]]],
                         ) -> list[tuple[Node, tuple[str, ...]]]:
    """The legacy home root lists the share jail as `Shares` once something is mounted there
    (and no real folder has that name); nothing can be created in it directly."""
    if any(path == (SHARES_FOLDER,) for _, path in entries):
        return []
    ctx = request.app[CONTEXT_KEY]
    user = user_of(request)
    _, listing = await jail_listing(ctx.storage, ctx.users, user)
    if not listing.entries:
        return []
    folder = dataclasses.replace(listing.root, name=SHARES_FOLDER, parent_id=home.id)
    rc.perm_of[folder.id] = ("", str(READ))
    return [(folder, (SHARES_FOLDER,))]


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
        return
    results = await asyncio.gather(*(storage.get_props(n.id) for n in nodes))
    rc.dead = {n.id: props for n, props in zip(nodes, results) if props}


async def _load_share_types(storage: Storage, rc: RenderContext, nodes: list[Node]) -> None:
    """`oc:share-types` of the listed nodes, for their owner or space manager (one query);
    never on a space root (protocol-notes.md §4)."""
    types: dict[str, set[int]] = {}
    ids = [n.id for n in nodes if n.parent_id]
    for share in await storage.list_shares(node_ids=ids):
        types.setdefault(share.node_id, set()).add(0 if share.grantee_type == "user" else 1)
    for link in await storage.list_links(node_ids=ids):     # public links: share type 3
        types.setdefault(link.node_id, set()).add(3)
    rc.share_types = {nid: "".join(f"<oc:share-type>{t}</oc:share-type>" for t in sorted(found))
                      for nid, found in types.items()}


async def _load_locks(storage: Storage, target: DavTarget, depth: str) -> list[LockRecord]:
    locks = list(await storage.locks_covering(target.space_id, target.path))
    if depth != "0":
        locks += await storage.locks_below(target.space_id, target.path)
    return list({lock.token: lock for lock in locks}.values())


def _multistatus(target: DavTarget, node: Node, entries: list[tuple[Node, tuple[str, ...]]],
                 specs: list[PropSpec], rc: RenderContext, mode: str,
                 minimal: bool) -> Iterator[str]:
    yield XML_DECL.decode() + f"<d:multistatus {ROOT_XMLNS}>"
    self_href = target.self_href(is_dir=node.is_dir)
    yield _response(self_href, node, tuple(target.path), specs, rc, mode, minimal)
    base_len = len(target.path)
    child_href = target.child_href
    for child, path in entries:
        if len(path) == base_len + 1:   # Depth 1: every entry sits right below the request path
            parent_href = self_href
        else:
            parent_href = self_href + "".join(child_href("", name, is_dir=True)
                                              for name in path[base_len:-1])
        href = child_href(parent_href, child.name, is_dir=child.is_dir)
        yield _response(href, child, path, specs, rc, mode, minimal)
    yield "</d:multistatus>"


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
