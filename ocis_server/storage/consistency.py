"""`ocis backup consistency`: checks a storage root's metadata (metadata.db) against its blobs and
temp files, and repairs what can be repaired without losing data (sizes, etags, garbage files).
Blocking code: the runtime's maintenance entry calls it with no server using the data path.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .blobs import TEMP_PREFIX, blob_file
from .schema import make_etag

DB_NAME = "metadata.db"
LOST_FOUND = "lost+found"
UPLOADS = "uploads"   # partial data of upload sessions: uploads/<id>, uploads/<id>.chunks/
_RECENT = 3600.0   # with a live server, garbage younger than this may be an upload in flight
_BLOB_TABLES_SKIP = frozenset({"sqlite_sequence"})


class StorageBusy(Exception):
    """Another process (a running server) holds the metadata database."""


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str          # missing_blob, blob_size, checksum, orphan_blob, temp_file, tree_size, etag,
    #                    dangling_node, dangling_row, stale_session
    subject: str       # a node id, blob id, table row or file name relative to the storage root
    detail: str
    repairable: bool

    def as_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "subject": self.subject, "detail": self.detail,
                "repairable": self.repairable}


@dataclass(slots=True)
class Report:
    root: Path
    live: bool = False                 # a server held the database: in-flight garbage was skipped
    findings: list[Finding] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    repaired: list[str] = field(default_factory=list)   # what --repair did, one line each

    @property
    def ok(self) -> bool:
        return not self.findings

    def add(self, kind: str, subject: str, detail: str, repairable: bool) -> None:
        self.findings.append(Finding(kind, subject, detail, repairable))

    def as_dict(self) -> dict[str, object]:
        return {"root": str(self.root), "ok": self.ok, "live": self.live, "counts": self.counts,
                "findings": [f.as_dict() for f in self.findings], "repaired": self.repaired}


@dataclass(slots=True)
class _Row:
    parent_id: str | None
    space_id: str
    is_dir: bool
    size: int
    tree_size: int
    tmtime: int
    etag: str
    blob_id: str | None
    sha1: str | None


@dataclass(slots=True)
class _Snapshot:
    nodes: dict[str, _Row]
    children: dict[str, list[str]]
    expected_size: dict[str, int] = field(default_factory=dict)   # recomputed tree sizes
    # blob id -> the (table, row key) pairs referencing it
    blob_refs: dict[str, list[tuple[str, str]]] = field(default_factory=dict)


# --- opening ---------------------------------------------------------------------------------

def open_db(root: Path, *, exclusive: bool) -> sqlite3.Connection:
    """Open the metadata database. `exclusive`: take SQLite's exclusive lock (fails at once with
    StorageBusy while any other connection, i.e. a running server, has the database open: in WAL
    mode every open connection keeps a shared lock). Otherwise open query-only."""
    db = root / DB_NAME
    if not db.is_file():
        raise FileNotFoundError(f"no {DB_NAME} in {root}")
    conn = sqlite3.connect(db, isolation_level=None, timeout=0 if exclusive else 10)
    try:
        if exclusive:
            conn.execute("PRAGMA locking_mode = EXCLUSIVE")
            conn.execute("BEGIN EXCLUSIVE")
            conn.execute("COMMIT")   # the lock stays held in exclusive locking mode
        else:
            conn.execute("PRAGMA query_only = ON")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError as exc:
        conn.close()
        if "locked" in str(exc) or "busy" in str(exc):
            raise StorageBusy("the metadata database is in use (is a server running?)") from None
        raise
    return conn


def _tables(conn: sqlite3.Connection) -> dict[str, list[str]]:
    names = [str(r[0]) for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    return {n: [str(c[1]) for c in conn.execute(f'PRAGMA table_info("{n}")')] for n in names}


def _key_col(cols: list[str]) -> str:
    """A column naming a row (or, in a WITHOUT ROWID table like props, all rows of a node)."""
    return next((c for c in ("id", "key", "node_id") if c in cols), "rowid")


# --- checking --------------------------------------------------------------------------------

def check(conn: sqlite3.Connection, root: Path, *, live: bool = False,
          checksums: bool = False) -> Report:
    """Every check, on one read snapshot of the database plus a walk of blobs/ and tmp/."""
    report = Report(root=root, live=live)
    report.counts["nodes"] = 0
    conn.execute("BEGIN")
    try:
        tables = _tables(conn)
        snap = _load(conn, tables)
        _check_tree(snap, report)
        _check_rows(conn, tables, snap, report)
        _check_blobs(root, snap, report, checksums=checksums)
        _check_sessions(conn, tables, root, report)
    finally:
        conn.execute("COMMIT")
    _check_temp(root, report)
    report.counts.update(nodes=len(snap.nodes), blobs_referenced=len(snap.blob_refs))
    return report


def _load(conn: sqlite3.Connection, tables: dict[str, list[str]]) -> _Snapshot:
    nodes: dict[str, _Row] = {}
    children: dict[str, list[str]] = {}
    for (nid, parent, space, is_dir, size, tree_size, tmtime, etag, blob, sha1) in conn.execute(
            "SELECT id, parent_id, space_id, is_dir, size, tree_size, tmtime, etag, blob_id, sha1"
            " FROM nodes"):
        nodes[nid] = _Row(parent, space, bool(is_dir), int(size), int(tree_size), int(tmtime),
                          str(etag), blob, sha1)
        if parent is not None:
            children.setdefault(parent, []).append(nid)
    snap = _Snapshot(nodes, children)
    for table, cols in tables.items():
        if "blob_id" not in cols or table in _BLOB_TABLES_SKIP:
            continue
        key = _key_col(cols)
        for row_key, blob in conn.execute(
                f'SELECT {key}, blob_id FROM "{table}" WHERE blob_id IS NOT NULL'):
            snap.blob_refs.setdefault(str(blob), []).append((table, str(row_key)))
    return snap


def _check_tree(snap: _Snapshot, report: Report) -> None:
    """Recompute tree sizes bottom-up from every space root; check etags and tree mtimes."""
    nodes = snap.nodes
    roots = [nid for nid, row in nodes.items() if row.parent_id is None]
    for root_id in roots:
        for nid in _post_order(root_id, snap.children):
            row = nodes[nid]
            expected = (sum(snap.expected_size[c] for c in snap.children.get(nid, ()))
                        if row.is_dir else row.size)
            snap.expected_size[nid] = expected
            if row.tree_size != expected:
                report.add("tree_size", nid, f"tree size {row.tree_size}, children add up to "
                           f"{expected}", True)
            if row.etag != make_etag(nid, row.tmtime):
                report.add("etag", nid, "etag does not derive from the node's change stamp", True)
            for c in snap.children.get(nid, ()):
                if nodes[c].tmtime > row.tmtime:
                    report.add("etag", nid, f"folder etag older than a change below it ({c})",
                               True)
                    break
                if nodes[c].space_id != row.space_id:
                    report.add("dangling_node", c, "node is in another space than its parent",
                               False)
            if row.is_dir and row.blob_id is not None:
                report.add("dangling_node", nid, "folder has a blob", False)
    for nid, row in nodes.items():
        if nid in snap.expected_size:
            continue
        if row.parent_id is not None and row.parent_id in nodes and not nodes[row.parent_id].is_dir:
            report.add("dangling_node", nid, f"parent {row.parent_id} is a file", False)
        elif row.parent_id is not None and row.parent_id not in nodes:
            report.add("dangling_node", nid, f"parent {row.parent_id} does not exist", False)
        else:
            report.add("dangling_node", nid, "not reachable from any space root", False)


def _post_order(root_id: str, children: dict[str, list[str]]) -> Iterator[str]:
    stack: list[tuple[str, bool]] = [(root_id, False)]
    seen: set[str] = set()
    while stack:
        nid, expanded = stack.pop()
        if expanded:
            yield nid
            continue
        if nid in seen:
            continue
        seen.add(nid)
        stack.append((nid, True))
        stack.extend((c, False) for c in children.get(nid, ()) if c not in seen)


def _check_rows(conn: sqlite3.Connection, tables: dict[str, list[str]], snap: _Snapshot,
                report: Report) -> None:
    """Rows of other tables that name a node which no longer exists."""
    nodes: set[str] = set(snap.nodes)
    if "trash_nodes" in tables:   # trashed nodes keep their versions and props
        nodes.update(str(r[0]) for r in conn.execute("SELECT id FROM trash_nodes"))
        _check_trash(conn, report)
    spaces = {str(r[0]) for r in conn.execute("SELECT id FROM spaces")}
    for sid in sorted(spaces - set(snap.nodes)):
        report.add("dangling_row", f"spaces:{sid}", "space has no root node", False)
    for nid, row in snap.nodes.items():
        if row.parent_id is None and nid not in spaces:
            report.add("dangling_node", nid, "a root node without a space", False)
    for table, cols in tables.items():
        if "node_id" not in cols or table.startswith("trash"):
            continue
        key = _key_col(cols)
        for row_key, node_id in conn.execute(f'SELECT DISTINCT {key}, node_id FROM "{table}"'):
            if node_id not in nodes:
                report.add("dangling_row", f"{table}:{row_key}",
                           f"names node {node_id}, which does not exist", True)
    report.counts["versions"] = _count(conn, tables, "versions")


def _check_trash(conn: sqlite3.Connection, report: Report) -> None:
    """Trash items and their nodes belong together (an item's key is its top node's id)."""
    for key, in conn.execute("SELECT key FROM trash WHERE key NOT IN (SELECT id FROM trash_nodes)"):
        report.add("dangling_row", f"trash:{key}", "trash item has no trashed node", True)
    for nid, root in conn.execute(
            "SELECT id, root FROM trash_nodes WHERE root NOT IN (SELECT key FROM trash)"):
        report.add("dangling_row", f"trash_nodes:{nid}", f"trashed node of item {root}, which "
                   "is not in the trash", True)


def _count(conn: sqlite3.Connection, tables: dict[str, list[str]], table: str) -> int:
    if table not in tables:
        return 0
    return int(conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])


def blob_path(root: Path, blob_id: str) -> Path:
    """Where a blob is: its folder, or the place the two-level layout of older versions gave it
    (`ab/cd/<id>`; the server moves those when it starts)."""
    path = blob_file(root / "blobs", blob_id)
    if not path.exists():
        old = root / "blobs" / blob_id[0:2] / blob_id[2:4] / blob_id
        if old.exists():
            return old
    return path


def _check_blobs(root: Path, snap: _Snapshot, report: Report, *, checksums: bool) -> None:
    for blob_id, refs in snap.blob_refs.items():
        path = blob_path(root, blob_id)
        table, key = refs[0]
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            report.add("missing_blob", f"{table}:{key}", f"blob {blob_id} is not on disk", False)
            continue
        row = snap.nodes.get(key) if table == "nodes" else None
        if row is None:
            continue
        if size != row.size:
            report.add("blob_size", f"nodes:{key}", f"blob has {size} bytes, node says {row.size}",
                       False)
        elif checksums and row.sha1 and _sha1(path) != row.sha1:
            report.add("checksum", f"nodes:{key}", "blob content does not match its SHA1", False)
    on_disk = 0
    cutoff = time.time() - _RECENT
    for path in _files(root / "blobs"):
        if path.name.startswith(TEMP_PREFIX):
            if not (report.live and _mtime(path) > cutoff):
                report.add("temp_file", str(path.relative_to(root)), "leftover temp file of an "
                           "upload that was never committed", True)
            continue
        on_disk += 1
        if path.name in snap.blob_refs and path == blob_path(root, path.name):
            continue
        if report.live and _mtime(path) > cutoff:
            continue   # may be an upload whose metadata commit is still running
        report.add("orphan_blob", str(path.relative_to(root)), "no node, version or trash entry "
                   "references this blob", True)
    report.counts["blobs_on_disk"] = on_disk


def _check_sessions(conn: sqlite3.Connection, tables: dict[str, list[str]], root: Path,
                    report: Report) -> None:
    """Upload sessions (when the storage has them): expired ones are stale."""
    table = _session_table(tables)
    if table is None:
        return
    cols = tables[table]
    expires = next((c for c in ("expires", "expires_at", "expiry") if c in cols), None)
    report.counts["upload_sessions"] = _count(conn, tables, table)
    key = _key_col(cols)
    known = {str(r[0]) for r in conn.execute(f'SELECT {key} FROM "{table}"')}
    cutoff = time.time() - _RECENT
    for entry in _entries(root / UPLOADS):
        session = entry.name.removesuffix(".chunks").removesuffix(".part")
        if session in known or (report.live and _mtime(entry) > cutoff):
            continue
        report.add("temp_file", str(entry.relative_to(root)), "partial upload data without an "
                   "upload session", True)
    if expires is None:
        return
    for sid, when in conn.execute(f'SELECT {key}, {expires} FROM "{table}" WHERE {expires} < ?',
                                  (time.time(),)):
        report.add("stale_session", f"{table}:{sid}", f"upload session expired at "
                   f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(float(when)))} UTC", True)


def _entries(folder: Path) -> list[Path]:
    try:
        return sorted(folder.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []


def _session_table(tables: dict[str, list[str]]) -> str | None:
    for name in ("upload_sessions", "uploads"):
        if name in tables:
            return name
    return None


def _check_temp(root: Path, report: Report) -> None:
    cutoff = time.time() - _RECENT
    count = 0
    for path in _files(root / "tmp"):
        count += 1
        if report.live and _mtime(path) > cutoff:
            continue
        report.add("temp_file", str(path.relative_to(root)), "leftover temp file of an upload "
                   "that was never committed", True)
    report.counts["temp_files"] = count


def _files(folder: Path) -> Iterator[Path]:
    for dirpath, _dirs, names in os.walk(folder):
        for name in names:
            yield Path(dirpath) / name


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return time.time()


def _sha1(path: Path) -> str:
    digest = hashlib.sha1(usedforsecurity=False)
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


# --- repairing -------------------------------------------------------------------------------

def repair(conn: sqlite3.Connection, root: Path, report: Report) -> None:
    """Fix what `report` marks repairable; `conn` must hold the exclusive lock (open_db).
    Metadata first, in one transaction; then files: blobs only ever move to lost+found."""
    tables = _tables(conn)
    snap = _load(conn, tables)
    _check_tree(snap, Report(root=root))   # fills expected sizes
    by_kind: dict[str, list[Finding]] = {}
    for finding in report.findings:
        if finding.repairable:
            by_kind.setdefault(finding.kind, []).append(finding)
    freed_blobs: list[str] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        _repair_tree(conn, snap, by_kind, report)
        freed_blobs = _repair_rows(conn, tables, by_kind, report)
        _repair_sessions(conn, tables, by_kind, report)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    still_used = {str(r[0]) for t, cols in tables.items() if "blob_id" in cols
                  for r in conn.execute(f'SELECT blob_id FROM "{t}" WHERE blob_id IS NOT NULL')}
    for blob_id in freed_blobs:
        if blob_id not in still_used:
            _to_lost_found(root, blob_path(root, blob_id), report)
    for finding in by_kind.get("orphan_blob", ()):
        _to_lost_found(root, root / finding.subject, report)
    for finding in by_kind.get("temp_file", ()):
        _remove(root / finding.subject)
        report.repaired.append(f"removed temp file {finding.subject}")
    for finding in by_kind.get("stale_session", ()):
        session = finding.subject.partition(":")[2]
        for name in (session, f"{session}.chunks", f"{session}.part"):
            _remove(root / UPLOADS / name)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _repair_tree(conn: sqlite3.Connection, snap: _Snapshot, by_kind: dict[str, list[Finding]],
                 report: Report) -> None:
    """Stored tree sizes become the recomputed ones; every touched node and its ancestors get a
    fresh change stamp (new etag), so sync clients notice and look again."""
    restamp: set[str] = set()
    for finding in by_kind.get("tree_size", ()):
        nid = finding.subject
        conn.execute("UPDATE nodes SET tree_size = ? WHERE id = ?", (snap.expected_size[nid], nid))
        report.repaired.append(f"tree size of {nid}: {snap.nodes[nid].tree_size} -> "
                               f"{snap.expected_size[nid]}")
        restamp.add(nid)
    restamp.update(f.subject for f in by_kind.get("etag", ()))
    if not restamp:
        return
    top = max(r.tmtime for r in snap.nodes.values())
    stamp = max(time.time_ns(), top + 1)
    touched: set[str] = set()
    for nid in restamp:
        current: str | None = nid
        while current is not None and current not in touched and current in snap.nodes:
            touched.add(current)
            current = snap.nodes[current].parent_id
    conn.executemany(
        "UPDATE nodes SET tmtime = ?, etag = ?, mtime = CASE WHEN is_dir THEN ? ELSE mtime END"
        " WHERE id = ?", [(stamp, make_etag(nid, stamp), stamp / 1e9, nid) for nid in touched])
    report.repaired.append(f"new etag for {len(touched)} node(s) and their ancestors")


def _repair_rows(conn: sqlite3.Connection, tables: dict[str, list[str]],
                 by_kind: dict[str, list[Finding]], report: Report) -> list[str]:
    """Drop rows naming a missing node; return the blobs they held (kept in lost+found)."""
    freed: list[str] = []
    for finding in by_kind.get("dangling_row", ()):
        table, _, key = finding.subject.partition(":")
        cols = tables.get(table, [])
        key_col = _key_col(cols)
        if "blob_id" in cols:
            freed.extend(str(r[0]) for r in conn.execute(
                f'SELECT blob_id FROM "{table}" WHERE {key_col} = ? AND blob_id IS NOT NULL',
                (key,)))
        conn.execute(f'DELETE FROM "{table}" WHERE {key_col} = ?', (key,))
        report.repaired.append(f"dropped {finding.subject} ({finding.detail})")
    return freed


def _repair_sessions(conn: sqlite3.Connection, tables: dict[str, list[str]],
                     by_kind: dict[str, list[Finding]], report: Report) -> None:
    """Expired upload sessions go (their partial data is removed after the commit)."""
    for finding in by_kind.get("stale_session", ()):
        table, _, key = finding.subject.partition(":")
        key_col = _key_col(tables.get(table, []))
        conn.execute(f'DELETE FROM "{table}" WHERE {key_col} = ?', (key,))
        report.repaired.append(f"dropped expired upload session {key}")


def _to_lost_found(root: Path, path: Path, report: Report) -> None:
    if not path.exists():
        return
    target_dir = root / LOST_FOUND
    target_dir.mkdir(exist_ok=True)
    target = target_dir / path.name
    n = 1
    while target.exists():
        target, n = target_dir / f"{path.name}.{n}", n + 1
    os.rename(path, target)
    report.repaired.append(f"moved {path.relative_to(root)} to {target.relative_to(root)}")
