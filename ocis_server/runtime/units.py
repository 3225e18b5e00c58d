"""What the supervisor runs: one Unit per service, with start (ready when it returns), run (returns or
raises only when the service dies), check (health) and stop.

Storage and user store are opened here and handed to services through the shared ServiceContext;
HTTP services are sub-apps the proxy mounts. Modules named in the SERVICES table load lazily.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Callable
from typing import Any, Protocol, cast

from aiohttp import web

from ocis_server.domain.errors import BadGateway
from ocis_server.identity.builtin import BuiltinUserStore
from ocis_server.services import ServiceSpec
from ocis_server.services.context import ServiceContext

from .bootstrap import ensure_personal_spaces, ensure_users

log = logging.getLogger("ocis.runtime")
STORAGE_DRIVER = "ocis_server.storage.sqlite:SqliteStorage"


class Unit(Protocol):
    spec: ServiceSpec

    async def start(self) -> None: ...
    async def run(self) -> None: ...
    async def check(self) -> None: ...
    async def stop(self) -> None: ...


def load(reference: str) -> Any:
    """Import `module:attribute` lazily, so a missing optional service fails only when started."""
    module, _, attr = reference.partition(":")
    return getattr(importlib.import_module(module), attr)


class Unavailable:
    """Stands in for storage or users when that service does not run in this process."""

    def __init__(self, service: str) -> None:
        self._service = service

    def __getattr__(self, name: str) -> Any:
        raise BadGateway(f"the {self._service} service is not running on this node")


async def _forever() -> None:
    await asyncio.Event().wait()


class StorageUnit:
    """storage-users: the SQLite storage provider at <base>/storage/users."""

    def __init__(self, spec: ServiceSpec, ctx: ServiceContext) -> None:
        self.spec, self.ctx = spec, ctx
        self._storage: Any = None

    async def start(self) -> None:
        cls = load(STORAGE_DRIVER)
        root = self.ctx.config.base_data_path / "storage" / "users"
        self._storage = await cls.open(root, self.ctx.config.storage_id)
        await self._storage.check()
        self.ctx.storage = self._storage

    async def run(self) -> None:
        next_clean = 0.0
        while True:
            await asyncio.sleep(self.ctx.config.health_interval)
            await self.check()
            now = asyncio.get_running_loop().time()
            if now >= next_clean:   # expired upload sessions, at most every few minutes
                next_clean = now + min(300.0, max(1.0, self.ctx.config.upload_expiration / 4))
                await self._clean_uploads()

    async def _clean_uploads(self) -> None:
        try:
            count, freed = await self._storage.clean_uploads(expired_only=True)
        except Exception:
            log.exception("cleaning expired upload sessions failed")
            return
        if count:
            log.info("removed %d expired upload sessions (%d bytes)", count, freed)

    async def check(self) -> None:
        if self._storage is None:
            raise RuntimeError("storage is not open")
        await self._storage.check()

    async def stop(self) -> None:
        storage, self._storage = self._storage, None
        self.ctx.storage = cast(Any, Unavailable(self.spec.name))
        if storage is not None:
            await storage.close()


class UsersUnit:
    """users: the builtin user store at <base>/idm/users.db, bootstrapped with admin (and demo users)."""

    def __init__(self, spec: ServiceSpec, ctx: ServiceContext) -> None:
        self.spec, self.ctx = spec, ctx
        self._store: BuiltinUserStore | None = None

    async def start(self) -> None:
        store = await BuiltinUserStore.open(self.ctx.config.base_data_path / "idm" / "users.db")
        try:
            users = await ensure_users(store, self.ctx.config)
            if not isinstance(self.ctx.storage, Unavailable):
                await ensure_personal_spaces(self.ctx.storage, users)
        except BaseException:
            await store.close()
            raise
        self._store = store
        self.ctx.users = store

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.ctx.config.health_interval)
            await self.check()

    async def check(self) -> None:
        if self._store is None:
            raise RuntimeError("user store is not open")
        await self._store.count()

    async def stop(self) -> None:
        store, self._store = self._store, None
        self.ctx.users = cast(Any, Unavailable(self.spec.name))
        if store is not None:
            await store.close()


class HttpUnit:
    """A service that is an aiohttp sub-app (ocdav, frontend, graph): ready when its apps build;
    healthy while the running proxy has them mounted."""

    def __init__(self, spec: ServiceSpec, ctx: ServiceContext) -> None:
        self.spec, self.ctx = spec, ctx
        self._factory: Callable[[ServiceContext, str], web.Application] | None = None
        self._fresh: list[tuple[str, web.Application]] = []
        self.proxied = False     # a proxy in this process mounts it
        self.mounted = False

    async def start(self) -> None:
        if not self.spec.app:
            raise RuntimeError(f"service {self.spec.name} has no app")
        self._factory = load(self.spec.app)
        self._fresh = self._build()

    def _build(self) -> list[tuple[str, web.Application]]:
        assert self._factory is not None
        return [(mount, self._factory(self.ctx, mount)) for mount in self.spec.mounts]

    def apps(self) -> list[tuple[str, web.Application]]:
        """Apps for a (re)starting proxy: an aiohttp app can be mounted only once."""
        apps, self._fresh = (self._fresh or self._build()), []
        return apps

    async def run(self) -> None:
        await _forever()

    async def check(self) -> None:
        if self._factory is None:
            raise RuntimeError("not started")
        if self.proxied and not self.mounted:
            raise RuntimeError("not mounted in the proxy")

    async def stop(self) -> None:
        self._factory, self._fresh, self.mounted = None, [], False


UnitFactory = Callable[[ServiceSpec, ServiceContext], Unit]
UNITS: dict[str, UnitFactory] = {"storage-users": StorageUnit, "users": UsersUnit}
