"""One change, named as reva names its event types (`pkg/events`: ContainerCreated, FileUploaded,
ItemMoved, ShareCreated, SpaceShared, UserCreated, GroupMemberAdded, ...).

One flat record serves every type: the fields a type does not use stay empty. Ids are as clients
see them: `space_id` is `<storage>$<space>`, `item_id`/`parent_id` are resource ids
`<storage>$<space>!<node>`.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

# The types published here (reva pkg/events), by where they come from.
STORAGE_TYPES = frozenset({
    "ContainerCreated", "FileUploaded", "FileTouched", "ItemMoved", "ItemTrashed",
    "ItemRestored", "ItemPurged", "FileVersionRestored",
    "SpaceCreated", "SpaceRenamed", "SpaceUpdated", "SpaceDisabled", "SpaceEnabled",
    "SpaceDeleted",
})
SHARING_TYPES = frozenset({
    "ShareCreated", "ShareUpdated", "ShareRemoved", "ReceivedShareUpdated",
    "LinkCreated", "LinkUpdated", "LinkRemoved",
    "SpaceShared", "SpaceShareUpdated", "SpaceUnshared", "OCMCoreShareCreated",
})
# A message for the SSE streams of one user (oCIS `events.SendSSE`): the userlog service sends
# `userlog-notification` with each notification it writes.
# With OCIS_DATABASE_URL the userlog group is shared between nodes (one writer), so it is sent
# once, without `origin`, and every node's sse service (a group per node) tells its clients.
# Without, every node's userlog writes its own (runtime/eventbus.py per_node_groups) and sends it
# with `origin` = its process: a node's sse service forwards only those of its own process.
SEND_SSE = "SendSSE"
# this process, as `Event.origin` names it; the workers of one `ocis server` (OCIS_WORKERS) are
# one process to it: their parent gives them one value (runtime/workers.py)
PROCESS = os.environ.get("OCIS_EVENTS_PROCESS") or uuid.uuid4().hex
IDENTITY_TYPES = frozenset({
    "UserCreated", "UserDeleted", "GroupCreated", "GroupDeleted",
    "GroupMemberAdded", "GroupMemberRemoved",
})


@dataclass(frozen=True, slots=True)
class Access:
    """Who could reach an item when its change was committed (raw grants, read in the same
    transaction): authz turns it into the principals that may read it (authz.readers_from)."""

    space_type: str
    owner_id: str
    disabled: bool
    members: tuple[tuple[str, str, float | None], ...]     # (principal, role, expires)
    shares: tuple[tuple[str, int, float | None], ...]      # (grantee, permissions, expiration)


@dataclass(frozen=True, slots=True)
class Event:
    type: str                      # reva event name, e.g. "ItemMoved"
    executant: str = ""            # user id of who made the change ("" = the server itself)
    space_id: str = ""             # `<storage>$<space>` the item lives in (after the change)
    item_id: str = ""              # resource id of the item (a space: its root)
    parent_id: str = ""            # resource id of its parent ("" for a space root)
    etag: str = ""                 # the item's new etag, quoted as clients see it
    path: str = ""                 # path inside the space, "/a/b.txt" (never sent to clients)
    old_parent_id: str = ""        # ItemMoved: where it was
    old_path: str = ""
    is_dir: bool = False
    trash_key: str = ""            # ItemTrashed / ItemRestored / ItemPurged: the trash item
    share_id: str = ""             # Share*/Link*/OCMCoreShare*: the share or link id
    grantee_user_id: str = ""      # Share*/Space*Shared: who was granted or lost access
    grantee_group_id: str = ""
    user_id: str = ""              # User*/GroupMember*: the account concerned
    group_id: str = ""             # Group*: the group concerned
    name: str = ""                 # SpaceCreated/Renamed, UserCreated: the new name;
                                   # SendSSE: the SSE event type (to `user_id`)
    message: str = ""              # SendSSE: the SSE event's body (JSON)
    origin: str = ""               # SendSSE: the process that sent it (PROCESS)
    access: tuple[Access, ...] = ()  # storage changes: who could reach it, at commit
    timestamp: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        """The set fields (what a broker carries; `from_dict` reads it back)."""
        return {k: v for k, v in asdict(self).items() if v not in ("", False, ())}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event:
        known = set(cls.__dataclass_fields__)
        fields = {k: v for k, v in data.items() if k in known}
        fields["access"] = tuple(
            Access(a["space_type"], a["owner_id"], a["disabled"],
                   tuple(tuple(m) for m in a["members"]),
                   tuple(tuple(s) for s in a["shares"])) 
            for a in fields.get("access", ()))
        return cls(**fields)
