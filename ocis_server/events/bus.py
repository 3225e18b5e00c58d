"""The bus interface a broker offers (publish; consume with a consumer group; ack) and the
in-process bus that runs by default.

The semantics are JetStream's (oCIS stream `main-queue`, one durable consumer per service), so a
NATS implementation can stand behind the same interface: every message gets a sequence number;
each consumer group sees every message once, in order; several consumers in one group share the
messages; a message delivered to a consumer that goes away unacknowledged is delivered again to
the group. The stream keeps the last `retention` messages: a group further behind than that skips
what is gone (logged), it never makes the server hold more. It keeps no message every group has
already taken (a new group starts at the next message published, so none would read it again):
with consumers that keep up the stream holds next to nothing, not the last 10,000 events of a
busy upload (about 13 MiB; issue 18, memory).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from .event import Event

log = logging.getLogger("ocis.events")
_TRIM_EVERY = 64      # a consumer trims the stream once this many messages lie behind it


@dataclass(frozen=True, slots=True)
class Delivery:
    seq: int                 # the message's sequence number in the stream (1, 2, ...)
    event: Event


class Consumer(Protocol):
    async def fetch(self, timeout: float | None = None) -> Delivery | None: ...
    def ack(self, seq: int) -> None: ...
    def close(self) -> None: ...


class EventBus(Protocol):
    def publish(self, events: Iterable[Event]) -> None: ...     # from any thread; order kept
    def consume(self, group: str, types: frozenset[str] | None = None) -> Consumer: ...
    @property
    def last_seq(self) -> int: ...


def wake_on(loop: asyncio.AbstractEventLoop | None, wake: Callable[[], None]) -> None:
    """Run `wake` on the consuming `loop` from any thread: at once when called on that loop,
    else scheduled thread-safe; nothing once the loop is gone (nobody consumes any more)."""
    if loop is None or loop.is_closed():
        return
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        wake()
    else:
        try:
            loop.call_soon_threadsafe(wake)
        except RuntimeError:      # the loop closed meanwhile
            pass


class _Group:
    """A durable consumer: where the group is in the stream, and what went out unacknowledged."""

    def __init__(self, name: str, start: int) -> None:
        self.name = name
        self.next_seq = start          # the next stream message to hand out
        self.redeliver: deque[Delivery] = deque()   # given back by a consumer that went away
        self.wake = asyncio.Event()


class InProcessBus:
    def __init__(self, retention: int = 10000) -> None:
        self._lock = threading.Lock()
        self._stream: deque[Delivery] = deque(maxlen=max(1, retention))
        self._seq = 0
        self._groups: dict[str, _Group] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def last_seq(self) -> int:
        return self._seq

    @property
    def held(self) -> int:
        """How many messages the stream holds (what some group has not taken yet)."""
        return len(self._stream)

    def publish(self, events: Iterable[Event]) -> None:
        """Append to the stream (any thread); consumers wake on the loop that consumes."""
        with self._lock:
            for event in events:
                self._seq += 1
                self._stream.append(Delivery(self._seq, event))
            self._trim()
            loop = self._loop
        wake_on(loop, self._wake)

    def _wake(self) -> None:
        for group in list(self._groups.values()):
            group.wake.set()

    def consume(self, group: str, types: frozenset[str] | None = None) -> InProcessConsumer:
        """A consumer in `group` (made durable on first use: it starts at the next message
        published). `types`: only these event types; the others are passed over."""
        self._loop = asyncio.get_running_loop()
        with self._lock:
            state = self._groups.get(group)
            if state is None:
                state = self._groups[group] = _Group(group, self._seq + 1)
        return InProcessConsumer(self, state, types)

    def _take(self, group: _Group) -> Delivery | None:
        with self._lock:
            if group.redeliver:
                return group.redeliver.popleft()
            if group.next_seq > self._seq:
                return None
            first = self._stream[0].seq
            if group.next_seq < first:
                log.warning("consumer group %s fell behind: %d events skipped", group.name,
                            first - group.next_seq)
                group.next_seq = first
            delivery = self._stream[group.next_seq - first]
            group.next_seq += 1
            if group.next_seq - first > _TRIM_EVERY:
                self._trim()
            return delivery

    def _trim(self) -> None:
        """Drop the messages every group has taken (the lock is held)."""
        low = min((g.next_seq for g in self._groups.values()), default=self._seq + 1)
        stream = self._stream
        while stream and stream[0].seq < low:
            stream.popleft()


class InProcessConsumer:
    def __init__(self, bus: InProcessBus, group: _Group, types: frozenset[str] | None) -> None:
        self._bus, self._group, self._types = bus, group, types
        self._unacked: dict[int, Delivery] = {}
        self._closed = False

    async def fetch(self, timeout: float | None = None) -> Delivery | None:
        """The group's next message for this consumer; None after `timeout` seconds without."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while not self._closed:
            self._group.wake.clear()
            delivery = self._bus._take(self._group)
            if delivery is not None:
                if self._types is not None and delivery.event.type not in self._types:
                    continue
                self._unacked[delivery.seq] = delivery
                return delivery
            wait = None if deadline is None else deadline - loop.time()
            if wait is not None and wait <= 0:
                return None
            try:
                await asyncio.wait_for(self._group.wake.wait(), wait)
            except TimeoutError:
                return None
        return None

    def ack(self, seq: int) -> None:
        self._unacked.pop(seq, None)

    def close(self) -> None:
        """Stop consuming; what was delivered and not acknowledged goes back to the group."""
        if self._closed:
            return
        self._closed = True
        pending = sorted(self._unacked.values(), key=lambda d: d.seq)
        self._unacked.clear()
        with self._bus._lock:
            self._group.redeliver.extendleft(reversed(pending))
        self._group.wake.set()
