"""The DAV URL layout: which space and path a request URL names (protocol-notes.md §4).

`/remote.php/webdav/…`, `/webdav/…` (legacy home), `/[remote.php/]dav/files/<user>/…` and
`/[remote.php/]dav/spaces/<storage$space[!node]>/…`. Hrefs are built from the prefix exactly as
the client sent it, so a percent-decoded href always starts with the decoded request path.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote, urlsplit

from aiohttp import web

from ocis_server.auth.authz import (
    Access,
    member_access,
    node_access,
    share_access,
    space_access,
)
from ocis_server.auth.linksignature import LinkSignature
from ocis_server.domain.errors import (
    BadGateway,
    BadRequest,
    NotFound,
    ServiceUnavailable,
    Unauthenticated,
)
from ocis_server.domain.ids import SHARE_JAIL_ID, ResourceId
from ocis_server.domain.paths import decode_segment, split_path
from ocis_server.identity import User, UserStore
from ocis_server.services.context import REPLAY_MARK
from ocis_server.storage import Storage, knows_storage

from .config import CONFIG_KEY, CONTEXT_KEY, OcdavConfig
from .sharejail import JailListing, jail_listing

HOME_ROOTS = ("/remote.php/webdav", "/webdav")
FILES_ROOTS = ("/remote.php/dav/files/", "/dav/files/")
SPACES_ROOTS = ("/remote.php/dav/spaces/", "/dav/spaces/")
SHARES_FOLDER = "Shares"     # the share jail in the legacy namespaces (oCIS OCDAV_SHARES_NAMESPACE)


@dataclass(frozen=True, slots=True)
class DavTarget:
    """A resolved DAV URL: the caller's access to the space and the path inside it."""

    access: Access
    base: tuple[str, ...]      # path of the namespace root inside the space (resource-id URLs)
    rel: tuple[str, ...]       # path below the namespace root
    root_href: str             # the encoded URL path of the namespace root, no trailing slash
    raw: str                   # the encoded request path as sent (query and fragment removed)
    mount_id: str | None = None        # a share jail mount point: the shared node's id
    jail: JailListing | None = None    # the share jail root itself (a virtual listing)
    legacy: bool = False               # a personal space through /webdav or /dav/files
    public: bool = False               # a public link (publicfiles.py): anyone holding it
    signature: LinkSignature | None = None   # ... with a password: a link signature (downloadURL)

    @property
    def space_id(self) -> str:
        return self.access.space.id

    @property
    def path(self) -> tuple[str, ...]:
        return self.base + self.rel

    def href_of(self, path: tuple[str, ...], *, is_dir: bool) -> str | None:
        """The href of a space path, or None when it lies outside this namespace root."""
        if path[:len(self.base)] != self.base:
            return None
        rel = path[len(self.base):]
        if rel == self.rel:
            return self.self_href(is_dir=is_dir)
        encoded = "".join("/" + quote(name, safe="") for name in rel)
        return self.root_href + encoded + ("/" if is_dir else "")

    def self_href(self, *, is_dir: bool) -> str:
        """The request path as the client spelled it, with a trailing slash for collections."""
        href = self.raw.rstrip("/") if self.rel else self.root_href
        return href + "/" if is_dir else href

    def child_href(self, parent_href: str, name: str, *, is_dir: bool) -> str:
        return parent_href + quote(name, safe="") + ("/" if is_dir else "")

    def with_rel(self, rel: tuple[str, ...]) -> DavTarget:
        encoded = "".join("/" + quote(name, safe="") for name in rel)
        return DavTarget(self.access, self.base, rel, self.root_href, self.root_href + encoded,
                         self.mount_id, self.jail if not rel else None, self.legacy,
                         self.public)


def strip_query(raw_path: str) -> str:
    """The path part of a raw request target. A `#` never reaches a server as a fragment, so
    it stays part of the name (litmus delete_fragment: deleting `frag/#ment` must not remove
    the collection `frag/`)."""
    return raw_path.split("?", 1)[0]


def split_namespace(raw: str) -> tuple[str, str, str, str]:
    """(kind, argument, root href, tail) of an encoded path; kind is home | files | spaces."""
    for root in HOME_ROOTS:
        if raw == root or raw.startswith(root + "/"):
            return "home", "", root, raw[len(root):]
    for kind, roots in (("files", FILES_ROOTS), ("spaces", SPACES_ROOTS)):
        for root in roots:
            if raw.startswith(root):
                segment, slash, tail = raw[len(root):].partition("/")
                if segment:
                    return kind, segment, root + segment, slash + tail
    raise NotFound("no DAV namespace at this path")


def _split(tail: str) -> tuple[str, ...]:
    """`split_path`, remembered for the short paths clients repeat (it validates every
    character in Python); an invalid path raises every time and is never remembered."""
    if len(tail) > _SPLIT_CACHED_MAX:
        return split_path(tail)
    return _split_cached(tail)


_SPLIT_CACHED_MAX = 512
_split_cached = lru_cache(maxsize=4096)(split_path)
split_tail = _split      # for ocmguest.py


async def resolve(storage: Storage, user: User | None, raw: str,
                  users: UserStore | None = None) -> DavTarget:
    """Map an encoded URL path to the caller's access and a validated space path. With `users`
    (groups) shares count too: the share jail and resource ids of nodes shared with the caller."""
    kind, arg, root_href, tail = split_namespace(raw)
    rel = _split(tail)
    if user is None:
        raise Unauthenticated("authentication required")
    if kind == "spaces" and users is not None:
        shared = await _resolve_shared(storage, users, user, arg, rel, root_href, raw)
        if shared is not None:
            return shared
    base: tuple[str, ...] = ()
    if kind == "files":
        name = decode_segment(arg)
        if name not in (user.username, user.id):
            raise NotFound("no such user namespace")
    if kind != "spaces":
        space_id = user.id
        if users is not None and rel[:1] == (SHARES_FOLDER,) and await _jail_is_shares(
                storage, users, user):
            # the legacy namespace's `/Shares` is the share jail (OCDAV_SHARES_NAMESPACE)
            segment = next(p for p in raw[len(root_href):].split("/") if p)
            return await _resolve_jail(storage, users, user, "", rel[1:],
                                       f"{root_href}/{segment}", raw)
    else:
        try:
            rid = ResourceId.parse(decode_segment(arg))
        except BadRequest:
            raise NotFound("invalid space id") from None
        if not knows_storage(storage, rid.storage_id):
            raise NotFound("space not found")
        space_id = rid.space_id
        if rid.node_id:
            node = await storage.get_node(rid.node_id)
            if node.space_id != space_id:
                raise NotFound("resource not found")
            base = tuple(await storage.node_path(node))
    access = await (space_access(storage, user, space_id) if users is None
                    else member_access(storage, users, user, space_id))
    return DavTarget(access, base, rel, root_href, raw, legacy=kind != "spaces")


async def _jail_is_shares(storage: Storage, users: UserStore, user: User) -> bool:
    """Whether the legacy `/Shares` is the share jail: once something is mounted there, and
    unless a folder really named `Shares` exists in the personal space (it keeps its name)."""
    try:
        await storage.lookup(user.id, (SHARES_FOLDER,))
        return False
    except NotFound:
        pass
    _, listing = await jail_listing(storage, users, user)
    return bool(listing.entries)


async def _resolve_shared(storage: Storage, users: UserStore, user: User, arg: str,
                          rel: tuple[str, ...], root_href: str, raw: str) -> DavTarget | None:
    """A share jail URL, or a resource id the caller reaches only through a share; None for
    anything else (the space rules apply)."""
    try:
        rid = ResourceId.parse(decode_segment(arg))
    except BadRequest:
        return None
    if rid.storage_id == SHARE_JAIL_ID:
        if rid.space_id != SHARE_JAIL_ID:
            raise NotFound("space not found")
        return await _resolve_jail(storage, users, user, rid.node_id, rel, root_href, raw)
    if not rid.node_id or not knows_storage(storage, rid.storage_id):
        return None
    node = await storage.get_node(rid.node_id)
    if node.space_id != rid.space_id:
        raise NotFound("resource not found")
    access = await node_access(storage, users, user, node)
    if access.share is None:
        return None                # a space grant: the usual path below handles it
    base = tuple(await storage.node_path(node))
    access = await _below_share(storage, users, user, access, node.space_id, base, rel)
    return DavTarget(access, base, rel, root_href, raw)


async def _resolve_jail(storage: Storage, users: UserStore, user: User, share_id: str,
                        rel: tuple[str, ...], root_href: str, raw: str) -> DavTarget:
    """The share jail root (no `share_id`), a mount point named by the first path segment
    below it, or the mount point of `share_id`."""
    if not share_id:
        space, listing = await jail_listing(storage, users, user)
        if not rel:
            return DavTarget(Access(space, "viewer"), (), rel, root_href, raw, jail=listing)
        share_id = next((listing.share_ids[node.id] for node, path in listing.entries
                         if path == rel[:1]), "")
        if not share_id:
            raise NotFound("resource not found")
        if share_id in listing.away:
            raise ServiceUnavailable("the storage provider of this share is unavailable right "
                                     "now", retry_after=1)
        segment = next(p for p in raw[len(root_href):].split("/") if p)
        root_href += "/" + segment      # spelled as the client sent it
        rel = rel[1:]
    access, received = await share_access(storage, users, user, share_id)
    node = await storage.get_node(received.share.node_id)
    base = tuple(await storage.node_path(node))
    access = await _below_share(storage, users, user, access, node.space_id, base, rel)
    return DavTarget(access, base, rel, root_href, raw, mount_id=node.id)


async def _below_share(storage: Storage, users: UserStore, user: User, access: Access,
                       space_id: str, base: tuple[str, ...], rel: tuple[str, ...]) -> Access:
    """The access on the target itself when it lies below the shared node: shares further
    down count too (a Denied share on a subfolder wins). For a name that does not exist yet
    (PUT, MKCOL) its nearest existing ancestor decides."""
    if not rel:
        return access
    path = base + rel
    while len(path) > len(base):
        try:
            node = await storage.lookup(space_id, path)
        except NotFound:
            path = path[:-1]
            continue
        return await node_access(storage, users, user, node)
    return access


def destination_path(header: str | None, request_host: str, public_url: str) -> str:
    """The encoded path of a Destination header: an absolute URL on this server or a bare
    absolute path (owncloudcmd sends `/remote.php/webdav/b`). Another host -> 502."""
    if not header:
        raise BadRequest("missing Destination header")
    try:
        parts = urlsplit(header)
    except ValueError:            # e.g. `http://[::1` (an unclosed IPv6 literal)
        raise BadRequest("invalid Destination header") from None
    if parts.scheme or parts.netloc:
        own_hosts = {request_host.lower(), urlsplit(public_url).netloc.lower()}
        if parts.scheme not in ("http", "https") or parts.netloc.lower() not in own_hosts:
            raise BadGateway("the destination is on another server")
    if not parts.path.startswith("/"):
        raise BadRequest("invalid Destination header")
    return parts.path


async def jail_rename(request: web.Request, source: DavTarget) -> str | None:
    """The new mount point name when a MOVE renames a share jail mount point (the
    Destination names a new child of the jail root); None for any other MOVE."""
    if source.mount_id is None or source.rel or source.access.share is None:
        return None
    return jail_child(request)


def jail_child(request: web.Request) -> str | None:
    """The name when the Destination names a direct child of the share jail root (over
    `/dav/spaces/<jail>` or the legacy `/Shares`), else None."""
    ctx = request.app[CONTEXT_KEY]
    try:
        raw = destination_path(request.headers.get("Destination"), request.host, ctx.public_url)
        kind, arg, _, tail = split_namespace(strip_query(raw))
        rel = _split(tail)
    except (BadRequest, BadGateway, NotFound):
        return None
    if kind == "spaces":
        try:
            rid = ResourceId.parse(decode_segment(arg))
        except BadRequest:
            return None
        jail = rid.storage_id == rid.space_id == SHARE_JAIL_ID and not rid.node_id
        return rel[0] if jail and len(rel) == 1 else None
    user = user_of(request)
    if kind == "files" and decode_segment(arg) not in (user.username, user.id):
        return None
    return rel[1] if len(rel) == 2 and rel[0] == SHARES_FOLDER else None


TARGET_KEY = web.RequestKey("ocdav_target", DavTarget)


def storage_of(request: web.Request) -> Storage:
    return request.app[CONTEXT_KEY].storage


def config_of(request: web.Request) -> OcdavConfig:
    return request.app[CONFIG_KEY]


def principal_of(request: web.Request) -> User | None:
    return request.get("principal")


def user_of(request: web.Request) -> User:
    """The authenticated caller; handlers that resolved a target always have one."""
    user = principal_of(request)
    if user is None:
        raise Unauthenticated("authentication required")
    return user


async def request_target(request: web.Request) -> DavTarget:
    """The DavTarget of the request URL (cached on the request)."""
    cached = request.get(TARGET_KEY)
    if cached is None:
        raw = strip_query(request.raw_path)
        try:
            cached = await resolve(storage_of(request), principal_of(request), raw,
                                   request.app[CONTEXT_KEY].users)
        except NotFound:
            guest = await _federated_guest(request, raw)
            if guest is None:
                raise
            cached = guest
        request[TARGET_KEY] = cached
    return cached


async def _federated_guest(request: web.Request, raw: str) -> DavTarget | None:
    """A guest of another OCM server reaching a federated share by its OpenID token
    (ocmguest.py); None when that does not apply either (the original error stands)."""
    from .ocmguest import guest_target

    return await guest_target(request, raw)


# A Destination resolved ahead by a namespace of its own (public links, publicfiles.py).
DESTINATION_KEY = web.RequestKey("ocdav_destination", DavTarget)


async def destination_target(request: web.Request) -> DavTarget:
    resolved: DavTarget | None = request.get(DESTINATION_KEY)
    if resolved is not None:
        return resolved
    ctx = request.app[CONTEXT_KEY]
    path = destination_path(request.headers.get("Destination"), request.host, ctx.public_url)
    try:
        return await resolve(ctx.storage, principal_of(request), path, ctx.users)
    except NotFound:
        guest = await _federated_guest(request, path)
        if guest is None:
            raise
        return guest


async def mark_replayable(request: web.Request, target: DavTarget) -> None:
    """Let the proxy answer this request again from memory (services.context.REPLAY_MARK) when
    its access cannot change with the time alone: not through a share, a link, the share jail
    or a mount point, not the legacy home root (its PROPFIND asks remote sharers) nor `/Shares`
    below it, and in a space the caller owns or holds without an expiring membership (every
    other change moves the storage's change stamp or the user store's generation)."""
    mark = request.get(REPLAY_MARK)
    if mark is None:
        return
    user = principal_of(request)
    access = target.access
    if (user is None or target.jail is not None or target.mount_id is not None or target.public
            or target.signature is not None or access.share is not None
            or (target.legacy and target.rel[:1] in ((), (SHARES_FOLDER,)))):
        return
    space = access.space
    if not (space.type == "personal" and space.owner_id == user.id):
        if await storage_of(request).member_expirations(space.id):
            return
    mark.replayable = True
