"""The event bus on NATS JetStream (OCIS_EVENTS_ENDPOINT), the same interface as `InProcessBus`.

As oCIS: one stream `main-queue` (subject `main-queue`, file storage), one durable pull consumer
per consumer group (its name is the group's), explicit acknowledgement after handling, and a
message that is not acknowledged within `ack_wait` (the consumer crashed) delivered again to the
group. The payload is `Event.to_dict()` as JSON; the header `eventtype` names the type (reva keeps
it in the message metadata too), `Nats-Msg-Id` lets JetStream drop a publication retried after
a lost acknowledgement.

Publishing never waits for NATS: `publish` (any thread, also the storage writer's) appends to a
bounded outbox that one task sends in order, each message confirmed by the stream. While NATS is
away the outbox holds up to `outbox_size` events (the oldest are dropped beyond, counted and
logged) and is sent once the connection is back; what is still in it when the process stops (after
a bounded flush) is lost. The client reconnects forever, at most `max_backoff` seconds apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import uuid
from collections import deque
from collections.abc import Coroutine, Iterable
from datetime import UTC, datetime
from typing import Any

import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, DiscardPolicy, StorageType
from nats.js.api import StreamConfig
from nats.js.client import JetStreamContext
from nats.js.errors import BadRequestError, NotFoundError

from .bus import Delivery, wake_on
from .event import Event

log = logging.getLogger("ocis.events")

STREAM = "main-queue"          # oCIS's stream (reva events.MainQueueName), also its subject
STREAM_MAX_MSGS = 1_000_000    # the stream keeps the last million events (bounded disk)
FETCH_WAIT = 5.0               # longest single pull request; fetch(None) repeats them
PULL_BATCH = 1                 # events one pull request brings (larger: see docs/scaling.md)
NODE_GROUP_IDLE = 3600.0       # seconds NATS keeps a node's own group once nobody pulls from it


def nats_url(endpoint: str) -> str:
    """OCIS_EVENTS_ENDPOINT is host:port as in oCIS; a nats:// URL is taken as it is."""
    return endpoint if "://" in endpoint else f"nats://{endpoint}"


class JetStreamBus:
    def __init__(self, endpoint: str, *, name: str = "ocis-cluster", ack_wait: float = 30.0,
                 outbox_size: int = 10000, publish_timeout: float = 2.0,
                 max_backoff: float = 2.0, node: str = "",
                 per_node: frozenset[str] = frozenset()) -> None:
        self.url, self.name = nats_url(endpoint), name
        self.node, self.per_node = node, per_node     # groups every node consumes on its own
        self.ack_wait, self.publish_timeout, self.max_backoff = ack_wait, publish_timeout, max_backoff
        self._lock = threading.Lock()
        self._outbox: deque[tuple[str, Event]] = deque()
        self._outbox_size = max(1, outbox_size)
        self.dropped = 0               # events pushed out of a full outbox while NATS was away
        self._seq = 0
        self._nc: NatsClient | None = None
        self._js: JetStreamContext | None = None
        self._ready: asyncio.Event | None = None    # connected and the stream exists
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._spawned: set[asyncio.Task[Any]] = set()
        self._closing = False

    # --- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Connect in the background: the server starts (degraded) while NATS is away."""
        self._loop = asyncio.get_running_loop()
        self._ready, self._wake = asyncio.Event(), asyncio.Event()
        self._tasks = [asyncio.create_task(self._connect(), name="nats-connect"),
                       asyncio.create_task(self._send(), name="nats-publish")]

    @property
    def connected(self) -> bool:
        return self._ready is not None and self._ready.is_set() and \
            self._nc is not None and self._nc.is_connected

    async def wait_connected(self, timeout: float) -> bool:
        if self._ready is None:
            return False
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def close(self, flush_timeout: float = 2.0) -> None:
        """Send what is in the outbox for at most `flush_timeout` seconds, then disconnect."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + flush_timeout
        self._closing = True
        while self._outbox and self.connected and loop.time() < deadline:
            await asyncio.sleep(0.02)
        if self._outbox:
            log.warning("%d events not sent to NATS before shutdown: lost", len(self._outbox))
        if self._spawned:              # acknowledgements and give-backs of closing consumers
            await asyncio.wait(list(self._spawned), timeout=max(0.1, deadline - loop.time()))
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._nc is not None and not self._nc.is_closed:
            try:
                await asyncio.wait_for(self._nc.close(), 2.0)
            except (TimeoutError, NatsError):
                pass

    async def _connect(self) -> None:
        backoff = 0.1
        while True:
            try:
                self._nc = await nats.connect(
                    servers=[self.url], name=self.name, connect_timeout=2,
                    allow_reconnect=True, max_reconnect_attempts=-1,
                    reconnect_time_wait=self.max_backoff,
                    disconnected_cb=self._on_disconnect, reconnected_cb=self._on_reconnect,
                    error_cb=self._on_error)
                self._js = self._nc.jetstream(timeout=self.publish_timeout)
                await self._ensure_stream()
                break
            except (NatsError, OSError, TimeoutError) as exc:
                log.warning("NATS at %s not reachable (%s): events wait in the outbox", self.url,
                            exc or type(exc).__name__)
                if self._nc is not None:
                    await self._nc.close()
                    self._nc = None
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)
        log.info("event bus on NATS JetStream %s (stream %s)", self.url, STREAM)
        assert self._ready is not None and self._wake is not None
        self._ready.set()
        self._wake.set()

    async def _ensure_stream(self) -> None:
        assert self._js is not None
        config = StreamConfig(name=STREAM, subjects=[STREAM], storage=StorageType.FILE,
                              max_msgs=STREAM_MAX_MSGS, discard=DiscardPolicy.OLD)
        try:
            await self._js.add_stream(config)
        except BadRequestError:                # exists with other limits: use it as it is
            await self._js.stream_info(STREAM)

    async def _on_disconnect(self) -> None:
        if not self._closing:
            log.warning("NATS connection to %s lost: reconnecting", self.url)

    async def _on_reconnect(self) -> None:
        log.info("NATS connection to %s back", self.url)
        if self._wake is not None:
            self._wake.set()

    async def _on_error(self, exc: Exception) -> None:
        log.debug("NATS: %s", exc)

    # --- publishing -----------------------------------------------------------------------------
    @property
    def last_seq(self) -> int:
        """The highest stream sequence this process has seen (published or delivered)."""
        return self._seq

    def publish(self, events: Iterable[Event]) -> None:
        """Queue for sending, in order (any thread); never waits for NATS."""
        with self._lock:
            for event in events:
                if len(self._outbox) >= self._outbox_size:
                    self._outbox.popleft()
                    self.dropped += 1
                    if self.dropped == 1 or self.dropped % 1000 == 0:
                        log.error("NATS away and the event outbox full: %d events dropped",
                                  self.dropped)
                self._outbox.append((uuid.uuid4().hex, event))
        if self._wake is not None:
            wake_on(self._loop, self._wake.set)

    async def _send(self) -> None:
        """Send the outbox head until the stream confirms it; retry it (same message id) when not."""
        assert self._wake is not None and self._ready is not None
        backoff = 0.05
        while True:
            with self._lock:
                head = self._outbox[0] if self._outbox else None
            if head is None or not self.connected:
                self._wake.clear()
                if head is None or not self._ready.is_set():
                    await self._wake.wait()
                else:
                    await asyncio.sleep(backoff)     # reconnecting: nats-py tells us (wake)
                continue
            msg_id, event = head
            assert self._js is not None
            try:
                ack = await self._js.publish(
                    STREAM, json.dumps(event.to_dict()).encode(), timeout=self.publish_timeout,
                    stream=STREAM, headers={"eventtype": event.type, "Nats-Msg-Id": msg_id})
            except (NatsError, TimeoutError, OSError) as exc:
                log.debug("publish to NATS failed (%s): retrying", exc or type(exc).__name__)
                await asyncio.sleep(backoff)
                if self.connected:             # a NATS that lost its store: make the stream again
                    with contextlib.suppress(NatsError, TimeoutError, OSError):
                        await self._ensure_stream()
                backoff = min(backoff * 2, self.max_backoff)
                continue
            backoff = 0.05
            self._seq = max(self._seq, ack.seq)
            with self._lock:
                if self._outbox and self._outbox[0][0] == msg_id:
                    self._outbox.popleft()

    # --- consuming ------------------------------------------------------------------------------
    def consume(self, group: str, types: frozenset[str] | None = None) -> JetStreamConsumer:
        """A consumer in the durable consumer `group` (made on first use: it starts with the
        events published from now on; later it resumes where the group stands). A group in
        `per_node` is this node's own (`<group>-<node>`: every node gets every event, e.g. for
        the SSE clients connected to it), dropped by NATS NODE_GROUP_IDLE seconds after the node
        stopped pulling."""
        if self.node and group in self.per_node:
            return JetStreamConsumer(self, f"{group}-{self.node}", types, datetime.now(UTC),
                                     idle=NODE_GROUP_IDLE)
        return JetStreamConsumer(self, group, types, datetime.now(UTC))

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coro, loop=self._loop)
        self._spawned.add(task)
        task.add_done_callback(_settled(self._spawned))


def _settled(tasks: set[asyncio.Task[Any]]) -> Any:
    def done(task: asyncio.Task[Any]) -> None:
        tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.debug("NATS acknowledgement not sent: %s", task.exception())
    return done


class JetStreamConsumer:
    def __init__(self, bus: JetStreamBus, group: str, types: frozenset[str] | None,
                 since: datetime, *, idle: float | None = None) -> None:
        self._bus, self.group, self._types, self._since = bus, group, types, since
        self._idle = idle
        self._sub: JetStreamContext.PullSubscription | None = None
        self._unacked: dict[int, Msg] = {}
        self._buffer: deque[Msg] = deque()     # pulled, not yet handed out
        self._closed = False

    async def _subscription(self) -> JetStreamContext.PullSubscription:
        if self._sub is None:
            js = self._bus._js
            assert js is not None
            config = ConsumerConfig(
                durable_name=self.group, ack_policy=AckPolicy.EXPLICIT,
                ack_wait=self._bus.ack_wait, deliver_policy=DeliverPolicy.BY_START_TIME,
                opt_start_time=self._since, inactive_threshold=self._idle,
                max_ack_pending=10000)
            self._sub = await js.pull_subscribe(STREAM, durable=self.group, stream=STREAM,
                                                config=config)
        return self._sub

    async def fetch(self, timeout: float | None = None) -> Delivery | None:
        """The group's next event for this consumer; None after `timeout` seconds without one
        (0: only what already arrived; also None while NATS is away: it resumes once back).
        Pulls up to PULL_BATCH at a time: they count as delivered to this consumer."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        backoff = 0.05
        while not self._closed:
            while self._buffer:
                delivery = self._accept(self._buffer.popleft())
                if delivery is not None:
                    return delivery
            left = FETCH_WAIT if deadline is None else deadline - loop.time()
            if left <= 0:
                return None
            if not self._bus.connected:
                if not await self._bus.wait_connected(min(left, backoff)):
                    backoff = min(backoff * 2, self._bus.max_backoff)
                    continue
            try:
                sub = await self._subscription()
                self._buffer.extend(await sub.fetch(PULL_BATCH,
                                                    timeout=max(0.05, min(left, FETCH_WAIT))))
            except NatsTimeout:
                continue
            except (NatsError, NotFoundError, OSError) as exc:    # NATS restarting, consumer gone
                log.debug("fetch for %s failed (%s): retrying", self.group, exc)
                self._sub = None
                await asyncio.sleep(min(backoff, max(0.0, left)))
                backoff = min(backoff * 2, self._bus.max_backoff)
                continue
        return None

    def _accept(self, msg: Msg) -> Delivery | None:
        seq = msg.metadata.sequence.stream
        self._bus._seq = max(self._bus._seq, seq)
        try:
            event = Event.from_dict(json.loads(msg.data))
        except (ValueError, TypeError, KeyError) as exc:
            log.error("event %d in %s unreadable (%s): skipped", seq, STREAM, exc)
            self._bus._spawn(msg.term())
            return None
        if self._types is not None and event.type not in self._types:
            self._bus._spawn(msg.ack())
            return None
        self._unacked[seq] = msg
        return Delivery(seq, event)

    def ack(self, seq: int) -> None:
        msg = self._unacked.pop(seq, None)
        if msg is not None:
            self._bus._spawn(msg.ack())

    def close(self) -> None:
        """Stop consuming; what was delivered and not acknowledged goes back to the group now."""
        if self._closed:
            return
        self._closed = True
        for msg in [*self._unacked.values(), *self._buffer]:
            self._bus._spawn(msg.nak())
        self._unacked.clear()
        self._buffer.clear()
        if self._sub is not None:
            self._bus._spawn(self._sub.unsubscribe())
            self._sub = None
