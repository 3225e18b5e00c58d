"""The open event streams, per user: where a notice goes, what a reconnect replays, and the
limits (streams per user, events buffered per stream, replay window).

A user's events are kept once, in the user's replay ring; each stream reads them with a cursor, so
delivering an event costs a counter and, for a stream whose writer sleeps, one wake-up, not a copy
per stream. A client that does not read falls `buffer` events behind and is disconnected (its
connection closed), so a slow reader never makes the server hold more for it; it reconnects with
Last-Event-ID and gets what it missed from the replay ring.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Iterable
from itertools import islice
from dataclasses import dataclass

from ocis_server.domain.errors import TooManyRequests

from .clientlog import Notice


@dataclass(frozen=True, slots=True)
class Limits:
    streams_per_user: int
    buffer: int
    replay_window: float
    replay_size: int


def frame(seq: int, kind: str, body: object) -> bytes:
    """One SSE message (WHATWG HTML §9.2): id, event type, JSON data on one line."""
    data = json.dumps(body, separators=(",", ":"))
    return f"id: {seq}\nevent: {kind}\ndata: {data}\n\n".encode()


class Stream:
    """One open event stream. Its events are not copied into it: they sit once in its user's
    log, and the stream keeps a cursor there. The writer sleeps until `deliver` wakes it (at most
    once while it sleeps); a stream whose cursor falls more than `buffer` events behind (a client
    that does not read) is cut off."""

    __slots__ = ("_buffer", "_transport", "_user", "_waiter", "cursor", "overflowed", "stopping",
                 "user_id")

    def __init__(self, user_id: str, user: _User, buffer: int,
                 close: asyncio.Transport | None) -> None:
        self.user_id = user_id
        self._user = user
        self.cursor = user.count           # events of the user's log taken by this stream
        self._buffer = max(1, min(buffer, user.history.maxlen or buffer))
        self.overflowed = False
        self.stopping = False              # the server stops: the writer ends the stream
        self._waiter: asyncio.Future[bool] | None = None
        self._transport = close

    @property
    def alive(self) -> bool:
        """False once the client's connection is gone (noticed before the next write)."""
        return self._transport is None or not self._transport.is_closing()

    def notify(self) -> None:
        """A new event in the user's log: wake the writer if it sleeps, cut the stream off if
        it lags more than its buffer behind (the writer may be stuck in a full socket)."""
        waiter = self._waiter
        if waiter is not None:
            if not waiter.done():
                waiter.set_result(True)
        elif not self.overflowed and self._user.count - self.cursor > self._buffer:
            self.overflowed = True
            if self._transport is not None:
                self._transport.abort()    # close() would wait to flush first

    def stop(self) -> None:
        self.stopping = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(True)

    async def wait(self, timeout: float) -> bool:
        """Until there is something to take (True) or `timeout` passed (False)."""
        if self._user.count != self.cursor or self.stopping or self.overflowed:
            return True
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[bool] = loop.create_future()
        self._waiter = waiter
        timer = loop.call_later(timeout, _expire, waiter)
        try:
            return await waiter
        finally:
            timer.cancel()
            self._waiter = None

    def take(self) -> list[tuple[int, bytes]]:
        """The events delivered since the last take, oldest first."""
        user = self._user
        new = user.count - self.cursor
        self.cursor = user.count
        if new <= 0:
            return []
        history = user.history
        if new > len(history):             # fell out of the log: as a cut-off
            self.overflowed = True
            return []
        return [(seq, data) for seq, _, data in islice(history, len(history) - new, None)]


def _expire(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)


class _User:
    __slots__ = ("count", "groups", "history", "seen", "streams")

    def __init__(self, replay_size: int) -> None:
        self.streams: set[Stream] = set()
        self.groups: frozenset[str] | None = None      # None: to be looked up
        self.history: deque[tuple[int, float, bytes]] = deque(maxlen=max(1, replay_size))
        self.count = 0                                  # events ever appended to history
        self.seen = time.monotonic()                    # last time a stream was open


class Hub:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._users: dict[str, _User] = {}

    def open(self, user_id: str, transport: asyncio.Transport | None) -> Stream:
        user = self._users.get(user_id)
        if user is None:
            user = self._users[user_id] = _User(self.limits.replay_size)
        user.streams = {s for s in user.streams if s.alive}    # hung up since: not counted
        if len(user.streams) >= self.limits.streams_per_user:
            raise TooManyRequests(f"at most {self.limits.streams_per_user} event streams per "
                                  f"user", retry_after=5.0)
        stream = Stream(user_id, user, self.limits.buffer, transport)
        user.streams.add(stream)
        user.seen = time.monotonic()
        return stream

    def close(self, stream: Stream) -> None:
        user = self._users.get(stream.user_id)
        if user is not None:
            user.streams.discard(stream)
            user.seen = time.monotonic()

    def close_all(self) -> None:
        for user in self._users.values():
            for stream in list(user.streams):
                stream.stop()

    def replay(self, user_id: str, after: int) -> list[tuple[int, bytes]]:
        """What the user was sent after event id `after`, within the replay window."""
        user = self._users.get(user_id)
        if user is None:
            return []
        horizon = time.monotonic() - self.limits.replay_window
        return [(seq, data) for seq, at, data in user.history if seq > after and at >= horizon]

    def listeners(self) -> Iterable[tuple[str, frozenset[str] | None]]:
        """(user id, cached group ids or None) of users with a stream or a recent one."""
        horizon = time.monotonic() - self.limits.replay_window
        for user_id, user in list(self._users.items()):
            if not user.streams and user.seen < horizon:
                del self._users[user_id]           # gone longer than a reconnect may take
                continue
            yield user_id, user.groups

    def set_groups(self, user_id: str, groups: frozenset[str] | None) -> None:
        user = self._users.get(user_id)
        if user is not None:
            user.groups = groups

    def deliver(self, seq: int, notice: Notice, user_ids: Iterable[str]) -> None:
        data = frame(seq, notice.type, notice.body)
        now = time.monotonic()
        for user_id in user_ids:
            user = self._users.get(user_id)
            if user is None:
                continue
            user.history.append((seq, now, data))
            user.count += 1
            for stream in user.streams:
                stream.notify()

    @property
    def stream_count(self) -> int:
        return sum(len(u.streams) for u in self._users.values())
