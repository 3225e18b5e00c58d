"""The trash bin of the SQLite storage provider: a DELETE moves a subtree's rows out of `nodes`
into `trash_nodes` (ids, dead properties and versions stay), restore moves them back, purge drops
them and removes their blobs (and their versions' blobs) after the commit.

An item's key is the id of its trashed root node; `<key>/<name>/...` addresses something inside a
trashed folder, which can be listed, restored and purged on its own (reva's recycle keys).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import replace

from ocis_server.domain.errors import NotFound, PreconditionFailed

from .api import Node, TrashItem
from .blobs import BlobStore
from .schema import SUBTREE, get_node, parent_and_target, propagate
from .writer import Tx

_COLS = ("id, space_id, parent_id, name, is_dir, size, tree_size, mtime, tmtime, etag, sha1, md5,"
         " adler32, blob_id")
_TRASH_SELECT = "SELECT key, space_id, name, location, is_dir, size, deleted FROM trash"
_TRASH_SUBTREE = ("WITH RECURSIVE sub(id) AS (SELECT :node UNION ALL "
                  "SELECT t.id FROM trash_nodes t JOIN sub ON t.parent_id = sub.id)")


def item_from_row(row: Sequence[object]) -> TrashItem:
    key, space_id, name, location, is_dir, size, deleted = row
    text = str(location)
    return TrashItem(key=str(key), space_id=str(space_id), name=str(name),
                     original_path=tuple(text.split("/")) if text else (), is_dir=bool(is_dir),
                     size=int(size), deleted=float(deleted))  # type: ignore[call-overload,arg-type]


def list_items(conn: sqlite3.Connection, space_id: str) -> list[TrashItem]:
    """Every item of a space's trash, newest first: one indexed query, whatever the trash holds."""
    rows = conn.execute(f"{_TRASH_SELECT} WHERE space_id = ? ORDER BY deleted DESC, key",
                        (space_id,)).fetchall()
    return [item_from_row(r) for r in rows]


def _item(conn: sqlite3.Connection, space_id: str, key: str) -> TrashItem:
    row = conn.execute(f"{_TRASH_SELECT} WHERE key = ? AND space_id = ?", (key, space_id)).fetchone()
    if row is None:
        raise NotFound("no such item in the trash")
    return item_from_row(row)


def _inside(conn: sqlite3.Connection, space_id: str, key: str
            ) -> tuple[TrashItem, list[tuple[str, bool, int]]]:
    """The trashed item a key names, and the (id, is_dir, size) of each node from the item's
    root down to the addressed one (one entry for the item itself)."""
    root_key, *rel = key.split("/")
    item = _item(conn, space_id, root_key)
    chain = [(item.key, item.is_dir, item.size)]
    for name in rel:
        parent_id, is_dir, _ = chain[-1]
        row = conn.execute(
            "SELECT id, is_dir, CASE WHEN is_dir THEN tree_size ELSE size END FROM trash_nodes"
            " WHERE parent_id = ? AND name = ? AND root = ?", (parent_id, name, root_key)).fetchone()
        if not is_dir or row is None:
            raise NotFound("no such item in the trash")
        chain.append((str(row[0]), bool(row[1]), int(row[2])))
    if rel:
        item = replace(item, key=key, name=rel[-1], original_path=item.original_path + tuple(rel),
                       is_dir=chain[-1][1], size=chain[-1][2])
    return item, chain


def get_item(conn: sqlite3.Connection, space_id: str, key: str) -> TrashItem:
    return _inside(conn, space_id, key)[0]


def list_children(conn: sqlite3.Connection, space_id: str, key: str) -> list[TrashItem]:
    """What a trashed folder (or a folder inside one) held, by name."""
    item, chain = _inside(conn, space_id, key)
    if not item.is_dir:
        return []
    rows = conn.execute(
        "SELECT name, is_dir, CASE WHEN is_dir THEN tree_size ELSE size END FROM trash_nodes"
        " WHERE parent_id = ? AND root = ? ORDER BY name", (chain[-1][0], key.split("/")[0]))
    return [replace(item, key=f"{key}/{name}", name=str(name),
                    original_path=item.original_path + (str(name),), is_dir=bool(is_dir),
                    size=int(size)) for name, is_dir, size in rows]


def _shrink(conn: sqlite3.Connection, chain: list[tuple[str, bool, int]], size: int) -> None:
    """A node left the trashed item `chain[0]`: its trashed ancestors and the item get smaller."""
    ancestors = [node_id for node_id, _, _ in chain[:-1]]
    conn.execute(f"UPDATE trash_nodes SET tree_size = tree_size - ?"
                 f" WHERE id IN ({','.join('?' * len(ancestors))})", (size, *ancestors))
    conn.execute("UPDATE trash SET size = size - ? WHERE key = ?", (size, chain[0][0]))


def trash_subtree(tx: Tx, node: Node, path: Sequence[str]) -> None:
    """Move `node` and everything below it to the trash. The caller propagates the size change
    and drops the locks (ops.delete)."""
    conn = tx.conn
    conn.execute(f"{SUBTREE} INSERT INTO trash_nodes({_COLS}, root) SELECT {_COLS}, ? FROM nodes"
                 " WHERE id IN (SELECT id FROM sub)", (node.id, node.id))
    conn.execute("DELETE FROM nodes WHERE id IN (SELECT id FROM trash_nodes WHERE root = ?)",
                 (node.id,))
    conn.execute("INSERT INTO trash(key, space_id, name, location, is_dir, size, deleted)"
                 " VALUES (?,?,?,?,?,?,?)", (node.id, node.space_id, node.name, "/".join(path),
                                             int(node.is_dir), node.size, tx.stamp / 1e9))


def restore(tx: Tx, storage_id: str, space_id: str, key: str, dst: Sequence[str] | None,
            overwrite: bool) -> tuple[Node, bool]:
    """Put a trashed item back, at `dst` or where it was. An existing node there is trashed in
    turn (reva ocdav deletes the destination before restoring over it)."""
    from .ops import check_quota, remove_locks_below  # ops imports this module

    conn = tx.conn
    item, chain = _inside(conn, space_id, key)
    parts = tuple(dst) if dst is not None else item.original_path
    parent, existing = parent_and_target(conn, space_id, parts, storage_id)
    freed = 0
    if existing is not None:
        if not overwrite:
            raise PreconditionFailed("the destination exists and Overwrite is F")
        trash_subtree(tx, existing, parts)
        remove_locks_below(conn, space_id, parts)
        freed = existing.size
    check_quota(conn, space_id, item.size - freed)
    node_id = chain[-1][0]
    conn.execute(f"{_TRASH_SUBTREE} INSERT INTO nodes({_COLS}) SELECT id, space_id,"
                 " CASE WHEN id = :node THEN :parent ELSE parent_id END,"
                 " CASE WHEN id = :node THEN :name ELSE name END,"
                 " is_dir, size, tree_size, mtime, tmtime, etag, sha1, md5, adler32, blob_id"
                 " FROM trash_nodes WHERE id IN (SELECT id FROM sub)",
                 {"node": node_id, "parent": parent.id, "name": parts[-1]})
    conn.execute(f"{_TRASH_SUBTREE} DELETE FROM trash_nodes WHERE id IN (SELECT id FROM sub)",
                 {"node": node_id})
    if len(chain) == 1:
        conn.execute("DELETE FROM trash WHERE key = ?", (node_id,))
    else:
        _shrink(conn, chain, item.size)
    propagate(conn, node_id, 0, tx.stamp)   # a restored item is a change a sync client must see
    propagate(conn, parent.id, item.size - freed, tx.stamp)
    return get_node(conn, node_id, storage_id), existing is None


def _purge_where(tx: Tx, blobs: BlobStore, roots_sql: str, args: tuple[object, ...]) -> int:
    """Drop the trashed items whose keys `roots_sql` selects, with their props and versions;
    their blobs go once the commit is durable."""
    conn = tx.conn
    _purged(conn, f"SELECT id FROM trash_nodes WHERE root IN ({roots_sql})", args)
    _drop_purged(tx, blobs)
    return int(conn.execute(f"DELETE FROM trash WHERE key IN ({roots_sql})", args).rowcount)


def _purged(conn: sqlite3.Connection, select: str, args: tuple[object, ...] | dict[str, object]
            ) -> None:
    """Fill temp.purged with the trashed node ids a query selects."""
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS purged(id TEXT PRIMARY KEY) WITHOUT ROWID")
    conn.execute("DELETE FROM temp.purged")
    conn.execute(f"INSERT INTO temp.purged {select}", args)


def _drop_purged(tx: Tx, blobs: BlobStore) -> None:
    """Delete the nodes in temp.purged with their props and versions; their blobs go after the
    commit."""
    conn = tx.conn
    blob_ids = [str(r[0]) for r in conn.execute(
        "SELECT blob_id FROM trash_nodes WHERE id IN (SELECT id FROM temp.purged)"
        " AND blob_id IS NOT NULL"
        " UNION ALL SELECT blob_id FROM versions WHERE node_id IN (SELECT id FROM temp.purged)")]
    conn.execute("DELETE FROM received WHERE share_id IN (SELECT id FROM shares WHERE node_id"
                 " IN (SELECT id FROM temp.purged))")     # shares go with their node (shares.py)
    for table, column in (("props", "node_id"), ("versions", "node_id"), ("shares", "node_id"),
                          ("links", "node_id"), ("ocm_shares", "node_id"),
                          ("trash_nodes", "id")):
        conn.execute(f"DELETE FROM {table} WHERE {column} IN (SELECT id FROM temp.purged)")
    if blob_ids:
        tx.after_commit.append(lambda: blobs.remove(blob_ids))


def purge(tx: Tx, blobs: BlobStore, space_id: str, key: str) -> None:
    item, chain = _inside(tx.conn, space_id, key)
    if len(chain) == 1:
        _purge_where(tx, blobs, "SELECT key FROM trash WHERE key = ? AND space_id = ?",
                     (key, space_id))
        return
    _purged(tx.conn, f"{_TRASH_SUBTREE} SELECT id FROM sub", {"node": chain[-1][0]})
    _drop_purged(tx, blobs)
    _shrink(tx.conn, chain, item.size)


def empty(tx: Tx, blobs: BlobStore, space_id: str) -> int:
    if tx.conn.execute("SELECT 1 FROM spaces WHERE id = ?", (space_id,)).fetchone() is None:
        raise NotFound("space not found")
    return _purge_where(tx, blobs, "SELECT key FROM trash WHERE space_id = ?", (space_id,))
