"""Per-user data that is not a file: settings values (table `setting_values`, one JSON value per
user and setting id, as the settings service saved it), the user's URL signing key (table
`signing_keys`, the secret of pre-signed URLs, replaced when the user rotates it) and the user's
favourites (table `favorites`: each user marks their own, as oCIS keeps one flag per user).
With OCIS_DATABASE_URL the settings values and signing keys live in PostgreSQL instead
(pgusersettings.py), shared by every front node; favourites stay here, with the nodes they mark.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .writer import Tx

if TYPE_CHECKING:
    from .pgusersettings import PostgresUserRecords


def _values(conn: sqlite3.Connection, user_id: str) -> dict[str, str]:
    rows = conn.execute("SELECT setting_id, value FROM setting_values WHERE user_id = ?",
                        (user_id,)).fetchall()
    return {str(setting_id): str(value) for setting_id, value in rows}


def _save_value(tx: Tx, user_id: str, setting_id: str, value: str) -> None:
    tx.conn.execute("INSERT INTO setting_values(user_id, setting_id, value, mtime)"
                    " VALUES (?, ?, ?, ?) ON CONFLICT(user_id, setting_id)"
                    " DO UPDATE SET value = excluded.value, mtime = excluded.mtime",
                    (user_id, setting_id, value, time.time()))


def _key(conn: sqlite3.Connection, user_id: str) -> str | None:
    row = conn.execute("SELECT key FROM signing_keys WHERE user_id = ?", (user_id,)).fetchone()
    return None if row is None else str(row[0])


def _set_key(tx: Tx, user_id: str, key: str, replace: bool) -> str:
    """Store `key` unless one exists and `replace` is false; the key in force afterwards."""
    if not replace:
        found = _key(tx.conn, user_id)
        if found is not None:
            return found
    tx.conn.execute("INSERT INTO signing_keys(user_id, key, ctime) VALUES (?, ?, ?)"
                    " ON CONFLICT(user_id) DO UPDATE SET key = excluded.key, ctime = excluded.ctime",
                    (user_id, key, time.time()))
    return key


def _favorite_ids(conn: sqlite3.Connection, user_id: str,
                  node_ids: tuple[str, ...]) -> frozenset[str]:
    found: set[str] = set()
    for start in range(0, len(node_ids), 500):
        chunk = node_ids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        found.update(str(r[0]) for r in conn.execute(
            f"SELECT node_id FROM favorites WHERE user_id = ? AND node_id IN ({marks})",
            (user_id, *chunk)))
    return frozenset(found)


def _set_favorite(tx: Tx, user_id: str, node_id: str, on: bool) -> None:
    if on:
        tx.conn.execute("INSERT OR IGNORE INTO favorites(user_id, node_id) VALUES (?, ?)",
                        (user_id, node_id))
    else:
        tx.conn.execute("DELETE FROM favorites WHERE user_id = ? AND node_id = ?",
                        (user_id, node_id))


class UserSettingsStore:
    """Mixed into SqliteStorage: the settings-values and signing-key half of `storage.api.Storage`."""

    _write: Callable[..., Any]
    _cached: Callable[..., Any]
    _user_records: PostgresUserRecords | None = None     # with OCIS_DATABASE_URL

    async def setting_values(self, user_id: str) -> dict[str, str]:
        if self._user_records is not None:
            return await self._user_records.values(user_id)
        found: dict[str, str] = await self._cached(("setting_values", user_id),
                                                   lambda c: _values(c, user_id), len)
        return dict(found)

    async def save_setting_value(self, user_id: str, setting_id: str, value: str) -> None:
        if self._user_records is not None:
            return await self._user_records.save_value(user_id, setting_id, value)
        await self._write(_save_value, user_id, setting_id, value)

    async def signing_key(self, user_id: str) -> str | None:
        if self._user_records is not None:
            return await self._user_records.key(user_id)
        key: str | None = await self._cached(("signing_key", user_id),
                                             lambda c: _key(c, user_id))
        return key

    async def set_signing_key(self, user_id: str, key: str, *, replace: bool = True) -> str:
        if self._user_records is not None:
            return await self._user_records.set_key(user_id, key, replace)
        stored: str = await self._write(_set_key, user_id, key, replace)
        return stored

    async def favorite_ids(self, user_id: str, node_ids: Sequence[str]) -> frozenset[str]:
        """Which of these nodes the user marked as favourites."""
        wanted = tuple(sorted(set(node_ids)))
        if not wanted or not user_id:
            return frozenset()
        found: frozenset[str] = await self._cached(("favorites", user_id, wanted),
                                                   lambda c: _favorite_ids(c, user_id, wanted))
        return found

    async def set_favorite(self, user_id: str, node_id: str, on: bool) -> None:
        await self._write(_set_favorite, user_id, node_id, on)
