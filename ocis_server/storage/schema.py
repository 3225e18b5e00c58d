"""SQLite schema of the storage provider, row <-> dataclass mapping, and the shared tree queries
(path walk, subtree, ancestors, propagation) both the read pool and the writer thread use.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence

from ocis_server.domain.errors import Conflict, NotFound
from ocis_server.domain.paths import check_depth

from .api import LockRecord, Node, Space

SCHEMA = """
CREATE TABLE IF NOT EXISTS spaces(
    id TEXT PRIMARY KEY, storage_id TEXT NOT NULL, type TEXT NOT NULL, name TEXT NOT NULL,
    alias TEXT NOT NULL, owner_id TEXT NOT NULL, quota_total INTEGER NOT NULL DEFAULT 0,
    description TEXT NOT NULL DEFAULT '', disabled INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS members(
    space_id TEXT NOT NULL, principal_id TEXT NOT NULL, role TEXT NOT NULL,
    PRIMARY KEY(space_id, principal_id));
CREATE INDEX IF NOT EXISTS members_principal ON members(principal_id);
CREATE TABLE IF NOT EXISTS member_expiry(
    space_id TEXT NOT NULL, principal_id TEXT NOT NULL, expires REAL NOT NULL,
    PRIMARY KEY(space_id, principal_id));
CREATE TABLE IF NOT EXISTS nodes(
    id TEXT PRIMARY KEY, space_id TEXT NOT NULL, parent_id TEXT, name TEXT NOT NULL,
    is_dir INTEGER NOT NULL, size INTEGER NOT NULL DEFAULT 0, tree_size INTEGER NOT NULL DEFAULT 0,
    mtime REAL NOT NULL, tmtime INTEGER NOT NULL, etag TEXT NOT NULL,
    sha1 TEXT, md5 TEXT, adler32 TEXT, blob_id TEXT,
    UNIQUE(parent_id, name));
CREATE INDEX IF NOT EXISTS nodes_space ON nodes(space_id);
-- name search (search.py): a REPORT scans one space's names in this index, never the tree
CREATE INDEX IF NOT EXISTS nodes_space_name ON nodes(space_id, name COLLATE NOCASE);
CREATE TABLE IF NOT EXISTS props(
    node_id TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY(node_id, name)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS props_name ON props(name, value);
CREATE TABLE IF NOT EXISTS locks(
    token TEXT PRIMARY KEY, space_id TEXT NOT NULL, path TEXT NOT NULL,
    depth_inf INTEGER NOT NULL, exclusive INTEGER NOT NULL, owner_xml TEXT NOT NULL,
    principal_id TEXT NOT NULL, expires REAL NOT NULL);
CREATE INDEX IF NOT EXISTS locks_path ON locks(space_id, path);
CREATE TABLE IF NOT EXISTS versions(
    id INTEGER PRIMARY KEY AUTOINCREMENT, node_id TEXT NOT NULL, blob_id TEXT NOT NULL,
    size INTEGER NOT NULL, mtime REAL NOT NULL, etag TEXT NOT NULL, checksums TEXT NOT NULL,
    created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS versions_node ON versions(node_id);
CREATE TABLE IF NOT EXISTS uploads(
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, user_id TEXT NOT NULL, space_id TEXT NOT NULL,
    path TEXT NOT NULL, size INTEGER NOT NULL, offset INTEGER NOT NULL, mtime REAL,
    checksum TEXT, if_match TEXT, created REAL NOT NULL, expires REAL NOT NULL,
    transfer TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS uploads_transfer ON uploads(user_id, transfer);
-- trash: one row per deleted item; its nodes move to trash_nodes (same columns, plus the key of
-- the item they belong to) so no query of the live tree ever sees them (trash.py).
CREATE TABLE IF NOT EXISTS trash(
    key TEXT PRIMARY KEY, space_id TEXT NOT NULL, name TEXT NOT NULL, location TEXT NOT NULL,
    is_dir INTEGER NOT NULL, size INTEGER NOT NULL, deleted REAL NOT NULL);
CREATE INDEX IF NOT EXISTS trash_space ON trash(space_id, deleted);
CREATE TABLE IF NOT EXISTS trash_nodes(
    id TEXT PRIMARY KEY, space_id TEXT NOT NULL, parent_id TEXT, name TEXT NOT NULL,
    is_dir INTEGER NOT NULL, size INTEGER NOT NULL DEFAULT 0, tree_size INTEGER NOT NULL DEFAULT 0,
    mtime REAL NOT NULL, tmtime INTEGER NOT NULL, etag TEXT NOT NULL,
    sha1 TEXT, md5 TEXT, adler32 TEXT, blob_id TEXT, root TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS trash_nodes_root ON trash_nodes(root);
CREATE INDEX IF NOT EXISTS trash_nodes_parent ON trash_nodes(parent_id, name);
-- shares (shares.py): one row per user/group share of a node (its space is the node's, so a
-- share follows its node anywhere); `received` holds a recipient's
-- own state (accepted/pending/declined, hidden, mount point) once it differs from the default.
CREATE TABLE IF NOT EXISTS shares(
    id TEXT PRIMARY KEY, node_id TEXT NOT NULL,
    grantee_type TEXT NOT NULL, grantee_id TEXT NOT NULL, role_id TEXT NOT NULL,
    permissions INTEGER NOT NULL, creator_id TEXT NOT NULL, ctime REAL NOT NULL,
    mtime REAL NOT NULL, expiration REAL, initial_state TEXT NOT NULL,
    UNIQUE(node_id, grantee_type, grantee_id));
CREATE INDEX IF NOT EXISTS shares_grantee ON shares(grantee_type, grantee_id);
CREATE INDEX IF NOT EXISTS shares_creator ON shares(creator_id);
CREATE TABLE IF NOT EXISTS received(
    share_id TEXT NOT NULL, user_id TEXT NOT NULL, state TEXT, hidden INTEGER,
    mount_point TEXT, PRIMARY KEY(share_id, user_id)) WITHOUT ROWID;
-- federated shares other OCM servers sent to our users (remoteshares.py): registry entries that
-- point at the sharer's WebDAV; the secret is the credential the sharer checks.
CREATE TABLE IF NOT EXISTS remote_shares(
    id TEXT PRIMARY KEY, provider TEXT NOT NULL, provider_id TEXT NOT NULL,
    user_id TEXT NOT NULL, name TEXT NOT NULL, description TEXT NOT NULL, owner TEXT NOT NULL,
    sender TEXT NOT NULL, owner_display_name TEXT NOT NULL, sender_display_name TEXT NOT NULL,
    share_type TEXT NOT NULL, resource_type TEXT NOT NULL, permissions TEXT NOT NULL,
    uri TEXT NOT NULL, secret TEXT NOT NULL, expiration REAL, state TEXT NOT NULL,
    ctime REAL NOT NULL, UNIQUE(provider, provider_id, user_id));
CREATE INDEX IF NOT EXISTS remote_shares_user ON remote_shares(user_id);
CREATE INDEX IF NOT EXISTS remote_shares_provider_id ON remote_shares(provider_id);
-- WebDAV URLs of other servers a user registered (remotelinks.py, `ocis remote add`).
CREATE TABLE IF NOT EXISTS remote_links(
    id TEXT PRIMARY KEY, user_id TEXT NOT NULL, name TEXT NOT NULL, url TEXT NOT NULL,
    provider TEXT NOT NULL, ctime REAL NOT NULL);
CREATE INDEX IF NOT EXISTS remote_links_user ON remote_links(user_id);
-- federated shares our users sent to other OCM servers (ocmshares.py): like a share, with the
-- recipient's federated address and the shared secret our /dav/ocm/<id> checks.
CREATE TABLE IF NOT EXISTS ocm_shares(
    id TEXT PRIMARY KEY, node_id TEXT NOT NULL, grantee TEXT NOT NULL, provider TEXT NOT NULL,
    role_id TEXT NOT NULL, permissions INTEGER NOT NULL, secret TEXT NOT NULL UNIQUE,
    creator_id TEXT NOT NULL, ctime REAL NOT NULL, mtime REAL NOT NULL, expiration REAL,
    UNIQUE(node_id, grantee));
CREATE INDEX IF NOT EXISTS ocm_shares_creator ON ocm_shares(creator_id);
-- OCM invitations (invites.py): tokens our users made, and the remote users each exchanged one
-- with (their federated contacts).
CREATE TABLE IF NOT EXISTS ocm_invite_tokens(
    token TEXT PRIMARY KEY, user_id TEXT NOT NULL, description TEXT NOT NULL,
    recipient TEXT NOT NULL, expiration REAL NOT NULL, ctime REAL NOT NULL);
CREATE INDEX IF NOT EXISTS ocm_invite_tokens_user ON ocm_invite_tokens(user_id);
CREATE TABLE IF NOT EXISTS ocm_accepted_users(
    user_id TEXT NOT NULL, provider TEXT NOT NULL, remote_id TEXT NOT NULL,
    display_name TEXT NOT NULL, mail TEXT NOT NULL, ctime REAL NOT NULL,
    PRIMARY KEY(user_id, provider, remote_id));
-- public links (links.py): one row per link of a node; the token is the credential in URLs,
-- the password is stored as the identity store's hash (never in clear).
CREATE TABLE IF NOT EXISTS links(
    id TEXT PRIMARY KEY, token TEXT NOT NULL UNIQUE, node_id TEXT NOT NULL,
    link_type TEXT NOT NULL, permissions INTEGER NOT NULL, password_hash TEXT,
    expiration REAL, name TEXT NOT NULL DEFAULT '', quicklink INTEGER NOT NULL DEFAULT 0,
    creator_id TEXT NOT NULL, ctime REAL NOT NULL, mtime REAL NOT NULL);
CREATE INDEX IF NOT EXISTS links_node ON links(node_id);
CREATE INDEX IF NOT EXISTS links_creator ON links(creator_id);
-- per-user settings values and URL signing keys (usersettings.py)
CREATE TABLE IF NOT EXISTS setting_values(
    user_id TEXT NOT NULL, setting_id TEXT NOT NULL, value TEXT NOT NULL, mtime REAL NOT NULL,
    PRIMARY KEY(user_id, setting_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS favorites(
    user_id TEXT NOT NULL, node_id TEXT NOT NULL, PRIMARY KEY(user_id, node_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS favorites_node ON favorites(node_id);
CREATE TABLE IF NOT EXISTS signing_keys(
    user_id TEXT PRIMARY KEY, key TEXT NOT NULL, ctime REAL NOT NULL) WITHOUT ROWID;
"""

# Every column a Node needs, in one indexed join (the space gives the owner).
NODE_COLS = ("n.id, n.space_id, n.parent_id, n.name, n.is_dir, n.size, n.tree_size, n.mtime, "
             "n.etag, n.sha1, n.md5, n.adler32, n.blob_id, s.owner_id")
NODE_FROM = "nodes n JOIN spaces s ON s.id = n.space_id"
SPACE_SELECT = ("SELECT s.id, s.storage_id, s.type, s.name, s.alias, s.owner_id, s.quota_total, "
                "r.tree_size, s.description, r.etag, r.mtime, s.disabled "
                "FROM spaces s JOIN nodes r ON r.id = s.id")
LOCK_COLS = "token, space_id, path, depth_inf, exclusive, owner_xml, principal_id, expires"

# The ids of a node and everything below it; bind the root id once.
SUBTREE = ("WITH RECURSIVE sub(id) AS (SELECT ? UNION ALL "
           "SELECT n.id FROM nodes n JOIN sub ON n.parent_id = sub.id)")


def make_etag(node_id: str, stamp: int) -> str:
    """A node's etag: derived from its id and its change stamp (strictly increasing ns)."""
    return hashlib.md5(f"{node_id}:{stamp}".encode(), usedforsecurity=False).hexdigest()


def node_from_row(row: Sequence[object], storage_id: str,
                  shared: dict[object, str] | None = None) -> Node:
    """A Node of a NODE_COLS row. `shared` (one dict for the rows of one listing page) makes the
    rows' equal space, parent and owner ids one string object each: a cached 1,000-entry page
    then holds them once, not a thousand times (about a quarter of a cached entry)."""
    (nid, space_id, parent_id, name, is_dir, size, tree_size, mtime, etag,
     sha1, md5, adler32, blob_id, owner_id) = row
    checksums: dict[str, str] = {}
    if sha1:
        checksums["SHA1"] = str(sha1)
    if md5:
        checksums["MD5"] = str(md5)
    if adler32:
        checksums["ADLER32"] = str(adler32)
    space, parent, owner = str(space_id), None if parent_id is None else str(parent_id), str(owner_id)
    if shared is not None:
        space, owner = shared.setdefault(space, space), shared.setdefault(owner, owner)
        parent = None if parent is None else shared.setdefault(parent, parent)
    return Node(id=str(nid), space_id=space, storage_id=storage_id, parent_id=parent,
                name=str(name), is_dir=bool(is_dir),
                size=int(tree_size if is_dir else size),  # type: ignore[call-overload]
                mtime=float(mtime), etag=str(etag),  # type: ignore[arg-type]
                checksums=checksums, blob_id=None if blob_id is None else str(blob_id),
                owner_id=owner)


def space_from_row(row: Sequence[object]) -> Space:
    (sid, storage_id, stype, name, alias, owner_id, quota, used, desc, etag, mtime, disabled) = row
    return Space(id=str(sid), storage_id=str(storage_id), type=str(stype), name=str(name),
                 alias=str(alias), owner_id=str(owner_id), quota_total=int(quota),  # type: ignore[call-overload]
                 used=int(used), description=str(desc), etag=str(etag),  # type: ignore[call-overload]
                 mtime=float(mtime), disabled=bool(disabled))  # type: ignore[arg-type]


def lock_key(path: Sequence[str]) -> str:
    """Locks store their path '/'-joined; names never contain '/', the root is ''."""
    return "/".join(path)


def lock_from_row(row: Sequence[object]) -> LockRecord:
    token, space_id, path, depth_inf, exclusive, owner_xml, principal_id, expires = row
    text = str(path)
    return LockRecord(token=str(token), space_id=str(space_id),
                      path=tuple(text.split("/")) if text else (),
                      depth_infinity=bool(depth_inf), exclusive=bool(exclusive),
                      owner_xml=str(owner_xml), principal_id=str(principal_id),
                      expires=float(expires))  # type: ignore[arg-type]


# --- shared tree queries (take any connection) ------------------------------------------------

def get_node(conn: sqlite3.Connection, node_id: str, storage_id: str) -> Node:
    row = conn.execute(f"SELECT {NODE_COLS} FROM {NODE_FROM} WHERE n.id = ?", (node_id,)).fetchone()
    if row is None:
        raise NotFound("resource not found")
    return node_from_row(row, storage_id)


def child(conn: sqlite3.Connection, parent_id: str, name: str, storage_id: str) -> Node | None:
    row = conn.execute(f"SELECT {NODE_COLS} FROM {NODE_FROM} WHERE n.parent_id = ? AND n.name = ?",
                       (parent_id, name)).fetchone()
    return None if row is None else node_from_row(row, storage_id)


def walk(conn: sqlite3.Connection, space_id: str, parts: Sequence[str], storage_id: str) -> Node:
    """Resolve a path below a space root: one indexed read per component. NotFound if missing."""
    row = conn.execute(f"SELECT {NODE_COLS} FROM {NODE_FROM} WHERE n.id = ? AND n.parent_id IS NULL",
                       (space_id,)).fetchone()
    if row is None:
        raise NotFound("space not found")
    if not parts:
        return node_from_row(row, storage_id)
    current = str(row[0])
    for name in parts[:-1]:
        hit = conn.execute("SELECT id, is_dir FROM nodes WHERE parent_id = ? AND name = ?",
                           (current, name)).fetchone()
        if hit is None or not hit[1]:
            raise NotFound("resource not found")
        current = str(hit[0])
    found = child(conn, current, parts[-1], storage_id)
    if found is None:
        raise NotFound("resource not found")
    return found


def parent_and_target(conn: sqlite3.Connection, space_id: str, parts: Sequence[str],
                      storage_id: str) -> tuple[Node, Node | None]:
    """The folder that will hold `parts[-1]` and the node already there (if any).
    Conflict when the parent is missing or is a file (RFC 4918 409 for missing intermediates);
    InvalidName for a path deeper than the storage takes (a share's path below its space)."""
    if not parts:
        raise Conflict("the space root has no parent")
    check_depth(list(parts))
    try:
        parent = walk(conn, space_id, parts[:-1], storage_id)
    except NotFound:
        walk(conn, space_id, (), storage_id)  # a missing space stays NotFound
        raise Conflict("parent folder does not exist") from None
    if not parent.is_dir:
        raise Conflict("parent is not a folder")
    return parent, child(conn, parent.id, parts[-1], storage_id)


def node_path(conn: sqlite3.Connection, node_id: str) -> tuple[str, ...]:
    rows = conn.execute(
        "WITH RECURSIVE up(id, parent_id, name, depth) AS ("
        " SELECT id, parent_id, name, 0 FROM nodes WHERE id = ? UNION ALL"
        " SELECT n.id, n.parent_id, n.name, up.depth + 1 FROM nodes n JOIN up ON n.id = up.parent_id)"
        " SELECT name, parent_id FROM up ORDER BY depth DESC", (node_id,)).fetchall()
    if not rows:
        raise NotFound("resource not found")
    return tuple(str(r[0]) for r in rows if r[1] is not None)


def ancestor_ids(conn: sqlite3.Connection, node_id: str) -> set[str]:
    """The node itself and every ancestor up to its space root."""
    rows = conn.execute(
        "WITH RECURSIVE up(id, parent_id) AS (SELECT id, parent_id FROM nodes WHERE id = ?"
        " UNION ALL SELECT n.id, n.parent_id FROM nodes n JOIN up ON n.id = up.parent_id)"
        " SELECT id FROM up", (node_id,)).fetchall()
    return {str(r[0]) for r in rows}


def propagate(conn: sqlite3.Connection, start_id: str, size_delta: int, stamp: int) -> None:
    """New etag and tree mtime for `start_id` and every ancestor, plus the tree-size delta, in one
    statement. Files keep their own mtime (it is the content mtime the client set)."""
    now = stamp / 1e9
    conn.execute(
        "WITH RECURSIVE up(id, parent_id) AS (SELECT id, parent_id FROM nodes WHERE id = ?"
        " UNION ALL SELECT n.id, n.parent_id FROM nodes n JOIN up ON n.id = up.parent_id)"
        " UPDATE nodes SET tree_size = tree_size + ?, tmtime = ?, etag = ocis_etag(id, ?),"
        " mtime = CASE WHEN is_dir THEN ? ELSE mtime END WHERE id IN (SELECT id FROM up)",
        (start_id, size_delta, stamp, stamp, now))


def register_functions(conn: sqlite3.Connection) -> None:
    conn.create_function("ocis_etag", 2, make_etag, deterministic=True)
