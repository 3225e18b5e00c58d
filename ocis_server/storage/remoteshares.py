"""Federated shares received over OCM (table `remote_shares`): one row per share another OCM
server sent to one of our users. A row is a registry entry (provider, remote resource id, shared
secret, WebDAV URI at the sharer), never a copy of the data; its recipient's state (pending,
accepted, declined) lives on the row.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import astuple
from typing import Any

from ocis_server.domain.errors import AlreadyExists, BadRequest, NotFound

from .api import REMOTE_PERMISSIONS, SHARE_STATES, RemoteShare
from .writer import Tx

_COLS = ("id, provider, provider_id, user_id, name, description, owner, sender, "
         "owner_display_name, sender_display_name, share_type, resource_type, permissions, uri, "
         "secret, expiration, state, ctime")


def _row(row: Sequence[Any]) -> RemoteShare:
    values = list(row)
    values[12] = tuple(p for p in str(values[12]).split(",") if p)
    values[15] = None if values[15] is None else float(values[15])
    values[17] = float(values[17])
    return RemoteShare(*values)


def _get(conn: sqlite3.Connection, share_id: str) -> RemoteShare:
    row = conn.execute(f"SELECT {_COLS} FROM remote_shares WHERE id = ?", (share_id,)).fetchone()
    if row is None:
        raise NotFound("share not found")
    return _row(row)


def _create(tx: Tx, share: RemoteShare) -> RemoteShare:
    exists = tx.conn.execute(
        "SELECT 1 FROM remote_shares WHERE provider = ? AND provider_id = ? AND user_id = ?",
        (share.provider, share.provider_id, share.user_id)).fetchone()
    if exists is not None:
        raise AlreadyExists("this provider already shared this resource with this user")
    values = list(astuple(share))
    values[12] = ",".join(share.permissions)
    tx.conn.execute(f"INSERT INTO remote_shares({_COLS}) VALUES ({','.join('?' * len(values))})",
                    values)
    return share


def _set_state(tx: Tx, share_id: str, state: str) -> RemoteShare:
    _get(tx.conn, share_id)
    tx.conn.execute("UPDATE remote_shares SET state = ? WHERE id = ?", (state, share_id))
    return _get(tx.conn, share_id)


def _set_permissions(tx: Tx, share_id: str, permissions: str) -> RemoteShare:
    _get(tx.conn, share_id)
    tx.conn.execute("UPDATE remote_shares SET permissions = ? WHERE id = ?",
                    (permissions, share_id))
    return _get(tx.conn, share_id)


def _delete(tx: Tx, share_id: str) -> None:
    _get(tx.conn, share_id)
    tx.conn.execute("DELETE FROM remote_shares WHERE id = ?", (share_id,))


class RemoteShareStore:
    """Mixed into SqliteStorage: the federated half of `storage.api.Storage`."""

    _write: Callable[..., Any]
    _cached: Callable[..., Any]

    async def create_remote_share(self, share: RemoteShare) -> RemoteShare:
        if share.state not in SHARE_STATES:
            raise BadRequest(f"unknown share state {share.state!r}")
        if not set(share.permissions) <= set(REMOTE_PERMISSIONS):
            raise BadRequest("unknown OCM permission")
        created: RemoteShare = await self._write(_create, share)
        return created

    async def remote_shares(self, user_id: str) -> list[RemoteShare]:
        sql = f"SELECT {_COLS} FROM remote_shares WHERE user_id = ? ORDER BY ctime, id"
        found = await self._cached(("remote_shares", user_id),
                                   lambda c: [_row(r) for r in c.execute(sql, (user_id,))], len)
        return list(found)

    async def get_remote_share(self, share_id: str) -> RemoteShare:
        share: RemoteShare = await self._cached(("remote_share", share_id),
                                                lambda c: _get(c, share_id))
        return share

    async def set_remote_share_state(self, share_id: str, state: str) -> RemoteShare:
        if state not in SHARE_STATES:
            raise BadRequest(f"unknown share state {state!r}")
        share: RemoteShare = await self._write(_set_state, share_id, state)
        return share

    async def set_remote_share_permissions(self, share_id: str,
                                           permissions: tuple[str, ...]) -> RemoteShare:
        if not set(permissions) <= set(REMOTE_PERMISSIONS):
            raise BadRequest("unknown OCM permission")
        share: RemoteShare = await self._write(_set_permissions, share_id,
                                               ",".join(dict.fromkeys(permissions)))
        return share

    async def remote_shares_of(self, provider_id: str) -> list[RemoteShare]:
        sql = f"SELECT {_COLS} FROM remote_shares WHERE provider_id = ? ORDER BY ctime, id"
        found = await self._cached(
            ("remote_shares_of", provider_id),
            lambda c: [_row(r) for r in c.execute(sql, (provider_id,))], len)
        return list(found)

    async def accepted_remote_shares(self) -> list[RemoteShare]:
        """Every user's accepted federated shares (the remote spaces to subscribe to)."""
        sql = f"SELECT {_COLS} FROM remote_shares WHERE state = 'accepted' ORDER BY ctime, id"
        found = await self._cached(("remote_shares_accepted",),
                                   lambda c: [_row(r) for r in c.execute(sql)], len)
        return list(found)

    async def delete_remote_share(self, share_id: str) -> None:
        await self._write(_delete, share_id)
