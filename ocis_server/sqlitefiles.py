"""SQLite files in a data folder, for every store that keeps one (storage, identity, IdP): whether
the folder can be written at all, and a connection that never writes for one that cannot."""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from pathlib import Path
from urllib.parse import quote

log = logging.getLogger(__name__)


def read_only_folder(folder: Path) -> bool:
    """True when nothing can be written in `folder`: a read-only mount (even for root), or
    permissions that forbid this process to write."""
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return True
    except OSError:
        return False
    return not os.access(folder, os.W_OK)


def connect_read_only(path: Path) -> sqlite3.Connection:
    """A connection that never writes, to a database in a read-only folder. Without its -wal
    file the database is opened immutable (SQLite could not create the -shm it needs)."""
    wal = path.with_name(path.name + "-wal").exists()
    uri = f"file:{quote(str(path))}?mode=ro" + ("" if wal else "&immutable=1")
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA query_only = ON")
    return conn


def quick_check(conn: sqlite3.Connection, path: Path, seconds: float) -> list[str]:
    """`PRAGMA quick_check`, given up after `seconds` (a huge database must not hold up the
    start; the full check is `ocis backup consistency --full`): the damage found, [] for none
    (or when the check ran out of time, which the log says). A caller that gets findings must
    not write to the database."""
    deadline = time.monotonic() + seconds
    conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
    try:
        rows = [str(r[0]) for r in conn.execute("PRAGMA quick_check(20)").fetchall()]
    except sqlite3.OperationalError as exc:
        if "interrupted" not in str(exc):
            raise
        log.warning("%s: the quick check did not finish within %.0f s and was skipped; "
                    "run `ocis backup consistency --full`", path, seconds)
        return []
    except sqlite3.DatabaseError as exc:       # "file is not a database", "malformed"
        rows = [str(exc)]
    finally:
        conn.set_progress_handler(None, 0)
    return [] if rows == ["ok"] else rows


def repair_hint(path: Path) -> str:
    return (f"stop the server, then restore {path} from a backup or rebuild it with "
            f"`sqlite3 {path} .recover | sqlite3 {path}.recovered` and move that in place; "
            "`ocis backup consistency --full` checks it")
