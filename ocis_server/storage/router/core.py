"""The plumbing of `StorageRouter`: providers by mount id, which of them are away, the space
registry and the node -> provider cache, and how a call reaches one provider or all of them.

A provider that fails (ServiceUnavailable, a connection error, a time-out, an OS error from its
disk) is *down*: requests for its spaces answer 503 with Retry-After at once, without waiting
for it, and a background probe (its `check()`, every PROBE_INTERVAL) brings it back as soon as
it answers again. Listings skip a down provider (see `spaces.py` for what they show instead).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from ocis_server.domain.errors import NotFound, OcisError, ServiceUnavailable
from ocis_server.domain.ids import SHARE_JAIL_ID
from ocis_server.storage.api import Node, Space, Storage

from .registry import SpaceEntry, SpaceRegistry

T = TypeVar("T")
log = logging.getLogger("ocis.storage.router")
RETRY_AFTER = 1.0          # seconds a client is told to wait while a provider is away
PROBE_INTERVAL = 1.0       # seconds between two checks of a down provider
PROBE_TIMEOUT = 2.0
_NODE_CACHE = 100_000      # node id -> mount id entries kept (then the cache starts afresh)


def _provider_failure(exc: BaseException) -> bool:
    """Whether `exc` says the provider itself is away (not that the request was wrong)."""
    if isinstance(exc, ServiceUnavailable):
        return True
    if isinstance(exc, OcisError):
        return False
    return isinstance(exc, (ConnectionError, TimeoutError, OSError))


class Placement:
    """Where new spaces go: `pinned` maps a space type (personal | project) to a mount id;
    other types (and unpinned ones) go to the provider with the fewest bytes used."""

    def __init__(self, pinned: dict[str, str] | None = None) -> None:
        self.pinned = {k: v for k, v in (pinned or {}).items() if v}


class RouterCore:
    def __init__(self, providers: Sequence[tuple[str, Storage]], registry: SpaceRegistry,
                 placement: Placement | None = None) -> None:
        if not providers:
            raise ValueError("a storage router needs at least one provider")
        self._providers: dict[str, Storage] = dict(providers)
        self.primary = providers[0][0]          # holds the per-user records (settings, keys, ...)
        self.storage_id = self.primary
        self.registry = registry
        self.placement = placement or Placement()
        for mount in self.placement.pinned.values():
            if mount not in self._providers:
                raise ValueError(f"spaces are pinned to storage provider {mount!r}, "
                                 f"which is not configured")
        self._spaces: dict[str, str] = {}       # space id -> mount id (the registry, in memory)
        self._snapshots: dict[str, SpaceEntry] = {}
        self._nodes: dict[str, str] = {}        # node id -> mount id
        self._last_nodes: dict[str, Node] = {}  # node id -> as get_node last gave it
        self._down: dict[str, str] = {}         # mount id -> why
        self._probes: dict[str, asyncio.Task[None]] = {}
        self._seen: set[str] = set()            # providers whose spaces are registered

    @property
    def mount_ids(self) -> frozenset[str]:
        """The mount ids of every provider (storage.api.knows_storage)."""
        return frozenset(self._providers)

    def known_mount(self, space_id: str) -> str | None:
        """The mount id of a space this front knows of, without a query (events name it)."""
        return self._spaces.get(space_id)

    async def set_provider(self, mount: str, provider: Storage) -> None:
        """Add a provider found later (or one that came back at another address: the old
        object is replaced, closing it is the caller's), and register its spaces."""
        self._providers[mount] = provider
        self._down.pop(mount, None)
        self._seen.discard(mount)
        await self._register_provider(mount)

    # --- registry -------------------------------------------------------------------------

    async def load_registry(self) -> None:
        for entry in await self.registry.entries():
            self._remember(entry)
        await asyncio.gather(*(self._register_provider(m) for m in self._providers))

    def _remember(self, entry: SpaceEntry) -> None:
        self._spaces[entry.space_id] = entry.mount_id
        self._snapshots[entry.space_id] = entry

    async def _register_provider(self, mount: str) -> None:
        """A provider seen for the first time (or back): its spaces go into the registry."""
        if mount in self._seen or mount in self._down:
            return
        provider = self._providers[mount]
        try:
            spaces = await provider.list_spaces()
            # members of project spaces the registry does not know yet (a listing while the
            # provider is away shows a project space to them)
            unknown = [s for s in spaces if s.type != "personal" and s.id not in self._snapshots]
            found = await asyncio.gather(*(provider.members(s.id) for s in unknown))
        except Exception as exc:  # noqa: BLE001 - any failure of the provider marks it down
            self._failed(mount, exc)
            return
        members = {s.id: " ".join(sorted(m)) for s, m in zip(unknown, found, strict=True)}
        await self.record_listed([self.entry_of(s, members.get(s.id)) for s in spaces])
        self._seen.add(mount)

    def entry_of(self, space: Space, members: str | None = None) -> SpaceEntry:
        """The registry entry of `space`; `members` None: as the registry has them."""
        if members is None:
            known = self._snapshots.get(space.id)
            members = known.members if known is not None else ""
        return SpaceEntry.of(space, members)

    async def register(self, entry: SpaceEntry) -> None:
        """Record a space made or changed on a provider. The change has happened: a registry
        that is away (PostgreSQL down) only delays the record: the space is routed from memory
        and written by the next listing that finds it (its snapshot is left out until then)."""
        self._spaces[entry.space_id] = entry.mount_id
        try:
            await self.registry.put([entry])
        except ServiceUnavailable as exc:
            log.warning("space %s not recorded in the space registry yet: %s", entry.space_id,
                        exc.message)
            self._snapshots.pop(entry.space_id, None)
            return
        self._snapshots[entry.space_id] = entry

    async def unregister(self, space_id: str) -> None:
        self._spaces.pop(space_id, None)
        self._snapshots.pop(space_id, None)
        try:
            await self.registry.remove(space_id)
        except ServiceUnavailable as exc:   # the space is gone: a stale entry only routes to 404
            log.warning("deleted space %s stays in the space registry: %s", space_id,
                        exc.message)

    async def record_listed(self, entries: list[SpaceEntry]) -> None:
        """Spaces a listing found that the registry lacks or has otherwise (registry away:
        tried again by the next listing)."""
        fresh = [e for e in entries if self._snapshots.get(e.space_id) != e]
        if not fresh:
            return
        for entry in fresh:
            self._spaces[entry.space_id] = entry.mount_id
        try:
            await self.registry.put(fresh)
        except ServiceUnavailable as exc:
            log.warning("listed spaces not recorded in the space registry: %s", exc.message)
            return
        for entry in fresh:
            self._snapshots[entry.space_id] = entry

    async def reload_registry(self) -> None:
        """The registry's entries into memory (another front may have added some); the
        registry away: what is in memory."""
        try:
            entries = await self.registry.entries()
        except ServiceUnavailable as exc:
            log.warning("space registry not read: %s", exc.message)
            return
        for entry in entries:
            self._remember(entry)

    def snapshots(self, mount: str) -> list[SpaceEntry]:
        return [e for e in self._snapshots.values() if e.mount_id == mount]

    # --- health ---------------------------------------------------------------------------

    def is_down(self, mount: str) -> bool:
        return mount in self._down

    def _unavailable(self, mount: str) -> ServiceUnavailable:
        return ServiceUnavailable(f"the storage provider {mount} is unavailable right now",
                                  retry_after=RETRY_AFTER)

    def _failed(self, mount: str, exc: BaseException) -> None:
        why = str(exc) or type(exc).__name__
        if mount not in self._down:
            log.warning("storage provider %s is down: %s; its spaces answer 503 until it is "
                        "back", mount, why)
        self._down[mount] = why
        self._seen.discard(mount)
        if mount not in self._probes:
            self._probes[mount] = asyncio.ensure_future(self._probe_until_up(mount))

    async def _probe_until_up(self, mount: str) -> None:
        try:
            while mount in self._down:
                await asyncio.sleep(PROBE_INTERVAL)
                await self._probe(mount)
        finally:
            self._probes.pop(mount, None)

    async def _probe(self, mount: str) -> bool:
        try:
            await asyncio.wait_for(self._providers[mount].check(), PROBE_TIMEOUT)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever the check raises: still down
            self._down[mount] = str(exc) or type(exc).__name__
            return False
        if self._down.pop(mount, None) is not None:
            log.warning("storage provider %s is back", mount)
        await self._register_provider(mount)
        return True

    async def check_all(self) -> None:
        """Check every provider; raise ServiceUnavailable naming those that are down."""
        results = await asyncio.gather(*(self._check_one(m) for m in self._providers))
        down = [m for m, ok in zip(self._providers, results, strict=True) if not ok]
        if down:
            raise ServiceUnavailable("storage providers unavailable (their spaces answer 503): "
                                     + ", ".join(f"{m} ({self._down.get(m, '?')})" for m in down))

    async def _check_one(self, mount: str) -> bool:
        try:
            await asyncio.wait_for(self._providers[mount].check(), PROBE_TIMEOUT)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a failed check marks the provider down
            self._failed(mount, exc)
            return False
        if mount in self._down:
            return await self._probe(mount)
        await self._register_provider(mount)
        return True

    async def close_all(self) -> None:
        for task in list(self._probes.values()):
            task.cancel()
        for provider in self._providers.values():
            await provider.close()
        await self.registry.close()

    # --- reaching providers ---------------------------------------------------------------

    def provider(self, mount: str) -> Storage:
        """The provider with this mount id; ServiceUnavailable while it is down."""
        provider = self._providers.get(mount)
        if provider is None:
            raise NotFound(f"no storage provider {mount!r}")
        if mount in self._down:
            raise self._unavailable(mount)
        return provider

    async def on(self, mount: str, call: Callable[[Storage], Awaitable[T]]) -> T:
        """`call` on one provider; a provider failure marks it down and answers 503."""
        provider = self.provider(mount)
        try:
            return await call(provider)
        except Exception as exc:
            if not _provider_failure(exc):
                raise
            self._failed(mount, exc)
            raise self._unavailable(mount) from None

    async def each(self, call: Callable[[Storage], Awaitable[T]]) -> list[tuple[str, T]]:
        """`call` on every provider that is up, concurrently; those that fail are marked down
        and left out. Errors that are not provider failures propagate."""
        mounts = [m for m in self._providers if m not in self._down]
        results = await asyncio.gather(*(call(self._providers[m]) for m in mounts),
                                       return_exceptions=True)
        done: list[tuple[str, T]] = []
        for mount, result in zip(mounts, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, Exception) or not _provider_failure(result):
                    raise result
                self._failed(mount, result)
                continue
            done.append((mount, result))
        return done

    async def first(self, call: Callable[[Storage], Awaitable[T]], what: str) -> tuple[str, T]:
        """The first provider where `call` does not raise NotFound. NotFound when none has it
        and all are up; ServiceUnavailable when it may be on one that is down."""
        async def attempt(storage: Storage) -> tuple[bool, T | None]:
            try:
                return True, await call(storage)
            except NotFound:
                return False, None
        for mount, (found, value) in await self.each(attempt):
            if found:
                return mount, value  # type: ignore[return-value]
        if self._down:
            raise ServiceUnavailable(f"{what} may be on a storage provider that is unavailable "
                                     f"right now", retry_after=RETRY_AFTER)
        raise NotFound(f"{what} not found")

    # --- which provider ---------------------------------------------------------------------

    async def mount_of_space(self, space_id: str) -> str:
        mount = self._spaces.get(space_id)
        if mount is not None:
            return mount
        if space_id == SHARE_JAIL_ID:          # virtual: on no provider (asked on every poll)
            raise NotFound("the space not found")
        try:
            entry = await self.registry.get(space_id)  # another front node may have made it
        except ServiceUnavailable:
            entry = None                               # the registry away: ask the providers
        if entry is not None:
            self._remember(entry)
            return entry.mount_id
        found, space = await self.first(lambda s: s.space_info(space_id), "the space")
        await self.register(self.entry_of(space))
        return found

    async def mount_of_node(self, node_id: str) -> str:
        mount = self._spaces.get(node_id) or self._nodes.get(node_id)   # a root's id: the space's
        if mount is not None:
            return mount
        found, _ = await self.first(lambda s: s.get_node(node_id), "the resource")
        self.note(found, node_id)
        return found

    def note(self, mount: str, node_id: str) -> None:
        if len(self._nodes) >= _NODE_CACHE:
            self._nodes.clear()
        self._nodes[node_id] = mount

    def noted(self, node: Node) -> Node:
        self.note(node.storage_id, node.id)
        return node

    def mount_of_record(self, record_id: str) -> str:
        """Share, link and federated share ids start with the mount id: `<mount>:<space>:<id>`."""
        mount = record_id.split(":", 1)[0]
        if mount not in self._providers:
            raise NotFound("no such share")
        return mount

    def mount_of(self, node: Node) -> str:
        if node.storage_id not in self._providers:
            raise NotFound("the resource is not on a storage provider")
        return node.storage_id

    async def on_space(self, space_id: str, call: Callable[[Storage], Awaitable[T]]) -> T:
        return await self.on(await self.mount_of_space(space_id), call)

    async def on_space_or(self, space_id: str, call: Callable[[Storage], Awaitable[T]],
                          default: T) -> T:
        """Like `on_space`, but `default` for a space no provider has (as a provider answers
        a query about a space it does not hold: nothing)."""
        try:
            mount = await self.mount_of_space(space_id)
        except NotFound:
            return default
        return await self.on(mount, call)

    async def on_node(self, node_id: str, call: Callable[[Storage], Awaitable[T]]) -> T:
        return await self.on(await self.mount_of_node(node_id), call)
