"""What an external directory does not hold (each user's oCIS role and user type, links of foreign
OIDC identities), on PostgreSQL with OCIS_DATABASE_URL beside OCIS_LDAP_URI: every front node sees
the same roles and links. The same methods as localdb.LocalAccounts (SQLite, the default); the
LDAP store keeps what it read for its cache time (30 s), so a role changed through one node counts
on another within that. PostgreSQL away: ServiceUnavailable (503 + Retry-After)."""

from __future__ import annotations

import time

from ocis_server.domain.errors import AlreadyExists, BadRequest, NotFound
from ocis_server.postgres import Tables

STEPS: tuple[tuple[str, ...], ...] = (
    ("""CREATE TABLE ldap_accounts (
            user_id TEXT PRIMARY KEY, role TEXT, user_type TEXT)""",
     """CREATE TABLE ldap_identities (
            issuer TEXT NOT NULL, subject TEXT NOT NULL, user_id TEXT NOT NULL,
            created DOUBLE PRECISION NOT NULL, PRIMARY KEY (issuer, subject))""",
     "CREATE INDEX ldap_identities_by_user ON ldap_identities (user_id)"),
)


class PostgresLocalAccounts:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    @classmethod
    async def open(cls, url: str) -> PostgresLocalAccounts:
        tables = Tables(url, "ldap_local", STEPS, size=4)
        await tables.try_ready()
        return cls(tables)

    async def overrides(self) -> dict[str, tuple[str | None, str | None]]:
        """user id -> (role, user type) for every user with a local setting."""
        async with self._tables.connection() as conn:
            cur = await conn.execute("SELECT user_id, role, user_type FROM ldap_accounts")
            return {str(r[0]): (r[1], r[2]) for r in await cur.fetchall()}

    async def override(self, user_id: str) -> tuple[str | None, str | None]:
        async with self._tables.connection() as conn:
            cur = await conn.execute(
                "SELECT role, user_type FROM ldap_accounts WHERE user_id = %s", (user_id,))
            row = await cur.fetchone()
        return (row[0], row[1]) if row else (None, None)

    async def set(self, user_id: str, *, role: str | None = None,
                  user_type: str | None = None) -> None:
        """Set what is given, keep the rest (one statement)."""
        async with self._tables.connection() as conn:
            await conn.execute(
                "INSERT INTO ldap_accounts (user_id, role, user_type) VALUES (%s, %s, %s)"
                " ON CONFLICT (user_id) DO UPDATE SET"
                " role = coalesce(EXCLUDED.role, ldap_accounts.role),"
                " user_type = coalesce(EXCLUDED.user_type, ldap_accounts.user_type)",
                (user_id, role, user_type))

    async def forget(self, user_id: str) -> None:
        async with self._tables.connection() as conn, conn.transaction():
            await conn.execute("DELETE FROM ldap_accounts WHERE user_id = %s", (user_id,))
            await conn.execute("DELETE FROM ldap_identities WHERE user_id = %s", (user_id,))

    async def identity(self, issuer: str, subject: str) -> str:
        async with self._tables.connection() as conn:
            cur = await conn.execute(
                "SELECT user_id FROM ldap_identities WHERE issuer = %s AND subject = %s",
                (issuer, subject))
            row = await cur.fetchone()
        if row is None:
            raise NotFound("no account for this identity")
        return str(row[0])

    async def link(self, issuer: str, subject: str, user_id: str) -> None:
        """Linking (issuer, subject) again to the same account is a no-op, to another one
        AlreadyExists (schema.link_identity's rule)."""
        if not issuer or not subject:
            raise BadRequest("issuer and subject must not be empty")
        async with self._tables.connection() as conn:
            await conn.execute(
                "INSERT INTO ldap_identities (issuer, subject, user_id, created)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (issuer, subject, user_id, time.time()))
            cur = await conn.execute(
                "SELECT user_id FROM ldap_identities WHERE issuer = %s AND subject = %s",
                (issuer, subject))
            row = await cur.fetchone()
        if row is None or row[0] != user_id:
            raise AlreadyExists("this identity is linked to another account")

    async def close(self) -> None:
        await self._tables.close()
