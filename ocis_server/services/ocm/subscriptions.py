"""Remote spaces feed the event stream: for every accepted federated share, one task follows the
sharer's event stream of that share (`GET <OCM endPoint>/shares/<providerId>/events` with the
secret as bearer, eventstream.py on the sharer's side) and publishes each change on this
server's bus as a change in the remote space (`space_id` = the remote space's id here), so the
`sse` service and every other consumer see it as a local change, delivered to the recipient only
(services/sse/clientlog.py).

A task starts when its share is accepted (and at start for the accepted ones) and stops when the
share is declined, removed or expires (the bus's `ReceivedShareUpdated` / `ShareRemoved`). It
goes through the one outbound client's rules (only listed origins, no redirect, time-outs; a
keepalive is due every 15 s, so 45 s of silence is a dead peer) and reads with a bounded line
reader. While the sharer cannot be reached it retries forever, with capped backoff, and the
remote space is marked unreachable (the listings' own check, asked afresh after each failure);
a sharer that answers but serves no stream (without this extension) is asked every 60 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import aiohttp

from ocis_server.domain.errors import NotFound
from ocis_server.events import Event
from ocis_server.services.context import ServiceContext
from ocis_server.sharing import federated
from ocis_server.storage import RemoteShare

from .client import OcmClient, PeerError
from .discovery import discover
from .forwarding import RemoteSpaceGateway
from .providers import Providers

log = logging.getLogger("ocis.ocm.events")
READ_TIMEOUT = 45.0           # the sharer sends a keepalive every 15 s
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 10.0
REFUSED_BACKOFF = 60.0        # a sharer that answers but serves no stream (another server)
MAX_LINE = 64 * 1024          # one line of the stream, and one event's data
_TYPES = frozenset({"ContainerCreated", "FileUploaded", "FileTouched", "ItemMoved",
                    "ItemTrashed", "ItemRestored", "ItemPurged", "FileVersionRestored"})
_WATCHED = frozenset({"ReceivedShareUpdated", "ShareRemoved"})


async def frames(content: aiohttp.StreamReader) -> AsyncIterator[tuple[str, str]]:
    """(event type, data) of each SSE message, read with bounded memory: a line longer than
    MAX_LINE, or an event with more data, is a PeerError (never an unbounded buffer)."""
    pending = b""
    kind, data = "", ""
    while True:
        chunk = await content.read(8192)
        if not chunk:
            return
        pending += chunk
        while b"\n" in pending:
            line, _, pending = pending.partition(b"\n")
            text = line.rstrip(b"\r").decode("utf-8", "replace")
            if not text:
                if data:
                    yield kind, data
                kind, data = "", ""
            elif text.startswith("event:"):
                kind = text[6:].strip()
            elif text.startswith("data:"):
                data += text[5:].strip()
                if len(data) > MAX_LINE:
                    raise PeerError("an event of the sharer's stream is too large")
        if len(pending) > MAX_LINE:
            raise PeerError("a line of the sharer's stream is too long")


def remote_event(share: RemoteShare, kind: str, data: str) -> Event | None:
    """The bus event for one event of the sharer's stream: in the remote space (its id here),
    paths below the space root; item ids as the remote space shows them (the sharer's, passed on
    by the WebDAV forwarding). None for anything else."""
    if kind not in _TYPES:
        return None
    try:
        body = json.loads(data)
    except ValueError:
        return None
    if not isinstance(body, dict) or body.get("type") != kind:
        return None

    def text(name: str) -> str:
        value = body.get(name, "")
        return value[:1024] if isinstance(value, str) else ""
    return Event(kind, executant="", space_id=federated.space_id(share),
                 item_id=text("item_id"), parent_id=text("parent_id"), etag=text("etag"),
                 path=text("path"), old_parent_id=text("old_parent_id"),
                 old_path=text("old_path"), is_dir=body.get("is_dir") is True,
                 share_id=share.id, grantee_user_id=share.user_id)


class Subscriptions:
    """One follower task per accepted federated share."""

    def __init__(self, ctx: ServiceContext, providers: Providers, client: OcmClient,
                 gateway: RemoteSpaceGateway) -> None:
        self.ctx, self.providers, self.client, self.gateway = ctx, providers, client, gateway
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self._watch: asyncio.Task[None] | None = None

    async def start(self) -> None:
        consumer = self.ctx.events.consume("ocm-subscriptions", _WATCHED)
        self._watch = asyncio.create_task(self._watch_shares(consumer), name="ocm-subscriptions")
        for share in await self.ctx.storage.accepted_remote_shares():
            self._ensure(share)

    async def stop(self) -> None:
        tasks = [t for t in (self._watch, *self.tasks.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.tasks.clear()

    async def _watch_shares(self, consumer: Any) -> None:
        try:
            while True:
                delivery = await consumer.fetch()
                if delivery is None:
                    continue
                if federated.is_federated(delivery.event.share_id):
                    await self.reconcile(delivery.event.share_id)
                consumer.ack(delivery.seq)
        finally:
            consumer.close()

    async def reconcile(self, share_id: str) -> None:
        """Follow the share when it is accepted and current; stop following it otherwise."""
        try:
            share: RemoteShare | None = await self.ctx.storage.get_remote_share(share_id)
        except NotFound:
            share = None
        if share is not None and share.state == "accepted" and not share.expired():
            self._ensure(share)
            return
        task = self.tasks.pop(share_id, None)
        if task is not None:
            task.cancel()

    def _ensure(self, share: RemoteShare) -> None:
        task = self.tasks.get(share.id)
        if task is None or task.done():
            self.tasks[share.id] = asyncio.create_task(self._follow(share.id),
                                                       name=f"ocm-follow-{share.id}")

    async def _follow(self, share_id: str) -> None:
        """Follow the share's stream, again and again, until the share is no longer current.
        After each failure the listings' own check (`status`, a depth-0 PROPFIND) is asked
        afresh, so the space shows unreachable at once while the sharer is down."""
        delay = BACKOFF_FIRST
        while True:
            try:
                share = await self.ctx.storage.get_remote_share(share_id)
            except NotFound:
                break
            if share.state != "accepted" or share.expired():
                break
            ran = await self._attempt(share)
            if ran:
                delay = BACKOFF_FIRST            # it ran: the next failure starts over
            self.gateway.forget(share.id)
            status = await self.gateway.status(share)
            if status.reachable and not ran:     # it answers, but serves no event stream
                wait = REFUSED_BACKOFF
            else:
                wait, delay = delay, min(delay * 2, BACKOFF_MAX)
            log.info("remote space %s: event stream again in %.1f s", share.id, wait)
            await asyncio.sleep(wait)
        self.tasks.pop(share_id, None)

    async def _attempt(self, share: RemoteShare) -> bool:
        """One subscription, to its end: True when the sharer served the stream a while."""
        ran: list[bool] = []
        try:
            await self._read(share, ran)
        except PeerError as exc:
            log.info("remote space %s: %s", share.id, exc.message)
        except asyncio.TimeoutError:
            log.info("remote space %s: %s did not answer in time", share.id, share.provider)
        except aiohttp.ClientError as exc:
            log.info("remote space %s: %s cannot be reached (%s)", share.id, share.provider,
                     exc.__class__.__name__)
        return bool(ran)

    async def _read(self, share: RemoteShare, ran: list[bool]) -> None:
        """One subscription: `ran` gets True once the sharer serves the stream; PeerError (or
        the client's errors) when it cannot be reached or serves none."""
        provider = self.providers.get(share.provider)
        endpoint = (await discover(self.client, provider)).endpoint
        url = f"{endpoint}/shares/{quote(share.provider_id, safe='')}/events"
        headers = {"Authorization": f"Bearer {share.secret}", "Accept": "text/event-stream"}
        async with self.client.stream(provider, "GET", url, headers=headers, data=None,
                                      read_timeout=READ_TIMEOUT) as resp:
            if resp.status != 200 or not resp.content_type.startswith("text/event-stream"):
                raise PeerError(f"{share.provider} serves no event stream for the share "
                                    f"({resp.status})")
            ran.append(True)
            self.gateway.forget(share.id)      # reachable: the listing asks again
            async for kind, data in frames(resp.content):
                event = remote_event(share, kind, data)
                if event is not None:
                    self.gateway.forget(share.id)
                    self.ctx.events.publish([event])
