"""`StorageRouter`: the `Storage` protocol over several storage providers (issue 16).

Each provider is any `Storage` with its own mount id (`storage_id`, STORAGE_USERS_MOUNT_ID); a
space lives on exactly one of them, and the space registry (registry.py, SQLite on the front or
PostgreSQL) says which. Every call goes to the provider owning the space, node or record
(spaces.py, records.py); calls that span spaces fan out and merge; a provider that fails is
marked down and its spaces answer 503 with Retry-After until its probe passes again (core.py).

Per-user records that belong to no space (settings values, URL signing keys, OCM invitations and
contacts, federated shares received, registered remote WebDAV URLs) stay on the *primary*
provider, the first of the list. See docs/decisions/0018-storage-router.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ocis_server.storage.api import (
    AcceptedUser,
    InviteToken,
    RemoteLink,
    RemoteShare,
    Storage,
)

from .core import Placement
from .records import RecordRouting
from .registry import SpaceEntry, SpaceRegistry, SqliteSpaceRegistry

__all__ = ["Placement", "SpaceEntry", "SpaceRegistry", "SqliteSpaceRegistry", "StorageRouter"]


class StorageRouter(RecordRouting):
    """Implements `storage.api.Storage` over `providers` ((mount id, Storage), the first is the
    primary). Create with `await StorageRouter.open(providers, registry, placement)`."""

    def __init__(self, providers: Sequence[tuple[str, Storage]], registry: SpaceRegistry,
                 placement: Placement | None = None) -> None:
        super().__init__(providers, registry, placement)
        self._uploads = {}
        self._received = {}

    @classmethod
    async def open(cls, providers: Sequence[tuple[str, Storage]], registry: SpaceRegistry,
                   placement: Placement | None = None) -> StorageRouter:
        """Loads the registry and registers the spaces of every provider that answers."""
        self = cls(providers, registry, placement)
        await self.load_registry()
        return self

    @property
    def disk_full(self) -> bool:
        return any(getattr(p, "disk_full", False) for p in self._providers.values())

    def publish_to(self, publish: Callable[..., Any]) -> None:
        """Every provider's committed changes go to the event bus."""
        for provider in self._providers.values():
            hook = getattr(provider, "publish_to", None)
            if hook is not None:
                hook(publish)

    async def check(self) -> None:
        await self.check_all()

    async def close(self) -> None:
        await self.close_all()

    # --- per-user records: on the primary provider --------------------------------------------
    async def create_remote_share(self, share: RemoteShare) -> RemoteShare:
        return await self.on(self.primary, lambda s: s.create_remote_share(share))

    async def remote_shares(self, user_id: str) -> list[RemoteShare]:
        return await self.on(self.primary, lambda s: s.remote_shares(user_id))

    async def get_remote_share(self, share_id: str) -> RemoteShare:
        return await self.on(self.primary, lambda s: s.get_remote_share(share_id))

    async def set_remote_share_state(self, share_id: str, state: str) -> RemoteShare:
        return await self.on(self.primary, lambda s: s.set_remote_share_state(share_id, state))

    async def set_remote_share_permissions(self, share_id: str,
                                           permissions: tuple[str, ...]) -> RemoteShare:
        return await self.on(self.primary,
                             lambda s: s.set_remote_share_permissions(share_id, permissions))

    async def remote_shares_of(self, provider_id: str) -> list[RemoteShare]:
        return await self.on(self.primary, lambda s: s.remote_shares_of(provider_id))

    async def delete_remote_share(self, share_id: str) -> None:
        await self.on(self.primary, lambda s: s.delete_remote_share(share_id))

    async def accepted_remote_shares(self) -> list[RemoteShare]:
        return await self.on(self.primary, lambda s: s.accepted_remote_shares())

    async def create_invite_token(self, token: InviteToken) -> InviteToken:
        return await self.on(self.primary, lambda s: s.create_invite_token(token))

    async def invite_token(self, token: str) -> InviteToken:
        return await self.on(self.primary, lambda s: s.invite_token(token))

    async def invite_tokens(self, user_id: str) -> list[InviteToken]:
        return await self.on(self.primary, lambda s: s.invite_tokens(user_id))

    async def add_accepted_user(self, contact: AcceptedUser) -> AcceptedUser:
        return await self.on(self.primary, lambda s: s.add_accepted_user(contact))

    async def accepted_users(self, user_id: str) -> list[AcceptedUser]:
        return await self.on(self.primary, lambda s: s.accepted_users(user_id))

    async def delete_accepted_user(self, user_id: str, provider: str, remote_id: str) -> None:
        await self.on(self.primary, lambda s: s.delete_accepted_user(user_id, provider, remote_id))

    async def remote_links(self, user_id: str) -> list[RemoteLink]:
        return await self.on(self.primary, lambda s: s.remote_links(user_id))

    async def create_remote_link(self, link: RemoteLink) -> RemoteLink:
        return await self.on(self.primary, lambda s: s.create_remote_link(link))

    async def delete_remote_link(self, user_id: str, link_id: str) -> None:
        await self.on(self.primary, lambda s: s.delete_remote_link(user_id, link_id))

    async def setting_values(self, user_id: str) -> dict[str, str]:
        return await self.on(self.primary, lambda s: s.setting_values(user_id))

    async def save_setting_value(self, user_id: str, setting_id: str, value: str) -> None:
        await self.on(self.primary, lambda s: s.save_setting_value(user_id, setting_id, value))

    async def signing_key(self, user_id: str) -> str | None:
        return await self.on(self.primary, lambda s: s.signing_key(user_id))

    async def set_signing_key(self, user_id: str, key: str, *, replace: bool = True) -> str:
        return await self.on(self.primary, lambda s: s.set_signing_key(user_id, key,
                                                                       replace=replace))


def _conforms(router: StorageRouter) -> Storage:
    return router      # mypy checks here that StorageRouter implements the whole protocol
