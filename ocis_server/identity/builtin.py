"""The builtin user store: users, groups, memberships and linked foreign identities in SQLite
(`<base>/idm/users.db`), passwords hashed with scrypt.

All SQLite work runs on one dedicated thread; scrypt runs in the default thread pool. A successful
authentication is cached briefly (keyed by a MAC of user and password) because HTTP Basic sends
the password with every request and one scrypt costs tens of milliseconds.
"""

from __future__ import annotations

import asyncio
import builtins
import secrets
import sqlite3
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from ocis_server.domain.errors import AlreadyExists, BadRequest, NotFound

from .api import ROLES, Group, User, counts_change
from .passwords import DUMMY_HASH, hash_password, verify_password
from .rules import UserRules, credentials_mac
from .schema import link_identity, migrate
from .sqlitedb import SqliteThread

__all__ = ["ROLES", "BuiltinUserStore", "hash_password", "verify_password"]

_CACHE_TTL = 60.0
_CACHE_SIZE = 1024
_COLUMNS = "id, username, display_name, email, role, user_type, enabled"
_USER_COLUMNS = "u.id, u.username, u.display_name, u.email, u.role, u.user_type, u.enabled"
_GROUP_COLUMNS = "id, name, description"


def _row_to_user(row: tuple[Any, ...]) -> User:
    return User(id=row[0], username=row[1], display_name=row[2], email=row[3], role=row[4],
                user_type=row[5], enabled=bool(row[6]))


def _row_to_group(row: tuple[Any, ...]) -> Group:
    return Group(id=row[0], name=row[1], description=row[2])


class BuiltinUserStore(UserRules):
    """UserStore over one SQLite file."""

    def __init__(self, db: SqliteThread) -> None:
        self._db = db
        self.changes = 0          # bumped by every write (UserStore.changes)
        self._cache_key = secrets.token_bytes(32)
        self._cache: OrderedDict[bytes, tuple[User, float]] = OrderedDict()
        self._inflight: dict[bytes, asyncio.Task[User | None]] = {}
        self._by_id: dict[str, User] = {}
        self._generation = 0      # bumped by every change to a user

    @property
    def generation(self) -> int:
        """Moves on every change made through this store (users, passwords, account state,
        groups, memberships) and whenever its caches are dropped (another worker wrote): what
        the proxy's replay lane checks (runtime/replay.py)."""
        return self._generation + self.changes

    @classmethod
    async def open(cls, path: Path) -> BuiltinUserStore:
        def setup(conn: sqlite3.Connection) -> None:
            conn.execute("PRAGMA foreign_keys=ON")
            migrate(conn)

        return cls(await SqliteThread.open(path, setup, name="users"))

    async def _one(self, sql: str, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = await self._db.run(lambda c: c.execute(sql, args).fetchone())
        return row

    async def _all(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = await self._db.run(lambda c: c.execute(sql, args).fetchall())
        return rows

    # --- user queries ----------------------------------------------------------------------
    async def get(self, user_id: str) -> User:
        """By id; cached (every PROPFIND renders the owner) until a user changes or goes away."""
        cached = self._by_id.get(user_id)
        if cached is not None:
            return cached
        generation = self._generation
        row = await self._one(f"SELECT {_COLUMNS} FROM users WHERE id = ?", (user_id,))
        if row is None:
            raise NotFound("user not found")
        user = _row_to_user(row)
        if generation == self._generation:
            if len(self._by_id) >= _CACHE_SIZE:
                self._by_id.clear()
            self._by_id[user_id] = user
        return user

    async def get_by_name(self, username: str) -> User:
        row = await self._one(f"SELECT {_COLUMNS} FROM users WHERE username = ?", (username,))
        if row is None:
            raise NotFound("user not found")
        return _row_to_user(row)

    async def list(self) -> builtins.list[User]:
        rows = await self._all(f"SELECT {_COLUMNS} FROM users ORDER BY username")
        return [_row_to_user(row) for row in rows]

    async def count(self) -> int:
        """Number of users."""
        row = await self._one("SELECT count(*) FROM users", ())
        assert row is not None
        return int(row[0])

    # --- user changes (the rules: rules.UserRules) -------------------------------------------
    async def _insert_user(self, user: User, encoded: str) -> None:
        def insert(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    "INSERT INTO users (id, username, display_name, email, role, password_hash,"
                    " created, user_type) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (user.id, user.username, user.display_name, user.email, user.role,
                     encoded, time.time(), user.user_type))
            except sqlite3.IntegrityError:
                raise AlreadyExists(f"user {user.username!r} already exists") from None

        await self._db.run(insert)

    async def _change_user(self, user_id: str, changes: dict[str, Any]) -> bool:
        values = [int(v) if isinstance(v, bool) else v for v in changes.values()]
        assignments = ", ".join(f"{column} = ?" for column in changes)   # fixed column names
        changed = await self._db.run(lambda c: c.execute(
            f"UPDATE users SET {assignments} WHERE id = ?", (*values, user_id)).rowcount)
        self._forget(user_id)
        return bool(changed)

    async def _store_hash(self, user_id: str, encoded: str) -> bool:
        changed = await self._db.run(lambda c: c.execute(
            "UPDATE users SET password_hash = ? WHERE id = ?", (encoded, user_id)).rowcount)
        self._forget(user_id)
        return bool(changed)

    @counts_change
    async def delete(self, user_id: str) -> None:
        """Memberships and linked identities go with the user (ON DELETE CASCADE)."""
        removed = await self._db.run(lambda c: c.execute(
            "DELETE FROM users WHERE id = ?", (user_id,)).rowcount)
        if not removed:
            raise NotFound("user not found")
        self._forget(user_id)

    # --- groups ------------------------------------------------------------------------------
    async def list_groups(self) -> builtins.list[Group]:
        rows = await self._all(f"SELECT {_GROUP_COLUMNS} FROM groups ORDER BY name")
        return [_row_to_group(row) for row in rows]

    async def get_group(self, group_id: str) -> Group:
        row = await self._one(f"SELECT {_GROUP_COLUMNS} FROM groups WHERE id = ?", (group_id,))
        if row is None:
            raise NotFound("group not found")
        return _row_to_group(row)

    async def get_group_by_name(self, name: str) -> Group:
        row = await self._one(f"SELECT {_GROUP_COLUMNS} FROM groups WHERE name = ?", (name,))
        if row is None:
            raise NotFound("group not found")
        return _row_to_group(row)

    async def _insert_group(self, group: Group) -> None:
        def insert(conn: sqlite3.Connection) -> None:
            try:
                conn.execute("INSERT INTO groups (id, name, description, created)"
                             " VALUES (?, ?, ?, ?)",
                             (group.id, group.name, group.description, time.time()))
            except sqlite3.IntegrityError:
                raise AlreadyExists(f"group {group.name!r} already exists") from None

        await self._db.run(insert)

    @counts_change
    async def delete_group(self, group_id: str) -> None:
        removed = await self._db.run(lambda c: c.execute(
            "DELETE FROM groups WHERE id = ?", (group_id,)).rowcount)
        if not removed:
            raise NotFound("group not found")

    @counts_change
    async def add_member(self, group_id: str, user_id: str) -> None:
        def insert(conn: sqlite3.Connection) -> None:
            _require(conn, "groups", group_id, "group not found")
            _require(conn, "users", user_id, "user not found")
            conn.execute("INSERT OR IGNORE INTO memberships (group_id, user_id) VALUES (?, ?)",
                         (group_id, user_id))

        await self._db.run(insert)

    @counts_change
    async def remove_member(self, group_id: str, user_id: str) -> None:
        def delete(conn: sqlite3.Connection) -> None:
            _require(conn, "groups", group_id, "group not found")
            removed = conn.execute("DELETE FROM memberships WHERE group_id = ? AND user_id = ?",
                                   (group_id, user_id)).rowcount
            if not removed:
                raise NotFound("the user is not a member of this group")

        await self._db.run(delete)

    async def members(self, group_id: str) -> builtins.list[User]:
        def query(conn: sqlite3.Connection) -> builtins.list[tuple[Any, ...]]:
            _require(conn, "groups", group_id, "group not found")
            return conn.execute(
                f"SELECT {_USER_COLUMNS} FROM memberships m JOIN users u ON u.id = m.user_id"
                " WHERE m.group_id = ? ORDER BY u.username", (group_id,)).fetchall()

        return [_row_to_user(row) for row in await self._db.run(query)]

    async def groups_of(self, user_id: str) -> builtins.list[Group]:
        rows = await self._all(
            "SELECT g.id, g.name, g.description FROM memberships m JOIN groups g"
            " ON g.id = m.group_id WHERE m.user_id = ? ORDER BY g.name", (user_id,))
        return [_row_to_group(row) for row in rows]

    # --- foreign identities ------------------------------------------------------------------
    async def get_by_identity(self, issuer: str, subject: str) -> User:
        row = await self._one(
            f"SELECT {_USER_COLUMNS} FROM identities i JOIN users u ON u.id = i.user_id"
            " WHERE i.issuer = ? AND i.subject = ?", (issuer, subject))
        if row is None:
            raise NotFound("no account for this identity")
        return _row_to_user(row)

    async def link_identity(self, issuer: str, subject: str, user_id: str) -> None:
        if not issuer or not subject:
            raise BadRequest("issuer and subject must not be empty")

        def insert(conn: sqlite3.Connection) -> None:
            _require(conn, "users", user_id, "user not found")
            link_identity(conn, issuer, subject, user_id)

        await self._db.run(insert)

    # --- authentication ------------------------------------------------------------------
    async def authenticate(self, username: str, password: str) -> User | None:
        key = credentials_mac(self._cache_key, username, password)
        cached = self._cache.get(key)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        # Concurrent requests with the same credentials share one check, run as its own task so
        # a client that disconnects does not cancel it for the others.
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.create_task(self._check_and_cache(key, username, password))
            self._inflight[key] = task
            task.add_done_callback(lambda t: self._settled(key, t))
        return await asyncio.shield(task)

    def _settled(self, key: bytes, task: asyncio.Task[User | None]) -> None:
        self._inflight.pop(key, None)
        if not task.cancelled():
            task.exception()   # retrieved here so an unawaited failure is not reported as lost

    async def _check_and_cache(self, key: bytes, username: str, password: str) -> User | None:
        generation = self._generation
        user = await self._check(username, password)
        # A user changed while we were checking: do not cache what may now be stale.
        if user is not None and generation == self._generation:
            self._cache[key] = (user, time.monotonic() + _CACHE_TTL)
            self._cache.move_to_end(key)
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return user

    async def _check(self, username: str, password: str) -> User | None:
        row = await self._one(f"SELECT {_COLUMNS}, password_hash FROM users WHERE username = ?",
                              (username,))
        # A disabled account is checked like any other (same time), then refused.
        usable = row is not None and bool(row[7])
        encoded = row[7] if usable and row is not None else DUMMY_HASH
        ok = await asyncio.to_thread(verify_password, password, encoded)
        if not ok or not usable or row is None:
            return None
        user = _row_to_user(row)
        return user if user.enabled else None

    def forget_cached(self) -> None:
        """Another process changed users.db (the workers of one node, runtime/freshness.py):
        users by id and accepted passwords are read again."""
        self._generation += 1
        self._by_id.clear()
        self._cache.clear()

    def _forget(self, user_id: str) -> None:
        self._generation += 1
        self._by_id.clear()
        for key in [k for k, (user, _) in self._cache.items() if user.id == user_id]:
            del self._cache[key]

    async def close(self) -> None:
        await self._db.close()


def _require(conn: sqlite3.Connection, table: str, row_id: str, message: str) -> None:
    # `table` is one of our fixed table names, never input.
    if conn.execute(f"SELECT 1 FROM {table} WHERE id = ?", (row_id,)).fetchone() is None:
        raise NotFound(message)
