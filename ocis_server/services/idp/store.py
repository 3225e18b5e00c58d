"""The IdP's durable state: authorization codes, device codes, refresh tokens (rotated, grouped in
families) and browser sessions. Secrets are stored only as SHA-256 hashes.

Every rule is written once, in IdpRules, as a small program of SQL steps (`One`: a row, `Do`: a
rowcount) that a driver runs inside one transaction: IdpStore runs them on SQLite
(`<base_data_path>/idp/idp.db`, one worker thread, never on the event loop), PostgresIdpStore
(pgidp.py, with OCIS_DATABASE_URL) on the database every front node shares, where a row read to be
changed is locked (`FOR UPDATE`) so that two nodes cannot both redeem one code."""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ocis_server.identity.sqlitedb import SqliteThread

T = TypeVar("T")
USER_CODE_LENGTH = 8   # authlib's user codes: BCDF-GHJK (RFC 8628 §6.1: no vowels, no look-alikes)

SCHEMA = """
CREATE TABLE IF NOT EXISTS codes (
    hash TEXT PRIMARY KEY, client_id TEXT NOT NULL, user_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL, scope TEXT NOT NULL, nonce TEXT, challenge TEXT,
    auth_time INTEGER NOT NULL, expires REAL NOT NULL, used INTEGER NOT NULL DEFAULT 0,
    family TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS devices (
    hash TEXT PRIMARY KEY, user_code TEXT NOT NULL UNIQUE, client_id TEXT NOT NULL,
    scope TEXT NOT NULL, expires REAL NOT NULL, interval INTEGER NOT NULL,
    last_poll REAL NOT NULL DEFAULT 0, status TEXT NOT NULL DEFAULT 'pending',
    user_id TEXT, auth_time INTEGER, family TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS refresh (
    hash TEXT PRIMARY KEY, family TEXT NOT NULL, client_id TEXT NOT NULL, user_id TEXT NOT NULL,
    scope TEXT NOT NULL, auth_time INTEGER NOT NULL, expires REAL NOT NULL,
    used INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS refresh_family ON refresh(family);
CREATE TABLE IF NOT EXISTS sessions (
    hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, auth_time INTEGER NOT NULL, expires REAL NOT NULL);
"""


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def normalize_user_code(text: str) -> str:
    """What a person typed -> the stored form (`BCDF-GHJK`): case and separators do not matter."""
    letters = "".join(ch for ch in text.upper() if ch.isalnum())
    return f"{letters[:4]}-{letters[4:]}" if len(letters) == USER_CODE_LENGTH else letters


@dataclass(frozen=True, slots=True)
class Grant:
    """What a code, device code or refresh token stands for."""
    client_id: str
    user_id: str
    scope: str
    auth_time: int
    family: str
    nonce: str | None = None
    redirect_uri: str = ""
    challenge: str | None = None


@dataclass(frozen=True, slots=True)
class DeviceRequest:
    user_code: str
    client_id: str
    scope: str
    expires: float
    status: str                     # pending | approved | denied | used


@dataclass(frozen=True, slots=True)
class One:
    """Step: run `sql`, send back its first row (None if none); `lock` the row (PostgreSQL)."""
    sql: str
    args: tuple[Any, ...] = ()
    lock: bool = False


@dataclass(frozen=True, slots=True)
class Do:
    """Step: run `sql`, send back its rowcount."""
    sql: str
    args: tuple[Any, ...] = ()


Program = Generator[One | Do, Any, T]
_TABLES = ("codes", "devices", "refresh", "sessions")


class IdpRules(ABC):
    """The IdP's rules over the tables; a driver supplies `_run` (one program, one transaction)."""

    @abstractmethod
    async def _run(self, program: Callable[[], Program[T]]) -> T:
        ...

    @abstractmethod
    async def close(self) -> None:
        ...

    async def purge(self) -> None:
        """Drop everything expired (codes, device codes, refresh tokens, sessions)."""
        now = time.time()

        def fn() -> Program[None]:
            for table in _TABLES:          # fixed names, never input
                yield Do(f"DELETE FROM {table} WHERE expires < ?", (now - 60,))
        await self._run(fn)

    # --- authorization codes: single use; a replay revokes what the code produced ------------
    async def add_code(self, code: str, grant: Grant, ttl: float) -> None:
        def fn() -> Program[None]:
            yield Do("INSERT INTO codes VALUES (?,?,?,?,?,?,?,?,?,0,?)",
                     (digest(code), grant.client_id, grant.user_id, grant.redirect_uri,
                      grant.scope, grant.nonce, grant.challenge, grant.auth_time,
                      time.time() + ttl, grant.family))
        await self._run(fn)

    async def redeem_code(self, code: str) -> Grant | None:
        """The grant of an unused, unexpired code, now used. None otherwise; redeeming a code a
        second time also revokes the refresh tokens it produced (RFC 6749 §4.1.2)."""
        def fn() -> Program[Grant | None]:
            row = yield One("SELECT client_id, user_id, scope, auth_time, family, nonce, "
                            "redirect_uri, challenge, expires, used FROM codes WHERE hash=?",
                            (digest(code),), lock=True)
            if row is None:
                return None
            if row[9]:
                yield Do("UPDATE refresh SET used=1 WHERE family=?", (row[4],))
                return None
            yield Do("UPDATE codes SET used=1 WHERE hash=?", (digest(code),))
            if row[8] < time.time():
                return None
            return Grant(*row[:8])
        return await self._run(fn)

    # --- refresh tokens: rotated on every use; reuse of a rotated one revokes the family ------
    async def add_refresh(self, token: str, grant: Grant, ttl: float) -> None:
        def fn() -> Program[None]:
            yield Do("INSERT INTO refresh VALUES (?,?,?,?,?,?,?,0)",
                     (digest(token), grant.family, grant.client_id, grant.user_id, grant.scope,
                      grant.auth_time, time.time() + ttl))
        await self._run(fn)

    async def use_refresh(self, token: str) -> Grant | None:
        def fn() -> Program[Grant | None]:
            row = yield One("SELECT client_id, user_id, scope, auth_time, family, expires, used "
                            "FROM refresh WHERE hash=?", (digest(token),), lock=True)
            if row is None:
                return None
            if row[6]:                    # a rotated token came back: someone copied it
                yield Do("UPDATE refresh SET used=1 WHERE family=?", (row[4],))
                return None
            yield Do("UPDATE refresh SET used=1 WHERE hash=?", (digest(token),))
            return Grant(*row[:5]) if row[5] >= time.time() else None
        return await self._run(fn)

    async def find_refresh(self, token: str) -> Grant | None:
        """The grant of a refresh token, used or not (revocation looks it up before revoking)."""
        def fn() -> Program[Grant | None]:
            row = yield One("SELECT client_id, user_id, scope, auth_time, family FROM refresh "
                            "WHERE hash=?", (digest(token),))
            return Grant(*row) if row else None
        return await self._run(fn)

    async def revoke_family(self, family: str) -> None:
        """RFC 7009: revoke every refresh token of a family (a logout ends it on that client)."""
        def fn() -> Program[None]:
            yield Do("UPDATE refresh SET used=1 WHERE family=?", (family,))
        await self._run(fn)

    # --- device authorization (RFC 8628) -----------------------------------------------------
    async def add_device(self, device_code: str, user_code: str, client_id: str, scope: str,
                         ttl: float, interval: int) -> bool:
        """Record a device request; False when `user_code` is taken (the caller picks another:
        a user code is short, collisions are rare but possible)."""
        row = (digest(device_code), normalize_user_code(user_code), client_id, scope,
               time.time() + ttl, interval, secrets.token_hex(16))

        def fn() -> Program[bool]:
            added = yield Do('INSERT INTO devices (hash, user_code, client_id, scope, expires, '
                             '"interval", family) VALUES (?,?,?,?,?,?,?) ON CONFLICT DO NOTHING',
                             row)
            return bool(added)
        return await self._run(fn)

    async def device(self, user_code: str) -> DeviceRequest | None:
        """The pending request a person typed the code of; None when unknown or expired."""
        def fn() -> Program[DeviceRequest | None]:
            row = yield One("SELECT user_code, client_id, scope, expires, status FROM devices "
                            "WHERE user_code=?", (normalize_user_code(user_code),))
            if row is None or row[3] < time.time() or row[4] != "pending":
                return None
            return DeviceRequest(*row)
        return await self._run(fn)

    async def decide_device(self, user_code: str, user_id: str | None, auth_time: int) -> bool:
        """Approve (user_id set) or deny (None) a pending request; False if it is not pending."""
        status = "approved" if user_id else "denied"

        def fn() -> Program[bool]:
            changed = yield Do("UPDATE devices SET status=?, user_id=?, auth_time=? "
                               "WHERE user_code=? AND status='pending' AND expires>=?",
                               (status, user_id, auth_time, normalize_user_code(user_code),
                                time.time()))
            return bool(changed)
        return await self._run(fn)

    async def poll_device(self, device_code: str, client_id: str) -> tuple[str, Grant | None]:
        """(outcome, grant): outcome is one of approved, authorization_pending, slow_down,
        access_denied, expired_token, invalid_grant (RFC 8628 §3.5)."""
        now = time.time()

        def fn() -> Program[tuple[str, Grant | None]]:
            key = digest(device_code)
            row = yield One('SELECT client_id, scope, expires, "interval", last_poll, status, '
                            'user_id, auth_time, family FROM devices WHERE hash=?',
                            (key,), lock=True)
            if row is None or row[0] != client_id or row[5] == "used":
                return "invalid_grant", None
            if row[2] < now:
                return "expired_token", None
            if row[5] == "denied":
                yield Do("UPDATE devices SET status='used' WHERE hash=?", (key,))
                return "access_denied", None
            if row[5] == "approved":
                yield Do("UPDATE devices SET status='used' WHERE hash=?", (key,))
                return "approved", Grant(row[0], row[6], row[1], row[7], row[8])
            if now - row[4] < row[3]:     # polled faster than the interval: slow down by 5 s
                yield Do('UPDATE devices SET "interval"="interval"+5, last_poll=? WHERE hash=?',
                         (now, key))
                return "slow_down", None
            yield Do("UPDATE devices SET last_poll=? WHERE hash=?", (now, key))
            return "authorization_pending", None
        return await self._run(fn)

    # --- browser sessions at the IdP ---------------------------------------------------------
    async def add_session(self, user_id: str, ttl: float) -> tuple[str, int]:
        sid, auth_time = secrets.token_urlsafe(32), int(time.time())

        def fn() -> Program[None]:
            yield Do("INSERT INTO sessions VALUES (?,?,?,?)",
                     (digest(sid), user_id, auth_time, time.time() + ttl))
        await self._run(fn)
        return sid, auth_time

    async def session(self, sid: str) -> tuple[str, int] | None:
        """(user_id, auth_time) of a live session."""
        def fn() -> Program[Any]:
            row = yield One("SELECT user_id, auth_time FROM sessions WHERE hash=? AND expires>=?",
                            (digest(sid), time.time()))
            return row
        row = await self._run(fn)
        return (row[0], int(row[1])) if row else None

    async def drop_session(self, sid: str) -> None:
        def fn() -> Program[None]:
            yield Do("DELETE FROM sessions WHERE hash=?", (digest(sid),))
        await self._run(fn)


def run_steps(program: Program[T], step: Callable[[One | Do], Any]) -> T:
    """Drive `program`, answering each step with `step(it)` (synchronously: SQLite)."""
    try:
        op = next(program)
        while True:
            op = program.send(step(op))
    except StopIteration as done:
        return done.value    # type: ignore[no-any-return]


class IdpStore(IdpRules):
    """On SQLite (`idp.db`): each program inside BEGIN IMMEDIATE on the store's worker thread."""

    def __init__(self, db: SqliteThread) -> None:
        self._db = db

    @classmethod
    async def open(cls, path: Path) -> IdpStore:
        def setup(conn: sqlite3.Connection) -> None:
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(SCHEMA)

        store = cls(await SqliteThread.open(path, setup, name="idp", busy_timeout=10.0,
                                            dir_mode=0o700))
        await store.purge()
        return store

    async def close(self) -> None:
        await self._db.close()

    async def purge(self) -> None:
        """Nothing in a read-only data folder (what expired is refused when read anyway)."""
        if not self._db.read_only:
            await super().purge()

    async def _run(self, program: Callable[[], Program[T]]) -> T:
        def fn(db: sqlite3.Connection) -> T:
            def step(op: One | Do) -> Any:
                cursor = db.execute(op.sql, op.args)
                return cursor.fetchone() if isinstance(op, One) else cursor.rowcount
            return run_steps(program(), step)
        return await self._db.transaction(fn)
