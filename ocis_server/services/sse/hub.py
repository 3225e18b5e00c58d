"""The open event streams, per user: where a notice goes, what a reconnect replays, and the
limits (streams per user, events buffered per stream, replay window).

Each stream has a bounded queue. A client that does not read fills it and is disconnected (its
connection closed), so a slow reader never makes the server hold more than `buffer` events for
it; it reconnects with Last-Event-ID and gets what it missed from the replay ring.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Iterable
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
    def __init__(self, user_id: str, buffer: int, close: asyncio.Transport | None) -> None:
        self.user_id = user_id
        self.queue: asyncio.Queue[tuple[int, bytes]] = asyncio.Queue(maxsize=max(1, buffer))
        self.overflowed = False
        self._transport = close

    @property
    def alive(self) -> bool:
        """False once the client's connection is gone (noticed before the next write)."""
        return self._transport is None or not self._transport.is_closing()

    def offer(self, seq: int, data: bytes) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait((seq, data))
        except asyncio.QueueFull:
            self.overflowed = True       # cut off: the writer may be stuck in a full socket
            if self._transport is not None:
                self._transport.abort()  # close() would wait to flush first


class _User:
    __slots__ = ("groups", "history", "seen", "streams")

    def __init__(self, replay_size: int) -> None:
        self.streams: set[Stream] = set()
        self.groups: frozenset[str] | None = None      # None: to be looked up
        self.history: deque[tuple[int, float, bytes]] = deque(maxlen=max(1, replay_size))
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
        stream = Stream(user_id, self.limits.buffer, transport)
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
                stream.offer(0, b"")       # wakes the writer; an empty frame ends the stream

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
            for stream in list(user.streams):
                stream.offer(seq, data)

    @property
    def stream_count(self) -> int:
        return sum(len(u.streams) for u in self._users.values())
