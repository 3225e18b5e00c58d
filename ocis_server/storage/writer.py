"""The one writer: a dedicated thread owns the only writing SQLite connection. Changes queue up and
run in order, so propagation never races; when several are pending they share one transaction
and one fsync (group commit), each isolated by a savepoint so one failing change undoes only itself.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

from ocis_server.domain.errors import InsufficientStorage, OcisError
from ocis_server.events import ACTOR, Event

from .database import DatabaseDamaged, database_error

T = TypeVar("T")
log = logging.getLogger(__name__)
_MAX_BATCH = 256


class Tx:
    """What a write operation gets: the connection, its change stamp, and hooks.

    `stamp` is a strictly increasing nanosecond time shared by everything one operation changes,
    so two changes in the same second still give different etags."""

    def __init__(self, conn: sqlite3.Connection, stamp: int, actor: str = "") -> None:
        self.conn = conn
        self.stamp = stamp
        self.actor = actor            # who makes the change (events.ACTOR when it was queued)
        self.events: list[Event] = []  # published once committed, dropped if rolled back
        self.after_commit: list[Callable[[], None]] = []   # run in the I/O pool once durable
        self.on_failure: list[Callable[[], None]] = []     # undo side effects outside the database


class _Job:
    __slots__ = ("actor", "args", "fn", "frees", "future", "loop", "tx", "undo")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...],
                 loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], *,
                 frees: bool = False, undo: Callable[[], None] | None = None,
                 actor: str = "") -> None:
        self.fn, self.args, self.loop, self.future = fn, args, loop, future
        self.actor = actor
        self.frees = frees    # the change frees disk space: it may use the ballast's room
        self.undo = undo      # removes what was made for the change (a blob) if it fails
        self.tx: Tx | None = None


class Writer:
    def __init__(self, conn: sqlite3.Connection, io: Executor, last_stamp: int,
                 make_room: Callable[[], bool] | None = None) -> None:
        self._conn = conn
        self._make_room = make_room   # on a full disk: free some room (the ballast) for deletes
        self._io = io
        self._last_stamp = last_stamp
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="ocis-storage-writer", daemon=True)
        self._closed = False
        # Bumped after every transaction, before any caller hears of it: read caches keyed by it
        # never serve a state older than a change that was acknowledged.
        self.generation = 0
        self.damaged: DatabaseDamaged | None = None    # set once SQLite reports damage
        # Where the events of committed changes go (the event bus), in commit order, before
        # the callers hear of their change: never for a change that was rolled back.
        self.publish: Callable[[list[Event]], None] | None = None
        self._thread.start()

    async def submit(self, fn: Callable[..., T], *args: Any, frees: bool = False,
                     undo: Callable[[], None] | None = None) -> T:
        """Run `fn(tx, *args)` in the writer thread; resolves once the transaction is durable.
        `frees`: the change frees disk space (delete, purge), so on a full disk it may use the
        room the ballast gives back; `undo` as for `enqueue`."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self.enqueue(future, fn, *args, frees=frees, undo=undo)
        return await future

    def enqueue(self, future: asyncio.Future[Any], fn: Callable[..., Any], *args: Any,
                frees: bool = False, undo: Callable[[], None] | None = None,
                actor: str | None = None) -> None:
        """`submit` from any thread: `future` (of its loop) gets the outcome once durable. An I/O
        thread that has just made a blob durable queues its commit at once, without a trip
        through the event loop; `undo` (run in the writer thread) removes that blob again when
        the change fails, even when it failed before it ran (a locked database). `actor`: who
        makes the change (default: events.ACTOR of the calling task; pass it from a thread)."""
        if self._closed:
            raise RuntimeError("storage is closed")
        self._queue.put(_Job(fn, args, future.get_loop(), future, frees=frees, undo=undo,
                             actor=ACTOR.get() if actor is None else actor))

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def close_connection(self) -> None:
        """Close the database connection: after `close()`, once no I/O thread can queue more."""
        self._conn.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join()
        while True:  # a change queued while closing must not wait forever
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return
            if job is not None:
                _send(job, False, RuntimeError("storage is closed"))

    def _next_stamp(self) -> int:
        self._last_stamp = max(time.time_ns(), self._last_stamp + 1)
        return self._last_stamp

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            batch = [job]
            while len(batch) < _MAX_BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)  # finish this batch, then stop
                    break
                batch.append(more)
            self._run_batch(batch)

    def _run_batch(self, batch: list[_Job]) -> None:
        if self.damaged is not None:     # never write to a damaged database
            outcomes: list[tuple[bool, Any]] = [(False, self.damaged)] * len(batch)
        else:
            outcomes = self._transaction(batch)
            self.damaged = next((v for ok, v in outcomes
                                 if not ok and isinstance(v, DatabaseDamaged)), None)
        if any(not ok and isinstance(value, InsufficientStorage) for ok, value in outcomes):
            # The disk is full. Changes that free space get the ballast's room and one more try
            # on their own; the others keep their 507.
            retry = [(i, job) for i, job in enumerate(batch) if job.frees]
            if retry and self._make_room is not None:
                for i, job in retry:
                    self._failed(job)
                self._make_room()
                for (i, _), outcome in zip(retry, self._transaction([j for _, j in retry]),
                                           strict=True):
                    outcomes[i] = outcome
        self.generation += 1
        self._publish(batch, outcomes)
        for job, (ok, value) in zip(batch, outcomes, strict=True):
            if ok:
                for hook in job.tx.after_commit if job.tx is not None else ():
                    self._hook(hook, later=True)
            else:
                self._failed(job)
            _send(job, ok, value)

    def _transaction(self, batch: list[_Job]) -> list[tuple[bool, Any]]:
        """One transaction for `batch`, each job in its savepoint: (ok, result or error) each."""
        conn = self._conn
        outcomes: list[tuple[bool, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job in batch:
                job.tx = Tx(conn, self._next_stamp(), job.actor)
                conn.execute("SAVEPOINT op")
                try:
                    outcomes.append((True, job.fn(job.tx, *job.args)))
                    conn.execute("RELEASE op")
                except Exception as exc:  # noqa: BLE001 - handed to the caller
                    conn.execute("ROLLBACK TO op")
                    conn.execute("RELEASE op")
                    outcomes.append((False, database_error(exc)))
            conn.execute("COMMIT")
        except Exception as exc:
            error = database_error(exc)
            if isinstance(error, OcisError):
                log.warning("storage transaction failed: %s", error.message)
            else:
                log.exception("storage transaction failed")
            if conn.in_transaction:
                try:
                    conn.rollback()
                except sqlite3.Error:
                    log.exception("storage rollback failed")
            outcomes = [(False, error)] * len(batch)
        return outcomes

    def _publish(self, batch: list[_Job], outcomes: list[tuple[bool, Any]]) -> None:
        """The events of the committed changes of a batch, in order (after COMMIT)."""
        if self.publish is None:
            return
        events = [event for job, (ok, _) in zip(batch, outcomes, strict=True)
                  if ok and job.tx is not None for event in job.tx.events]
        if events:
            try:
                self.publish(events)
            except Exception:
                log.exception("publishing %d events failed", len(events))

    def _failed(self, job: _Job) -> None:
        """Undo what a failed job left outside the database (once per attempt)."""
        tx, job.tx = job.tx, None
        for hook in tx.on_failure if tx is not None else ():
            self._hook(hook, later=False)
        undo, job.undo = job.undo, None
        if undo is not None:
            self._hook(undo, later=False)

    def _hook(self, hook: Callable[[], None], *, later: bool) -> None:
        try:
            if later:
                self._io.submit(hook)
            else:
                hook()
        except Exception:
            log.exception("storage cleanup failed")


def _send(job: _Job, ok: bool, value: Any) -> None:
    try:
        job.loop.call_soon_threadsafe(_resolve, job.future, ok, value)
    except RuntimeError:  # the caller's loop is gone; the change itself stands
        pass


def _resolve(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.done():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)
