"""Name search and favourites of the SQLite storage provider (mixed into SqliteStorage), for the
WebDAV REPORT (ocdav/report.py): candidates come from an index (`nodes_space_name` for names,
`props_name` for favourites), never from walking the tree; their paths are then resolved
bottom-up, one batched query per tree level, to scope and order them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from .api import Node, SearchPage
from .schema import NODE_COLS, NODE_FROM, node_from_row

_IN_CHUNK = 900   # ids per IN (...) list, under SQLite's default 999 parameters


def like_pattern(pattern: str) -> str:
    """A search pattern as a LIKE pattern (ASCII case-insensitive): `*` and `?` are wildcards
    over the whole name; without them the pattern matches anywhere in the name."""
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    if "*" in pattern or "?" in pattern:
        return escaped.replace("*", "%").replace("?", "_")
    return f"%{escaped}%"


class NodeSearch:
    """The search half of `storage.api.Storage`."""

    storage_id: str
    _read: Callable[..., Any]

    async def search_names(self, space_id: str, base: Sequence[str], pattern: str, *,
                           offset: int = 0, limit: int = 100) -> SearchPage:
        """Nodes below `base` (not `base` itself) whose name matches `pattern` (see
        `like_pattern`), ordered by path; `offset`/`limit` page through them."""
        like = like_pattern(pattern)

        def query(conn: sqlite3.Connection) -> SearchPage:
            rows = _name_matches(conn, space_id, like)
            return self._page(conn, rows, tuple(base), offset, limit)
        page: SearchPage = await self._read(query)
        return page

    async def favorites(self, space_id: str, base: Sequence[str], *, user_id: str,
                        offset: int = 0, limit: int | None = None) -> SearchPage:
        """Nodes below `base` the user marked `oc:favorite` 1, ordered by path."""
        def query(conn: sqlite3.Connection) -> SearchPage:
            rows = _favorite_rows(conn, space_id, user_id)
            return self._page(conn, rows, tuple(base), offset, limit)
        page: SearchPage = await self._read(query)
        return page

    def _page(self, conn: sqlite3.Connection, rows: list[tuple[Any, ...]],
              base: tuple[str, ...], offset: int, limit: int | None) -> SearchPage:
        paths = _paths(conn, rows)
        depth = len(base)
        scoped = sorted((path, nid) for nid, path in paths.items()
                        if len(path) > depth and path[:depth] == base)
        chosen = scoped[offset:] if limit is None else scoped[offset:offset + limit]
        nodes = _nodes(conn, [nid for _, nid in chosen], self.storage_id)
        hits = [(nodes[nid], path) for path, nid in chosen if nid in nodes]
        return SearchPage(hits, len(scoped))


def _name_matches(conn: sqlite3.Connection, space_id: str, like: str) -> list[tuple[Any, ...]]:
    """(id, parent id, name) of the space's nodes whose name is LIKE `like`: a scan of the
    space's entries in the name index (the table is read only for matches). A database opened
    read-only from before the index existed is scanned through `nodes_space` instead."""
    sql = ("SELECT id, parent_id, name FROM nodes {hint} WHERE space_id = ?"
           " AND name LIKE ? ESCAPE '\\' AND parent_id IS NOT NULL")
    try:
        return conn.execute(sql.format(hint="INDEXED BY nodes_space_name"),
                            (space_id, like)).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such index" not in str(exc):
            raise
        return conn.execute(sql.format(hint=""), (space_id, like)).fetchall()


def _favorite_rows(conn: sqlite3.Connection, space_id: str,
                   user_id: str) -> list[tuple[Any, ...]]:
    """(id, parent id, name) of the user's favourites in the space. CROSS JOIN: the user's
    favourites first (primary key), then their nodes by id, so the cost follows the favourites,
    not the space; trashed nodes are not in `nodes`, so they drop out until restored."""
    return conn.execute(
        "SELECT n.id, n.parent_id, n.name FROM favorites f CROSS JOIN nodes n ON n.id = f.node_id"
        " WHERE f.user_id = ? AND n.space_id = ? AND n.parent_id IS NOT NULL",
        (user_id, space_id)).fetchall()


def _paths(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> dict[str, tuple[str, ...]]:
    """The path (names below the space root) of every matched row: ancestors are fetched level
    by level, each level in batches, and shared ancestors only once."""
    links: dict[str, tuple[str | None, str]] = {
        str(r[0]): (None if r[1] is None else str(r[1]), str(r[2])) for r in rows}
    missing = {p for p, _ in links.values() if p is not None and p not in links}
    while missing:
        wanted = list(missing)
        missing = set()
        for start in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[start:start + _IN_CHUNK]
            sql = ("SELECT id, parent_id, name FROM nodes WHERE id IN"
                   f" ({','.join('?' * len(chunk))})")
            for nid, parent, name in conn.execute(sql, chunk):
                links[str(nid)] = (None if parent is None else str(parent), str(name))
        missing = {p for p, _ in links.values() if p is not None and p not in links}
        missing -= set(wanted)        # a vanished ancestor: that hit is dropped below
    resolved: dict[str, tuple[str, ...] | None] = {}

    def path_of(nid: str) -> tuple[str, ...] | None:
        if nid in resolved:
            return resolved[nid]
        chain: list[str] = []
        current: str | None = nid
        prefix: tuple[str, ...] | None = ()
        while current is not None:
            if current in resolved:
                prefix = resolved[current]
                break
            link = links.get(current)
            if link is None:
                prefix = None
                break
            if link[0] is None:          # the space root: its name is not part of paths
                resolved[current] = ()
                break
            chain.append(current)
            current = link[0]
        for node_id in reversed(chain):
            prefix = None if prefix is None else (*prefix, links[node_id][1])
            resolved[node_id] = prefix
        return resolved.get(nid)

    out: dict[str, tuple[str, ...]] = {}
    for r in rows:
        path = path_of(str(r[0]))
        if path is not None:
            out[str(r[0])] = path
    return out


def _nodes(conn: sqlite3.Connection, ids: list[str], storage_id: str) -> dict[str, Node]:
    out: dict[str, Node] = {}
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start:start + _IN_CHUNK]
        sql = f"SELECT {NODE_COLS} FROM {NODE_FROM} WHERE n.id IN ({','.join('?' * len(chunk))})"
        for row in conn.execute(sql, chunk):
            node = node_from_row(row, storage_id)
            out[node.id] = node
    return out
