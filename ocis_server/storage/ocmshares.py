"""Federated shares our users sent to other OCM servers (table `ocm_shares`): one row per
recipient address and node, with the role and the shared secret `/dav/ocm/<id>` checks.

Like a user share, a row points at a node id: shares of a trashed node are left out of every
query (joined with the live tree) and come back with it; purging the node deletes them.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any

from ocis_server.domain.errors import AlreadyExists, NotFound

from .api import OcmShare
from .grants import grant_changes, list_live, new_grant_id, update_columns
from .writer import Tx

_COLS = ("o.id, o.node_id, n.space_id, o.grantee, o.provider, o.role_id, o.permissions,"
         " o.secret, o.creator_id, o.ctime, o.mtime, o.expiration")
_LIVE = f"SELECT {_COLS} FROM ocm_shares o JOIN nodes n ON n.id = o.node_id"
_SECRET_BYTES = 32    # secrets.token_urlsafe(32): 43 characters, 256 bits (reva: 32 characters)


def _share(row: Sequence[Any]) -> OcmShare:
    (sid, node_id, space_id, grantee, provider, role_id, perms, secret, creator, ctime, mtime,
     exp) = row
    return OcmShare(id=sid, node_id=node_id, space_id=space_id, grantee=grantee,
                    provider=provider, role_id=role_id, permissions=int(perms), secret=secret,
                    creator_id=creator, ctime=float(ctime), mtime=float(mtime),
                    expiration=None if exp is None else float(exp))


def _get(conn: sqlite3.Connection, share_id: str) -> OcmShare:
    row = conn.execute(f"{_LIVE} WHERE o.id = ?", (share_id,)).fetchone()
    if row is None:
        raise NotFound("share not found")
    return _share(row)


def _create(tx: Tx, storage_id: str, node_id: str, grantee: str, provider: str, role_id: str,
            perms: int, creator: str, expiration: float | None) -> OcmShare:
    sid, _ = new_grant_id(tx, storage_id, node_id)
    exists = tx.conn.execute("SELECT 1 FROM ocm_shares WHERE node_id = ? AND grantee = ?",
                             (node_id, grantee)).fetchone()
    if exists is not None:
        raise AlreadyExists("the resource is already shared with this recipient")
    now = time.time()
    tx.conn.execute(
        "INSERT INTO ocm_shares(id, node_id, grantee, provider, role_id, permissions, secret,"
        " creator_id, ctime, mtime, expiration) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (sid, node_id, grantee, provider, role_id, perms, secrets.token_urlsafe(_SECRET_BYTES),
         creator, now, now, expiration))
    return _get(tx.conn, sid)


def _update(tx: Tx, share_id: str, changes: dict[str, object]) -> OcmShare:
    _get(tx.conn, share_id)
    update_columns(tx, "ocm_shares", share_id, changes)
    return _get(tx.conn, share_id)


def _delete(tx: Tx, share_id: str) -> None:
    if tx.conn.execute("DELETE FROM ocm_shares WHERE id = ?", (share_id,)).rowcount == 0:
        raise NotFound("share not found")


class OcmShareStore:
    """Mixed into SqliteStorage: the sent-federated-shares half of `storage.api.Storage`."""

    storage_id: str
    _write: Callable[..., Any]
    _cached: Callable[..., Any]

    async def create_ocm_share(self, *, node_id: str, grantee: str, provider: str,
                               role_id: str, permissions: int, creator_id: str,
                               expiration: float | None = None) -> OcmShare:
        share: OcmShare = await self._write(_create, self.storage_id, node_id, grantee,
                                            provider, role_id, permissions, creator_id,
                                            expiration)
        return share

    async def get_ocm_share(self, share_id: str) -> OcmShare:
        share: OcmShare = await self._cached(("ocm_share", share_id),
                                             lambda c: _get(c, share_id))
        return share

    async def list_ocm_shares(self, *, node_ids: Sequence[str] | None = None,
                              creator_id: str | None = None,
                              space_id: str | None = None) -> list[OcmShare]:
        return await list_live(self._cached, "ocm_shares", _LIVE, "o", _share,
                               node_ids=node_ids, creator_id=creator_id, space_id=space_id)

    async def update_ocm_share(self, share_id: str, *, role_id: str | None = None,
                               permissions: int | None = None, expiration: float | None = None,
                               clear_expiration: bool = False) -> OcmShare:
        changes = grant_changes(role_id=role_id, permissions=permissions, expiration=expiration,
                                clear_expiration=clear_expiration)
        share: OcmShare = await self._write(_update, share_id, changes)
        return share

    async def delete_ocm_share(self, share_id: str) -> None:
        await self._write(_delete, share_id)
