"""The rules every kind of grant shares: the context the sharing layer works in, who may share an
item and grant how much, who manages an existing grant, the expiry policy and the state a new
share starts in (reva `handlers/apps/sharing/shares`, oCIS `services/graph/pkg/service/v0/api_driveitem_permissions.go`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, Protocol, TypeVar

from ocis_server.auth import authz
from ocis_server.auth.authz import Access
from ocis_server.domain import roles
from ocis_server.domain import settings as usersettings
from ocis_server.domain.errors import BadRequest, NotFound, PermissionDenied
from ocis_server.identity import User, UserStore
from ocis_server.storage import Node, Storage

if TYPE_CHECKING:
    from ocis_server.config import Config


class SharingContext(Protocol):
    """What the rules read: the settings, the storage and the user store (a service's context)."""

    @property
    def config(self) -> Config: ...

    @property
    def storage(self) -> Storage: ...

    @property
    def users(self) -> UserStore: ...


def kind(node: Node) -> str:
    """The resource kind a role's condition names: root, folder or file."""
    return roles.kind_of(is_dir=node.is_dir, is_root=node.parent_id is None)


async def access_to(ctx: SharingContext, user: User, node: Node) -> Access:
    """The caller's access to a node (authz); NotFound when they have none."""
    return await authz.node_access(ctx.storage, ctx.users, user, node)


def require_share_permission(access: Access) -> None:
    """Sharing needs the share bit (owners, Managers; never a recipient's editor role)."""
    if not access.permissions & roles.SHARE:
        raise PermissionDenied("no share permission")


def require_grantable(access: Access, bits: int) -> None:
    """Nobody grants more than they hold; a deny (role Denied) is a restriction, not a grant."""
    if bits & ~access.permissions and bits != roles.DENIED_BITS:
        raise PermissionDenied("insufficient permissions to grant that")


def offered_roles(access: Access, kind: str) -> list[roles.Role]:
    """The roles the caller could grant on a resource of this kind (none without the share
    permission): Graph `@libre.graph.permissions.roles.allowedValues`."""
    if not access.permissions & roles.SHARE:
        return []
    return [r for r in roles.available_for(kind)
            if r.bits & ~access.permissions == 0 or r.bits == roles.DENIED_BITS]


def manages(access: Access | None, user: User, creator_id: str) -> bool:
    """Who may change or remove an existing share or link: its creator, or whoever manages the
    shared resource (its owner, a space Manager), never someone reaching it through a share."""
    if creator_id == user.id:
        return True
    return access is not None and access.share is None and bool(access.permissions & roles.SHARE)


async def manages_node(ctx: SharingContext, user: User, creator_id: str, node_id: str) -> bool:
    """`manages` for a grant on `node_id`, computing the caller's access (none: False)."""
    if creator_id == user.id:
        return True
    try:
        node = await ctx.storage.get_node(node_id)
        access = await access_to(ctx, user, node)
    except NotFound:
        return False
    return manages(access, user, creator_id)


class Granted(Protocol):
    """A share or a link: something made by someone on a node."""

    @property
    def id(self) -> str: ...

    @property
    def creator_id(self) -> str: ...

    @property
    def node_id(self) -> str: ...


G = TypeVar("G", bound=Granted)


class Lister(Protocol[G]):
    """`Storage.list_shares` or `Storage.list_links`."""

    def __call__(self, *, node_ids: Sequence[str] | None = None, creator_id: str | None = None,
                 space_id: str | None = None) -> Awaitable[list[G]]: ...


async def managed_by(ctx: SharingContext, user: User, lister: Lister[G],
                     node_ids: Sequence[str] | None) -> list[G]:
    """The distinct shares or links the caller manages (`manages`): on `node_ids`, or all they
    created or that lie in their personal space."""
    if node_ids is not None:
        found = await lister(node_ids=node_ids)
    else:
        found = await lister(creator_id=user.id) + await lister(space_id=user.id)
    unique = {grant.id: grant for grant in found}
    return [grant for grant in unique.values()
            if await manages_node(ctx, user, grant.creator_id, grant.node_id)]


def require_future(expiration: float | None) -> float | None:
    """An expiry must lie in the future (reva: 400); None means never."""
    if expiration is not None and expiration <= time.time():
        raise BadRequest("expiration date is in the past")
    return expiration


def initial_state(ctx: SharingContext) -> str:
    """A new share starts accepted (FRONTEND_AUTO_ACCEPT_SHARES, the default), else pending until
    the recipient answers; a recipient's own `auto-accept-shares` setting overrides it
    (`auto_accepts`)."""
    return "accepted" if ctx.config.sharing_auto_accept else "pending"


async def auto_accepts(ctx: SharingContext, user_id: str) -> bool:
    """The user's `auto-accept-shares` setting (settings service, profile bundle), else the
    server default, as oCIS's frontend decides when a share arrives."""
    stored = (await ctx.storage.setting_values(user_id)).get(usersettings.SETTING_AUTO_ACCEPT)
    if stored is None:
        return bool(ctx.config.sharing_auto_accept)
    return bool(usersettings.plain(json.loads(stored)))


async def auto_accepts_federated(ctx: SharingContext, user_id: str) -> bool:
    """Whether a federated share the user receives starts accepted: only when the user has
    set `auto-accept-shares` on themselves. The server default (FRONTEND_AUTO_ACCEPT_SHARES)
    does not reach federated shares: in oCIS a received OCM share always starts pending (its
    frontend auto-accepts on `ShareCreated` only), and a share from another server is mounted
    only when its recipient said so (docs/federation.md)."""
    stored = (await ctx.storage.setting_values(user_id)).get(usersettings.SETTING_AUTO_ACCEPT)
    return stored is not None and bool(usersettings.plain(json.loads(stored)))
