"""The builtin store's SQLite schema and its migrations, tracked in `PRAGMA user_version`, and the
link of a foreign identity, written the same way to every identities table (users.db, ldap-local.db).
Version 0 is the issue-2 file (a users table only); version 3 adds `users.enabled`; each step
keeps every existing row.
"""

from __future__ import annotations

import sqlite3
import time

from ocis_server.domain.errors import AlreadyExists

from .sqlitedb import in_transaction

_V1_USERS = """
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE COLLATE NOCASE,
    display_name TEXT NOT NULL,
    email TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created REAL NOT NULL
);
"""

_V2 = """
CREATE TABLE IF NOT EXISTS groups (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    description TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS memberships (
    group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX IF NOT EXISTS memberships_by_user ON memberships(user_id);
CREATE TABLE IF NOT EXISTS identities (
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created REAL NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX IF NOT EXISTS identities_by_user ON identities(user_id);
"""

VERSION = 3


def migrate(conn: sqlite3.Connection) -> None:
    """Bring the file to VERSION in one transaction; a newer file than we know is refused."""
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version > VERSION:
        raise RuntimeError(f"users.db has schema version {version}; this server knows {VERSION}")
    if version == VERSION:
        return
    in_transaction(conn, _upgrade)


def _upgrade(conn: sqlite3.Connection) -> None:
    conn.execute(_V1_USERS)
    columns = {row[1] for row in conn.execute("PRAGMA table_info(users)")}
    if "user_type" not in columns:
        conn.execute("ALTER TABLE users ADD COLUMN user_type TEXT NOT NULL DEFAULT 'Member'")
    if "enabled" not in columns:          # version 3: Graph accountEnabled
        conn.execute("ALTER TABLE users ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1")
    for statement in _V2.split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {VERSION}")


def link_identity(conn: sqlite3.Connection, issuer: str, subject: str, user_id: str) -> None:
    """Link (issuer, subject) to `user_id`; linking it again to the same account is a no-op,
    to another one AlreadyExists (a foreign identity is never moved between accounts)."""
    row = conn.execute("SELECT user_id FROM identities WHERE issuer = ? AND subject = ?",
                       (issuer, subject)).fetchone()
    if row is not None:
        if row[0] != user_id:
            raise AlreadyExists("this identity is linked to another account")
        return
    conn.execute("INSERT INTO identities (issuer, subject, user_id, created) VALUES (?, ?, ?, ?)",
                 (issuer, subject, user_id, time.time()))
