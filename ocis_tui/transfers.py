"""Transfers in flight and done: per-file and total progress, speed and ETA (UI-neutral model).

The browser starts each transfer in a worker and feeds `Transfer.update`; the panel only reads.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

Clock = Callable[[], float]


class State(Enum):
    QUEUED = "queued"
    RUNNING = "running"
    PROCESSING = "processing"  # every byte sent; the server has not announced the file ready
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(slots=True)
class Transfer:
    id: int
    direction: str            # "upload" | "download"
    name: str
    total: int
    clock: Clock = time.monotonic
    space_id: str = ""
    path: str = ""            # where it goes in the space (uploads)
    item_id: str = ""         # the file's id, once the server answered the upload
    elsewhere: bool = False   # made by another client: announced by the change stream
    announced: bool = False   # the stream said the file is ready (postprocessing-finished)
    done: int = 0
    state: State = State.QUEUED
    error: str = ""
    started: float = 0.0
    finished: float = 0.0
    _samples: list[tuple[float, int]] = field(default_factory=list)

    def start(self) -> None:
        self.state = State.RUNNING
        self.started = self.clock()
        self._samples = [(self.started, self.done)]

    def update(self, done: int) -> None:
        self.done = min(max(done, 0), self.total) if self.total else max(done, 0)
        now = self.clock()
        self._samples.append((now, self.done))
        # Speed over the last ~3 s, so a stall shows up quickly.
        while len(self._samples) > 2 and now - self._samples[0][0] > 3.0:
            self._samples.pop(0)

    def finish(self, state: State, error: str = "") -> None:
        self.state = state
        self.error = error
        self.finished = self.clock()
        if state in (State.DONE, State.PROCESSING):
            self.done = self.total

    @property
    def active(self) -> bool:
        return self.state in (State.QUEUED, State.RUNNING)

    @property
    def settled(self) -> bool:
        """Over for good: done (and announced where the stream follows), failed or cancelled."""
        return self.state in (State.DONE, State.FAILED, State.CANCELLED)

    @property
    def fraction(self) -> float:
        return 1.0 if not self.total else self.done / self.total

    @property
    def speed(self) -> float:
        """Bytes per second, recently."""
        if len(self._samples) < 2:
            return 0.0
        (t0, b0), (t1, b1) = self._samples[0], self._samples[-1]
        return (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the current speed; None when unknown."""
        speed = self.speed
        if not self.active or speed <= 0:
            return None
        return (self.total - self.done) / speed


class Transfers:
    """All transfers of this session, newest last."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self.items: list[Transfer] = []
        self.clock = clock
        self._next = 1
        self._ready: deque[str] = deque(maxlen=256)   # file ids the stream announced ready

    def add(self, direction: str, name: str, total: int, *, space_id: str = "",
            path: str = "") -> Transfer:
        item = Transfer(self._next, direction, name, total, clock=self.clock,
                        space_id=space_id, path=path)
        self._next += 1
        self.items.append(item)
        return item

    def add_elsewhere(self, name: str, total: int, *, space_id: str, path: str) -> Transfer:
        """An upload another client made, as the change stream announced it: finished."""
        item = self.add("upload", name, total, space_id=space_id, path=path)
        item.elsewhere = item.announced = True
        item.start()
        item.finish(State.DONE)
        return item

    def ready(self, item_id: str) -> Transfer | None:
        """The stream announced the file `item_id` ready: our upload of it (known by the id the
        server answered with) is done; remembered for an upload whose answer is still on its
        way (`settle`)."""
        self._ready.append(item_id)
        own = next((t for t in reversed(self.items) if t.direction == "upload" and t.item_id
                    and t.item_id == item_id and not t.announced and not t.elsewhere), None)
        if own is not None:
            self.announce(own)
        return own

    def answering(self, space_id: str) -> bool:
        """Whether an own upload to the space still waits for the server's answer."""
        return any(t.direction == "upload" and not t.elsewhere and t.space_id == space_id
                   and t.state in (State.QUEUED, State.RUNNING) for t in self.items)

    def own_upload(self, space_id: str, path: str) -> Transfer | None:
        """This session's upload to `path` that still waits for the server's word (running or
        processing), if any: the newest."""
        return next((t for t in reversed(self.items)
                     if t.direction == "upload" and not t.elsewhere and not t.announced
                     and t.space_id == space_id and t.path == path
                     and t.state in (State.QUEUED, State.RUNNING, State.PROCESSING)), None)

    def waiting(self, space_id: str) -> bool:
        """Whether an own upload to the space waits for the server's word."""
        return any(t.direction == "upload" and not t.elsewhere and not t.announced
                   and t.space_id == space_id
                   and t.state in (State.QUEUED, State.RUNNING, State.PROCESSING)
                   for t in self.items)

    def announce(self, item: Transfer) -> None:
        """The stream said the file is ready: a processing upload is done; one whose last answer
        has not come yet is done as soon as it comes (`settle`)."""
        item.announced = True
        if item.state is State.PROCESSING:
            item.finish(State.DONE)

    def settle(self, item: Transfer, *, following: bool) -> None:
        """Every byte of an upload went through: done when the stream already announced it or
        when no stream follows the changes; else processing until the stream announces it."""
        if item.item_id and item.item_id in self._ready:
            item.announced = True
        announced = item.announced or not following or item.direction != "upload"
        item.finish(State.DONE if announced else State.PROCESSING)

    def stream_lost(self) -> None:
        """No stream will announce anything: what is processing counts as done."""
        for item in self.items:
            if item.state is State.PROCESSING:
                item.finish(State.DONE)

    @property
    def active(self) -> list[Transfer]:
        return [t for t in self.items if t.active]

    def counted(self) -> list[Transfer]:
        """What the total counts: the transfers running or waiting and those done (failed and
        cancelled ones are listed, not counted)."""
        return [t for t in self.items
                if t.active or t.state in (State.DONE, State.PROCESSING)]

    def totals(self) -> tuple[int, int, float]:
        """(bytes done, bytes in all, speed) over the running, waiting and done transfers."""
        counted = self.counted()
        return (sum(t.done for t in counted), sum(t.total for t in counted),
                sum(t.speed for t in self.active))


def human_size(n: float) -> str:
    """Sizes as the CLI and the server's pages show them (one formatter: ocis_cli.client.units)."""
    from ocis_cli.client.units import human_size as shared

    return shared(n)


def human_eta(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(seconds + 0.5)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"
