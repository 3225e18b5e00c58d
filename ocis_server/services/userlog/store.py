"""Where the userlog keeps the notifications waiting to be read: per user, newest last, at most
MAX_PER_USER (the oldest goes first beyond that). SQLite under the node's data folder
(`<base>/userlog/notifications.db`) by default, so a restart keeps them; with `OCIS_DATABASE_URL`
one PostgreSQL table (component `userlog`), so every front node lists and deletes the same ones.
The notification is kept as the JSON oCIS's userlog answers (log.py `compose`)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, Protocol

from ocis_server.identity.sqlitedb import SqliteThread

from .log import MAX_PER_USER

_SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS notifications (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL,
    notification_id TEXT NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (user_id, notification_id));
CREATE INDEX IF NOT EXISTS notifications_by_user ON notifications (user_id, seq);
"""
class NotificationStore(Protocol):
    async def add(self, user_id: str, notification: dict[str, Any]) -> None: ...
    async def of(self, user_id: str) -> list[dict[str, Any]]: ...
    async def delete(self, user_id: str, ids: list[str]) -> None: ...
    async def close(self) -> None: ...


class SqliteNotifications:
    """All SQLite work on one dedicated thread."""

    def __init__(self, db: SqliteThread, per_user: int) -> None:
        self._db, self._per_user = db, per_user

    @classmethod
    async def open(cls, path: Path, per_user: int = MAX_PER_USER) -> SqliteNotifications:
        db = await SqliteThread.open(path, lambda conn: conn.executescript(_SQLITE_SCHEMA),
                                     name="userlog")
        return cls(db, per_user)

    async def add(self, user_id: str, notification: dict[str, Any]) -> None:
        body, keep = json.dumps(notification), self._per_user

        def insert(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT OR IGNORE INTO notifications (user_id, notification_id, body)"
                         " VALUES (?, ?, ?)", (user_id, notification["notification_id"], body))
            conn.execute("DELETE FROM notifications WHERE user_id = ? AND seq NOT IN (SELECT seq"
                         " FROM notifications WHERE user_id = ? ORDER BY seq DESC LIMIT ?)",
                         (user_id, user_id, keep))

        await self._db.transaction(insert)

    async def of(self, user_id: str) -> list[dict[str, Any]]:
        rows = await self._db.run(lambda conn: conn.execute(
            "SELECT body FROM notifications WHERE user_id = ? ORDER BY seq",
            (user_id,)).fetchall())
        return [json.loads(row[0]) for row in rows]

    async def delete(self, user_id: str, ids: list[str]) -> None:
        def remove(conn: sqlite3.Connection) -> None:
            conn.executemany("DELETE FROM notifications WHERE user_id = ? AND notification_id = ?",
                             [(user_id, i) for i in ids])

        await self._db.transaction(remove)

    async def close(self) -> None:
        await self._db.close()


async def open_store(base: Path, database_url: str,
                     per_user: int = MAX_PER_USER) -> NotificationStore:
    """SQLite beside the node, or with OCIS_DATABASE_URL the table every front node shares."""
    if database_url:
        from .pgstore import PostgresNotifications     # psycopg, lazily

        return await PostgresNotifications.open(database_url, per_user)
    return await SqliteNotifications.open(base / "userlog" / "notifications.db", per_user)
