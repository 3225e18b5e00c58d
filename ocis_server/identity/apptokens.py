"""App tokens: long random passwords a user creates for clients that cannot do OpenID Connect,
used as the HTTP Basic password (PROXY_ENABLE_APP_AUTH). Stored in SQLite
(`<base>/idm/apptokens.db`), or with OCIS_DATABASE_URL in PostgreSQL (pgapptokens.py), as SHA-256
hashes only; listed, revocable and expiring. The rules live once, in AppTokenRules.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import string
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ocis_server.domain.errors import BadRequest, NotFound

from .sqlitedb import SqliteThread

TOKEN_LENGTH = 16                        # oCIS: `^[a-zA-Z0-9]{16}$` (~95 bits)
_ALPHABET = string.ascii_letters + string.digits
MAX_TOKENS_PER_USER = 100
_SCHEMA = """
CREATE TABLE IF NOT EXISTS app_tokens (
    hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    label TEXT NOT NULL,
    created REAL NOT NULL,
    expires REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS app_tokens_user ON app_tokens (user_id);
"""


def token_hash(token: str) -> str:
    # Tokens are random with ~95 bits: a fast hash suffices (no dictionary to attack).
    return "sha256:" + hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class AppToken:
    hash: str
    user_id: str
    label: str
    created: float      # epoch seconds
    expires: float


class AppTokenRules(ABC):
    """What every app token store does, whatever holds the rows (SQLite here, PostgreSQL in
    pgapptokens.py): the token's form, its hash, the lifetime check, the per-user cap, expiry and
    revocation by token or hash. A backend supplies the five row operations below."""

    _clock: Callable[[], float]

    @abstractmethod
    async def _insert(self, record: AppToken, now: float) -> bool:
        """Drop expired rows, then add `record` unless its user has MAX_TOKENS_PER_USER live
        tokens (False), atomically."""
        ...

    @abstractmethod
    async def _owner(self, digest: str, now: float) -> str | None:
        """The user id of the live token with this hash."""
        ...

    @abstractmethod
    async def _live(self, user_id: str, now: float) -> list[AppToken]:
        ...

    @abstractmethod
    async def _remove(self, digest: str, user_id: str) -> int:
        ...

    @abstractmethod
    async def close(self) -> None:
        ...

    async def create(self, user_id: str, *, lifetime: float,
                     label: str = "Generated via API") -> tuple[str, AppToken]:
        """A new token (returned once, in clear) and its record; BadRequest past the per-user cap."""
        if lifetime <= 0:
            raise BadRequest("the expiration must be positive")
        token = "".join(secrets.choice(_ALPHABET) for _ in range(TOKEN_LENGTH))
        now = self._clock()
        record = AppToken(token_hash(token), user_id, label[:200], now, now + lifetime)
        if not await self._insert(record, now):
            raise BadRequest(f"at most {MAX_TOKENS_PER_USER} app tokens per user")
        return token, record

    async def verify(self, user_id: str, token: str) -> bool:
        """True when `token` is a live app token of `user_id`."""
        if not token or len(token) > 256:
            return False
        owner = await self._owner(token_hash(token), self._clock())
        return owner is not None and hmac.compare_digest(owner, user_id)

    async def list(self, user_id: str) -> list[AppToken]:
        return await self._live(user_id, self._clock())

    async def delete(self, user_id: str, token_or_hash: str) -> None:
        """Revoke by the clear token or by the hash `list` shows; NotFound if not the user's."""
        digest = token_or_hash if token_or_hash.startswith("sha256:") else token_hash(token_or_hash)
        if not await self._remove(digest, user_id):
            raise NotFound("no such app token")


class AppTokenStore(AppTokenRules):
    """All SQLite work on one dedicated thread."""

    def __init__(self, db: SqliteThread, clock: Callable[[], float] = time.time) -> None:
        self._db, self._clock = db, clock

    @classmethod
    async def open(cls, path: Path, *, clock: Callable[[], float] = time.time) -> AppTokenStore:
        db = await SqliteThread.open(path, lambda conn: conn.executescript(_SCHEMA),
                                     name="apptokens")
        return cls(db, clock)

    async def _insert(self, record: AppToken, now: float) -> bool:
        def insert(conn: sqlite3.Connection) -> bool:
            conn.execute("DELETE FROM app_tokens WHERE expires <= ?", (now,))
            (count,) = conn.execute("SELECT count(*) FROM app_tokens WHERE user_id = ?",
                                    (record.user_id,)).fetchone()
            if count >= MAX_TOKENS_PER_USER:
                return False
            conn.execute("INSERT INTO app_tokens (hash, user_id, label, created, expires)"
                         " VALUES (?, ?, ?, ?, ?)", (record.hash, record.user_id, record.label,
                                                     record.created, record.expires))
            return True

        return await self._db.run(insert)

    async def _owner(self, digest: str, now: float) -> str | None:
        def lookup(conn: sqlite3.Connection) -> Any:
            return conn.execute("SELECT user_id FROM app_tokens WHERE hash = ? AND expires > ?",
                                (digest, now)).fetchone()

        row = await self._db.run(lookup)
        return None if row is None else str(row[0])

    async def _live(self, user_id: str, now: float) -> list[AppToken]:
        def select(conn: sqlite3.Connection) -> list[AppToken]:
            rows = conn.execute("SELECT hash, user_id, label, created, expires FROM app_tokens"
                                " WHERE user_id = ? AND expires > ? ORDER BY created",
                                (user_id, now)).fetchall()
            return [AppToken(*row) for row in rows]

        return await self._db.run(select)

    async def _remove(self, digest: str, user_id: str) -> int:
        def remove(conn: sqlite3.Connection) -> int:
            return conn.execute("DELETE FROM app_tokens WHERE hash = ? AND user_id = ?",
                                (digest, user_id)).rowcount

        return await self._db.run(remove)

    async def delete_user(self, user_id: str) -> None:
        await self._db.run(lambda conn: conn.execute("DELETE FROM app_tokens WHERE user_id = ?",
                                                  (user_id,)))

    async def count(self) -> int:
        return int((await self._db.run(
            lambda conn: conn.execute("SELECT count(*) FROM app_tokens").fetchone()))[0])

    async def close(self) -> None:
        await self._db.close()
