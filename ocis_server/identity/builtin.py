"""The builtin user store: users in SQLite (`<base>/idm/users.db`), passwords hashed with scrypt.

All SQLite work runs on one dedicated thread; scrypt runs in the default thread pool. A successful
authentication is cached briefly (keyed by an HMAC of user and password) because HTTP Basic sends
the password with every request and one scrypt costs tens of milliseconds.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import secrets
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from ocis_server.domain.errors import AlreadyExists, BadRequest, NotFound
from ocis_server.domain.ids import new_id

from .api import User

T = TypeVar("T")
ROLES = ("admin", "spaceadmin", "user", "guest")
# scrypt parameters: n=2**14, r=8 -> 16 MiB per hash (memory-hard), p=1.
_N, _R, _P, _DKLEN = 2**14, 8, 1, 32
_CACHE_TTL = 60.0
_CACHE_SIZE = 1024
# Usernames end up in URLs (/dav/files/<name>) and in HTTP Basic, which splits at the first ':'.
_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,255}$")

_SCHEMA = """
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
_COLUMNS = "id, username, display_name, email, role"


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """`scrypt$n$r$p$<salt b64>$<hash b64>`; blocking (~50 ms): call it in a thread."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=_DKLEN)
    return "$".join(("scrypt", str(_N), str(_R), str(_P),
                     base64.b64encode(salt).decode(), base64.b64encode(digest).decode()))


def verify_password(password: str, encoded: str) -> bool:
    """Constant-time check of a password against `hash_password` output; blocking."""
    try:
        algo, n, r, p, salt_b64, digest_b64 = encoded.split("$")
        if algo != "scrypt":
            return False
        expected = base64.b64decode(digest_b64)
        actual = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt_b64), n=int(n),
                                r=int(r), p=int(p), dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


# Checked when the username is unknown, so a miss costs as much as a wrong password.
_DUMMY_HASH = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$" + base64.b64encode(bytes(32)).decode()


def _row_to_user(row: tuple[Any, ...]) -> User:
    return User(id=row[0], username=row[1], display_name=row[2], email=row[3], role=row[4])


class BuiltinUserStore:
    """UserStore over one SQLite file."""

    def __init__(self, conn: sqlite3.Connection, executor: ThreadPoolExecutor) -> None:
        self._conn = conn
        self._executor = executor
        self._cache_key = secrets.token_bytes(32)
        self._cache: OrderedDict[bytes, tuple[User, float]] = OrderedDict()
        self._inflight: dict[bytes, asyncio.Task[User | None]] = {}
        self._by_id: dict[str, User] = {}
        self._generation = 0      # bumped by every password change or deletion
        self._closed = False

    @classmethod
    async def open(cls, path: Path) -> BuiltinUserStore:
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="users-db")

        def connect() -> sqlite3.Connection:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=5000")
            conn.executescript(_SCHEMA)
            return conn

        loop = asyncio.get_running_loop()
        try:
            conn = await loop.run_in_executor(executor, connect)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(conn, executor)

    async def _db(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise RuntimeError("user store is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn, self._conn)

    # --- queries --------------------------------------------------------------------------
    async def get(self, user_id: str) -> User:
        """By id; cached (every PROPFIND renders the owner) until a user changes or goes away."""
        cached = self._by_id.get(user_id)
        if cached is not None:
            return cached
        generation = self._generation
        row = await self._db(lambda c: c.execute(
            f"SELECT {_COLUMNS} FROM users WHERE id = ?", (user_id,)).fetchone())
        if row is None:
            raise NotFound("user not found")
        user = _row_to_user(row)
        if generation == self._generation:
            if len(self._by_id) >= _CACHE_SIZE:
                self._by_id.clear()
            self._by_id[user_id] = user
        return user

    async def get_by_name(self, username: str) -> User:
        row = await self._db(lambda c: c.execute(
            f"SELECT {_COLUMNS} FROM users WHERE username = ?", (username,)).fetchone())
        if row is None:
            raise NotFound("user not found")
        return _row_to_user(row)

    async def list(self) -> list[User]:
        rows = await self._db(lambda c: c.execute(
            f"SELECT {_COLUMNS} FROM users ORDER BY username").fetchall())
        return [_row_to_user(row) for row in rows]

    async def count(self) -> int:
        """Number of users; the runtime's readiness query."""
        row = await self._db(lambda c: c.execute("SELECT count(*) FROM users").fetchone())
        return int(row[0])

    # --- changes --------------------------------------------------------------------------
    async def create(self, *, username: str, password: str, display_name: str = "",
                     email: str = "", role: str = "user", user_id: str | None = None) -> User:
        if not _USERNAME.match(username):
            raise BadRequest("invalid username: use letters, digits and . _ @ - only")
        if role not in ROLES:
            raise BadRequest(f"invalid role {role!r}: one of {', '.join(ROLES)}")
        if not password:
            raise BadRequest("the password must not be empty")
        user = User(id=user_id or new_id(), username=username,
                    display_name=display_name or username, email=email, role=role)
        encoded = await asyncio.to_thread(hash_password, password)

        def insert(conn: sqlite3.Connection) -> None:
            try:
                conn.execute("INSERT INTO users VALUES (?, ?, ?, ?, ?, ?, ?)",
                             (user.id, user.username, user.display_name, user.email, user.role,
                              encoded, time.time()))
            except sqlite3.IntegrityError:
                raise AlreadyExists(f"user {username!r} already exists") from None

        await self._db(insert)
        return user

    async def set_password(self, user_id: str, password: str) -> None:
        if not password:
            raise BadRequest("the password must not be empty")
        encoded = await asyncio.to_thread(hash_password, password)
        changed = await self._db(lambda c: c.execute(
            "UPDATE users SET password_hash = ? WHERE id = ?", (encoded, user_id)).rowcount)
        if not changed:
            raise NotFound("user not found")
        self._forget(user_id)

    async def delete(self, user_id: str) -> None:
        removed = await self._db(lambda c: c.execute(
            "DELETE FROM users WHERE id = ?", (user_id,)).rowcount)
        if not removed:
            raise NotFound("user not found")
        self._forget(user_id)

    # --- authentication ------------------------------------------------------------------
    async def authenticate(self, username: str, password: str) -> User | None:
        # Keyed BLAKE2b: a MAC like HMAC-SHA256, at a fraction of its set-up cost per request.
        key = hashlib.blake2b(f"{username}\0{password}".encode(), key=self._cache_key,
                              digest_size=32).digest()
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
        # A password changed while we were checking: do not cache what may now be stale.
        if user is not None and generation == self._generation:
            self._cache[key] = (user, time.monotonic() + _CACHE_TTL)
            self._cache.move_to_end(key)
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return user

    async def _check(self, username: str, password: str) -> User | None:
        row = await self._db(lambda c: c.execute(
            f"SELECT {_COLUMNS}, password_hash FROM users WHERE username = ?",
            (username,)).fetchone())
        encoded = row[5] if row is not None else _DUMMY_HASH
        ok = await asyncio.to_thread(verify_password, password, encoded)
        return _row_to_user(row) if ok and row is not None else None

    def _forget(self, user_id: str) -> None:
        self._generation += 1
        self._by_id.clear()
        for key in [k for k, (user, _) in self._cache.items() if user.id == user_id]:
            del self._cache[key]

    async def close(self) -> None:
        if self._closed:
            return
        await self._db(lambda c: c.close())
        self._closed = True
        self._executor.shutdown(wait=False)
