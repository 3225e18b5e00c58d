"""The one-thread SQLite helper the identity stores and the IdP store share."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from ocis_server.identity.sqlitedb import SqliteThread


def _schema(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS t (v INTEGER PRIMARY KEY)")


async def test_opens_in_wal_on_its_own_thread_and_closes_once(tmp_path: Path) -> None:
    db = await SqliteThread.open(tmp_path / "sub" / "x.db", _schema, name="probe")
    mode = await db.run(lambda c: c.execute("PRAGMA journal_mode").fetchone()[0])
    timeout = await db.run(lambda c: c.execute("PRAGMA busy_timeout").fetchone()[0])
    thread = await db.run(lambda c: threading.current_thread().name)
    assert (mode, timeout) == ("wal", 5000)
    assert thread.startswith("probe-db") and thread != threading.current_thread().name
    await db.close()
    await db.close()                                   # a second close is harmless
    with pytest.raises(RuntimeError, match="probe database is closed"):
        await db.run(lambda c: c.execute("SELECT 1"))


async def test_a_failed_transaction_leaves_nothing_behind(tmp_path: Path) -> None:
    db = await SqliteThread.open(tmp_path / "x.db", _schema, name="probe", busy_timeout=10.0)

    def insert_then_fail(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t VALUES (1)")
        raise ValueError("boom")

    with pytest.raises(ValueError):
        await db.transaction(insert_then_fail)
    await db.transaction(lambda c: c.execute("INSERT INTO t VALUES (2)"))
    rows = await db.run(lambda c: c.execute("SELECT v FROM t").fetchall())
    assert rows == [(2,)]
    assert await db.run(lambda c: c.execute("PRAGMA busy_timeout").fetchone()[0]) == 10000
    await db.close()


async def test_a_failing_setup_raises_and_keeps_no_thread(tmp_path: Path) -> None:
    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("NOT SQL")

    with pytest.raises(sqlite3.OperationalError):
        await SqliteThread.open(tmp_path / "x.db", broken, name="broken")
    for _ in range(100):                      # the worker was told to stop, not waited for
        if not [t for t in threading.enumerate() if t.name.startswith("broken-db")]:
            break
        await asyncio.sleep(0.02)
    assert not [t for t in threading.enumerate() if t.name.startswith("broken-db")]
