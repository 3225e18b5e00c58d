"""OCM invitations (tables `ocm_invite_tokens`, `ocm_accepted_users`): the tokens our users made
for people on other OCM servers, and the remote users each of our users exchanged an invitation
with (their federated contacts, reva's "accepted users"). The rules (expiry, who may redeem what)
live in `sharing/contacts.py`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import astuple
from typing import Any

from ocis_server.domain.errors import AlreadyExists, NotFound

from .api import AcceptedUser, InviteToken
from .writer import Tx

_TOKEN_COLS = "token, user_id, description, recipient, expiration, ctime"
_USER_COLS = "user_id, provider, remote_id, display_name, mail, ctime"


def _token(row: Sequence[Any]) -> InviteToken:
    token, user_id, description, recipient, expiration, ctime = row
    return InviteToken(str(token), str(user_id), str(description), str(recipient),
                       float(expiration), float(ctime))


def _user(row: Sequence[Any]) -> AcceptedUser:
    user_id, provider, remote_id, display_name, mail, ctime = row
    return AcceptedUser(str(user_id), str(provider), str(remote_id), str(display_name), str(mail),
                        float(ctime))


def _get_token(conn: sqlite3.Connection, token: str) -> InviteToken:
    row = conn.execute(f"SELECT {_TOKEN_COLS} FROM ocm_invite_tokens WHERE token = ?",
                       (token,)).fetchone()
    if row is None:
        raise NotFound("token not found")
    return _token(row)


def _create_token(tx: Tx, token: InviteToken) -> InviteToken:
    tx.conn.execute(f"INSERT INTO ocm_invite_tokens({_TOKEN_COLS}) VALUES (?,?,?,?,?,?)",
                    astuple(token))
    return token


def _add_user(tx: Tx, contact: AcceptedUser) -> AcceptedUser:
    exists = tx.conn.execute(
        "SELECT 1 FROM ocm_accepted_users WHERE user_id = ? AND provider = ? AND remote_id = ?",
        (contact.user_id, contact.provider, contact.remote_id)).fetchone()
    if exists is not None:
        raise AlreadyExists("user already known")
    tx.conn.execute(f"INSERT INTO ocm_accepted_users({_USER_COLS}) VALUES (?,?,?,?,?,?)",
                    astuple(contact))
    return contact


def _delete_user(tx: Tx, user_id: str, provider: str, remote_id: str) -> None:
    cur = tx.conn.execute(
        "DELETE FROM ocm_accepted_users WHERE user_id = ? AND provider = ? AND remote_id = ?",
        (user_id, provider, remote_id))
    if cur.rowcount == 0:
        raise NotFound("accepted user not found")


class InviteStore:
    """Mixed into SqliteStorage: the invitation half of `storage.api.Storage`."""

    _write: Callable[..., Any]
    _cached: Callable[..., Any]

    async def create_invite_token(self, token: InviteToken) -> InviteToken:
        created: InviteToken = await self._write(_create_token, token)
        return created

    async def invite_token(self, token: str) -> InviteToken:
        found: InviteToken = await self._cached(("invite_token", token),
                                                lambda c: _get_token(c, token))
        return found

    async def invite_tokens(self, user_id: str) -> list[InviteToken]:
        sql = (f"SELECT {_TOKEN_COLS} FROM ocm_invite_tokens WHERE user_id = ? "
               "ORDER BY ctime, token")
        found = await self._cached(("invite_tokens", user_id),
                                   lambda c: [_token(r) for r in c.execute(sql, (user_id,))], len)
        return list(found)

    async def add_accepted_user(self, contact: AcceptedUser) -> AcceptedUser:
        added: AcceptedUser = await self._write(_add_user, contact)
        return added

    async def accepted_users(self, user_id: str) -> list[AcceptedUser]:
        sql = (f"SELECT {_USER_COLS} FROM ocm_accepted_users WHERE user_id = ? "
               "ORDER BY ctime, provider, remote_id")
        found = await self._cached(("accepted_users", user_id),
                                   lambda c: [_user(r) for r in c.execute(sql, (user_id,))], len)
        return list(found)

    async def delete_accepted_user(self, user_id: str, provider: str, remote_id: str) -> None:
        await self._write(_delete_user, user_id, provider, remote_id)
