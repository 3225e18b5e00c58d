"""The userlog's notifications on PostgreSQL (`OCIS_DATABASE_URL`, component `userlog`): one
table every front node shares, so a notification deleted through one node is gone on the others.
Bounded per user as on SQLite (store.py). PostgreSQL away: ServiceUnavailable (503)."""

from __future__ import annotations

import json
from typing import Any

from ocis_server.postgres import Tables

from .log import MAX_PER_USER

# Version i is STEPS[i-1]; appended, never edited.
STEPS: tuple[tuple[str, ...], ...] = (
    ("""CREATE TABLE userlog_notifications (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            user_id TEXT NOT NULL,
            notification_id TEXT NOT NULL,
            body TEXT NOT NULL,
            UNIQUE (user_id, notification_id))""",
     "CREATE INDEX userlog_notifications_by_user ON userlog_notifications (user_id, seq)"),
)


class PostgresNotifications:
    """One table every front node shares. PostgreSQL away: ServiceUnavailable (503)."""

    def __init__(self, tables: Tables, per_user: int) -> None:
        self._tables, self._per_user = tables, per_user

    @classmethod
    async def open(cls, url: str, per_user: int = MAX_PER_USER) -> PostgresNotifications:
        """Migrated now, or on first use when the database is away at start."""
        tables = Tables(url, "userlog", STEPS, size=4)
        await tables.try_ready()
        return cls(tables, per_user)

    async def add(self, user_id: str, notification: dict[str, Any]) -> None:
        async with self._tables.connection() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO userlog_notifications (user_id, notification_id, body)"
                " VALUES (%s, %s, %s) ON CONFLICT (user_id, notification_id) DO NOTHING",
                (user_id, notification["notification_id"], json.dumps(notification)))
            await conn.execute(
                "DELETE FROM userlog_notifications WHERE user_id = %s AND seq < (SELECT min(seq)"
                " FROM (SELECT seq FROM userlog_notifications WHERE user_id = %s"
                " ORDER BY seq DESC LIMIT %s) AS kept)", (user_id, user_id, self._per_user))

    async def of(self, user_id: str) -> list[dict[str, Any]]:
        async with self._tables.connection() as conn:
            cur = await conn.execute("SELECT body FROM userlog_notifications WHERE user_id = %s"
                                     " ORDER BY seq", (user_id,))
            return [json.loads(row[0]) for row in await cur.fetchall()]

    async def delete(self, user_id: str, ids: list[str]) -> None:
        async with self._tables.connection() as conn:
            await conn.execute("DELETE FROM userlog_notifications WHERE user_id = %s"
                               " AND notification_id = ANY(%s)", (user_id, ids))

    async def close(self) -> None:
        await self._tables.close()
