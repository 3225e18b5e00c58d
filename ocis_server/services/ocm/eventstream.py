"""`GET /ocm/shares/<share id>/events`: the changes inside a federated share we sent, as a
`text/event-stream`, for the recipient's server (our extension: OCM has no push; protocol-notes.md
§14a, docs/federation.md). The share's secret is the credential (`Authorization: Bearer
<secret>`, as at `/dav/ocm/<id>/`); a wrong one is a 401, an unknown, removed or expired share a
404.

Only storage events inside the shared tree are sent, with paths relative to the shared item;
every event is checked against the share as it is then (removed, expired, the sharer's access
gone: the stream ends). One stream per share: the share's consumer group is durable, so a
recipient that reconnects gets what happened meanwhile (within the bus's retention), and a newer
stream for the same share replaces an older one still open.

    id: <bus seq>
    event: ItemMoved
    data: {"type":"ItemMoved","path":"/sub/b.txt","old_path":"/a.txt","item_id":...,
           "parent_id":...,"old_parent_id":...,"etag":"\"...\"","is_dir":false}
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from typing import Any

from aiohttp import web

from ocis_server.domain.errors import NotFound, Unauthenticated
from ocis_server.events import Event
from ocis_server.events.event import STORAGE_TYPES
from ocis_server.services.context import ServiceContext
from ocis_server.sharing import federated_sent

KEEPALIVE = 15.0              # seconds between `: keepalive` lines on an idle stream
_MAX_SECRET = 512
_SHARE_TYPES = frozenset({"ShareRemoved", "ShareUpdated"})


class ShareStreams:
    """The open streams of one server, by share id (set: the stream ends)."""

    def __init__(self) -> None:
        self.live: dict[str, asyncio.Event] = {}

    def close_all(self) -> None:
        for ended in self.live.values():
            ended.set()


def _secret(request: web.Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not 0 < len(token) <= _MAX_SECRET:
        raise Unauthenticated("the share's secret is missing (Authorization: Bearer <secret>)")
    return token


def _inside(path: str, root: str) -> str | None:
    """`path` relative to the shared item at `root` ("/" for the item itself), None outside."""
    if not path:
        return None
    if path == root:
        return "/"
    if root == "/":
        return path
    return path[len(root):] if path.startswith(root + "/") else None


def scoped(event: Event, space_id: str, root: str) -> dict[str, Any] | None:
    """What the recipient is told of `event` (paths relative to the share), None when it
    happened outside the shared tree."""
    if event.type not in STORAGE_TYPES or event.type.startswith("Space"):
        return None
    if event.space_id != space_id:
        return None
    path, old = _inside(event.path, root), _inside(event.old_path, root)
    if path is None and old is None:
        return None
    body: dict[str, Any] = {"type": event.type, "item_id": event.item_id, "etag": event.etag,
                            "is_dir": event.is_dir}
    if path is not None:
        body["path"], body["parent_id"] = path, event.parent_id if path != "/" else ""
    if old is not None:
        body["old_path"], body["old_parent_id"] = old, event.old_parent_id
    return body


async def _opened(ctx: ServiceContext, share_id: str, secret: str) -> federated_sent.Opened:
    return await federated_sent.open_with_secret(ctx, share_id, secret)


async def share_events(request: web.Request, ctx: ServiceContext,
                       streams: ShareStreams) -> web.StreamResponse:
    share_id = request.match_info["share_id"]
    secret = _secret(request)
    if ctx.ocm is None and not ctx.config.enable_ocm:
        raise NotFound("federated sharing is not enabled on this server")
    opened = await _opened(ctx, share_id, secret)         # 401 / 404 before anything is sent
    live = streams.live
    previous = live.get(share_id)
    if previous is not None:
        previous.set()                                     # the newer stream replaces it
    ended = live[share_id] = asyncio.Event()
    # a name a NATS durable consumer may have too (no dots, wildcards or separators)
    group = "ocm-share-" + re.sub(r"[^A-Za-z0-9_-]", "_", share_id)
    consumer = ctx.events.consume(group, STORAGE_TYPES | _SHARE_TYPES)
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream", "Cache-Control": "no-cache",
        "X-Accel-Buffering": "no"})
    try:
        await response.prepare(request)
        await response.write(b": connected\n\n")
        await _pump(ctx, consumer, opened, share_id, secret, response, ended)
    except ConnectionError:
        pass                             # the recipient went away
    finally:
        consumer.close()                 # what was taken and not sent goes back to the group
        if live.get(share_id) is ended:
            del live[share_id]
    return response


async def _pump(ctx: ServiceContext, consumer: Any, opened: federated_sent.Opened, share_id: str,
                secret: str, response: web.StreamResponse, ended: asyncio.Event) -> None:
    space_id = f"{opened.node.storage_id}${opened.node.space_id}"
    root = "/" + "/".join(await ctx.storage.node_path(opened.node))
    while not ended.is_set():
        fetch = asyncio.ensure_future(consumer.fetch(KEEPALIVE))
        stop = asyncio.ensure_future(ended.wait())
        await asyncio.wait((fetch, stop), return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if not fetch.done():
            fetch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await fetch
            return
        delivery = fetch.result()
        try:      # the share as it is now: removed, expired, access lost -> the stream ends
            opened = await _opened(ctx, share_id, secret)
        except (NotFound, Unauthenticated):
            return
        if delivery is None:
            await response.write(b": keepalive\n\n")
            continue
        if delivery.event.type in _SHARE_TYPES:
            consumer.ack(delivery.seq)
            continue
        body = scoped(delivery.event, space_id, root)
        if body is not None:
            data = json.dumps(body, separators=(",", ":"))
            await response.write(f"id: {delivery.seq}\nevent: {body['type']}\n"
                                 f"data: {data}\n\n".encode())
        consumer.ack(delivery.seq)
        root = "/" + "/".join(await ctx.storage.node_path(opened.node))   # it may have moved
