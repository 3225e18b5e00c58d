"""What a worker (OCIS_WORKERS > 1) shares with its siblings, wired by the Runtime: the login
throttle's failures (SQLite, unless PostgreSQL holds them), the cache check (freshness.py) and
the event bus (workerbus.py). Outside a worker each returns what a single process uses."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from ocis_server.auth.logins import SharedFailures
from ocis_server.config import Config
from ocis_server.events import EventBus
from ocis_server.services.context import ServiceContext

from .freshness import Freshness, forget_cached, storage_database
from .units import Unavailable
from .workerbus import RelayedBus, WorkerGroups
from .workerrole import WorkerRole


def worker_throttle(config: Config, role: WorkerRole | None) -> SharedFailures | None:
    if role is None or config.database_url:
        return None
    from ocis_server.auth.sqlitefailures import SqliteFailures

    return SqliteFailures(config.base_data_path / "idm" / "loginfailures.db")


def _forget(get: Any) -> Any:
    def forget() -> None:
        store = get()
        if not isinstance(store, Unavailable):
            forget_cached(store)
    return forget


def worker_freshness(config: Config, ctx: ServiceContext, names: Collection[str]) -> Freshness:
    """The databases whose caches live in this process: the storage's metadata.db (when the
    provider runs here) and the builtin user store's users.db."""
    freshness = Freshness()
    if "storage-users" in names:
        freshness.watch(config.users_root / "metadata.db", _forget(lambda: ctx.storage))
    if "users" in names and not config.ldap_uri and not config.database_url:
        freshness.watch(config.base_data_path / "idm" / "users.db", _forget(lambda: ctx.users))
    return freshness


async def worker_bus(config: Config, role: WorkerRole | None, freshness: Freshness | None,
                     bus: EventBus) -> EventBus:
    """Outside a worker: `bus`. In one: with NATS, `bus` with the background groups left to the
    primary; without, the relay between the workers (workerbus.py) in place of the in-process
    bus."""
    if role is None:
        return bus
    if not config.events_endpoint and role.hub:
        relayed = RelayedBus(role.hub, freshness.check if freshness is not None else lambda: None)
        await relayed.start()
        bus = relayed
    return WorkerGroups(bus, role)


__all__ = ["storage_database", "worker_bus", "worker_freshness", "worker_throttle"]
