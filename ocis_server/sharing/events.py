"""What a sharing change emits: a typed record per change, returned with the change's result.
The kinds are oCIS's event names (reva `pkg/events`: ShareCreated, LinkCreated, SpaceShared, ...);
a change-notification service (SSE, notifications, federation) publishes them after commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

EventKind = Literal[
    "ShareCreated", "ShareUpdated", "ShareRemoved", "ReceivedShareUpdated",
    "LinkCreated", "LinkUpdated", "LinkRemoved",
    "SpaceShared", "SpaceShareUpdated", "SpaceUnshared",
    "OCMCoreShareCreated",         # a federated share arrived from another OCM server
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Event:
    kind: EventKind
    actor_id: str              # the user who made the change
    space_id: str              # space uuid of what is shared
    node_id: str               # the shared node (the space root for membership)
    subject_id: str            # the share id, the link id, or the member's principal id


@dataclass(frozen=True, slots=True)
class Changed(Generic[T]):
    """The result of a sharing change and the events it emits (in the order they happened)."""

    value: T
    events: tuple[Event, ...]
