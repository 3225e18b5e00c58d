"""The DAV URL layout: which space and path a request URL names (ocis-api.md §3.4 Endpoints).

`/remote.php/webdav/…`, `/webdav/…` (legacy home), `/[remote.php/]dav/files/<user>/…` and
`/[remote.php/]dav/spaces/<storage$space[!node]>/…`. Hrefs are built from the prefix exactly as
the client sent it, so a percent-decoded href always starts with the decoded request path.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote, urlsplit

from aiohttp import web

from ocis_server.auth.authz import Access, space_access
from ocis_server.domain.errors import (
    BadGateway,
    BadRequest,
    NotFound,
    Unauthenticated,
)
from ocis_server.domain.ids import ResourceId
from ocis_server.domain.paths import decode_segment, split_path
from ocis_server.identity import User
from ocis_server.storage import Storage

from .config import CONFIG_KEY, CONTEXT_KEY, OcdavConfig

HOME_ROOTS = ("/remote.php/webdav", "/webdav")
FILES_ROOTS = ("/remote.php/dav/files/", "/dav/files/")
SPACES_ROOTS = ("/remote.php/dav/spaces/", "/dav/spaces/")


@dataclass(frozen=True, slots=True)
class DavTarget:
    """A resolved DAV URL: the caller's access to the space and the path inside it."""

    access: Access
    base: tuple[str, ...]      # path of the namespace root inside the space (resource-id URLs)
    rel: tuple[str, ...]       # path below the namespace root
    root_href: str             # the encoded URL path of the namespace root, no trailing slash
    raw: str                   # the encoded request path as sent (query and fragment removed)

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
        return DavTarget(self.access, self.base, rel, self.root_href, self.root_href + encoded)


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


async def resolve(storage: Storage, user: User | None, raw: str) -> DavTarget:
    """Map an encoded URL path to the caller's access and a validated space path."""
    kind, arg, root_href, tail = split_namespace(raw)
    rel = _split(tail)
    if user is None:
        raise Unauthenticated("authentication required")
    base: tuple[str, ...] = ()
    if kind == "home":
        space_id = user.id
    elif kind == "files":
        name = decode_segment(arg)
        if name not in (user.username, user.id):
            raise NotFound("no such user namespace")
        space_id = user.id
    else:
        try:
            rid = ResourceId.parse(decode_segment(arg))
        except BadRequest:
            raise NotFound("invalid space id") from None
        if rid.storage_id and rid.storage_id != storage.storage_id:
            raise NotFound("space not found")
        space_id = rid.space_id
        if rid.node_id:
            node = await storage.get_node(rid.node_id)
            if node.space_id != space_id:
                raise NotFound("resource not found")
            base = tuple(await storage.node_path(node))
    access = await space_access(storage, user, space_id)
    return DavTarget(access, base, rel, root_href, raw)


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
        cached = await resolve(storage_of(request), principal_of(request), raw)
        request[TARGET_KEY] = cached
    return cached


async def destination_target(request: web.Request) -> DavTarget:
    ctx = request.app[CONTEXT_KEY]
    path = destination_path(request.headers.get("Destination"), request.host, ctx.public_url)
    return await resolve(ctx.storage, principal_of(request), path)
