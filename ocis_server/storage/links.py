"""Public links of nodes (table `links`): token, type, OCS bits, password hash, expiry, name.

A link points at a node id like a share does: links of a trashed node are invisible (joined with
the live tree) and come back with it; purging the node deletes them. Passwords arrive hashed.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any

from ocis_server.domain.errors import BadRequest, NotFound

from .api import LINK_TYPES, Link
from .grants import list_live, new_grant_id, update_columns
from .writer import Tx

_COLS = ("l.id, l.token, l.node_id, n.space_id, l.link_type, l.permissions, l.password_hash,"
         " l.expiration, l.name, l.quicklink, l.creator_id, l.ctime, l.mtime")
_LIVE = f"SELECT {_COLS} FROM links l JOIN nodes n ON n.id = l.node_id"
_TOKEN_BYTES = 12     # secrets.token_urlsafe(12): 16 characters, 96 bits of randomness


def new_token() -> str:
    return secrets.token_urlsafe(_TOKEN_BYTES)


def _link(row: Sequence[Any]) -> Link:
    (lid, token, node_id, space_id, ltype, perms, pw, exp, name, quick, creator, ctime,
     mtime) = row
    return Link(id=lid, token=token, node_id=node_id, space_id=space_id, link_type=ltype,
                permissions=int(perms), password_hash=pw or None,
                expiration=None if exp is None else float(exp), name=name or "",
                quicklink=bool(quick), creator_id=creator, ctime=float(ctime),
                mtime=float(mtime))


def _get(conn: sqlite3.Connection, column: str, value: str) -> Link:
    row = conn.execute(f"{_LIVE} WHERE l.{column} = ?", (value,)).fetchone()
    if row is None:
        raise NotFound("link not found")
    return _link(row)


def _create(tx: Tx, storage_id: str, node_id: str, link_type: str, perms: int,
            password_hash: str | None, expiration: float | None, name: str, quicklink: bool,
            creator: str) -> Link:
    lid, _ = new_grant_id(tx, storage_id, node_id)
    now = time.time()
    while True:      # a collision of 96 random bits is next to impossible; never reuse a token
        token = new_token()
        if tx.conn.execute("SELECT 1 FROM links WHERE token = ?", (token,)).fetchone() is None:
            break
    tx.conn.execute(
        "INSERT INTO links(id, token, node_id, link_type, permissions, password_hash, expiration,"
        " name, quicklink, creator_id, ctime, mtime) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        (lid, token, node_id, link_type, perms, password_hash, expiration, name, int(quicklink),
         creator, now, now))
    return _get(tx.conn, "id", lid)


def _update(tx: Tx, link_id: str, changes: dict[str, object]) -> Link:
    _get(tx.conn, "id", link_id)
    update_columns(tx, "links", link_id, changes)
    return _get(tx.conn, "id", link_id)


def _delete(tx: Tx, link_id: str) -> None:
    _get(tx.conn, "id", link_id)
    tx.conn.execute("DELETE FROM links WHERE id = ?", (link_id,))


class LinkStore:
    """Mixed into SqliteStorage: the public-link half of `storage.api.Storage`."""

    storage_id: str
    _write: Callable[..., Any]
    _cached: Callable[..., Any]

    async def create_link(self, *, node_id: str, link_type: str, permissions: int,
                          creator_id: str, password_hash: str | None = None,
                          expiration: float | None = None, name: str = "",
                          quicklink: bool = False) -> Link:
        if link_type not in LINK_TYPES:
            raise BadRequest(f"unknown link type {link_type!r}")
        link: Link = await self._write(_create, self.storage_id, node_id, link_type, permissions,
                                       password_hash, expiration, name, quicklink, creator_id)
        return link

    async def get_link(self, link_id: str) -> Link:
        link: Link = await self._cached(("link", link_id), lambda c: _get(c, "id", link_id))
        return link

    async def link_by_token(self, token: str) -> Link:
        link: Link = await self._cached(("link-token", token),
                                        lambda c: _get(c, "token", token))
        return link

    async def list_links(self, *, node_ids: Sequence[str] | None = None,
                         creator_id: str | None = None,
                         space_id: str | None = None) -> list[Link]:
        return await list_live(self._cached, "links", _LIVE, "l", _link, node_ids=node_ids,
                               creator_id=creator_id, space_id=space_id)

    async def update_link(self, link_id: str, *, link_type: str | None = None,
                          permissions: int | None = None, password_hash: str | None = None,
                          clear_password: bool = False, expiration: float | None = None,
                          clear_expiration: bool = False, name: str | None = None,
                          quicklink: bool | None = None) -> Link:
        if link_type is not None and link_type not in LINK_TYPES:
            raise BadRequest(f"unknown link type {link_type!r}")
        changes: dict[str, object] = {}
        for column, value in (("link_type", link_type), ("permissions", permissions),
                              ("name", name),
                              ("quicklink", None if quicklink is None else int(quicklink))):
            if value is not None:
                changes[column] = value
        if clear_password or password_hash is not None:
            changes["password_hash"] = None if clear_password else password_hash
        if clear_expiration or expiration is not None:
            changes["expiration"] = None if clear_expiration else expiration
        link: Link = await self._write(_update, link_id, changes)
        return link

    async def delete_link(self, link_id: str) -> None:
        await self._write(_delete, link_id)
