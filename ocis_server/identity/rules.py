"""The writes every database-backed user store does the same way (builtin.py on SQLite, pgstore.py
on PostgreSQL): validate (validate.py), hash the password (passwords.py, scrypt off the event loop),
then hand the rows to the backend. One rule, one place; a backend supplies the row operations."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from ocis_server.domain.errors import BadRequest, NotFound
from ocis_server.domain.ids import new_id

from . import validate
from .api import Group, User, counts_change
from .passwords import hash_password


def credentials_mac(key: bytes, username: str, password: str) -> bytes:
    """The cache key of an accepted password: keyed BLAKE2b, a MAC like HMAC-SHA256 at a fraction
    of its set-up cost per request (HTTP Basic sends the password with every request)."""
    return hashlib.blake2b(f"{username}\0{password}".encode(), key=key, digest_size=32).digest()


class UserRules:
    """create / update / set_password / create_group / check of a UserStore over its backend."""

    changes: int

    async def _insert_user(self, user: User, encoded: str) -> None:
        """Add the row; AlreadyExists when the name is taken (any case)."""
        raise NotImplementedError

    async def _change_user(self, user_id: str, changes: dict[str, Any]) -> bool:
        """Set these (validated) columns; False when there is no such user."""
        raise NotImplementedError

    async def _store_hash(self, user_id: str, encoded: str) -> bool:
        raise NotImplementedError

    async def _insert_group(self, group: Group) -> None:
        """Add the row; AlreadyExists when the name is taken."""
        raise NotImplementedError

    async def get(self, user_id: str) -> User:
        raise NotImplementedError

    async def count(self) -> int:
        raise NotImplementedError

    async def check(self) -> None:
        """The runtime's health query: the database answers."""
        await self.count()

    @counts_change
    async def create(self, *, username: str, password: str, display_name: str = "",
                     email: str = "", role: str = "user", user_id: str | None = None,
                     user_type: str = "Member") -> User:
        user = validate.new_user(user_id=user_id or new_id(), username=username,
                                 password=password, display_name=display_name, email=email,
                                 role=role, user_type=user_type)
        encoded = await asyncio.to_thread(hash_password, password) if password else ""
        await self._insert_user(user, encoded)
        return user

    @counts_change
    async def update(self, user_id: str, *, display_name: str | None = None,
                     email: str | None = None, role: str | None = None,
                     user_type: str | None = None, enabled: bool | None = None) -> User:
        changes = validate.user_changes(display_name=display_name, email=email, role=role,
                                        user_type=user_type, enabled=enabled)
        if changes and not await self._change_user(user_id, changes):
            raise NotFound("user not found")
        return await self.get(user_id)

    @counts_change
    async def set_password(self, user_id: str, password: str) -> None:
        if not password:
            raise BadRequest("the password must not be empty")
        encoded = await asyncio.to_thread(hash_password, password)
        if not await self._store_hash(user_id, encoded):
            raise NotFound("user not found")

    @counts_change
    async def create_group(self, *, name: str, description: str = "",
                           group_id: str | None = None) -> Group:
        validate.group_name(name)
        group = Group(id=group_id or new_id(), name=name,
                      description=validate.display_name(description))
        await self._insert_group(group)
        return group
