"""What a sharing change emits: a typed record per change, returned with the change's result.
The kinds are oCIS's event names (reva `pkg/events`: ShareCreated, LinkCreated, SpaceShared, ...).
`publishes` marks each changing function: once the change is made (the storage has committed
it), its events go to the context's event bus, translated to the bus's `Event`. The change and
its publication run in a task of their own that the caller's cancellation does not reach (a
request cancelled after the commit would otherwise lose the event); `settled` waits for those
still running (the server does before it closes the bus).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Concatenate, Generic, Literal, ParamSpec, TypeVar

from ocis_server.events import Event as BusEvent
from ocis_server.storage.router import StorageRouter

EventKind = Literal[
    "ShareCreated", "ShareUpdated", "ShareRemoved", "ReceivedShareUpdated",
    "LinkCreated", "LinkUpdated", "LinkRemoved",
    "SpaceShared", "SpaceShareUpdated", "SpaceUnshared",
    "OCMCoreShareCreated",         # a federated share arrived from another OCM server
]

log = logging.getLogger(__name__)
T = TypeVar("T")
P = ParamSpec("P")


@dataclass(frozen=True, slots=True)
class Event:
    kind: EventKind
    actor_id: str              # the user who made the change
    space_id: str              # space uuid of what is shared
    node_id: str               # the shared node (the space root for membership)
    subject_id: str            # the share id, the link id, or the member's principal id
    grantee_type: str = ""     # "user" | "group" where known (shares); "" = find out
    grantee_id: str = ""       # who was granted (or lost) access


@dataclass(frozen=True, slots=True)
class Changed(Generic[T]):
    """The result of a sharing change and the events it emits (in the order they happened)."""

    value: T
    events: tuple[Event, ...]


def to_bus(event: Event, storage_id: str) -> BusEvent:
    """The bus record of a sharing event: resource ids as clients see them."""
    space = f"{storage_id}${event.space_id}" if event.space_id else ""
    membership = event.kind.startswith("Space")
    grantee = event.subject_id if membership else event.grantee_id
    return BusEvent(
        event.kind, executant=event.actor_id, space_id=space,
        item_id=f"{space}!{event.node_id}" if space and event.node_id else "",
        share_id="" if membership else event.subject_id,
        grantee_user_id=grantee if event.grantee_type != "group" else "",
        grantee_group_id=grantee if event.grantee_type == "group" else "")


def publishes(fn: Callable[Concatenate[Any, P], Awaitable[Changed[T]]]
              ) -> Callable[Concatenate[Any, P], Awaitable[Changed[T]]]:
    """Publish the events of the change `fn` made on `ctx.events` (when the context has a bus)."""
    async def change_and_publish(ctx: Any, *args: Any, **kwargs: Any) -> Changed[T]:
        changed = await fn(ctx, *args, **kwargs)
        bus = getattr(ctx, "events", None)
        if bus is not None and changed.events:
            storage_id = str(getattr(ctx.config, "storage_id", "") or "")
            # several providers: the mount id of the provider holding the space (the storage
            # may be a stand-in by now, whose attributes raise: only a router is asked)
            storage = getattr(ctx, "storage", None)
            router = storage if isinstance(storage, StorageRouter) else None
            bus.publish([to_bus(e, (router.known_mount(e.space_id) if router else None)
                                or storage_id) for e in changed.events])
        return changed

    @functools.wraps(fn)
    async def wrapper(ctx: Any, /, *args: P.args, **kwargs: P.kwargs) -> Changed[T]:
        if asyncio.current_task() in _RUNNING:      # inside another change: already shielded
            return await change_and_publish(ctx, *args, **kwargs)
        task = asyncio.ensure_future(change_and_publish(ctx, *args, **kwargs))
        _RUNNING.add(task)
        task.add_done_callback(_finished)
        return await asyncio.shield(task)
    return wrapper


# The sharing changes in flight, each in its own task (`publishes`): kept here so that a change
# whose caller was cancelled still runs to its end, publishes, and is waited for at shutdown.
_RUNNING: set[asyncio.Future[Any]] = set()


def _finished(task: asyncio.Future[Any]) -> None:
    _RUNNING.discard(task)
    if not task.cancelled() and task.exception() is not None:
        exc = task.exception()      # seen by the caller, unless it was cancelled meanwhile
        log.debug("sharing change failed: %r", exc)


async def settled(timeout: float = 10.0) -> None:
    """Wait (at most `timeout` seconds) for the sharing changes still running to end."""
    pending = [t for t in _RUNNING if not t.done()]
    if pending:
        await asyncio.wait(pending, timeout=timeout)
