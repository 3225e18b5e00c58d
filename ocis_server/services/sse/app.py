"""The `sse` aiohttp application: one `text/event-stream` per authenticated request, fed by the
clientlog consumer of the event bus (consumer group "clientlog")."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

from aiohttp import web

from ocis_server.auth import authz
from ocis_server.domain.errors import Unauthenticated
from ocis_server.events import Delivery
from ocis_server.services.context import ServiceContext

from .clientlog import CONSUMED, Notice, notice
from .config import SseConfig
from .errors import error_middleware
from .hub import Hub, Stream

log = logging.getLogger("ocis.sse")
MEMBERSHIP = frozenset({"GroupMemberAdded", "GroupMemberRemoved", "GroupDeleted", "UserDeleted"})
HUB_KEY = web.AppKey("sse_hub", Hub)
CTX_KEY = web.AppKey("sse_ctx", ServiceContext)
CONFIG_KEY = web.AppKey("sse_config", SseConfig)
PUMP_KEY = web.AppKey("sse_pump", asyncio.Task[None])


def create_app(ctx: ServiceContext,
               mount: str = "/ocs/v2.php/apps/notifications/api/v1/notifications/sse"
               ) -> web.Application:
    app = web.Application(middlewares=[error_middleware])
    config = SseConfig.from_context(ctx)
    app[CTX_KEY], app[CONFIG_KEY], app[HUB_KEY] = ctx, config, Hub(config.limits)
    app.router.add_get("", stream_events)
    app.router.add_get("/", stream_events)
    app.on_startup.append(_start)
    app.on_shutdown.append(_stop)
    return app


async def _start(app: web.Application) -> None:
    app[PUMP_KEY] = asyncio.create_task(pump(app[CTX_KEY], app[HUB_KEY]), name="sse-clientlog")


async def _stop(app: web.Application) -> None:
    app[HUB_KEY].close_all()          # open streams end, so shutdown does not wait for them
    task = app.get(PUMP_KEY)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


_BATCH = 64     # events whose audience is worked out concurrently (delivered in order)


async def pump(ctx: ServiceContext, hub: Hub) -> None:
    """Consume the bus; each event goes to the streams of the users it admits, in bus order.
    What is waiting is taken together: the storage reads that decide each event's audience run
    concurrently (the read pool has several threads), the deliveries stay in order."""
    consumer = ctx.events.consume("clientlog", CONSUMED | MEMBERSHIP)
    try:
        while True:
            first = await consumer.fetch()
            if first is None:
                continue
            batch = [first]
            while len(batch) < _BATCH:
                more = await consumer.fetch(0)
                if more is None:
                    break
                batch.append(more)
            found = await asyncio.gather(*(_prepare(ctx, hub, d) for d in batch),
                                         return_exceptions=True)
            for delivery, outcome in zip(batch, found, strict=True):
                try:
                    if isinstance(outcome, BaseException):
                        raise outcome
                    await _deliver(ctx, hub, delivery, outcome)
                except Exception:        # one bad event (storage away, ...) is logged, not fatal
                    log.exception("event %s (%s) not sent to clients", delivery.seq,
                                  delivery.event.type)
                consumer.ack(delivery.seq)
    finally:
        consumer.close()


async def _prepare(ctx: ServiceContext, hub: Hub, delivery: Delivery) -> Notice | None:
    if delivery.event.type in MEMBERSHIP or not any(True for _ in hub.listeners()):
        return None
    return await notice(ctx, delivery.event)


async def _deliver(ctx: ServiceContext, hub: Hub, delivery: Delivery,
                   found: Notice | None) -> None:
    event = delivery.event
    if event.type in MEMBERSHIP:         # group ids of the user change: look them up again
        hub.set_groups(event.user_id, None)
        if event.type == "GroupDeleted":
            for user_id, _ in list(hub.listeners()):
                hub.set_groups(user_id, None)
        return
    if found is None:
        return
    admitted = []
    for user_id, groups in list(hub.listeners()):
        if groups is None:
            groups = await _groups(ctx, user_id)
            hub.set_groups(user_id, groups)
        if found.admits(user_id, groups):
            admitted.append(user_id)
    hub.deliver(delivery.seq, found, admitted)


async def _groups(ctx: ServiceContext, user_id: str) -> frozenset[str]:
    groups_of = getattr(ctx.users, "groups_of", None)
    if groups_of is None:
        return frozenset()
    try:
        return frozenset(g.id for g in await groups_of(user_id))
    except Exception:            # noqa: BLE001 - no groups known: shares to groups are missed
        log.warning("groups of %s unknown", user_id)
        return frozenset()


def _last_event_id(request: web.Request) -> int | None:
    """The id the client saw last (EventSource sends Last-Event-ID on reconnect); None for a
    new subscription (or an id that is not ours): it starts with what happens next."""
    raw = request.headers.get("Last-Event-ID", "").strip()
    return int(raw) if raw.isdigit() and len(raw) < 19 else None


_SEND_BUFFER = 64 * 1024
_COALESCE = 0.25


def _frames(events: list[tuple[int, bytes]], sent: int) -> tuple[bytes, int]:
    """The frames of `events` not written yet (a replay may have sent some): (bytes, last id)."""
    parts = []
    for seq, data in events:
        if seq > sent:
            parts.append(data)
            sent = seq
    return b"".join(parts), sent


def _bound_socket_buffers(request: web.Request) -> None:
    """A stream is a trickle: the kernel's send buffer and the transport's buffer stay small, so
    a client that stops reading fills them quickly and its buffer (SSE_BUFFER_SIZE) decides."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _SEND_BUFFER)
    with contextlib.suppress(AttributeError, NotImplementedError):
        transport.set_write_buffer_limits(high=_SEND_BUFFER)


async def stream_events(request: web.Request) -> web.StreamResponse:
    user = request.get("principal")
    if user is None:
        raise Unauthenticated("authentication required")
    hub, config = request.app[HUB_KEY], request.app[CONFIG_KEY]
    stream = hub.open(user.id, request.transport)       # 429 beyond the per-user cap
    try:
        return await _serve(request, hub, stream, config.keepalive)
    finally:
        hub.close(stream)


async def _serve(request: web.Request, hub: Hub, stream: Stream,
                 keepalive: float) -> web.StreamResponse:
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream", "Cache-Control": "no-cache",
        "X-Accel-Buffering": "no"})    # nginx: pass events through unbuffered
    await response.prepare(request)
    _bound_socket_buffers(request)
    try:
        await response.write(b": connected\n\n")
        resume = _last_event_id(request)
        sent = 0
        if resume is not None:
            sent = resume
            for seq, data in hub.replay(stream.user_id, resume):
                await response.write(data)
                sent = seq
        loop = asyncio.get_running_loop()
        written = 0.0
        while not stream.overflowed:
            if not await stream.wait(keepalive):
                await response.write(b": keepalive\n\n")
                continue
            # Under a stream of events, write at most every _COALESCE seconds, all that
            # waits in one piece: far fewer writes; an event after a quiet spell goes at once.
            pause = written + _COALESCE - loop.time()
            if pause > 0 and not stream.stopping:
                await asyncio.sleep(pause)
            batch, sent = _frames(stream.take(), sent)
            if batch and not stream.overflowed:
                await response.write(batch)
                written = loop.time()
            if stream.stopping:
                break                      # the server stops
    except ConnectionError:
        pass                               # the client went away, or was cut off
    return response
