"""`MemoryUserStore`: the trivial identity driver, everything in dicts, nothing on disk.

It keeps the whole `UserStore` contract of the builtin store (same validation, case-insensitive
names, the same errors and orderings) so the unit tests can run services on it, fast, instead of
hand-written fakes; tests/test_identity.py and tests/test_identity_groups.py run the contract on
both drivers. Like the other drivers it is loaded by name from the service table
(`MemoryUserStore.open(path)`). Passwords are kept as keyed hashes, never in the clear.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import secrets
import string
from pathlib import Path

from ocis_server.domain.errors import AlreadyExists, BadRequest, NotFound
from ocis_server.domain.ids import new_id

from . import validate
from .api import Group, User, UserStore, counts_change
from .rules import UserRules

# SQLite's NOCASE, which the builtin store's names use: ASCII letters only.
_FOLD = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def _fold(name: str) -> str:
    return name.translate(_FOLD)


class MemoryUserStore(UserRules):
    """UserStore over dicts; `open()` takes (and ignores) the path a file-backed driver would use."""

    def __init__(self) -> None:
        self.changes = 0          # bumped by every write (UserStore.changes)
        self._key = secrets.token_bytes(32)
        self._users: dict[str, User] = {}
        self._hashes: dict[str, bytes] = {}            # user id -> keyed hash ("" password: none)
        self._groups: dict[str, Group] = {}
        self._members: dict[str, set[str]] = {}        # group id -> user ids
        self._identities: dict[tuple[str, str], str] = {}   # (issuer, subject) -> user id

    @classmethod
    async def open(cls, path: Path | None = None) -> MemoryUserStore:
        return cls()

    def _hash(self, username: str, password: str) -> bytes:
        return hashlib.blake2b(f"{_fold(username)}\0{password}".encode(), key=self._key).digest()

    # --- users -------------------------------------------------------------------------------
    async def authenticate(self, username: str, password: str) -> User | None:
        user = self._find_user(username)
        expected = self._hashes.get(user.id, b"") if user is not None else b""
        ok = hmac.compare_digest(self._hash(username, password), expected)
        # A disabled account is checked like any other, then refused.
        return user if ok and user is not None and expected and user.enabled else None

    async def get(self, user_id: str) -> User:
        try:
            return self._users[user_id]
        except KeyError:
            raise NotFound("user not found") from None

    async def get_by_name(self, username: str) -> User:
        user = self._find_user(username)
        if user is None:
            raise NotFound("user not found")
        return user

    def _find_user(self, username: str) -> User | None:
        folded = _fold(username)
        return next((u for u in self._users.values() if _fold(u.username) == folded), None)

    async def list(self) -> builtins.list[User]:
        return sorted(self._users.values(), key=lambda u: _fold(u.username))

    async def count(self) -> int:
        return len(self._users)

    async def check(self) -> None:
        """The runtime's health query: a dict is always there."""

    @counts_change
    async def create(self, *, username: str, password: str, display_name: str = "",
                     email: str = "", role: str = "user", user_id: str | None = None,
                     user_type: str = "Member") -> User:
        validate.username(username)
        validate.role(role)
        validate.user_type(user_type)
        validate.email(email)
        display_name = validate.display_name(display_name)
        if not password and user_type != "Guest":
            raise BadRequest("the password must not be empty")
        user = User(id=user_id or new_id(), username=username,
                    display_name=display_name or username, email=email, role=role,
                    user_type=user_type)
        if user.id in self._users or self._find_user(username) is not None:
            raise AlreadyExists(f"user {username!r} already exists")
        self._users[user.id] = user
        self._hashes[user.id] = self._hash(username, password) if password else b""
        return user

    @counts_change
    async def update(self, user_id: str, *, display_name: str | None = None,
                     email: str | None = None, role: str | None = None,
                     user_type: str | None = None, enabled: bool | None = None) -> User:
        user = self._users.get(user_id)
        if display_name is not None:
            display_name = validate.display_name(display_name)
            if not display_name:
                raise BadRequest("the display name must not be empty")
        email = validate.email(email) if email is not None else None
        role = validate.role(role) if role is not None else None
        user_type = validate.user_type(user_type) if user_type is not None else None
        if user is None:
            raise NotFound("user not found")
        changed = User(user.id, user.username,
                       user.display_name if display_name is None else display_name,
                       user.email if email is None else email, role or user.role,
                       user_type or user.user_type, user.enabled if enabled is None else enabled)
        self._users[user_id] = changed
        return changed

    @counts_change
    async def set_password(self, user_id: str, password: str) -> None:
        if not password:
            raise BadRequest("the password must not be empty")
        user = await self.get(user_id)
        self._hashes[user_id] = self._hash(user.username, password)

    @counts_change
    async def delete(self, user_id: str) -> None:
        """Memberships and linked identities go with the user, as in the builtin store."""
        await self.get(user_id)
        del self._users[user_id], self._hashes[user_id]
        for members in self._members.values():
            members.discard(user_id)
        for link in [k for k, v in self._identities.items() if v == user_id]:
            del self._identities[link]

    # --- groups ------------------------------------------------------------------------------
    async def list_groups(self) -> builtins.list[Group]:
        return sorted(self._groups.values(), key=lambda g: _fold(g.name))

    async def get_group(self, group_id: str) -> Group:
        try:
            return self._groups[group_id]
        except KeyError:
            raise NotFound("group not found") from None

    async def get_group_by_name(self, name: str) -> Group:
        folded = _fold(name)
        for group in self._groups.values():
            if _fold(group.name) == folded:
                return group
        raise NotFound("group not found")

    async def _insert_group(self, group: Group) -> None:
        """For UserRules.create_group (the rules of every store)."""
        folded = _fold(group.name)
        if group.id in self._groups or any(_fold(g.name) == folded for g in self._groups.values()):
            raise AlreadyExists(f"group {group.name!r} already exists")
        self._groups[group.id] = group
        self._members[group.id] = set()

    @counts_change
    async def delete_group(self, group_id: str) -> None:
        await self.get_group(group_id)
        del self._groups[group_id], self._members[group_id]

    @counts_change
    async def add_member(self, group_id: str, user_id: str) -> None:
        await self.get_group(group_id)
        await self.get(user_id)
        self._members[group_id].add(user_id)

    @counts_change
    async def remove_member(self, group_id: str, user_id: str) -> None:
        await self.get_group(group_id)
        if user_id not in self._members[group_id]:
            raise NotFound("the user is not a member of this group")
        self._members[group_id].discard(user_id)

    async def members(self, group_id: str) -> builtins.list[User]:
        await self.get_group(group_id)
        return sorted((self._users[uid] for uid in self._members[group_id]),
                      key=lambda u: _fold(u.username))

    async def groups_of(self, user_id: str) -> builtins.list[Group]:
        return sorted((self._groups[gid] for gid, uids in self._members.items() if user_id in uids),
                      key=lambda g: _fold(g.name))

    # --- foreign identities ------------------------------------------------------------------
    async def get_by_identity(self, issuer: str, subject: str) -> User:
        user_id = self._identities.get((issuer, subject))
        if user_id is None:
            raise NotFound("no account for this identity")
        return await self.get(user_id)

    async def link_identity(self, issuer: str, subject: str, user_id: str) -> None:
        if not issuer or not subject:
            raise BadRequest("issuer and subject must not be empty")
        await self.get(user_id)
        linked = self._identities.setdefault((issuer, subject), user_id)
        if linked != user_id:
            raise AlreadyExists("this identity is linked to another account")

    async def close(self) -> None:
        """Nothing to release: the data lives as long as the object."""


def _is_a_user_store(store: MemoryUserStore) -> UserStore:
    return store     # mypy checks here that the driver keeps the whole interface
