"""The metadata database's safeguards: how a connection is opened, the bounded integrity check at
start (a damaged database is never written to), and what an SQLite failure means to a client:
a full disk is 507, a database locked by another process beyond the busy timeout is 503 with
Retry-After, a damaged one is 503 until it is repaired.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import NoReturn

from ocis_server import sqlitefiles
from ocis_server.domain.errors import OcisError, ServiceUnavailable, disk_full_error
from ocis_server.sqlitefiles import read_only_folder as read_only_folder

from .schema import register_functions

log = logging.getLogger(__name__)

BUSY_TIMEOUT = 10.0          # seconds a statement waits for another connection's lock
QUICK_CHECK_SECONDS = 10.0   # the start-up check gives up (and says so) after this long
RETRY_AFTER = 5.0            # what a client is told to wait when the database is locked
_BUSY = frozenset({5, 6})            # SQLITE_BUSY, SQLITE_LOCKED
_READONLY = 8                        # SQLITE_READONLY: "attempt to write a readonly database"
_DAMAGED = frozenset({11, 26})       # SQLITE_CORRUPT, SQLITE_NOTADB


class DatabaseDamaged(ServiceUnavailable):
    """The metadata database is damaged: nothing is written to it until it is repaired."""


def connect(path: Path, *, readonly: bool) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
    if readonly:
        conn.execute("PRAGMA query_only = ON")
    else:
        conn.execute("PRAGMA journal_mode = WAL")
        # FULL: a commit is on disk before the change is acknowledged (survives kill -9 and power loss).
        conn.execute("PRAGMA synchronous = FULL")
        register_functions(conn)
    return conn


def connect_read_only(path: Path) -> sqlite3.Connection:
    """A connection that never writes, with the metadata database's SQL functions."""
    conn = sqlitefiles.connect_read_only(path)
    register_functions(conn)
    return conn


def open_checked(path: Path) -> sqlite3.Connection:
    """The writing connection, once the database has passed the quick check (DatabaseDamaged,
    with the file and the repair named in the log, when it has not)."""
    try:
        conn = connect(path, readonly=False)
    except sqlite3.DatabaseError as exc:     # the header itself: "file is not a database"
        if getattr(exc, "sqlite_errorcode", 0) & 0xFF not in _DAMAGED:
            raise
        _damaged(path, [str(exc)])
    try:
        quick_check(conn, path)
    except BaseException:
        conn.close()
        raise
    return conn


repair_hint = sqlitefiles.repair_hint


def quick_check(conn: sqlite3.Connection, path: Path,
                seconds: float = QUICK_CHECK_SECONDS) -> None:
    """`PRAGMA quick_check`, given up after `seconds`. DatabaseDamaged when it finds damage:
    the caller must not write to the database."""
    findings = sqlitefiles.quick_check(conn, path, seconds)
    if findings:
        _damaged(path, findings)


def _damaged(path: Path, findings: list[str]) -> NoReturn:
    log.critical("%s is damaged (%s); nothing is written to it. To repair: %s",
                 path, "; ".join(findings[:3]), repair_hint(path))
    raise DatabaseDamaged(f"the metadata database {path.name} is damaged: see the server log "
                          "and run `ocis backup consistency --full`", retry_after=60)


def integrity_problems(path: Path) -> list[str]:
    """`PRAGMA integrity_check` (the full check: every page, index and constraint), read-only;
    the problems found, [] for a sound database."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT)
    except sqlite3.Error as exc:
        return [str(exc)]
    try:
        rows = [str(r[0]) for r in conn.execute("PRAGMA integrity_check(20)").fetchall()]
    except sqlite3.DatabaseError as exc:
        rows = [str(exc)]
    finally:
        conn.close()
    return [] if rows == ["ok"] else rows


def database_error(exc: Exception) -> Exception:
    """What a failed database call answers: SQLite's "disk is full" becomes InsufficientStorage
    (507); "locked" or "busy" past the busy timeout ServiceUnavailable with Retry-After (503);
    a damaged database DatabaseDamaged; anything else stays as it is."""
    if isinstance(exc, OcisError):
        return exc
    full = disk_full_error(exc)
    if full is not None:
        return full
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and code & 0xFF in _BUSY:
        return ServiceUnavailable("the metadata database is locked by another process",
                                  retry_after=RETRY_AFTER)
    if code is not None and code & 0xFF == _READONLY:
        return ServiceUnavailable("the data folder is read-only: the server serves reads only",
                                  retry_after=RETRY_AFTER)
    if code is not None and code & 0xFF in _DAMAGED:
        return DatabaseDamaged("the metadata database is damaged: see the server log",
                               retry_after=60)
    return exc
