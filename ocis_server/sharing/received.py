"""What a share becomes for its recipient: an entry in their received shares with a state
(pending, accepted, declined), hidden or not, and, once accepted, a mount point in the share
jail whose name is unique among their mounts. Expired and deny shares are never received.
"""

from __future__ import annotations

from dataclasses import dataclass

from ocis_server.auth import authz
from ocis_server.domain import roles
from ocis_server.domain.errors import NotFound
from ocis_server.identity import User
from ocis_server.storage import Node, ReceivedShare, Space

from .events import Changed, Event, publishes
from .rules import SharingContext


@dataclass(frozen=True, slots=True)
class Received:
    """A live received share with the node it reaches and that node's space."""

    received: ReceivedShare
    node: Node
    space: Space


def _event(user: User, received: ReceivedShare) -> Event:
    share = received.share
    return Event("ReceivedShareUpdated", user.id, share.space_id, share.node_id, share.id)


async def live(ctx: SharingContext, user: User) -> list[Received]:
    """The caller's received shares (direct or through a group) that still reach a node in an
    enabled space; expired shares and denies (a restriction, not something received) left out."""
    gids = await authz.group_ids(ctx.users, user)
    out = []
    for received in await ctx.storage.received_shares(user.id, gids):
        share = received.share
        if share.expired() or share.permissions == roles.DENIED_BITS:
            continue
        try:
            node = await ctx.storage.get_node(share.node_id)
            space = await ctx.storage.get_space(share.space_id)
        except NotFound:
            continue
        if not space.disabled:
            out.append(Received(received, node, space))
    return out


async def one(ctx: SharingContext, user: User, share_id: str) -> ReceivedShare:
    """The caller's received share with this id, in any state; NotFound if they received none."""
    return await authz.received_share(ctx.storage, ctx.users, user, share_id)


@publishes
async def answer(ctx: SharingContext, user: User, share_id: str, state: str) -> Changed[ReceivedShare]:
    """Accept or decline (a declined share stays listed; accepting mounts it again)."""
    await one(ctx, user, share_id)
    await ctx.storage.set_received(share_id, user.id, state=state)
    received = await one(ctx, user, share_id)
    return Changed(received, (_event(user, received),))


@publishes
async def hide(ctx: SharingContext, user: User, share_id: str,
               hidden: bool) -> Changed[ReceivedShare]:
    await one(ctx, user, share_id)
    await ctx.storage.set_received(share_id, user.id, hidden=hidden)
    received = await one(ctx, user, share_id)
    return Changed(received, (_event(user, received),))


def unique_name(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    while candidate in taken:
        candidate, n = f"{name} ({n})", n + 1
    return candidate


@publishes
async def mount(ctx: SharingContext, user: User, node_id: str,
                name: str | None) -> Changed[Received]:
    """Accept every share of one node the caller received, mounted as `name` (made unique
    among their other mounts) or the name the storage chose; NotFound when none reaches it."""
    entries = await live(ctx, user)
    matching = [e for e in entries if e.node.id == node_id]
    if not matching:
        raise NotFound("shared resource not found")
    if name is not None:
        name = unique_name(name, {e.received.mount_point for e in entries if e.node.id != node_id})
    for entry in matching:
        await ctx.storage.set_received(entry.received.share.id, user.id, state="accepted",
                                       mount_point=name)
    first = matching[0].received.share.id
    mounted = next(e for e in await live(ctx, user) if e.received.share.id == first)
    events = tuple(_event(user, e.received) for e in matching)
    return Changed(mounted, events)
