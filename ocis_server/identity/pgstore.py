"""The user store on PostgreSQL (`OCIS_DATABASE_URL`): users, groups, memberships and linked
foreign identities shared by every front node. The same rules as the builtin SQLite store
(validate.py, passwords.py); the difference is what may be cached: another node may change a user
at any moment, so nothing about a user is kept in memory. An accepted password is remembered (keyed
by a MAC of name and password) together with the password hash it matched, and reused only while
the stored row still has that hash and is enabled: one query per request instead of one scrypt,
and a password change or a disabled account on another node counts on this one at once.

PostgreSQL away: every method raises ServiceUnavailable (503 with Retry-After), see postgres.py.
"""

from __future__ import annotations

import asyncio
import builtins
import secrets
import time
from collections import OrderedDict
from typing import Any

import psycopg

from ocis_server.domain.errors import AlreadyExists, BadRequest, NotFound
from ocis_server.postgres import Connection, Pool, migrate

from .api import Group, User, counts_change
from .passwords import DUMMY_HASH, verify_password
from .rules import UserRules, credentials_mac

_CACHE_TTL = 60.0
_CACHE_SIZE = 1024
_COLUMNS = "u.id, u.username, u.display_name, u.email, u.role, u.user_type, u.enabled"
_GROUP_COLUMNS = "g.id, g.name, g.description"

# Version i is STEPS[i-1]. Names are unique case-insensitively, as in users.db (COLLATE NOCASE).
STEPS: tuple[tuple[str, ...], ...] = (
    ("""CREATE TABLE users (
            id TEXT PRIMARY KEY,
            username TEXT NOT NULL,
            display_name TEXT NOT NULL,
            email TEXT NOT NULL,
            role TEXT NOT NULL,
            user_type TEXT NOT NULL DEFAULT 'Member',
            enabled BOOLEAN NOT NULL DEFAULT TRUE,
            password_hash TEXT NOT NULL,
            created DOUBLE PRECISION NOT NULL)""",
     "CREATE UNIQUE INDEX users_by_name ON users (lower(username))",
     """CREATE TABLE groups (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            created DOUBLE PRECISION NOT NULL)""",
     "CREATE UNIQUE INDEX groups_by_name ON groups (lower(name))",
     """CREATE TABLE memberships (
            group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            PRIMARY KEY (group_id, user_id))""",
     "CREATE INDEX memberships_by_user ON memberships (user_id)",
     """CREATE TABLE identities (
            issuer TEXT NOT NULL,
            subject TEXT NOT NULL,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            created DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (issuer, subject))""",
     "CREATE INDEX identities_by_user ON identities (user_id)"),
)


def _user(row: tuple[Any, ...]) -> User:
    return User(id=row[0], username=row[1], display_name=row[2], email=row[3], role=row[4],
                user_type=row[5], enabled=bool(row[6]))


def _group(row: tuple[Any, ...]) -> Group:
    return Group(id=row[0], name=row[1], description=row[2])


async def _require(conn: Connection, table: str, row_id: str, message: str) -> None:
    # `table` is one of our fixed table names, never input.
    cur = await conn.execute(f"SELECT 1 FROM {table} WHERE id = %s", (row_id,))
    if await cur.fetchone() is None:
        raise NotFound(message)


class PostgresUserStore(UserRules):
    """UserStore over the tables of one PostgreSQL database."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool
        self.changes = 0          # bumped by every write made through this node
        self._cache_key = secrets.token_bytes(32)
        self._accepted: OrderedDict[bytes, tuple[str, float]] = OrderedDict()  # MAC -> hash

    @classmethod
    async def open(cls, url: str) -> PostgresUserStore:
        pool = Pool(url)
        try:
            await migrate(pool, "users", STEPS)
        except BaseException:
            await pool.close()
            raise
        return cls(pool)

    async def _one(self, sql: str, args: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
        async with self._pool.connection() as conn:
            return await (await conn.execute(sql, args)).fetchone()

    async def _all(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        async with self._pool.connection() as conn:
            return await (await conn.execute(sql, args)).fetchall()

    async def _rowcount(self, sql: str, args: tuple[Any, ...]) -> int:
        async with self._pool.connection() as conn:
            return (await conn.execute(sql, args)).rowcount

    # --- users ---------------------------------------------------------------------------------
    async def get(self, user_id: str) -> User:
        row = await self._one(f"SELECT {_COLUMNS} FROM users u WHERE u.id = %s", (user_id,))
        if row is None:
            raise NotFound("user not found")
        return _user(row)

    async def get_by_name(self, username: str) -> User:
        row = await self._one(f"SELECT {_COLUMNS} FROM users u WHERE lower(u.username) = lower(%s)",
                              (username,))
        if row is None:
            raise NotFound("user not found")
        return _user(row)

    async def list(self) -> builtins.list[User]:
        return [_user(r) for r in await self._all(
            f"SELECT {_COLUMNS} FROM users u ORDER BY lower(u.username)")]

    async def count(self) -> int:
        row = await self._one("SELECT count(*) FROM users")
        return int(row[0]) if row else 0

    # --- user changes (the rules: rules.UserRules) -------------------------------------------
    async def _insert_user(self, user: User, encoded: str) -> None:
        try:
            await self._rowcount(
                "INSERT INTO users (id, username, display_name, email, role, password_hash,"
                " created, user_type) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (user.id, user.username, user.display_name, user.email, user.role, encoded,
                 time.time(), user.user_type))
        except psycopg.errors.UniqueViolation:
            raise AlreadyExists(f"user {user.username!r} already exists") from None

    async def _change_user(self, user_id: str, changes: dict[str, Any]) -> bool:
        assignments = ", ".join(f"{column} = %s" for column in changes)   # fixed names
        return bool(await self._rowcount(f"UPDATE users SET {assignments} WHERE id = %s",
                                         (*changes.values(), user_id)))

    async def _store_hash(self, user_id: str, encoded: str) -> bool:
        return bool(await self._rowcount("UPDATE users SET password_hash = %s WHERE id = %s",
                                         (encoded, user_id)))

    @counts_change
    async def delete(self, user_id: str) -> None:
        """Memberships and linked identities go with the user (ON DELETE CASCADE)."""
        if not await self._rowcount("DELETE FROM users WHERE id = %s", (user_id,)):
            raise NotFound("user not found")

    # --- groups --------------------------------------------------------------------------------
    async def list_groups(self) -> builtins.list[Group]:
        return [_group(r) for r in await self._all(
            f"SELECT {_GROUP_COLUMNS} FROM groups g ORDER BY lower(g.name)")]

    async def get_group(self, group_id: str) -> Group:
        row = await self._one(f"SELECT {_GROUP_COLUMNS} FROM groups g WHERE g.id = %s",
                              (group_id,))
        if row is None:
            raise NotFound("group not found")
        return _group(row)

    async def get_group_by_name(self, name: str) -> Group:
        row = await self._one(
            f"SELECT {_GROUP_COLUMNS} FROM groups g WHERE lower(g.name) = lower(%s)", (name,))
        if row is None:
            raise NotFound("group not found")
        return _group(row)

    async def _insert_group(self, group: Group) -> None:
        try:
            await self._rowcount(
                "INSERT INTO groups (id, name, description, created) VALUES (%s, %s, %s, %s)",
                (group.id, group.name, group.description, time.time()))
        except psycopg.errors.UniqueViolation:
            raise AlreadyExists(f"group {group.name!r} already exists") from None

    @counts_change
    async def delete_group(self, group_id: str) -> None:
        if not await self._rowcount("DELETE FROM groups WHERE id = %s", (group_id,)):
            raise NotFound("group not found")

    @counts_change
    async def add_member(self, group_id: str, user_id: str) -> None:
        async with self._pool.connection() as conn, conn.transaction():
            await _require(conn, "groups", group_id, "group not found")
            await _require(conn, "users", user_id, "user not found")
            await conn.execute("INSERT INTO memberships (group_id, user_id) VALUES (%s, %s)"
                               " ON CONFLICT DO NOTHING", (group_id, user_id))

    @counts_change
    async def remove_member(self, group_id: str, user_id: str) -> None:
        async with self._pool.connection() as conn:
            await _require(conn, "groups", group_id, "group not found")
            cur = await conn.execute(
                "DELETE FROM memberships WHERE group_id = %s AND user_id = %s", (group_id, user_id))
            if not cur.rowcount:
                raise NotFound("the user is not a member of this group")

    async def members(self, group_id: str) -> builtins.list[User]:
        async with self._pool.connection() as conn:
            await _require(conn, "groups", group_id, "group not found")
            cur = await conn.execute(
                f"SELECT {_COLUMNS} FROM memberships m JOIN users u ON u.id = m.user_id"
                " WHERE m.group_id = %s ORDER BY lower(u.username)", (group_id,))
            return [_user(r) for r in await cur.fetchall()]

    async def groups_of(self, user_id: str) -> builtins.list[Group]:
        return [_group(r) for r in await self._all(
            f"SELECT {_GROUP_COLUMNS} FROM memberships m JOIN groups g ON g.id = m.group_id"
            " WHERE m.user_id = %s ORDER BY lower(g.name)", (user_id,))]

    # --- foreign identities --------------------------------------------------------------------
    async def get_by_identity(self, issuer: str, subject: str) -> User:
        row = await self._one(
            f"SELECT {_COLUMNS} FROM identities i JOIN users u ON u.id = i.user_id"
            " WHERE i.issuer = %s AND i.subject = %s", (issuer, subject))
        if row is None:
            raise NotFound("no account for this identity")
        return _user(row)

    async def link_identity(self, issuer: str, subject: str, user_id: str) -> None:
        """Linking (issuer, subject) again to the same account is a no-op, to another one
        AlreadyExists: a foreign identity is never moved between accounts."""
        if not issuer or not subject:
            raise BadRequest("issuer and subject must not be empty")
        async with self._pool.connection() as conn, conn.transaction():
            await _require(conn, "users", user_id, "user not found")
            await conn.execute(
                "INSERT INTO identities (issuer, subject, user_id, created)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (issuer, subject, user_id, time.time()))
            cur = await conn.execute(
                "SELECT user_id FROM identities WHERE issuer = %s AND subject = %s",
                (issuer, subject))
            row = await cur.fetchone()
            if row is None or row[0] != user_id:
                raise AlreadyExists("this identity is linked to another account")

    # --- authentication ------------------------------------------------------------------------
    async def authenticate(self, username: str, password: str) -> User | None:
        row = await self._one(f"SELECT {_COLUMNS}, u.password_hash FROM users u"
                              " WHERE lower(u.username) = lower(%s)", (username,))
        key = credentials_mac(self._cache_key, username, password)
        encoded = row[7] if row is not None and row[7] else DUMMY_HASH
        accepted = self._accepted.get(key)
        if accepted is None or accepted[0] != encoded or accepted[1] < time.monotonic():
            # A disabled account or an unknown name is checked like any other (same time).
            if not await asyncio.to_thread(verify_password, password, encoded):
                return None
            if encoded != DUMMY_HASH:
                self._remember(key, encoded)
        if row is None or encoded == DUMMY_HASH:
            return None
        user = _user(row)
        return user if user.enabled else None

    def _remember(self, key: bytes, encoded: str) -> None:
        self._accepted[key] = (encoded, time.monotonic() + _CACHE_TTL)
        self._accepted.move_to_end(key)
        while len(self._accepted) > _CACHE_SIZE:
            self._accepted.popitem(last=False)

    async def close(self) -> None:
        await self._pool.close()
