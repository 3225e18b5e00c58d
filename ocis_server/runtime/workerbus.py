"""The event bus between the workers of one node when no NATS is configured (OCIS_WORKERS > 1,
OCIS_EVENTS_ENDPOINT unset).

Each worker keeps its in-process bus and also sends what it publishes, one JSON line per event,
to the relay the parent hosts on a unix socket (`Hub`); the relay passes each line to every
other worker, which publishes it on its own bus. So every worker's bus carries every event of
the node once: an SSE stream held by worker A gets the upload worker B committed. Consumer
groups tied to a client connection (the SSE streams, a federated share's follower) consume in
every worker; the background groups (userlog, the ocm subscriptions) only in the primary, so a
notification is written once (`WorkerGroups`, also used over NATS).

Before a relayed event is published, `before_remote` runs (the cache check of freshness.py): a
consumer that reads the storage for it then sees the other worker's commit.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Callable, Iterable

from ocis_server.events import Event, EventBus, InProcessBus
from ocis_server.events.bus import Consumer, Delivery, wake_on

from .workerrole import WorkerRole, per_connection

log = logging.getLogger("ocis.runtime")
BACKLOG = 10000       # events kept while the relay is away (a worker restarting it: never long)
RECONNECT = 0.2
LINE_LIMIT = 16 << 20    # bytes of one event's line


class _Idle:
    """A consumer of a background group in a worker other than the primary: it gets nothing
    (the primary consumes that group), and waits as a consumer with nothing to do waits."""

    def __init__(self) -> None:
        self._closed = asyncio.Event()

    async def fetch(self, timeout: float | None = None) -> Delivery | None:
        try:
            await asyncio.wait_for(self._closed.wait(), timeout)
        except TimeoutError:
            pass
        return None

    def ack(self, seq: int) -> None:
        return None

    def close(self) -> None:
        self._closed.set()


class WorkerGroups:
    """Any bus, with the background groups consumed by the primary worker only."""

    def __init__(self, bus: EventBus, role: WorkerRole) -> None:
        self.bus, self.role = bus, role

    @property
    def last_seq(self) -> int:
        return self.bus.last_seq

    def publish(self, events: Iterable[Event]) -> None:
        self.bus.publish(events)

    def consume(self, group: str, types: frozenset[str] | None = None) -> Consumer:
        if self.role.primary or per_connection(group):
            return self.bus.consume(group, types)
        return _Idle()

    async def close(self) -> None:
        close = getattr(self.bus, "close", None)
        if close is not None:
            await close()


class RelayedBus:
    """The in-process bus plus the relay to the other workers (module docstring)."""

    def __init__(self, hub: str, before_remote: Callable[[], None] = lambda: None) -> None:
        self.local = InProcessBus()
        self._hub = hub
        self.before_remote = before_remote
        self._out: deque[bytes] = deque(maxlen=BACKLOG)
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    @property
    def last_seq(self) -> int:
        return self.local.last_seq

    def publish(self, events: Iterable[Event]) -> None:
        """Here at once (any thread, like InProcessBus); to the other workers by the relay."""
        events = list(events)
        self.local.publish(events)
        lines = [json.dumps(e.to_dict(), separators=(",", ":")).encode() + b"\n" for e in events]
        wake_on(self._loop, lambda: self._queue(lines))

    def _queue(self, lines: list[bytes]) -> None:
        if len(self._out) + len(lines) > BACKLOG:
            log.warning("worker event relay: %d events dropped (the relay is away)",
                        len(self._out) + len(lines) - BACKLOG)
        self._out.extend(lines)
        self._wake.set()

    def consume(self, group: str, types: frozenset[str] | None = None) -> Consumer:
        return self.local.consume(group, types)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._run(), name="worker-relay")
        try:
            await asyncio.wait_for(self.connected.wait(), 5.0)
        except TimeoutError:
            log.warning("worker event relay at %s not reachable yet", self._hub)

    async def _run(self) -> None:
        while True:
            try:
                reader, writer = await asyncio.open_unix_connection(self._hub, limit=LINE_LIMIT)
            except OSError:
                await asyncio.sleep(RECONNECT)
                continue
            self.connected.set()
            receiving = asyncio.create_task(self._receive(reader))
            try:
                await self._send(writer, receiving)
            except (OSError, ConnectionError):
                pass
            finally:
                self.connected.clear()
                receiving.cancel()
                writer.close()
            log.warning("worker event relay lost; reconnecting")
            await asyncio.sleep(RECONNECT)

    async def _send(self, writer: asyncio.StreamWriter, receiving: asyncio.Task[None]) -> None:
        while not receiving.done():
            while self._out:
                writer.write(self._out[0])
                self._out.popleft()
            await writer.drain()
            self._wake.clear()
            if self._out:
                continue
            waiting = asyncio.ensure_future(self._wake.wait())
            await asyncio.wait({waiting, receiving}, return_when=asyncio.FIRST_COMPLETED)
            waiting.cancel()

    async def _receive(self, reader: asyncio.StreamReader) -> None:
        while True:
            line = await reader.readline()
            if not line:
                return
            try:
                event = Event.from_dict(json.loads(line))
            except (ValueError, TypeError, KeyError):
                log.warning("worker event relay: an unreadable event was skipped")
                continue
            self.before_remote()
            self.local.publish([event])

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            for _ in range(20):          # what this worker published goes out before it stops
                if not self._out or not self.connected.is_set():
                    break
                await asyncio.sleep(0.05)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


class Hub:
    """The relay in the parent: every line one worker sends goes to every other worker."""

    def __init__(self) -> None:
        self._peers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.AbstractServer | None = None

    async def start(self, path: str) -> None:
        self._server = await asyncio.start_unix_server(self._serve, path=path,
                                                    limit=LINE_LIMIT)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._peers.add(writer)
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                for peer in list(self._peers):
                    if peer is not writer and not peer.is_closing():
                        peer.write(line)
        except (OSError, ConnectionError, ValueError):
            pass
        finally:
            self._peers.discard(writer)
            writer.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for peer in list(self._peers):
            peer.close()
        self._peers.clear()
