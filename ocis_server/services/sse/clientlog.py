"""What a client is told about an event (oCIS `clientlog`): the SSE event type, its JSON body
(`FileEvent`: itemid, parentitemid, spaceid, initiatorid, etag, affecteduserids) and who may see
it. The audience is decided when the event is processed, through the same rules as every access
check (authz.readers): a user who lost access a moment ago gets nothing more.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ocis_server.auth import authz
from ocis_server.domain.errors import NotFound
from ocis_server.events import Event
from ocis_server.events.event import PROCESS, SEND_SSE
from ocis_server.services.context import ServiceContext
from ocis_server.sharing import federated
from ocis_server.storage import Node

# reva event -> clientlog SSE type. Files (clientlog processFileEvent) ...
FILE_TYPES = {
    "FileUploaded": "postprocessing-finished",   # no postprocessing here: ready once committed
    "FileTouched": "file-touched",
    "FileVersionRestored": "file-touched",        # new content, same item: refresh it
    "ContainerCreated": "folder-created",
    "ItemRestored": "item-restored",
    "ItemTrashed": "item-trashed",
    "ItemMoved": "item-moved",                    # item-renamed when the parent stayed
    "LinkCreated": "link-created",
    "LinkUpdated": "link-updated",
    "LinkRemoved": "link-removed",
}
# ... and shares (processShareEvent: the item's audience plus the users the change affects).
SHARE_TYPES = {
    "ShareCreated": "share-created",
    "ShareUpdated": "share-updated",
    "ShareRemoved": "share-removed",
    "SpaceShared": "space-member-added",
    "SpaceShareUpdated": "space-share-updated",
    "SpaceUnshared": "space-member-removed",
}
CONSUMED = frozenset(FILE_TYPES) | frozenset(SHARE_TYPES) | {SEND_SSE}


@dataclass(frozen=True, slots=True)
class Notice:
    """One SSE event for every user `audience` admits."""

    type: str
    body: dict[str, Any]
    readers: list[authz.Readers]        # any of these lets a user see it now ...
    affected: frozenset[str]            # user ids told regardless (a share's recipients)
    then: list[authz.Readers] = field(default_factory=list)   # ... and one of these did when
                                        # the change was committed (none given: not checked)

    def admits(self, user_id: str, group_ids: frozenset[str]) -> bool:
        if user_id in self.affected:
            return True
        if self.then and not any(r.may_read(user_id, group_ids) for r in self.then):
            return False
        if self.type == "item-trashed":   # nobody reads a trashed item now: `then` decides
            return bool(self.then)
        return any(r.may_read(user_id, group_ids) for r in self.readers)


def _node_id(resource_id: str) -> str:
    return resource_id.rpartition("!")[2]


async def _node(ctx: ServiceContext, resource_id: str) -> Node | None:
    if not resource_id:
        return None
    try:
        return await ctx.storage.get_node(_node_id(resource_id))
    except NotFound:
        return None


def _body(event: Event, node: Node | None, affected: list[str] | None) -> dict[str, Any]:
    """The event's own parent and etag (as committed); a share event's from the item now."""
    parent = event.parent_id or (node.parent_resource_id if node is not None else None) or ""
    etag = event.etag or (f'"{node.etag}"' if node is not None else "")
    return {"parentitemid": parent, "itemid": event.item_id, "spaceid": event.space_id,
            "initiatorid": event.executant, "etag": etag, "affecteduserids": affected}


async def _affected(ctx: ServiceContext, event: Event) -> list[str]:
    """The user, or the members of the group, a share change concerns (clientlog resolveID)."""
    principal = event.grantee_group_id or event.grantee_user_id
    if not principal:
        return []
    try:
        return [u.id for u in await ctx.users.members(principal)]
    except NotFound:              # not a group (a space member's id may be either)
        return [principal]


async def notice(ctx: ServiceContext, event: Event) -> Notice | None:
    """The SSE event for a bus event, or None when clients are not told of it."""
    if event.type == SEND_SSE:       # a message for one user's streams (userlog-notification)
        if event.origin and event.origin != PROCESS:   # another node's userlog tells its clients
            return None
        body = json.loads(event.message or "null")
        return Notice(event.name, body, [], frozenset({event.user_id})) if (
            event.name and event.user_id and isinstance(body, dict)) else None
    if event.type in SHARE_TYPES:
        node = await _node(ctx, event.item_id)
        affected = await _affected(ctx, event)
        readers = [await authz.readers(ctx.storage, node)] if node is not None else []
        return Notice(SHARE_TYPES[event.type], _body(event, node, affected), readers,
                      frozenset(affected))
    kind = FILE_TYPES.get(event.type)
    if kind is None:
        return None
    if federated.share_id_of_space(event.space_id) is not None:
        return await _remote(ctx, event, kind)
    # Who could read it when the change was committed (the storage's snapshot) and who can
    # read it now (a user who lost access a moment ago is told nothing more).
    then = [authz.readers_from(a) for a in event.access]
    node = None if event.type == "ItemTrashed" else await _node(ctx, event.item_id)
    places: list[Node | None] = [node]
    if event.type == "ItemMoved":
        if event.old_parent_id == event.parent_id:
            kind = "item-renamed"
        else:                       # those who saw it where it was see it go
            places.append(await _node(ctx, event.old_parent_id))
    now = [await authz.readers(ctx.storage, n) for n in places if n is not None]
    if event.type != "ItemTrashed" and not now:
        return None                 # gone again already: nobody may read it any more
    body = _body(event, node, None)
    if event.type == "ItemTrashed":
        body["etag"] = ""
    return Notice(kind, body, now, frozenset(), then)


async def _remote(ctx: ServiceContext, event: Event, kind: str) -> Notice | None:
    """A change in a remote space (re-published by the ocm service from the sharer's stream):
    for the share's recipient only, while the share is accepted and current."""
    share_id = federated.share_id_of_space(event.space_id)
    try:
        share = await ctx.storage.get_remote_share(share_id or "")
    except NotFound:
        return None
    if share.state != "accepted" or share.expired():
        return None
    if kind == "item-moved" and event.old_parent_id == event.parent_id:
        kind = "item-renamed"
    body = _body(event, None, None)
    if event.type == "ItemTrashed":
        body["etag"] = ""
    return Notice(kind, body, [], frozenset({share.user_id}))


Notify = Callable[[ServiceContext, Event], Awaitable[Notice | None]]
