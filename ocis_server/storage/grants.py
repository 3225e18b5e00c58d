"""What shares, federated shares and public links have in common: rows that point at a live node
(ids `<storage>:<space>:<random>`), listed by node ids, creator and space, and updated column by
column (a fresh mtime with every change)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from ocis_server.domain.errors import NotFound
from ocis_server.domain.ids import new_id

from .writer import Tx

IN_CHUNK = 900     # at most this many "?" in one IN (...): SQLite's limit is 999 by default


def new_grant_id(tx: Tx, storage_id: str, node_id: str) -> tuple[str, str]:
    """(id, space id) of a new share or link of the node `node_id` (404 when there is none)."""
    row = tx.conn.execute("SELECT space_id FROM nodes WHERE id = ?", (node_id,)).fetchone()
    if row is None:
        raise NotFound("resource not found")
    space_id = str(row[0])
    return f"{storage_id}:{space_id}:{new_id()}", space_id


def grant_changes(*, role_id: str | None, permissions: int | None, expiration: float | None,
                  clear_expiration: bool) -> dict[str, object]:
    """The columns an update of a share's role, permissions or expiry sets (None: unchanged)."""
    changes: dict[str, object] = {}
    if role_id is not None:
        changes["role_id"] = role_id
    if permissions is not None:
        changes["permissions"] = permissions
    if clear_expiration or expiration is not None:
        changes["expiration"] = None if clear_expiration else expiration
    return changes


def update_columns(tx: Tx, table: str, row_id: str, changes: dict[str, object]) -> None:
    """Set the changed columns of one row of `table` (shares, links) and its mtime."""
    if changes:
        sets = ", ".join(f"{key} = ?" for key in changes)
        tx.conn.execute(f"UPDATE {table} SET {sets}, mtime = ? WHERE id = ?",
                        (*changes.values(), time.time(), row_id))


async def list_live(cached: Callable[..., Any], kind: str, live: str, alias: str,
                    make: Callable[[Sequence[Any]], Any], *,
                    node_ids: Sequence[str] | None, creator_id: str | None,
                    space_id: str | None) -> list[Any]:
    """Rows of the `live` query (table aliased `alias`, joined with nodes as `n`) filtered by
    node ids, creator and space, oldest first, each made into an object by `make`."""
    where: list[str] = []
    args: list[object] = []
    if node_ids is not None:
        ids = list(dict.fromkeys(node_ids))
        if not ids:
            return []
        if len(ids) > IN_CHUNK:   # a huge listing: filter after one query
            wanted = set(ids)
            found = await list_live(cached, kind, live, alias, make, node_ids=None,
                                    creator_id=creator_id, space_id=space_id)
            return [item for item in found if item.node_id in wanted]
        where.append(f"{alias}.node_id IN ({','.join('?' * len(ids))})")
        args += ids
    if creator_id is not None:
        where.append(f"{alias}.creator_id = ?")
        args.append(creator_id)
    if space_id is not None:
        where.append("n.space_id = ?")
        args.append(space_id)
    sql = (live + (" WHERE " + " AND ".join(where) if where else "")
           + f" ORDER BY {alias}.ctime, {alias}.id")
    found = await cached((kind, sql, tuple(args)),
                         lambda c: [make(r) for r in c.execute(sql, args)], len)
    return list(found)
