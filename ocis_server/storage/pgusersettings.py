"""Per-user records that belong with the user, not with a storage provider, on PostgreSQL
(`OCIS_DATABASE_URL`): settings values (language, auto-accept of shares, ...) and the URL signing
key. With several front nodes, each with its own storage provider, a value saved or a key rotated
through one node counts on every other at its next request. Nothing is cached per node (another
node may change it). Favourites stay in the provider's metadata.db: they mark its nodes, and oCIS
keeps them as node metadata too. PostgreSQL away: ServiceUnavailable (503 + Retry-After)."""

from __future__ import annotations

import time

from ocis_server.postgres import Tables

# Version i is STEPS[i-1]; appended, never edited. The columns of storage/schema.py's tables.
STEPS: tuple[tuple[str, ...], ...] = (
    ("""CREATE TABLE setting_values (
            user_id TEXT NOT NULL, setting_id TEXT NOT NULL, value TEXT NOT NULL,
            mtime DOUBLE PRECISION NOT NULL, PRIMARY KEY (user_id, setting_id))""",
     """CREATE TABLE signing_keys (
            user_id TEXT PRIMARY KEY, key TEXT NOT NULL, ctime DOUBLE PRECISION NOT NULL)"""),
)


class PostgresUserRecords:
    def __init__(self, url: str) -> None:
        self._tables = Tables(url, "user_records", STEPS, size=4)

    async def values(self, user_id: str) -> dict[str, str]:
        async with self._tables.connection() as conn:
            cur = await conn.execute(
                "SELECT setting_id, value FROM setting_values WHERE user_id = %s", (user_id,))
            return {str(r[0]): str(r[1]) for r in await cur.fetchall()}

    async def save_value(self, user_id: str, setting_id: str, value: str) -> None:
        async with self._tables.connection() as conn:
            await conn.execute(
                "INSERT INTO setting_values (user_id, setting_id, value, mtime)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (user_id, setting_id)"
                " DO UPDATE SET value = EXCLUDED.value, mtime = EXCLUDED.mtime",
                (user_id, setting_id, value, time.time()))

    async def key(self, user_id: str) -> str | None:
        async with self._tables.connection() as conn:
            cur = await conn.execute("SELECT key FROM signing_keys WHERE user_id = %s",
                                     (user_id,))
            row = await cur.fetchone()
        return None if row is None else str(row[0])

    async def set_key(self, user_id: str, key: str, replace: bool) -> str:
        """Store `key` unless one exists and `replace` is false; the key in force afterwards
        (two nodes making a first key at once agree on one)."""
        conflict = ("DO UPDATE SET key = EXCLUDED.key, ctime = EXCLUDED.ctime" if replace
                    else "DO UPDATE SET key = signing_keys.key")     # returns the existing row
        async with self._tables.connection() as conn:
            cur = await conn.execute(
                "INSERT INTO signing_keys (user_id, key, ctime) VALUES (%s, %s, %s)"
                f" ON CONFLICT (user_id) {conflict} RETURNING key", (user_id, key, time.time()))
            row = await cur.fetchone()
        return key if row is None else str(row[0])

    async def close(self) -> None:
        await self._tables.close()
