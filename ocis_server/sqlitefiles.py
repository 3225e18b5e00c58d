"""SQLite files in a data folder, for every store that keeps one (storage, identity, IdP): whether
the folder can be written at all, and a connection that never writes for one that cannot."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from urllib.parse import quote


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
