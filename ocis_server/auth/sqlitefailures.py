"""The login throttle's failures in SQLite, shared by the worker processes of one node
(OCIS_WORKERS > 1 without OCIS_DATABASE_URL): the same rows and rule as pgfailures.py, so a
guesser whose connections the kernel spreads over N workers gets the budget of one.

`<OCIS_BASE_DATA_PATH>/idm/loginfailures.db` (WAL); each call runs in a thread. A database that
cannot be read (locked past the busy timeout) is a 503 with Retry-After, as PostgreSQL away is.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from ocis_server.domain.errors import ServiceUnavailable

SCHEMA = """
CREATE TABLE IF NOT EXISTS login_failures (
    account TEXT NOT NULL, address TEXT NOT NULL, source TEXT NOT NULL,
    at REAL NOT NULL, cleared INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS login_failures_by_account ON login_failures (account, at);
CREATE INDEX IF NOT EXISTS login_failures_by_address ON login_failures (address, at);
CREATE INDEX IF NOT EXISTS login_failures_by_time ON login_failures (at);
"""


class SqliteFailures:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self._path, timeout=5.0, check_same_thread=False,
                                   isolation_level=None)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.executescript(SCHEMA)
            self._conn = conn
        return self._conn

    async def _run(self, statements: Sequence[tuple[str, tuple[object, ...]]]) -> list[tuple[object, ...]]:
        """The statements in one transaction (in a thread); the last one's rows."""
        def call() -> list[tuple[object, ...]]:
            with self._lock:
                conn = self._connection()
                conn.execute("BEGIN IMMEDIATE")
                try:
                    rows: list[tuple[object, ...]] = []
                    for sql, args in statements:
                        rows = list(conn.execute(sql, args).fetchall())
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                return rows
        try:
            return await asyncio.to_thread(call)
        except sqlite3.OperationalError as exc:
            raise ServiceUnavailable(f"the login failure store is busy: {exc}") from None

    async def load(self, account: str, address: str,
                   since: float) -> Sequence[tuple[str, str, str, float, bool]]:
        rows = await self._run([(
            "SELECT account, address, source, at, cleared FROM login_failures"
            " WHERE (account = ? OR address = ?) AND at > ? ORDER BY at", (account, address, since))])
        return [(str(r[0]), str(r[1]), str(r[2]), float(r[3]), bool(r[4]))  # type: ignore[arg-type]
                for r in rows]

    async def add(self, account: str, address: str, source: str, at: float,
                  forget_before: float) -> None:
        await self._run([("DELETE FROM login_failures WHERE at < ?", (forget_before,)),
                         ("INSERT INTO login_failures (account, address, source, at)"
                          " VALUES (?, ?, ?, ?)", (account, address, source, at))])

    async def clear(self, account: str, address: str, source: str) -> None:
        await self._run([("UPDATE login_failures SET cleared = 1 WHERE account = ?"
                          " AND address = ? AND source = ? AND NOT cleared",
                          (account, address, source))])

    async def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
