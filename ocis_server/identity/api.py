"""The identity interface: who the users and groups are, how a password is checked, and how an
account from a foreign OpenID Connect issuer maps to a local user.

Backends: the builtin SQLite store (`builtin.py`), the same tables in PostgreSQL shared by
several front nodes (`pgstore.py`, OCIS_DATABASE_URL), an LDAP directory read through ldap3
(`ldap.py`), and dicts in memory (`memory.py`, the trivial driver the tests run on). A backend
that cannot write (LDAP without write access) raises Forbidden on changes.
"""

from __future__ import annotations

import builtins
import functools
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

ROLES = ("admin", "spaceadmin", "user", "guest")   # oCIS settings roles: Admin, Space Admin, User, User Light
USER_TYPES = ("Member", "Guest")                   # Graph `userType`


@dataclass(frozen=True, slots=True)
class User:
    id: str                 # UUIDv4; also the id of the user's personal space
    username: str           # login name (oCIS `onPremisesSamAccountName`, LDAP `uid`)
    display_name: str
    email: str
    role: str               # one of ROLES
    user_type: str = "Member"   # one of USER_TYPES; auto-provisioned foreign accounts are Guests
    enabled: bool = True        # Graph `accountEnabled`: a disabled account cannot sign in by any
                                # path (auth/principal.py, the IdP, idm) and keeps its shares

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_guest(self) -> bool:
        return self.user_type == "Guest"


@dataclass(frozen=True, slots=True)
class Group:
    id: str                 # UUIDv4
    name: str               # unique, case-insensitive (LDAP `cn`)
    description: str = ""


class UserStore(Protocol):
    # Bumped after every change made through the store (users, groups, memberships): readers
    # that keep a copy (idm's directory snapshot) rebuild it when this moved.
    @property
    def changes(self) -> int: ...

    # --- users ------------------------------------------------------------------------------
    async def authenticate(self, username: str, password: str) -> User | None: ...
    async def get(self, user_id: str) -> User: ...                    # NotFound
    async def get_by_name(self, username: str) -> User: ...           # NotFound
    async def list(self) -> builtins.list[User]: ...
    async def create(self, *, username: str, password: str, display_name: str = "",
                     email: str = "", role: str = "user", user_id: str | None = None,
                     user_type: str = "Member") -> User: ...
        # AlreadyExists if the username is taken; the password is hashed with a memory-hard KDF.
        # An empty password is allowed only for user_type Guest provisioned from a foreign issuer
        # (such an account cannot log in with a password at all).
    async def update(self, user_id: str, *, display_name: str | None = None,
                     email: str | None = None, role: str | None = None,
                     user_type: str | None = None, enabled: bool | None = None) -> User: ...
        # NotFound, BadRequest; `enabled` NotSupported where the backend cannot disable accounts
    # authenticate() returns None for a disabled account, whatever the password.
    async def set_password(self, user_id: str, password: str) -> None: ...
    async def delete(self, user_id: str) -> None: ...                 # NotFound; drops memberships

    # --- groups -----------------------------------------------------------------------------
    async def list_groups(self) -> builtins.list[Group]: ...
    async def get_group(self, group_id: str) -> Group: ...            # NotFound
    async def get_group_by_name(self, name: str) -> Group: ...        # NotFound
    async def create_group(self, *, name: str, description: str = "",
                           group_id: str | None = None) -> Group: ...  # AlreadyExists
    async def delete_group(self, group_id: str) -> None: ...          # NotFound
    async def add_member(self, group_id: str, user_id: str) -> None: ...     # NotFound; idempotent
    async def remove_member(self, group_id: str, user_id: str) -> None: ...  # NotFound
    async def members(self, group_id: str) -> builtins.list[User]: ...         # NotFound
    async def groups_of(self, user_id: str) -> builtins.list[Group]: ...

    # --- accounts of trusted foreign OIDC issuers, keyed by (issuer, sub) -------------------
    async def get_by_identity(self, issuer: str, subject: str) -> User: ...   # NotFound
    async def link_identity(self, issuer: str, subject: str, user_id: str) -> None: ...
        # AlreadyExists if (issuer, subject) is linked to another user

    async def close(self) -> None: ...


P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S", bound="_Counted")


class _Counted(Protocol):
    changes: int


def counts_change(method: Callable[Concatenate[S, P], Coroutine[Any, Any, R]]
                  ) -> Callable[Concatenate[S, P], Coroutine[Any, Any, R]]:
    """Marks a store's write: `changes` is bumped once it is done (failed or not), so a reader
    that saw the old count rebuilds after it."""
    @functools.wraps(method)
    async def wrapper(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(self, *args, **kwargs)
        finally:
            self.changes += 1
    return wrapper
