"""The space registry of a `StorageRouter`: which provider (mount id) holds each space, plus the
snapshot a listing shows while that provider is away (type, owner, name, alias).

In SQLite on the front (`<base>/storage/spaces-registry.db`) by default; in PostgreSQL when
`OCIS_DATABASE_URL` is set (`pgregistry.py`), so that every front node routes alike.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ocis_server.storage.api import Space


@dataclass(frozen=True, slots=True)
class SpaceEntry:
    space_id: str
    mount_id: str
    type: str
    owner_id: str
    name: str
    alias: str
    members: str = ""          # the project space's members (principal ids, space-separated)

    @classmethod
    def of(cls, space: Space, members: str = "") -> SpaceEntry:
        return cls(space.id, space.storage_id, space.type, space.owner_id, space.name,
                   space.alias, members)

    def lists_for(self, member_id: str) -> bool:
        """Whether a listing for `member_id` (a user or group id) shows it from the snapshot."""
        return self.owner_id == member_id or member_id in self.members.split()

    def snapshot(self) -> Space:
        """The space as a listing shows it while its provider is away."""
        return Space(id=self.space_id, storage_id=self.mount_id, type=self.type, name=self.name,
                     alias=self.alias, owner_id=self.owner_id, quota_total=0, used=0,
                     description="", etag="", mtime=0.0, unavailable=True)


class SpaceRegistry(Protocol):
    async def entries(self) -> list[SpaceEntry]: ...
    async def get(self, space_id: str) -> SpaceEntry | None: ...
    async def put(self, entries: list[SpaceEntry]) -> None: ...   # insert or update
    async def remove(self, space_id: str) -> None: ...
    async def close(self) -> None: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS spaces(
    space_id TEXT PRIMARY KEY, mount_id TEXT NOT NULL, type TEXT NOT NULL,
    owner_id TEXT NOT NULL, name TEXT NOT NULL, alias TEXT NOT NULL,
    members TEXT NOT NULL DEFAULT '')"""
_COLUMNS = "space_id, mount_id, type, owner_id, name, alias, members"
UPSERT = (f"INSERT INTO spaces ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (space_id)"
          " DO UPDATE SET mount_id = excluded.mount_id, type = excluded.type,"
          " owner_id = excluded.owner_id, name = excluded.name, alias = excluded.alias,"
          " members = excluded.members")


def row_values(entry: SpaceEntry) -> tuple[str, str, str, str, str, str, str]:
    return (entry.space_id, entry.mount_id, entry.type, entry.owner_id, entry.name, entry.alias,
            entry.members)


class SqliteSpaceRegistry:
    """One small SQLite file; every call runs in a thread (one connection, serialised)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path) -> SqliteSpaceRegistry:
        def setup() -> sqlite3.Connection:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(_SCHEMA)
            columns = {row[1] for row in conn.execute("PRAGMA table_info(spaces)")}
            if "members" not in columns:     # a registry written before members were kept
                conn.execute("ALTER TABLE spaces ADD COLUMN members TEXT NOT NULL DEFAULT ''")
            return conn
        return cls(await asyncio.to_thread(setup))

    async def _run(self, sql: str, params: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
        async with self._lock:
            return await asyncio.to_thread(lambda: self._conn.execute(sql, params).fetchall())

    async def entries(self) -> list[SpaceEntry]:
        return [SpaceEntry(*row) for row in await self._run(f"SELECT {_COLUMNS} FROM spaces")]

    async def get(self, space_id: str) -> SpaceEntry | None:
        rows = await self._run(f"SELECT {_COLUMNS} FROM spaces WHERE space_id = ?", (space_id,))
        return SpaceEntry(*rows[0]) if rows else None

    async def put(self, entries: list[SpaceEntry]) -> None:
        def write() -> None:
            with self._conn:
                self._conn.execute("BEGIN")
                self._conn.executemany(UPSERT, [row_values(e) for e in entries])
        if entries:
            async with self._lock:
                await asyncio.to_thread(write)

    async def remove(self, space_id: str) -> None:
        await self._run("DELETE FROM spaces WHERE space_id = ?", (space_id,))

    async def close(self) -> None:
        async with self._lock:
            await asyncio.to_thread(self._conn.close)
