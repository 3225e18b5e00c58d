"""User and group shares of files and folders: who may share an item with whom and with which
role, who manages a share afterwards, and the listings of what a user shared. A space root is
never shared this way: its grants are memberships (`members.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ocis_server.auth import authz
from ocis_server.auth.authz import Access
from ocis_server.domain import roles
from ocis_server.domain.errors import AlreadyExists, BadRequest, NotFound, PermissionDenied
from ocis_server.identity import User
from ocis_server.storage import Node, Share

from .events import Changed, Event, EventKind, publishes
from .rules import (
    SharingContext,
    access_to,
    auto_accepts,
    initial_state,
    managed_by,
    manages_node,
    require_future,
    require_grantable,
    require_share_permission,
)

Grantee = tuple[str, str]          # ("user" | "group", id)


@dataclass(frozen=True, slots=True)
class Grant:
    """What a share grants: a unified role (id "" for a custom OCS bitmask) and its OCS bits."""

    role_id: str
    bits: int

    @classmethod
    def of(cls, role: roles.Role) -> Grant:
        return cls(role.id, role.bits)


def _event(kind: EventKind, user: User, share: Share) -> Event:
    return Event(kind, user.id, share.space_id, share.node_id, share.id, share.grantee_type,
                 share.grantee_id)


def require_shareable(node: Node) -> None:
    """A space root is shared by membership, never by a user or group share (reva: 400)."""
    if node.parent_id is None:
        raise BadRequest("Can not share space root")


@publishes
async def create(ctx: SharingContext, user: User, node: Node, access: Access, grant: Grant,
                 grantees: Sequence[Grantee], expiration: float | None) -> Changed[list[Share]]:
    """One share per recipient, all or none: 400 for a space root or the sharer themselves,
    403 without the share permission or for more than the sharer holds, AlreadyExists when a
    recipient already has a share on the item."""
    require_shareable(node)
    require_share_permission(access)
    require_grantable(access, grant.bits)
    require_future(expiration)
    if ("user", user.id) in grantees:
        raise BadRequest("can not share with yourself")
    existing = {(s.grantee_type, s.grantee_id)
                for s in await ctx.storage.list_shares(node_ids=[node.id])}
    if existing & set(grantees):
        raise AlreadyExists("the item is already shared with this recipient")
    default = initial_state(ctx)
    out = []
    for gtype, gid in dict.fromkeys(grantees):
        state = default
        if gtype == "user":
            state = "accepted" if await auto_accepts(ctx, gid) else "pending"
        share = await ctx.storage.create_share(
            node_id=node.id, grantee_type=gtype, grantee_id=gid, role_id=grant.role_id,
            permissions=grant.bits, creator_id=user.id, expiration=expiration,
            initial_state=state)
        if gtype == "group":
            await _members_preferences(ctx, share, default)
        out.append(share)
    return Changed(out, tuple(_event("ShareCreated", user, s) for s in out))


async def _members_preferences(ctx: SharingContext, share: Share, default: str) -> None:
    """A group share: members whose `auto-accept-shares` differs from the server default get
    their own state at once (oCIS's frontend accepts per recipient when the share arrives)."""
    try:
        members = await ctx.users.members(share.grantee_id)
    except NotFound:
        return
    for member in members:
        state = "accepted" if await auto_accepts(ctx, member.id) else "pending"
        if state != default:
            await ctx.storage.set_received(share.id, member.id, state=state)


async def require_manager(ctx: SharingContext, user: User, share: Share) -> None:
    if not await manages_node(ctx, user, share.creator_id, share.node_id):
        raise PermissionDenied("only the sharer may change a share")


@publishes
async def update(ctx: SharingContext, user: User, share: Share, *, grant: Grant | None = None,
                 expiration: float | None = None,
                 clear_expiration: bool = False) -> Changed[Share]:
    """A new role and/or expiry (`clear_expiration`: never) by whoever manages the share."""
    await require_manager(ctx, user, share)
    if grant is None and expiration is None and not clear_expiration:
        raise BadRequest("Wrong or no update parameter given")
    if grant is not None:
        node = await ctx.storage.get_node(share.node_id)
        require_grantable(await access_to(ctx, user, node), grant.bits)
    require_future(expiration)
    updated = await ctx.storage.update_share(
        share.id, role_id=None if grant is None else grant.role_id,
        permissions=None if grant is None else grant.bits, expiration=expiration,
        clear_expiration=clear_expiration)
    return Changed(updated, (_event("ShareUpdated", user, updated),))


@publishes
async def delete(ctx: SharingContext, user: User, share: Share) -> Changed[None]:
    await require_manager(ctx, user, share)
    await ctx.storage.delete_share(share.id)
    return Changed(None, (_event("ShareRemoved", user, share),))


async def visible(ctx: SharingContext, user: User, share_id: str) -> tuple[Share, bool]:
    """(share, the caller manages it); its recipients see it too; anyone else: NotFound."""
    try:
        share = await ctx.storage.get_share(share_id)
        if await manages_node(ctx, user, share.creator_id, share.node_id):
            return share, True
        await authz.received_share(ctx.storage, ctx.users, user, share_id)
        return share, False
    except NotFound:
        raise NotFound("share not found") from None


async def on_node(ctx: SharingContext, node: Node, access: Access) -> list[Share]:
    """The shares of one item, for who may see its grants (recipients may not)."""
    if access.share is not None:
        raise PermissionDenied("you may not list the permissions of this item")
    return await ctx.storage.list_shares(node_ids=[node.id])


async def managed(ctx: SharingContext, user: User,
                  node_ids: Sequence[str] | None = None) -> list[Share]:
    """The shares the caller manages (`rules.managed_by`)."""
    return await managed_by(ctx, user, ctx.storage.list_shares, node_ids)


async def created_by(ctx: SharingContext, user: User) -> list[Share]:
    """The shares the caller made (Graph `sharedByMe`)."""
    return await ctx.storage.list_shares(creator_id=user.id)
