"""One SQLite connection served by its own worker thread, so the event loop never blocks: opened in
WAL mode with a busy timeout and a schema step, every query hopped onto that thread, closed once.
The identity stores and the IdP's store keep their state this way.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from ocis_server.domain.errors import ServiceUnavailable
from ocis_server import sqlitefiles
from ocis_server.sqlitefiles import connect_read_only, read_only_folder

T = TypeVar("T")
log = logging.getLogger(__name__)
QUICK_CHECK_SECONDS = 10.0
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
                 read_only: bool = False) -> None:
        self._conn, self._executor, self._name = conn, executor, name
        self._closed = False
        self.read_only = read_only     # in a read-only folder: transactions answer 503

    @classmethod
    async def open(cls, path: Path, setup: Callable[[sqlite3.Connection], object], *,
                   name: str, busy_timeout: float = 5.0, dir_mode: int = 0o777) -> SqliteThread:
        """Create the parent directory, connect, set WAL and the busy timeout, then `setup(conn)`
        (schema or migration); `name` names the thread (`<name>-db`) and errors. In a read-only
        folder the existing database is opened for reading only: writes answer 503."""
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{name}-db")
        read_only = path.exists() and read_only_folder(path.parent)

        def connect() -> sqlite3.Connection:
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
            conn = await asyncio.get_running_loop().run_in_executor(executor, connect)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(conn, executor, name, read_only=read_only)

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """`fn(conn)` on the database thread. A database another process keeps locked past the
        busy timeout is ServiceUnavailable (503 with Retry-After), not a bug."""
        if self._closed:
            raise RuntimeError(f"the {self._name} database is closed")
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn,
                                                                    self._conn)
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", 0) & 0xFF not in _BUSY:
                raise
            raise ServiceUnavailable(f"the {self._name} database is locked by another process",
                                     retry_after=5) from None

    async def transaction(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """`fn(conn)` on the database thread, in one immediate transaction."""
        if self.read_only:
            raise ServiceUnavailable("the data folder is read-only: the server serves reads only")
        return await self.run(lambda conn: in_transaction(conn, fn))

    async def close(self) -> None:
        if self._closed:
            return
        await self.run(lambda conn: conn.close())
        self._closed = True
        self._executor.shutdown(wait=True)
