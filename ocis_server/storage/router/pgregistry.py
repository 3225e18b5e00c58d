"""The space registry in PostgreSQL (`OCIS_DATABASE_URL`): component `space_registry`, migrated
at start like the user store (ocis_server/postgres.py, docs/decisions/0016-postgresql.md).
PostgreSQL away: every call raises ServiceUnavailable (503 with Retry-After)."""

from __future__ import annotations

from ocis_server.postgres import Pool, migrate

from .registry import SpaceEntry, row_values

STEPS: tuple[tuple[str, ...], ...] = (
    ("""CREATE TABLE space_registry (
            space_id TEXT PRIMARY KEY,
            mount_id TEXT NOT NULL,
            type TEXT NOT NULL,
            owner_id TEXT NOT NULL,
            name TEXT NOT NULL,
            alias TEXT NOT NULL)""",
     "CREATE INDEX space_registry_by_mount ON space_registry (mount_id)"),
    ("ALTER TABLE space_registry ADD COLUMN members TEXT NOT NULL DEFAULT ''",),
)
_COLUMNS = "space_id, mount_id, type, owner_id, name, alias, members"
_UPSERT = (f"INSERT INTO space_registry ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s)"
           " ON CONFLICT (space_id) DO UPDATE SET mount_id = EXCLUDED.mount_id,"
           " type = EXCLUDED.type, owner_id = EXCLUDED.owner_id, name = EXCLUDED.name,"
           " alias = EXCLUDED.alias, members = EXCLUDED.members")


class PostgresSpaceRegistry:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    @classmethod
    async def open(cls, url: str) -> PostgresSpaceRegistry:
        pool = Pool(url, size=4)
        try:
            await migrate(pool, "space_registry", STEPS)
        except BaseException:
            await pool.close()
            raise
        return cls(pool)

    async def entries(self) -> list[SpaceEntry]:
        async with self._pool.connection() as conn:
            cur = await conn.execute(f"SELECT {_COLUMNS} FROM space_registry")
            return [SpaceEntry(*(str(v) for v in row)) for row in await cur.fetchall()]

    async def get(self, space_id: str) -> SpaceEntry | None:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {_COLUMNS} FROM space_registry WHERE space_id = %s", (space_id,))
            row = await cur.fetchone()
        return SpaceEntry(*(str(v) for v in row)) if row else None

    async def put(self, entries: list[SpaceEntry]) -> None:
        if not entries:
            return
        async with self._pool.connection() as conn, conn.transaction():
            async with conn.cursor() as cur:
                await cur.executemany(_UPSERT, [row_values(e) for e in entries])

    async def remove(self, space_id: str) -> None:
        async with self._pool.connection() as conn:
            await conn.execute("DELETE FROM space_registry WHERE space_id = %s", (space_id,))

    async def close(self) -> None:
        await self._pool.close()
