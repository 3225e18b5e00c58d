"""User and group shares of nodes and each recipient's received state (tables `shares`, `received`).

Shares point at a node id; node ids survive trash and restore, so a share of a trashed node is
left out of every query (it is joined with the live tree) and comes back when the node does.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any

from ocis_server.domain.errors import AlreadyExists, BadRequest, NotFound

from .api import SHARE_STATES, ReceivedShare, Share
from .grants import IN_CHUNK, grant_changes, list_live, new_grant_id, update_columns
from .writer import Tx

GRANTEE_TYPES = ("user", "group")
# The space comes from the node (n.space_id): a shared folder the owner moves to another
# space takes its shares along, and they must follow it there.
_COLS = ("s.id, s.node_id, n.space_id, s.grantee_type, s.grantee_id, s.role_id, s.permissions,"
         " s.creator_id, s.ctime, s.mtime, s.expiration, s.initial_state")
_INSERT = ("id, node_id, grantee_type, grantee_id, role_id, permissions, creator_id, ctime,"
           " mtime, expiration, initial_state")
_LIVE = f"SELECT {_COLS} FROM shares s JOIN nodes n ON n.id = s.node_id"


def _share(row: Sequence[Any]) -> Share:
    (sid, node_id, space_id, gtype, gid, role_id, perms, creator, ctime, mtime, exp, state) = row
    return Share(id=sid, node_id=node_id, space_id=space_id, grantee_type=gtype, grantee_id=gid,
                 role_id=role_id, permissions=int(perms), creator_id=creator, ctime=float(ctime),
                 mtime=float(mtime), expiration=None if exp is None else float(exp),
                 initial_state=state)


def _get(conn: sqlite3.Connection, share_id: str) -> Share:
    row = conn.execute(f"{_LIVE} WHERE s.id = ?", (share_id,)).fetchone()
    if row is None:
        raise NotFound("share not found")
    return _share(row)


def _create(tx: Tx, storage_id: str, node_id: str, gtype: str, gid: str, role_id: str,
            perms: int, creator: str, expiration: float | None, state: str) -> Share:
    sid, space_id = new_grant_id(tx, storage_id, node_id)
    exists = tx.conn.execute(
        "SELECT 1 FROM shares WHERE node_id = ? AND grantee_type = ? AND grantee_id = ?",
        (node_id, gtype, gid)).fetchone()
    if exists is not None:
        raise AlreadyExists("the resource is already shared with this recipient")
    now = time.time()
    share = Share(sid, node_id, space_id, gtype, gid, role_id, perms, creator, now, now,
                  expiration, state)
    tx.conn.execute(f"INSERT INTO shares({_INSERT}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (share.id, node_id, gtype, gid, role_id, perms, creator, now, now,
                     expiration, state))
    return share


def _update(tx: Tx, share_id: str, changes: dict[str, object]) -> Share:
    _get(tx.conn, share_id)
    update_columns(tx, "shares", share_id, changes)
    return _get(tx.conn, share_id)


def _delete(tx: Tx, share_id: str) -> None:
    _get(tx.conn, share_id)
    tx.conn.execute("DELETE FROM shares WHERE id = ?", (share_id,))
    tx.conn.execute("DELETE FROM received WHERE share_id = ?", (share_id,))


def _set_received(tx: Tx, share_id: str, user_id: str, state: str | None, hidden: bool | None,
                  mount_point: str | None) -> None:
    _get(tx.conn, share_id)
    tx.conn.execute("INSERT OR IGNORE INTO received(share_id, user_id) VALUES (?, ?)",
                    (share_id, user_id))
    for column, value in (("state", state), ("hidden", None if hidden is None else int(hidden)),
                          ("mount_point", mount_point)):
        if value is not None:
            tx.conn.execute(f"UPDATE received SET {column} = ? WHERE share_id = ? AND user_id = ?",
                            (value, share_id, user_id))


def _received(conn: sqlite3.Connection, user_id: str,
              group_ids: Sequence[str]) -> list[ReceivedShare]:
    """Shares with the user or their groups (one entry per share even when several groups
    match), oldest first. Accepted shares without a chosen mount point are named after the
    shared node, made unique per recipient the way oCIS does ("name (1)")."""
    groups = list(group_ids)[:IN_CHUNK]
    marks = ",".join("?" * len(groups)) or "NULL"
    rows = conn.execute(
        f"SELECT {_COLS}, n.name, r.state, r.hidden, r.mount_point FROM shares s"
        " JOIN nodes n ON n.id = s.node_id"
        " LEFT JOIN received r ON r.share_id = s.id AND r.user_id = ?"
        " WHERE (s.grantee_type = 'user' AND s.grantee_id = ?)"
        f" OR (s.grantee_type = 'group' AND s.grantee_id IN ({marks}))"
        " ORDER BY s.ctime, s.id", (user_id, user_id, *groups)).fetchall()
    out: list[ReceivedShare] = []
    taken = {str(r[15]) for r in rows if r[15]}
    for row in rows:
        share = _share(row[:12])
        name, state, hidden, mount = str(row[12]), row[13], row[14], row[15]
        state = state or share.initial_state
        if not mount:
            mount = _unique(name or "Shared", taken)
            taken.add(mount)
        out.append(ReceivedShare(share, user_id, str(state), bool(hidden), str(mount)))
    return out


def _unique(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    n = 1
    while f"{name} ({n})" in taken:
        n += 1
    return f"{name} ({n})"


class ShareStore:
    """Mixed into SqliteStorage: the shares half of `storage.api.Storage`."""

    storage_id: str
    _read: Callable[..., Any]
    _write: Callable[..., Any]
    _cached: Callable[..., Any]

    async def create_share(self, *, node_id: str, grantee_type: str, grantee_id: str,
                           role_id: str, permissions: int, creator_id: str,
                           expiration: float | None = None,
                           initial_state: str = "accepted") -> Share:
        if grantee_type not in GRANTEE_TYPES:
            raise BadRequest(f"unknown grantee type {grantee_type!r}")
        if initial_state not in SHARE_STATES:
            raise BadRequest(f"unknown share state {initial_state!r}")
        share: Share = await self._write(_create, self.storage_id, node_id, grantee_type,
                                         grantee_id, role_id, permissions, creator_id,
                                         expiration, initial_state)
        return share

    async def get_share(self, share_id: str) -> Share:
        share: Share = await self._cached(("share", share_id), lambda c: _get(c, share_id))
        return share

    async def list_shares(self, *, node_ids: Sequence[str] | None = None,
                          creator_id: str | None = None,
                          space_id: str | None = None) -> list[Share]:
        return await list_live(self._cached, "shares", _LIVE, "s", _share, node_ids=node_ids,
                               creator_id=creator_id, space_id=space_id)

    async def shares_covering(self, node_id: str) -> list[Share]:
        sql = ("WITH RECURSIVE up(id, parent_id) AS (SELECT id, parent_id FROM nodes WHERE id = ?"
               " UNION ALL SELECT n.id, n.parent_id FROM nodes n JOIN up ON n.id = up.parent_id)"
               f" {_LIVE} WHERE s.node_id IN (SELECT id FROM up)")
        found = await self._cached(("covering", node_id),
                                   lambda c: [_share(r) for r in c.execute(sql, (node_id,))], len)
        return list(found)

    async def update_share(self, share_id: str, *, role_id: str | None = None,
                           permissions: int | None = None, expiration: float | None = None,
                           clear_expiration: bool = False) -> Share:
        changes = grant_changes(role_id=role_id, permissions=permissions, expiration=expiration,
                                clear_expiration=clear_expiration)
        share: Share = await self._write(_update, share_id, changes)
        return share

    async def delete_share(self, share_id: str) -> None:
        await self._write(_delete, share_id)

    async def received_shares(self, user_id: str,
                              group_ids: Sequence[str] = ()) -> list[ReceivedShare]:
        groups = tuple(sorted(group_ids))
        found = await self._cached(("received", user_id, groups),
                                   lambda c: _received(c, user_id, groups), len)
        return list(found)

    async def set_received(self, share_id: str, user_id: str, *, state: str | None = None,
                           hidden: bool | None = None, mount_point: str | None = None) -> None:
        if state is not None and state not in SHARE_STATES:
            raise BadRequest(f"unknown share state {state!r}")
        await self._write(_set_received, share_id, user_id, state, hidden, mount_point)
