"""Paged listings of the SQLite storage provider (mixed into SqliteStorage): a folder's children a
page at a time in name order, each page starting after the last name of the one before (keyset
paging on the (parent_id, name) index), so that a listing of any size is read in constant memory
by short read transactions that never hold a lock; and the size of a subtree, counted up to a cap.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from .api import Node
from .schema import NODE_COLS, NODE_FROM, node_from_row


class PagedListing:
    """`children_page` and `count_below` of `storage.api.Storage`."""

    storage_id: str
    _read: Callable[..., Any]
    _cached: Callable[..., Any]

    async def children_page(self, node: Node, after: str | None, limit: int) -> list[Node]:
        """Up to `limit` children of `node` sorted by name, those whose name sorts after `after`
        (None: from the first). Each page is one read transaction: a listing read page by page
        while others write sees every entry that stays unchanged exactly once, in order, and an
        entry added or removed meanwhile at most once."""
        if not node.is_dir or limit <= 0:
            return []
        parent_id, storage_id = node.id, self.storage_id

        def query(conn: sqlite3.Connection) -> list[Node]:
            if after is None:
                rows = conn.execute(f"SELECT {NODE_COLS} FROM {NODE_FROM} WHERE n.parent_id = ?"
                                    " ORDER BY n.name LIMIT ?", (parent_id, limit))
            else:
                rows = conn.execute(f"SELECT {NODE_COLS} FROM {NODE_FROM} WHERE n.parent_id = ?"
                                    " AND n.name > ? ORDER BY n.name LIMIT ?",
                                    (parent_id, after, limit))
            shared: dict[object, str] = {}
            return [node_from_row(r, storage_id, shared) for r in rows]
        # Through the read cache (its budget bounds what all listings together keep): repeated
        # listings of an unchanged folder cost no query, concurrent ones share each page.
        page: list[Node] = await self._cached(("page", parent_id, node.etag, after, limit),
                                              query, len)
        return page

    async def count_below(self, node: Node, limit: int) -> int:
        """How many nodes lie below `node` (its whole subtree, itself not counted), counting
        stops past `limit`: the answer is at most `limit + 1`, whatever the tree's size."""
        if not node.is_dir:
            return 0

        def query(conn: sqlite3.Connection) -> int:
            # A LIMIT on the recursive select ends the recursion once that many rows are out.
            row = conn.execute(
                "WITH RECURSIVE sub(id) AS (SELECT ? UNION ALL SELECT n.id FROM nodes n"
                " JOIN sub ON n.parent_id = sub.id LIMIT ?) SELECT count(*) - 1 FROM sub",
                (node.id, limit + 2)).fetchone()
            return int(row[0])
        found: int = await self._read(query)
        return found
