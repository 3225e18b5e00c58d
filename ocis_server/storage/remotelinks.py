"""WebDAV URLs of other servers a user registered (`ocis remote add`, table `remote_links`): one
row per user and URL, a registry entry of the OpenID path of federation (docs/federation.md). The
URL is opened by the user's own client with their own token; this server never contacts it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import astuple
from typing import Any

from ocis_server.domain.errors import AlreadyExists, NotFound

from .api import RemoteLink
from .writer import Tx

_COLS = "id, user_id, name, url, provider, ctime"


def _row(row: Sequence[Any]) -> RemoteLink:
    return RemoteLink(str(row[0]), str(row[1]), str(row[2]), str(row[3]), str(row[4]),
                      float(row[5]))


def _list(conn: sqlite3.Connection, user_id: str) -> list[RemoteLink]:
    sql = f"SELECT {_COLS} FROM remote_links WHERE user_id = ? ORDER BY ctime, id"
    return [_row(r) for r in conn.execute(sql, (user_id,))]


def _create(tx: Tx, link: RemoteLink) -> RemoteLink:
    for found in _list(tx.conn, link.user_id):
        if found.name.lower() == link.name.lower():
            raise AlreadyExists(f"you already have a remote space named {link.name!r}")
        if found.url == link.url:
            raise AlreadyExists(f"this URL is already registered as {found.name!r}")
    tx.conn.execute(f"INSERT INTO remote_links({_COLS}) VALUES (?, ?, ?, ?, ?, ?)", astuple(link))
    return link


def _delete(tx: Tx, user_id: str, link_id: str) -> None:
    gone = tx.conn.execute("DELETE FROM remote_links WHERE id = ? AND user_id = ?",
                           (link_id, user_id)).rowcount
    if not gone:
        raise NotFound("remote space not found")


class RemoteLinkStore:
    """Mixed into SqliteStorage: the registered remote URLs of `storage.api.Storage`."""

    _write: Callable[..., Any]
    _cached: Callable[..., Any]

    async def remote_links(self, user_id: str) -> list[RemoteLink]:
        found = await self._cached(("remote_links", user_id), lambda c: _list(c, user_id), len)
        return list(found)

    async def create_remote_link(self, link: RemoteLink) -> RemoteLink:
        created: RemoteLink = await self._write(_create, link)
        return created

    async def delete_remote_link(self, user_id: str, link_id: str) -> None:
        """Remove one of `user_id`'s entries; NotFound for another user's or an unknown id."""
        await self._write(_delete, user_id, link_id)
