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

T = TypeVar("T")
log = logging.getLogger(__name__)
_MAX_BATCH = 256


class Tx:
    """What a write operation gets: the connection, its change stamp, and hooks.

    `stamp` is a strictly increasing nanosecond time shared by everything one operation changes,
    so two changes in the same second still give different etags."""

    def __init__(self, conn: sqlite3.Connection, stamp: int) -> None:
        self.conn = conn
        self.stamp = stamp
        self.after_commit: list[Callable[[], None]] = []   # run in the I/O pool once durable
        self.on_failure: list[Callable[[], None]] = []     # undo side effects outside the database


class _Job:
    __slots__ = ("args", "fn", "future", "loop", "tx")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...],
                 loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any]) -> None:
        self.fn, self.args, self.loop, self.future = fn, args, loop, future
        self.tx: Tx | None = None


class Writer:
    def __init__(self, conn: sqlite3.Connection, io: Executor, last_stamp: int) -> None:
        self._conn = conn
        self._io = io
        self._last_stamp = last_stamp
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="ocis-storage-writer", daemon=True)
        self._closed = False
        # Bumped after every transaction, before any caller hears of it: read caches keyed by it
        # never serve a state older than a change that was acknowledged.
        self.generation = 0
        self._thread.start()

    async def submit(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(tx, *args)` in the writer thread; resolves once the transaction is durable."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self.enqueue(future, fn, *args)
        return await future

    def enqueue(self, future: asyncio.Future[Any], fn: Callable[..., Any], *args: Any) -> None:
        """`submit` from any thread: `future` (of its loop) gets the outcome once durable. An I/O
        thread that has just made a blob durable queues its commit at once, without a trip
        through the event loop."""
        if self._closed:
            raise RuntimeError("storage is closed")
        self._queue.put(_Job(fn, args, future.get_loop(), future))

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

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
        conn = self._conn
        outcomes: list[tuple[bool, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job in batch:
                job.tx = Tx(conn, self._next_stamp())
                conn.execute("SAVEPOINT op")
                try:
                    outcomes.append((True, job.fn(job.tx, *job.args)))
                    conn.execute("RELEASE op")
                except Exception as exc:  # noqa: BLE001 - handed to the caller
                    conn.execute("ROLLBACK TO op")
                    conn.execute("RELEASE op")
                    outcomes.append((False, exc))
            conn.execute("COMMIT")
        except Exception as exc:
            log.exception("storage transaction failed")
            if conn.in_transaction:
                conn.rollback()
            outcomes = [(False, exc)] * len(batch)
        self.generation += 1
        for job, (ok, value) in zip(batch, outcomes, strict=True):
            tx = job.tx
            if tx is not None:
                for hook in tx.after_commit if ok else tx.on_failure:
                    self._hook(hook, later=ok)
            _send(job, ok, value)

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
