"""The identity interface: who the users are and how a password is checked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class User:
    id: str                 # UUIDv4; also the id of the user's personal space
    username: str           # login name (oCIS `onPremisesSamAccountName`, LDAP `uid`)
    display_name: str
    email: str
    role: str               # admin | spaceadmin | user | guest (oCIS settings roles)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class UserStore(Protocol):
    async def authenticate(self, username: str, password: str) -> User | None: ...
    async def get(self, user_id: str) -> User: ...                    # NotFound
    async def get_by_name(self, username: str) -> User: ...           # NotFound
    async def list(self) -> list[User]: ...
    async def create(self, *, username: str, password: str, display_name: str = "",
                     email: str = "", role: str = "user", user_id: str | None = None) -> User: ...
        # AlreadyExists if the username is taken; the password is hashed with a memory-hard KDF
    async def set_password(self, user_id: str, password: str) -> None: ...
    async def close(self) -> None: ...
