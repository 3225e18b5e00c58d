"""File versions of the SQLite storage provider: every overwrite keeps the previous blob as a row of
`versions` (ops.commit_upload); here they are listed, located and restored. A version's key is
its row id, so newer versions have larger keys.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from ocis_server.domain.errors import Conflict, NotFound

from .api import Node, Version
from .ops import check_quota
from .schema import get_node, make_etag, propagate
from .writer import Tx

_VERSION_COLS = "id, node_id, size, mtime, etag, checksums"


def _version_from_row(row: Sequence[object]) -> Version:
    vid, node_id, size, mtime, etag, checksums = row
    return Version(key=str(vid), node_id=str(node_id), size=int(size),  # type: ignore[call-overload]
                   mtime=float(mtime), etag=str(etag),  # type: ignore[arg-type]
                   checksums=dict(json.loads(str(checksums))))


def _row_id(key: str) -> int:
    if not key.isascii() or not key.isdigit() or len(key) > 18:
        raise NotFound("no such version")
    return int(key)


def _file(conn: sqlite3.Connection, node_id: str, storage_id: str) -> Node:
    node = get_node(conn, node_id, storage_id)
    if node.is_dir:
        raise NotFound("folders have no versions")
    return node


def list_versions(conn: sqlite3.Connection, storage_id: str, node_id: str) -> list[Version]:
    _file(conn, node_id, storage_id)
    rows = conn.execute(f"SELECT {_VERSION_COLS} FROM versions WHERE node_id = ? ORDER BY id DESC",
                        (node_id,)).fetchall()
    return [_version_from_row(r) for r in rows]


def version_blob(conn: sqlite3.Connection, storage_id: str, node_id: str,
                 key: str) -> tuple[Version, str]:
    """The version and the id of the blob holding its content."""
    _file(conn, node_id, storage_id)
    row = conn.execute(f"SELECT {_VERSION_COLS}, blob_id FROM versions WHERE id = ? AND node_id = ?",
                       (_row_id(key), node_id)).fetchone()
    if row is None:
        raise NotFound("no such version")
    return _version_from_row(row[:6]), str(row[6])


def restore(tx: Tx, storage_id: str, node_id: str, key: str) -> Node:
    """The chosen version becomes the current content (its row is consumed: its blob is current
    now), the current content becomes a new version; new etag, propagated to the space root."""
    conn = tx.conn
    node = _file(conn, node_id, storage_id)
    version, blob_id = version_blob(conn, storage_id, node_id, key)
    if node.parent_id is None:
        raise Conflict("not a file")
    delta = version.size - node.size
    check_quota(conn, node.space_id, delta)
    if node.blob_id is not None:   # the current content becomes a version (as on overwrite)
        conn.execute("INSERT INTO versions(node_id, blob_id, size, mtime, etag, checksums,"
                     " created) VALUES (?,?,?,?,?,?,?)",
                     (node.id, node.blob_id, node.size, node.mtime, node.etag,
                      json.dumps(node.checksums), tx.stamp / 1e9))
    sums = version.checksums
    conn.execute("DELETE FROM versions WHERE id = ?", (int(version.key),))
    conn.execute("UPDATE nodes SET size = ?, tree_size = ?, mtime = ?, tmtime = ?, etag = ?,"
                 " sha1 = ?, md5 = ?, adler32 = ?, blob_id = ? WHERE id = ?",
                 (version.size, version.size, version.mtime, tx.stamp,
                  make_etag(node_id, tx.stamp), sums.get("SHA1"), sums.get("MD5"),
                  sums.get("ADLER32"), blob_id, node_id))
    propagate(conn, node.parent_id, delta, tx.stamp)
    return get_node(conn, node_id, storage_id)
