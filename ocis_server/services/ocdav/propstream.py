"""The PROPFIND handler: a 207 multistatus streamed from storage a page at a time, so that its
memory is bounded by a constant whatever the size of the folder (Depth 1) or of the subtree
(Depth infinity, capped). Properties are rendered by propfind.py.

Once the first bytes are sent the status cannot change (docs/protocol-notes.md, "PROPFIND"):
an entry that fails to render gets its own 500 response; a page that cannot be read (the
entries it holds are unknown) aborts the connection, so that no client mistakes a partial
listing for a folder whose other entries were deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncGenerator, Sequence

from aiohttp import web

from ocis_server.domain.errors import BadRequest, NotFound
from ocis_server.domain.roles import READ
from ocis_server.storage import LockRecord, Node, Storage

from .config import CONTEXT_KEY, POLLS_KEY, OcdavConfig, PollCache
from .errors import DavError
from .locking import owner_names
from .namespaces import (
    SHARES_FOLDER,
    DavTarget,
    config_of,
    mark_replayable,
    principal_of,
    request_target,
    storage_of,
    user_of,
)
from .propfind import (
    ALLPROP,
    PropSpec,
    RenderContext,
    _load_dead,
    _load_owners,
    _load_share_types,
    _needs,
    _owner_names,
    _parse_propfind,
    _response,
    _specs,
)
from .sharejail import jail_listing
from .xml import CONTENT_TYPE, ROOT_XMLNS, XML_DECL, esc, read_body

log = logging.getLogger("ocis.ocdav")

PAGE = 1000        # entries per storage read of a Depth 1 listing (two pages in memory at most)
TREE_PAGE = 100    # per folder of a Depth infinity walk: one page of each open folder is kept
Entry = tuple[Node, tuple[str, ...]]


@dataclasses.dataclass(slots=True)
class Wanted:
    """What the request asks for, and what must be loaded to render it."""

    mode: str
    specs: list[PropSpec]
    dead: bool
    share_types: bool
    minimal: bool


def _depth(request: web.Request) -> str:
    # reva: a missing Depth header means 1; infinity only when configured.
    depth = request.headers.get("Depth", "1").strip().lower()
    if depth in ("0", "1") or (depth == "infinity" and config_of(request).allow_propfind_depth_infinity):
        return depth
    raise BadRequest("Invalid Depth header value")


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
    want = Wanted(mode, specs, mode != "prop" or dead,
                  target.jail is None and target.access.can_manage and share_types, minimal)
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
        caller = principal_of(request)       # oc:favorite is per user
        key = (request.raw_path, mode, wanted, minimal, owner, access.role, access.permissions,
               access.share.id if access.share is not None else None,
               caller.id if caller is not None else None)
        body = polls.get(stamp, key)
        if body is not None:
            await mark_replayable(request, target)
            return web.Response(status=207, body=body, headers={"Content-Type": CONTENT_TYPE})
    rc = RenderContext(target, owner[0], owner[1], ctx.public_url)
    rc.user_id = getattr(principal_of(request), "id", "")
    node, batches = await _listing(request, storage, rc, depth, conf)
    if target.jail is None and quota:
        rc.space = await storage.get_space(target.space_id)
    if locks:
        rc.locks = await _load_locks(storage, target, depth)
        rc.lock_owners = await owner_names(request, rc.locks)
    async with contextlib.aclosing(batches):
        response, tail = await _stream(request, storage, rc, want, node, batches, conf)
    if response is None:   # a small multistatus (a Depth 0 poll): one send, with Content-Length
        if polls is not None and storage.change_stamp == stamp:   # nothing changed meanwhile
            polls.put(stamp, key, tail)
            await mark_replayable(request, target)
        return web.Response(status=207, body=tail, headers={"Content-Type": CONTENT_TYPE})
    return response


async def _listing(request: web.Request, storage: Storage, rc: RenderContext, depth: str,
                   conf: OcdavConfig) -> tuple[Node, AsyncGenerator[list[Entry], None]]:
    """The requested node and its entries in batches, read lazily; refusals happen here,
    before anything is sent."""
    target = rc.target
    if target.jail is not None:        # the share jail root: its mount points (sharejail.py)
        entries = target.jail.entries if depth != "0" else []
        rc.perm_of.update(target.jail.perms)
        rc.share_ids.update(target.jail.share_ids)
        await _load_owners(request, rc, {n.owner_id for n, _ in entries})
        return target.jail.root, _given(list(entries))
    node = await storage.lookup(target.space_id, target.path)
    if target.mount_id is not None:
        access = target.access
        rc.perm_of[target.mount_id] = (access.webdav_permissions(is_dir=node.is_dir, mounted=True),
                                       str(access.grantable(is_dir=node.is_dir)))
    base = tuple(target.path)
    if depth == "0" or not node.is_dir:
        return node, _given([])
    if depth == "infinity":
        cap = conf.propfind_depth_infinity_max_entries
        if await storage.count_below(node, cap) > cap:
            raise _too_large(cap)
        listed = _tree(storage, node, base, cap)
    else:
        listed = _pages(storage, node, base)
    if target.legacy and not target.path:
        listed = _with_shares_folder(request, rc, node, listed)
    return node, listed


def _too_large(cap: int) -> DavError:
    # RFC 4918 §9.1: a server may refuse Depth infinity, with this precondition.
    return DavError(403, f"The tree holds more than {cap} entries: list it folder by folder "
                    "(Depth 1)", "<d:propfind-finite-depth/>")


async def _given(entries: list[Entry]) -> AsyncGenerator[list[Entry], None]:
    if entries:
        yield entries


async def _pages(storage: Storage, folder: Node, path: tuple[str, ...]
                 ) -> AsyncGenerator[list[Entry], None]:
    """The children of `folder`, a page at a time. Read when asked for, not ahead: a cached
    page then costs no trip through the event loop."""
    after: str | None = None
    while True:
        page = await storage.children_page(folder, after, PAGE)
        if page:
            yield [(child, (*path, child.name)) for child in page]
        if len(page) < PAGE:
            return
        after = page[-1].name


async def _tree(storage: Storage, root: Node, base: tuple[str, ...], cap: int
                ) -> AsyncGenerator[list[Entry], None]:
    """Everything below `root`, depth first, each folder's children sorted by name (as one walk
    of Depth 1 listings would see them). Memory: one page per open folder, so at most the path
    depth times TREE_PAGE nodes. More than `cap` entries (the tree grew since it was counted)
    raise: the stream is then aborted, never silently cut."""
    stack: list[tuple[Node, tuple[str, ...], list[Node], int]] = [
        (root, base, await storage.children_page(root, None, TREE_PAGE), 0)]
    batch: list[Entry] = []
    count = 0
    while stack:
        folder, path, page, index = stack[-1]
        if index == len(page):
            stack.pop()
            if len(page) == TREE_PAGE:     # more may follow in this folder
                rest = await storage.children_page(folder, page[-1].name, TREE_PAGE)
                if rest:
                    stack.append((folder, path, rest, 0))
            continue
        stack[-1] = (folder, path, page, index + 1)
        child = page[index]
        child_path = (*path, child.name)
        batch.append((child, child_path))
        count += 1
        if count > cap:     # grown since it was counted: refused (or, once sent, aborted)
            raise _too_large(cap)
        if len(batch) >= PAGE:
            yield batch
            batch = []
        if child.is_dir:
            stack.append((child, child_path, await storage.children_page(child, None, TREE_PAGE), 0))
    if batch:
        yield batch


async def _with_shares_folder(request: web.Request, rc: RenderContext, home: Node,
                              listed: AsyncGenerator[list[Entry], None]) -> AsyncGenerator[list[Entry], None]:
    """The legacy home root lists the share jail as `Shares` once something is mounted there
    (and no real folder has that name); nothing can be created in it directly."""
    async with contextlib.aclosing(listed):
        async for batch in listed:
            yield batch
    ctx = request.app[CONTEXT_KEY]
    try:
        await ctx.storage.lookup(rc.target.space_id, (SHARES_FOLDER,))
        return                          # a real folder of that name is listed already
    except NotFound:
        pass
    _, jail = await jail_listing(ctx.storage, ctx.users, user_of(request))
    if not jail.entries:
        return
    folder = dataclasses.replace(jail.root, name=SHARES_FOLDER, parent_id=home.id)
    rc.perm_of[folder.id] = ("", str(READ))
    yield [(folder, (SHARES_FOLDER,))]


async def _load_locks(storage: Storage, target: DavTarget, depth: str) -> list[LockRecord]:
    locks = list(await storage.locks_covering(target.space_id, target.path))
    if depth != "0":
        locks += await storage.locks_below(target.space_id, target.path)
    return list({lock.token: lock for lock in locks}.values())


async def _load(storage: Storage, rc: RenderContext, want: Wanted, nodes: Sequence[Node]) -> None:
    """What rendering these nodes needs beyond the nodes themselves (per batch)."""
    if want.dead:
        await _load_dead(storage, rc, list(nodes))
    if want.share_types:
        await _load_share_types(storage, rc, list(nodes))


class _Writer:
    """Collects fragments and sends them once they outgrow one chunk; the response is started
    only then, so a small multistatus goes out in one piece with a Content-Length."""

    __slots__ = ("chunk", "conf", "request", "response", "size")

    def __init__(self, request: web.Request, conf: OcdavConfig) -> None:
        self.request, self.conf = request, conf
        self.response: web.StreamResponse | None = None
        self.chunk: list[str] = []
        self.size = 0

    def add(self, fragment: str) -> bool:
        """Keep `fragment`; True when the chunk is full and should be flushed (no await per
        entry: a 10k listing adds 10k fragments)."""
        self.chunk.append(fragment)
        self.size += len(fragment)
        return self.size >= self.conf.stream_chunk

    async def flush(self) -> None:
        if self.response is None:
            self.response = web.StreamResponse(status=207, headers={"Content-Type": CONTENT_TYPE})
            await self.response.prepare(self.request)
        data, self.chunk, self.size = "".join(self.chunk).encode(), [], 0
        await self.response.write(data)    # waits while the client is slow to read
        await asyncio.sleep(0)   # a 10k listing must not stall concurrent requests


async def _stream(request: web.Request, storage: Storage, rc: RenderContext, want: Wanted,
                  node: Node, batches: AsyncGenerator[list[Entry], None], conf: OcdavConfig,
                  ) -> tuple[web.StreamResponse | None, bytes]:
    """Render and send; returns the started response (finished), or None and the whole body
    when it fit in one chunk."""
    out = _Writer(request, conf)
    target = rc.target
    self_href = target.self_href(is_dir=node.is_dir)
    # The first batch is read before anything is rendered: the requested node's properties
    # load with it (one query), and a failure there still gets a status of its own.
    batch = await anext(batches, None)
    await _load(storage, rc, want, [node, *(child for child, _ in batch or ())])
    out.add(XML_DECL.decode() + f"<d:multistatus {ROOT_XMLNS}>")
    out.add(_entry_response(self_href, node, tuple(target.path), rc, want))
    base_len = len(target.path)
    child_href, add = target.child_href, out.add
    try:
        while batch is not None:
            for child, path in batch:
                if len(path) == base_len + 1:   # Depth 1: right below the request path
                    parent_href = self_href
                else:
                    parent_href = self_href + "".join(child_href("", name, is_dir=True)
                                                      for name in path[base_len:-1])
                href = child_href(parent_href, child.name, is_dir=child.is_dir)
                if add(_entry_response(href, child, path, rc, want)):
                    await out.flush()
            batch = await anext(batches, None)
            if batch is not None:
                await _load(storage, rc, want, [child for child, _ in batch])
    except ConnectionError:
        raise                           # the client went away: nothing to tell it
    except Exception:
        if out.response is None:
            raise                       # nothing sent yet: the error renderer answers
        _abort(request, "a listing could not be read to its end")
        return out.response, b""
    out.add("</d:multistatus>")
    tail = "".join(out.chunk).encode()
    if out.response is None:
        return None, tail
    await out.response.write(tail)
    await out.response.write_eof()
    return out.response, b""


def _entry_response(href: str, node: Node, path: tuple[str, ...], rc: RenderContext,
                    want: Wanted) -> str:
    try:
        return _response(href, node, path, want.specs, rc, want.mode, want.minimal)
    except Exception:
        # A bug on one entry (its data, a renderer): the others are still worth having.
        log.exception("PROPFIND: rendering %s failed; answered with status 500 for it",
                      type(node).__name__)
        return (f"<d:response><d:href>{esc(href)}</d:href>"
                "<d:status>HTTP/1.1 500 Internal Server Error</d:status></d:response>")


def _abort(request: web.Request, why: str) -> None:
    """A 207 already under way cannot become an error: close the connection without ending
    the body, so the client sees a broken transfer (and retries), never a short listing."""
    log.exception("PROPFIND: %s; the connection is closed mid-answer", why)
    transport = request.transport
    if transport is not None and not transport.is_closing():
        transport.abort()
