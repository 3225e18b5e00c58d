"""What an external directory does not hold, kept beside it in SQLite (`<base>/idm/ldap-local.db`):
each user's oCIS role and user type (oCIS keeps roles in its settings service, not in LDAP) and the
links of foreign OIDC identities (issuer, sub) to accounts. One thread does all SQLite work.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ocis_server.domain.errors import BadRequest, NotFound

from .schema import link_identity
from .sqlitedb import SqliteThread

_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    user_id TEXT PRIMARY KEY,
    role TEXT,
    user_type TEXT
);
CREATE TABLE IF NOT EXISTS identities (
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    user_id TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX IF NOT EXISTS identities_by_user ON identities(user_id);
"""


class LocalAccounts:
    def __init__(self, db: SqliteThread) -> None:
        self._db = db

    @classmethod
    async def open(cls, path: Path) -> LocalAccounts:
        return cls(await SqliteThread.open(path, lambda conn: conn.executescript(_SCHEMA),
                                           name="ldap-local"))

    async def overrides(self) -> dict[str, tuple[str | None, str | None]]:
        """user id -> (role, user type) for every user with a local setting."""
        rows = await self._db.run(lambda c: c.execute(
            "SELECT user_id, role, user_type FROM accounts").fetchall())
        return {row[0]: (row[1], row[2]) for row in rows}

    async def override(self, user_id: str) -> tuple[str | None, str | None]:
        row = await self._db.run(lambda c: c.execute(
            "SELECT role, user_type FROM accounts WHERE user_id = ?", (user_id,)).fetchone())
        return (row[0], row[1]) if row else (None, None)

    async def set(self, user_id: str, *, role: str | None = None,
                  user_type: str | None = None) -> None:
        def upsert(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO accounts (user_id) VALUES (?) ON CONFLICT DO NOTHING",
                         (user_id,))
            if role is not None:
                conn.execute("UPDATE accounts SET role = ? WHERE user_id = ?", (role, user_id))
            if user_type is not None:
                conn.execute("UPDATE accounts SET user_type = ? WHERE user_id = ?",
                             (user_type, user_id))

        await self._db.run(upsert)

    async def forget(self, user_id: str) -> None:
        def delete(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM accounts WHERE user_id = ?", (user_id,))
            conn.execute("DELETE FROM identities WHERE user_id = ?", (user_id,))

        await self._db.run(delete)

    async def identity(self, issuer: str, subject: str) -> str:
        row = await self._db.run(lambda c: c.execute(
            "SELECT user_id FROM identities WHERE issuer = ? AND subject = ?",
            (issuer, subject)).fetchone())
        if row is None:
            raise NotFound("no account for this identity")
        return str(row[0])

    async def link(self, issuer: str, subject: str, user_id: str) -> None:
        if not issuer or not subject:
            raise BadRequest("issuer and subject must not be empty")

        await self._db.run(lambda conn: link_identity(conn, issuer, subject, user_id))

    async def close(self) -> None:
        await self._db.close()
