"""The write transactions of the SQLite storage provider. Each runs in the writer thread inside
one transaction (writer.py) and propagates etag, tree mtime and tree size to the space root(s).
Blobs of removed nodes are deleted only after the commit is durable.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from functools import lru_cache

from ocis_server.domain.errors import (
    AlreadyExists,
    BadRequest,
    Conflict,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    QuotaExceeded,
)
from ocis_server.domain.ids import new_id
from ocis_server.domain.paths import check_depth

from . import trash
from .api import LockRecord, Node, Space
from .blobs import BlobStore, Digest
from .schema import (
    SPACE_SELECT,
    SUBTREE,
    ancestor_ids,
    get_node,
    lock_key,
    make_etag,
    parent_and_target,
    propagate,
    space_from_row,
    walk,
)
from .writer import Tx

_INSERT_NODE = ("INSERT INTO nodes(id, space_id, parent_id, name, is_dir, size, tree_size, mtime,"
                " tmtime, etag, sha1, md5, adler32, blob_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)")


# --- checks shared with the read-side prechecks ------------------------------------------------

def check_quota(conn: sqlite3.Connection, space_id: str, delta: int) -> None:
    """507 when the space has a quota and `delta` more bytes would exceed it."""
    if delta <= 0:
        return
    row = conn.execute("SELECT s.quota_total, r.tree_size FROM spaces s JOIN nodes r ON r.id = s.id"
                       " WHERE s.id = ?", (space_id,)).fetchone()
    if row is not None and row[0] > 0 and row[1] + delta > row[0]:
        raise QuotaExceeded("not enough quota left in this space")


def _check_replace(existing: Node | None, if_match: str | None, if_none_match_any: bool) -> None:
    """What an upload may replace: not a folder, and only as the preconditions allow."""
    if existing is not None and existing.is_dir:
        raise Conflict("a folder exists at this path")
    if if_none_match_any and existing is not None:
        raise PreconditionFailed("the resource exists (If-None-Match: *)")
    if if_match is not None and (existing is None or not _etag_matches(if_match, existing.etag)):
        raise PreconditionFailed("the etag does not match (If-Match)")


def _etag_matches(header: str, etag: str) -> bool:
    for candidate in header.split(","):
        tag = candidate.strip()
        if tag == "*" or tag.removeprefix("W/").strip('"') == etag:
            return True
    return False


def check_upload(conn: sqlite3.Connection, storage_id: str, space_id: str, parts: Sequence[str], *,
                 if_match: str | None, if_none_match_any: bool,
                 size: int | None) -> tuple[Node, Node | None]:
    """The parent folder and the file an upload would replace, after every precondition."""
    parent, existing = parent_and_target(conn, space_id, parts, storage_id)
    _check_replace(existing, if_match, if_none_match_any)
    if size is not None:
        check_quota(conn, space_id, size - (existing.size if existing else 0))
    return parent, existing


# --- tree ----------------------------------------------------------------------------------

def mkdir(tx: Tx, storage_id: str, space_id: str, parts: Sequence[str]) -> Node:
    parent, existing = parent_and_target(tx.conn, space_id, parts, storage_id)
    if existing is not None:
        raise AlreadyExists("a resource with this name already exists")
    node_id = new_id()
    tx.conn.execute(_INSERT_NODE, (node_id, space_id, parent.id, parts[-1], 1, 0, 0, tx.stamp / 1e9,
                                   tx.stamp, make_etag(node_id, tx.stamp), None, None, None, None))
    propagate(tx.conn, parent.id, 0, tx.stamp)
    return get_node(tx.conn, node_id, storage_id)


def commit_upload(tx: Tx, storage_id: str, space_id: str, parts: Sequence[str], blob_id: str,
                  digest: Digest, mtime: float | None, if_match: str | None,
                  if_none_match_any: bool) -> tuple[Node, bool]:
    """Point the node at its new, already durable blob; the previous blob becomes a version."""
    check_depth(list(parts))    # before the one-query resolve (a join per level)
    done = _commit_upload_resolved(tx, storage_id, space_id, parts, blob_id, digest, mtime,
                                   if_match, if_none_match_any)
    if done is not None:
        return done
    conn = tx.conn
    parent, existing = check_upload(conn, storage_id, space_id, parts, if_match=if_match,
                                    if_none_match_any=if_none_match_any, size=digest.size)
    node_id, _, _ = _write_file(tx, space_id, parent.id, parts[-1], existing, blob_id, digest,
                                mtime)
    propagate(conn, parent.id, digest.size - (existing.size if existing else 0), tx.stamp)
    return get_node(conn, node_id, storage_id), existing is None


def _write_file(tx: Tx, space_id: str, parent_id: str, name: str, existing: Node | None,
                blob_id: str, digest: Digest, mtime: float | None) -> tuple[str, str, float]:
    """Insert the file's node, or point the existing one at the new blob (the old blob becomes a
    version). (node id, new etag, mtime); propagation is the caller's."""
    stamp = tx.stamp
    file_mtime = mtime if mtime is not None else stamp / 1e9
    sums = (digest.sha1, digest.md5, digest.adler32)
    if existing is None:
        node_id = new_id()
        etag = make_etag(node_id, stamp)
        tx.conn.execute(_INSERT_NODE, (node_id, space_id, parent_id, name, 0, digest.size,
                                       digest.size, file_mtime, stamp, etag, *sums, blob_id))
    else:
        node_id = existing.id
        etag = make_etag(node_id, stamp)
        _keep_version(tx, existing)
        tx.conn.execute("UPDATE nodes SET size = ?, tree_size = ?, mtime = ?, tmtime = ?,"
                        " etag = ?, sha1 = ?, md5 = ?, adler32 = ?, blob_id = ? WHERE id = ?",
                        (digest.size, digest.size, file_mtime, stamp, etag, *sums, blob_id,
                         node_id))
    return node_id, etag, file_mtime


# SQLite joins at most 64 tables: the root, its space, the folders and the file. Deeper uploads
# take the general path (a query per level).
_RESOLVE_MAX_PARTS = 60


@lru_cache(maxsize=64)
def _resolve_sql(folders: int) -> str:
    """One query for an upload below `folders` folders: the space root (tree size, quota, owner),
    each folder's id and type on the way, and the file already there (if any)."""
    cols = ["r.id", "r.tree_size", "s.quota_total", "s.owner_id"]
    joins = ["nodes r JOIN spaces s ON s.id = r.id"]
    last = "r"
    for i in range(folders):
        joins.append(f"JOIN nodes a{i} ON a{i}.parent_id = {last}.id AND a{i}.name = ?")
        cols += [f"a{i}.id", f"a{i}.is_dir"]
        last = f"a{i}"
    joins.append(f"LEFT JOIN nodes t ON t.parent_id = {last}.id AND t.name = ?")
    cols += ["t.id", "t.is_dir", "t.size", "t.mtime", "t.etag", "t.sha1", "t.md5", "t.adler32",
             "t.blob_id"]
    return (f"SELECT {', '.join(cols)} FROM {' '.join(joins)}"
            " WHERE r.id = ? AND r.parent_id IS NULL")


def _commit_upload_resolved(tx: Tx, storage_id: str, space_id: str, parts: Sequence[str],
                            blob_id: str, digest: Digest, mtime: float | None,
                            if_match: str | None, if_none_match_any: bool,
                            ) -> tuple[Node, bool] | None:
    """`commit_upload` in three statements (resolve, write the node, propagate) and no SQL
    function calls: the path's folders come from one query, so their new etags are computed
    here. None when the path does not resolve to a folder chain (the general path then raises
    the right error)."""
    if not parts or len(parts) > _RESOLVE_MAX_PARTS:
        return None
    conn = tx.conn
    row = conn.execute(_resolve_sql(len(parts) - 1), (*parts, space_id)).fetchone()
    if row is None:
        return None
    root_id, used, quota, owner_id = row[0], int(row[1]), int(row[2]), str(row[3])
    folders = [str(root_id)]
    for i in range(len(parts) - 1):
        if not row[5 + 2 * i]:
            return None                    # a file on the way: Conflict from the general path
        folders.append(str(row[4 + 2 * i]))
    (tid, t_dir, t_size, t_mtime, t_etag, t_sha1, t_md5, t_adler,
     t_blob) = row[4 + 2 * (len(parts) - 1):]
    parent_id = folders[-1]
    existing: Node | None = None
    if tid is not None:
        checksums = {k: str(v) for k, v in (("SHA1", t_sha1), ("MD5", t_md5), ("ADLER32", t_adler))
                     if v}
        existing = Node(id=str(tid), space_id=space_id, storage_id=storage_id,
                        parent_id=parent_id, name=parts[-1], is_dir=bool(t_dir), size=int(t_size),
                        mtime=float(t_mtime), etag=str(t_etag), checksums=checksums,
                        blob_id=None if t_blob is None else str(t_blob), owner_id=owner_id)
    _check_replace(existing, if_match, if_none_match_any)
    delta = digest.size - (existing.size if existing is not None else 0)
    if delta > 0 and quota > 0 and used + delta > quota:
        raise QuotaExceeded("not enough quota left in this space")
    stamp = tx.stamp
    node_id, etag, file_mtime = _write_file(tx, space_id, parent_id, parts[-1], existing,
                                            blob_id, digest, mtime)
    # propagate() for a known chain of folders: the same new etag, tree mtime and size delta.
    marks = ",".join("?" * len(folders))
    cases = " ".join("WHEN ? THEN ?" for _ in folders)
    conn.execute(f"UPDATE nodes SET tree_size = tree_size + ?, tmtime = ?, mtime = ?,"
                 f" etag = CASE id {cases} END WHERE id IN ({marks})",
                 (delta, stamp, stamp / 1e9,
                  *(v for fid in folders for v in (fid, make_etag(fid, stamp))), *folders))
    node = Node(id=node_id, space_id=space_id, storage_id=storage_id, parent_id=parent_id,
                name=parts[-1], is_dir=False, size=digest.size, mtime=file_mtime, etag=etag,
                checksums={"SHA1": digest.sha1, "MD5": digest.md5, "ADLER32": digest.adler32},
                blob_id=blob_id, owner_id=owner_id)
    return node, existing is None


def _keep_version(tx: Tx, old: Node) -> None:
    if old.blob_id is None:
        return
    tx.conn.execute("INSERT INTO versions(node_id, blob_id, size, mtime, etag, checksums, created)"
                    " VALUES (?,?,?,?,?,?,?)", (old.id, old.blob_id, old.size, old.mtime, old.etag,
                                                json.dumps(old.checksums), tx.stamp / 1e9))


def remove_subtree(tx: Tx, blobs: BlobStore, node: Node, path: Sequence[str]) -> None:
    """Drop a node and everything below it: rows, dead props, versions, locks; blobs after commit.
    (A DELETE trashes instead, trash.py; this purges an overwritten destination or a space.)"""
    conn = tx.conn
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS doomed(id TEXT PRIMARY KEY) WITHOUT ROWID")
    conn.execute("DELETE FROM temp.doomed")
    conn.execute(f"{SUBTREE} INSERT INTO temp.doomed SELECT id FROM sub", (node.id,))
    blob_ids = [str(r[0]) for r in conn.execute(
        "SELECT blob_id FROM nodes WHERE id IN (SELECT id FROM temp.doomed) AND blob_id IS NOT NULL"
        " UNION ALL SELECT blob_id FROM versions WHERE node_id IN (SELECT id FROM temp.doomed)")]
    conn.execute("DELETE FROM received WHERE share_id IN (SELECT id FROM shares WHERE node_id"
                 " IN (SELECT id FROM temp.doomed))")     # shares go with their node (shares.py)
    for table, column in (("props", "node_id"), ("versions", "node_id"), ("shares", "node_id"),
                          ("links", "node_id"), ("ocm_shares", "node_id"),
                          ("nodes", "id")):
        conn.execute(f"DELETE FROM {table} WHERE {column} IN (SELECT id FROM temp.doomed)")
    remove_locks_below(conn, node.space_id, path)
    if blob_ids:
        tx.after_commit.append(lambda: blobs.remove(blob_ids))


def remove_locks_below(conn: sqlite3.Connection, space_id: str, path: Sequence[str]) -> None:
    key = lock_key(path)
    if not key:
        conn.execute("DELETE FROM locks WHERE space_id = ?", (space_id,))
        return
    conn.execute("DELETE FROM locks WHERE space_id = ? AND (path = ? OR substr(path, 1, ?) = ?)",
                 (space_id, key, len(key) + 1, key + "/"))


def delete(tx: Tx, storage_id: str, blobs: BlobStore, space_id: str, parts: Sequence[str]) -> None:
    node = walk(tx.conn, space_id, parts, storage_id)
    if node.parent_id is None:
        raise PermissionDenied("the space root cannot be deleted")
    # Into the trash, not gone: restore brings back ids, dead props and versions (trash.py).
    trash.trash_subtree(tx, node, parts)
    remove_locks_below(tx.conn, space_id, parts)
    propagate(tx.conn, node.parent_id, -node.size, tx.stamp)


def _prepare_target(tx: Tx, storage_id: str, blobs: BlobStore, src: Node, dst_space_id: str,
                    dst_parts: Sequence[str], overwrite: bool) -> tuple[Node, int, bool]:
    """Shared MOVE/COPY destination rules; returns (dst parent, bytes freed, created)."""
    conn = tx.conn
    dst_parent, existing = parent_and_target(conn, dst_space_id, dst_parts, storage_id)
    if src.id in ancestor_ids(conn, dst_parent.id):
        raise Conflict("cannot move or copy a folder into itself")
    if existing is None:
        return dst_parent, 0, True
    if existing.id == src.id:
        raise Conflict("source and destination are the same resource")
    if not overwrite:
        raise PreconditionFailed("the destination exists and Overwrite is F")
    if existing.id in ancestor_ids(conn, src.id):
        raise Conflict("the destination contains the source")
    # reva ocdav deletes an overwritten destination first, and a delete goes to the trash.
    trash.trash_subtree(tx, existing, dst_parts)
    remove_locks_below(conn, dst_space_id, dst_parts)
    return dst_parent, existing.size, False


def move(tx: Tx, storage_id: str, blobs: BlobStore, space_id: str, parts: Sequence[str],
         dst_space_id: str, dst_parts: Sequence[str], overwrite: bool) -> tuple[Node, bool]:
    conn = tx.conn
    src = walk(conn, space_id, parts, storage_id)
    if src.parent_id is None:
        raise PermissionDenied("a space root cannot be moved")
    dst_parent, freed, created = _prepare_target(tx, storage_id, blobs, src, dst_space_id,
                                                 dst_parts, overwrite)
    if dst_space_id != space_id:
        check_quota(conn, dst_space_id, src.size - freed)
        conn.execute(f"{SUBTREE} UPDATE nodes SET space_id = ? WHERE id IN (SELECT id FROM sub)",
                     (src.id, dst_space_id))
    conn.execute("UPDATE nodes SET parent_id = ?, name = ? WHERE id = ?",
                 (dst_parent.id, dst_parts[-1], src.id))
    # RFC 4918 §7.7: locks do not move with the resource.
    remove_locks_below(conn, space_id, parts)
    propagate(conn, src.parent_id, -src.size, tx.stamp)
    propagate(conn, dst_parent.id, src.size - freed, tx.stamp)
    return get_node(conn, src.id, storage_id), created


def copy(tx: Tx, storage_id: str, blobs: BlobStore, space_id: str, parts: Sequence[str],
         dst_space_id: str, dst_parts: Sequence[str], overwrite: bool,
         depth_infinity: bool) -> tuple[Node, bool]:
    """New ids for the whole subtree (or just the collection for Depth: 0), blobs linked,
    dead props copied."""
    conn = tx.conn
    src = walk(conn, space_id, parts, storage_id)
    dst_parent, freed, created = _prepare_target(tx, storage_id, blobs, src, dst_space_id,
                                                 dst_parts, overwrite)
    deep = depth_infinity or not src.is_dir
    rows = conn.execute(
        "WITH RECURSIVE sub(id, depth) AS (SELECT ?, 0 UNION ALL SELECT n.id, sub.depth + 1"
        " FROM nodes n JOIN sub ON n.parent_id = sub.id WHERE ?)"
        " SELECT n.id, n.parent_id, n.name, n.is_dir, n.size, n.tree_size, n.mtime, n.sha1,"
        " n.md5, n.adler32, n.blob_id FROM nodes n JOIN sub ON n.id = sub.id ORDER BY sub.depth",
        (src.id, 1 if deep else 0)).fetchall()
    total = src.size if deep else 0
    check_quota(conn, dst_space_id, total - freed)
    new_ids: dict[str, str] = {}
    links: list[tuple[str, str]] = []
    inserts = []
    for old_id, old_parent, name, is_dir, size, tree_size, mtime, sha1, md5, adler, blob in rows:
        node_id = new_id()
        new_ids[old_id] = node_id
        parent_id = dst_parent.id if old_id == src.id else new_ids[old_parent]
        new_blob = None
        if blob is not None:
            new_blob = new_id()
            links.append((blob, new_blob))
        inserts.append((node_id, dst_space_id, parent_id, dst_parts[-1] if old_id == src.id else name,
                        is_dir, size, tree_size if deep else 0,
                        tx.stamp / 1e9 if is_dir else mtime, tx.stamp, make_etag(node_id, tx.stamp),
                        sha1, md5, adler, new_blob))
    conn.executemany(_INSERT_NODE, inserts)
    conn.executemany("INSERT INTO props(node_id, name, value) SELECT ?, name, value FROM props"
                     " WHERE node_id = ?", [(new, old) for old, new in new_ids.items()])
    new_blobs = [dst for _, dst in links]
    tx.on_failure.append(lambda: blobs.remove(new_blobs))
    blobs.link(links)
    propagate(conn, dst_parent.id, total - freed, tx.stamp)
    return get_node(conn, new_ids[src.id], storage_id), created


def set_mtime(tx: Tx, storage_id: str, node_id: str, mtime: float) -> Node:
    node = get_node(tx.conn, node_id, storage_id)
    if node.is_dir:
        propagate(tx.conn, node.id, 0, tx.stamp)
        tx.conn.execute("UPDATE nodes SET mtime = ? WHERE id = ?", (mtime, node.id))
    else:
        tx.conn.execute("UPDATE nodes SET mtime = ? WHERE id = ?", (mtime, node.id))
        propagate(tx.conn, node.id, 0, tx.stamp)
    return get_node(tx.conn, node_id, storage_id)


def patch_props(tx: Tx, storage_id: str, node_id: str, set_props: dict[str, str],
                remove: Sequence[str]) -> Node:
    get_node(tx.conn, node_id, storage_id)
    tx.conn.executemany("INSERT INTO props(node_id, name, value) VALUES (?,?,?) ON CONFLICT"
                        " (node_id, name) DO UPDATE SET value = excluded.value",
                        [(node_id, k, v) for k, v in set_props.items()])
    tx.conn.executemany("DELETE FROM props WHERE node_id = ? AND name = ?",
                        [(node_id, k) for k in remove])
    propagate(tx.conn, node_id, 0, tx.stamp)
    return get_node(tx.conn, node_id, storage_id)


# --- spaces ----------------------------------------------------------------------------------

def get_space(conn: sqlite3.Connection, space_id: str) -> Space:
    row = conn.execute(f"{SPACE_SELECT} WHERE s.id = ?", (space_id,)).fetchone()
    if row is None:
        raise NotFound("space not found")
    return space_from_row(row)


def create_space(tx: Tx, storage_id: str, space_id: str, space_type: str, name: str, alias: str,
                 owner_id: str, quota_total: int, description: str) -> Space:
    """The space row and its root node (id == space id) in one transaction."""
    conn = tx.conn
    if conn.execute("SELECT 1 FROM nodes WHERE id = ? UNION ALL SELECT 1 FROM spaces WHERE id = ?",
                    (space_id, space_id)).fetchone():
        raise AlreadyExists("a space with this id already exists")
    conn.execute("INSERT INTO spaces(id, storage_id, type, name, alias, owner_id, quota_total,"
                 " description, disabled) VALUES (?,?,?,?,?,?,?,?,0)",
                 (space_id, storage_id, space_type, name, alias, owner_id, quota_total, description))
    conn.execute(_INSERT_NODE, (space_id, space_id, None, "", 1, 0, 0, tx.stamp / 1e9, tx.stamp,
                                make_etag(space_id, tx.stamp), None, None, None, None))
    return get_space(conn, space_id)


def update_space(tx: Tx, space_id: str, changes: dict[str, object]) -> Space:
    get_space(tx.conn, space_id)
    for column, value in changes.items():  # column names come from our own keyword arguments
        tx.conn.execute(f"UPDATE spaces SET {column} = ? WHERE id = ?", (value, space_id))
    return get_space(tx.conn, space_id)


def delete_space(tx: Tx, storage_id: str, blobs: BlobStore, space_id: str) -> None:
    get_space(tx.conn, space_id)
    root = walk(tx.conn, space_id, (), storage_id)
    trash.empty(tx, blobs, space_id)
    remove_subtree(tx, blobs, root, ())
    tx.conn.execute("DELETE FROM members WHERE space_id = ?", (space_id,))
    tx.conn.execute("DELETE FROM member_expiry WHERE space_id = ?", (space_id,))
    tx.conn.execute("DELETE FROM spaces WHERE id = ?", (space_id,))


def set_member(tx: Tx, space_id: str, principal_id: str, role: str | None,
               keep_manager: bool = False, expires: float | None = None) -> None:
    get_space(tx.conn, space_id)
    if keep_manager:
        _keep_a_manager(tx, space_id, principal_id, role, expires)
    tx.conn.execute("DELETE FROM member_expiry WHERE space_id = ? AND principal_id = ?",
                    (space_id, principal_id))
    if role is None:
        tx.conn.execute("DELETE FROM members WHERE space_id = ? AND principal_id = ?",
                        (space_id, principal_id))
        return
    tx.conn.execute("INSERT INTO members(space_id, principal_id, role) VALUES (?,?,?) ON CONFLICT"
                    " (space_id, principal_id) DO UPDATE SET role = excluded.role",
                    (space_id, principal_id, role))
    if expires is not None:
        tx.conn.execute("INSERT INTO member_expiry(space_id, principal_id, expires) VALUES (?,?,?)",
                        (space_id, principal_id, expires))


def _keep_a_manager(tx: Tx, space_id: str, principal_id: str, role: str | None,
                    expires: float | None) -> None:
    """BadRequest for a change that would leave the space without a Manager: removing or
    demoting its last live Manager, or taking away its last Manager whose membership never
    ends (an expiry on it, oCIS issue 11205). Checked inside the write transaction, so two
    Managers demoting each other at once cannot both succeed; expired managers do not count."""
    rows = tx.conn.execute(
        "SELECT m.principal_id, e.expires FROM members m LEFT JOIN member_expiry e ON"
        " e.space_id = m.space_id AND e.principal_id = m.principal_id"
        " WHERE m.space_id = ? AND m.role = 'manager' AND (e.expires IS NULL OR e.expires > ?)",
        (space_id, time.time())).fetchall()
    live = {str(r[0]) for r in rows}
    permanent = {str(r[0]) for r in rows if r[1] is None}
    if role != "manager" and live == {principal_id}:
        raise BadRequest("the last manager of a space cannot be removed or demoted")
    if permanent == {principal_id} and (role != "manager" or expires is not None):
        raise BadRequest("the last manager of a space cannot be removed, demoted or given"
                         " an expiration date")


# --- locks -----------------------------------------------------------------------------------

def put_lock(tx: Tx, lock: LockRecord, now: float) -> None:
    tx.conn.execute("DELETE FROM locks WHERE expires <= ?", (now,))  # lazy expiry
    tx.conn.execute("INSERT OR REPLACE INTO locks(token, space_id, path, depth_inf, exclusive,"
                    " owner_xml, principal_id, expires) VALUES (?,?,?,?,?,?,?,?)",
                    (lock.token, lock.space_id, lock_key(lock.path), int(lock.depth_infinity),
                     int(lock.exclusive), lock.owner_xml, lock.principal_id, lock.expires))


def remove_lock(tx: Tx, token: str, now: float) -> None:
    tx.conn.execute("DELETE FROM locks WHERE token = ? OR expires <= ?", (token, now))
