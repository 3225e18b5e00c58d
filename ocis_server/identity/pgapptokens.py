"""App tokens on PostgreSQL (`OCIS_DATABASE_URL`): a token made through one front node works as
the HTTP Basic password on every other. The rules (form, hash, cap, expiry) are AppTokenRules';
this file holds only the rows. PostgreSQL away: ServiceUnavailable (503 + Retry-After, postgres.py);
a token check that cannot reach the database is a 503, never a silent 401.
"""

from __future__ import annotations

from collections.abc import Callable
import time

from ocis_server.postgres import Tables

from .apptokens import MAX_TOKENS_PER_USER, AppToken, AppTokenRules

# Version i is STEPS[i-1]; appended, never edited.
STEPS: tuple[tuple[str, ...], ...] = (
    ("""CREATE TABLE app_tokens (
            hash TEXT PRIMARY KEY,
            user_id TEXT NOT NULL,
            label TEXT NOT NULL,
            created DOUBLE PRECISION NOT NULL,
            expires DOUBLE PRECISION NOT NULL)""",
     "CREATE INDEX app_tokens_by_user ON app_tokens (user_id)"),
)


class PostgresAppTokenStore(AppTokenRules):
    def __init__(self, tables: Tables, clock: Callable[[], float] = time.time) -> None:
        self._pool, self._clock = tables, clock

    @classmethod
    async def open(cls, url: str, *, clock: Callable[[], float] = time.time) -> PostgresAppTokenStore:
        """Migrated now, or on first use when the database is away at start."""
        tables = Tables(url, "app_tokens", STEPS)
        await tables.try_ready()
        return cls(tables, clock)

    async def _insert(self, record: AppToken, now: float) -> bool:
        async with self._pool.connection() as conn, conn.transaction():
            # Two nodes creating tokens for one user at once: one waits, so the cap holds.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 1))",
                               (record.user_id,))
            await conn.execute("DELETE FROM app_tokens WHERE user_id = %s AND expires <= %s",
                               (record.user_id, now))
            cur = await conn.execute("SELECT count(*) FROM app_tokens WHERE user_id = %s",
                                     (record.user_id,))
            row = await cur.fetchone()
            if row is not None and int(row[0]) >= MAX_TOKENS_PER_USER:
                return False
            await conn.execute(
                "INSERT INTO app_tokens (hash, user_id, label, created, expires)"
                " VALUES (%s, %s, %s, %s, %s)",
                (record.hash, record.user_id, record.label, record.created, record.expires))
            return True

    async def _owner(self, digest: str, now: float) -> str | None:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT user_id FROM app_tokens WHERE hash = %s AND expires > %s", (digest, now))
            row = await cur.fetchone()
        return None if row is None else str(row[0])

    async def _live(self, user_id: str, now: float) -> list[AppToken]:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT hash, user_id, label, created, expires FROM app_tokens"
                " WHERE user_id = %s AND expires > %s ORDER BY created", (user_id, now))
            rows = await cur.fetchall()
        return [AppToken(str(r[0]), str(r[1]), str(r[2]), float(r[3]), float(r[4])) for r in rows]

    async def _remove(self, digest: str, user_id: str) -> int:
        async with self._pool.connection() as conn:
            cur = await conn.execute("DELETE FROM app_tokens WHERE hash = %s AND user_id = %s",
                                     (digest, user_id))
            return cur.rowcount

    async def delete_user(self, user_id: str) -> None:
        async with self._pool.connection() as conn:
            await conn.execute("DELETE FROM app_tokens WHERE user_id = %s", (user_id,))

    async def count(self) -> int:
        async with self._pool.connection() as conn:
            row = await (await conn.execute("SELECT count(*) FROM app_tokens")).fetchone()
        return 0 if row is None else int(row[0])

    async def close(self) -> None:
        await self._pool.close()
