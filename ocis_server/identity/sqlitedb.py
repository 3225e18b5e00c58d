"""One SQLite connection served by its own worker thread, so the event loop never blocks: opened in
WAL mode with a busy timeout and a schema step, every query hopped onto that thread, closed once.
The identity stores and the IdP's store keep their state this way.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from ocis_server.domain.errors import ServiceUnavailable, disk_full_error
from ocis_server import sqlitefiles
from ocis_server.sqlitefiles import connect_read_only, read_only_folder

T = TypeVar("T")
log = logging.getLogger(__name__)
QUICK_CHECK_SECONDS = 10.0
READ_ONLY_LOOK_EVERY = 5.0   # seconds between two looks at a read-only folder
_BUSY = frozenset({5, 6})     # SQLITE_BUSY, SQLITE_LOCKED


def quick_check(conn: sqlite3.Connection, path: Path) -> None:
    """`PRAGMA quick_check` at open, given up after QUICK_CHECK_SECONDS; ServiceUnavailable (and
    the file and its repair in the log) when the database is damaged: it is never written to."""
    findings = sqlitefiles.quick_check(conn, path, QUICK_CHECK_SECONDS)
    if findings:
        log.critical("%s is damaged (%s); nothing is written to it. To repair: %s",
                     path, "; ".join(findings[:3]), sqlitefiles.repair_hint(path))
        raise ServiceUnavailable(f"the database {path.name} is damaged: see the server log",
                                 retry_after=60)


def in_transaction(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    """`fn(conn)` inside BEGIN IMMEDIATE ... COMMIT, rolled back if it or the commit fails."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return result


class SqliteThread:
    """A connection (autocommit mode) used only on one dedicated thread."""

    def __init__(self, conn: sqlite3.Connection, executor: ThreadPoolExecutor, name: str, *,
                 read_only: bool = False, opener: Callable[[bool], sqlite3.Connection] | None = None,
                 folder: Path | None = None) -> None:
        self._conn, self._executor, self._name = conn, executor, name
        self._closed = False
        self.read_only = read_only     # in a read-only folder: transactions answer 503
        self._opener, self._folder = opener, folder
        self._next_look = 0.0          # when a read-only folder is looked at again

    @classmethod
    async def open(cls, path: Path, setup: Callable[[sqlite3.Connection], object], *,
                   name: str, busy_timeout: float = 5.0, dir_mode: int = 0o777) -> SqliteThread:
        """Create the parent directory, connect, set WAL and the busy timeout, then `setup(conn)`
        (schema or migration); `name` names the thread (`<name>-db`) and errors. In a read-only
        folder the existing database is opened for reading only: writes answer 503 until the
        folder takes writes again (looked at on a write, at most every few seconds)."""
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{name}-db")
        read_only = path.exists() and read_only_folder(path.parent)

        def connect(read_only: bool) -> sqlite3.Connection:
            if read_only:
                log.warning("%s is in a read-only folder: opened for reading only", path)
                return connect_read_only(path)
            path.parent.mkdir(parents=True, exist_ok=True, mode=dir_mode)
            conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            try:
                conn.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
                quick_check(conn, path)        # before any write (journal mode, schema)
                conn.execute("PRAGMA journal_mode=WAL")
                setup(conn)
            except BaseException:
                conn.close()
                raise
            return conn

        try:
            conn = await asyncio.get_running_loop().run_in_executor(executor, connect, read_only)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(conn, executor, name, read_only=read_only, opener=connect, folder=path.parent)

    async def _writable_again(self) -> bool:
        """In read-only mode: whether the folder takes writes now; if so the database is opened
        read-write in place of the read-only connection (no restart)."""
        now = time.monotonic()
        if self._opener is None or self._folder is None or now < self._next_look:
            return False
        self._next_look = now + READ_ONLY_LOOK_EVERY
        if read_only_folder(self._folder):
            return False
        opener = self._opener

        def reopen() -> None:
            fresh = opener(False)
            self._conn.close()
            self._conn = fresh
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, reopen)
        except Exception as exc:   # noqa: BLE001 - still read-only for now; looked at again later
            log.warning("the %s database stays read-only: %s", self._name, exc)
            return False
        self.read_only = False
        log.warning("the %s database takes writes again: read-only mode ended", self._name)
        return True

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """`fn(conn)` on the database thread. A database another process keeps locked past the
        busy timeout is ServiceUnavailable (503 with Retry-After), not a bug."""
        if self._closed:
            raise RuntimeError(f"the {self._name} database is closed")
        if self.read_only:     # writes also come here (in_transaction): look at the folder
            await self._writable_again()
        try:
            # The connection is read on the thread: a read-only one may have been replaced.
            return await asyncio.get_running_loop().run_in_executor(
                self._executor, lambda: fn(self._conn))
        except sqlite3.OperationalError as exc:
            full = disk_full_error(exc)         # 507, in each protocol's body
            if full is not None:
                raise full from None
            if getattr(exc, "sqlite_errorcode", 0) & 0xFF not in _BUSY:
                raise
            raise ServiceUnavailable(f"the {self._name} database is locked by another process",
                                     retry_after=5) from None

    async def transaction(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """`fn(conn)` on the database thread, in one immediate transaction."""
        if self.read_only and not await self._writable_again():
            raise ServiceUnavailable("the data folder is read-only: the server serves reads only")
        return await self.run(lambda conn: in_transaction(conn, fn))

    async def close(self) -> None:
        if self._closed:
            return
        await self.run(lambda conn: conn.close())
        self._closed = True
        self._executor.shutdown(wait=True)
