"""A user store that publishes what changes in it (reva UserCreated, UserDeleted, GroupCreated,
GroupDeleted, GroupMemberAdded, GroupMemberRemoved), after the store has made the change: the
one hook for identity events, whatever front end (Graph, LDAP, bootstrap) made it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ocis_server.events import ACTOR, Event

from .api import Group, User


class PublishingUserStore:
    def __init__(self, store: Any, publish: Callable[[list[Event]], None]) -> None:
        self._store = store
        self._publish = publish
        # The reads every request makes (Basic auth, owner names) bound once: `__getattr__`
        # runs only after a failed normal lookup, a few microseconds on each request.
        self.authenticate = store.authenticate
        self.get = store.get

    @property
    def inner(self) -> Any:
        return self._store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def _emit(self, kind: str, user_id: str = "", group_id: str = "", name: str = "") -> None:
        self._publish([Event(kind, executant=ACTOR.get(), user_id=user_id, group_id=group_id,
                             name=name)])

    async def create(self, **kwargs: Any) -> User:
        user: User = await self._store.create(**kwargs)
        self._emit("UserCreated", user_id=user.id, name=user.username)
        return user

    async def delete(self, user_id: str) -> None:
        await self._store.delete(user_id)
        self._emit("UserDeleted", user_id=user_id)

    async def create_group(self, **kwargs: Any) -> Group:
        group: Group = await self._store.create_group(**kwargs)
        self._emit("GroupCreated", group_id=group.id, name=group.name)
        return group

    async def delete_group(self, group_id: str) -> None:
        await self._store.delete_group(group_id)
        self._emit("GroupDeleted", group_id=group_id)

    async def add_member(self, group_id: str, user_id: str) -> None:
        await self._store.add_member(group_id, user_id)
        self._emit("GroupMemberAdded", group_id=group_id, user_id=user_id)

    async def remove_member(self, group_id: str, user_id: str) -> None:
        await self._store.remove_member(group_id, user_id)
        self._emit("GroupMemberRemoved", group_id=group_id, user_id=user_id)
