"""Dead properties and WebDAV locks of the SQLite storage provider (mixed into SqliteStorage):
properties by node id, one query per ~900 ids for a listing; a space's live locks kept in memory
until the lock table changes.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any

from ocis_server.domain.errors import NotFound

from . import ops
from .api import LockRecord, Node
from .schema import LOCK_COLS, get_node, lock_from_row

_IN_CHUNK = 900   # ids per IN (...) list, under SQLite's default 999 parameters
_LOCK_CACHE_MAX = 30_000 // 8   # spaces whose lock lists are kept


class PropsAndLocks:
    """The dead-property and lock half of `storage.api.Storage`."""

    storage_id: str
    _read: Callable[..., Any]
    _write: Callable[..., Any]
    _lock_write: Callable[..., Any]
    _cached: Callable[..., Any]
    _lock_cache: dict[tuple[Any, ...], list[LockRecord]]
    _lock_gen: int

    # --- dead properties --------------------------------------------------------------------

    async def get_props(self, node_id: str) -> dict[str, str]:
        def query(conn: sqlite3.Connection) -> dict[str, str]:
            get_node(conn, node_id, self.storage_id)
            rows = conn.execute("SELECT name, value FROM props WHERE node_id = ?", (node_id,))
            return {str(k): str(v) for k, v in rows}
        props: dict[str, str] = await self._read(query)
        return props

    async def get_props_many(self, node_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        """Dead properties of many nodes, one query per ~900 ids (SQLite's parameter limit);
        nodes without properties (or unknown ids) are left out."""
        ids = list(dict.fromkeys(node_ids))

        def query(conn: sqlite3.Connection) -> dict[str, dict[str, str]]:
            out: dict[str, dict[str, str]] = {}
            for start in range(0, len(ids), _IN_CHUNK):
                chunk = ids[start:start + _IN_CHUNK]
                marks = ",".join("?" * len(chunk))
                sql = f"SELECT node_id, name, value FROM props WHERE node_id IN ({marks})"
                for nid, name, value in conn.execute(sql, chunk):
                    out.setdefault(str(nid), {})[str(name)] = str(value)
            return out
        if not ids:
            return {}
        # Through the read cache (a repeated listing of an unchanged folder costs no query).
        found: dict[str, dict[str, str]] = await self._cached(
            ("props", tuple(ids)), query, lambda _: 1 + len(ids) // 16)
        return {nid: dict(props) for nid, props in found.items()}

    async def patch_props(self, node_id: str, set_props: dict[str, str],
                          remove: Sequence[str]) -> Node:
        node: Node = await self._write(ops.patch_props, self.storage_id, node_id,
                                       dict(set_props), list(remove))
        return node

    # --- locks ------------------------------------------------------------------------------

    async def locks_covering(self, space_id: str, path: Sequence[str]) -> list[LockRecord]:
        parts = tuple(path)
        return [lock for lock in await self._space_locks(space_id)
                if lock.path == parts or (lock.depth_infinity and len(lock.path) < len(parts)
                                          and parts[:len(lock.path)] == lock.path)]

    async def locks_below(self, space_id: str, path: Sequence[str]) -> list[LockRecord]:
        parts = tuple(path)
        return [lock for lock in await self._space_locks(space_id)
                if lock.path[:len(parts)] == parts]

    async def _space_locks(self, space_id: str) -> list[LockRecord]:
        """The live locks of a space, ordered by path. The list is kept until the lock table
        changes (only the `_lock_write` operations change it), so a write that checks for locks
        usually costs no query; a lock that has expired since is dropped here, so the answer is
        what a query would return now."""
        generation = self._lock_gen
        locks = self._lock_cache.get(("space", space_id))
        if locks is None:
            def query(conn: sqlite3.Connection) -> list[LockRecord]:
                rows = conn.execute(f"SELECT {LOCK_COLS} FROM locks WHERE space_id = ? AND"
                                    " expires > ? ORDER BY path", (space_id, time.time()))
                return [lock_from_row(r) for r in rows.fetchall()]
            locks = await self._read(query)
            if generation == self._lock_gen:   # no lock change finished while reading
                if len(self._lock_cache) >= _LOCK_CACHE_MAX:
                    self._lock_cache.clear()
                self._lock_cache[("space", space_id)] = locks
        if not locks:
            return locks
        now = time.time()
        return [lock for lock in locks if lock.expires > now]

    async def get_lock(self, token: str) -> LockRecord:
        def query(conn: sqlite3.Connection) -> LockRecord:
            row = conn.execute(f"SELECT {LOCK_COLS} FROM locks WHERE token = ? AND expires > ?",
                               (token, time.time())).fetchone()
            if row is None:
                raise NotFound("lock not found")
            return lock_from_row(row)
        lock: LockRecord = await self._read(query)
        return lock

    async def put_lock(self, lock: LockRecord) -> None:
        await self._lock_write(ops.put_lock, lock, time.time())

    async def remove_lock(self, token: str) -> None:
        await self._lock_write(ops.remove_lock, token, time.time())

