"""Storage providers in other processes.

Provider side: `InternalApi` serves storage/remote/server.py on STORAGE_USERS_HTTP_ADDR while
storage-users runs, when a registry can tell fronts about it (MICRO_REGISTRY other than memory)
or the address was set explicitly; the registry entry carries its URL and mount id.

Front side: `ProviderFinder` runs in a process without storage-users: it looks the providers up
in the registry (entries `storage-users` with metadata `internal` and `mount_id`), keeps one
RemoteStorage per mount id (its address updated when the provider comes back elsewhere) and
hands them to the services as the context's storage behind a StorageRouter (storage/router:
space registry, placement, fan-out), also when there is only one: listings stay 200 while it is
away. A provider that stops renewing keeps its RemoteStorage: its spaces answer 503 with
Retry-After until it is back."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from typing import Any, cast

from aiohttp import web

from ocis_server.config import Config, ConfigError, split_addr
from ocis_server.registry import Registry
from ocis_server.services.context import ServiceContext
from ocis_server.storage import Storage
from ocis_server.storage.remote.client import RemoteStorage
from ocis_server.storage.remote.server import internal_app
from ocis_server.storage.router import Placement, StorageRouter

from .providers import open_registry as open_space_registry

log = logging.getLogger("ocis.runtime")
SERVICE = "storage-users"
RETIRE_AFTER = 60.0      # seconds a replaced router's space registry stays open


def serves_internal_api(config: Config) -> bool:
    return config.registry != "memory" or config.origin("storage_users_http_addr").kind != "default"


def _listen(config: Config) -> socket.socket:
    """The internal API's socket. The default address someone else holds (a second provider
    or a full `ocis server` on the same host) gives way to any free port, as the registry
    carries the URL; an address set explicitly is an error when busy."""
    addr = config.storage_users_http_addr
    try:
        host, port = split_addr(addr)
    except ValueError as exc:
        raise ConfigError(f"invalid STORAGE_USERS_HTTP_ADDR {addr!r}: {exc}") from None
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family, backlog=512)
    except OSError as exc:
        if config.origin("storage_users_http_addr").kind != "default" or not port:
            raise ConfigError(f"cannot listen on {addr} (STORAGE_USERS_HTTP_ADDR): "
                              f"{exc.strerror or exc}") from None
        log.info("STORAGE_USERS_HTTP_ADDR %s is busy: the internal API takes a free port", addr)
        sock = socket.create_server((host, 0), family=family, backlog=512)
    sock.setblocking(False)
    return sock


class InternalApi:
    def __init__(self, runner: web.AppRunner, url: str) -> None:
        self._runner, self.url = runner, url

    @classmethod
    async def start(cls, config: Config, storage: Callable[[], Any]) -> InternalApi:
        if not config.machine_auth_api_key:
            raise ConfigError("the storage provider's internal API needs OCIS_MACHINE_AUTH_API_KEY, "
                              "which `ocis init` generates")
        sock = _listen(config)
        runner = web.AppRunner(internal_app(storage, config.machine_auth_api_key),
                               handle_signals=False, access_log=None)
        await runner.setup()
        try:
            await web.SockSite(runner, sock).start()
        except BaseException:
            await runner.cleanup()
            raise
        bound, port = sock.getsockname()[:2]
        bound = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(bound, bound)
        url = f"http://[{bound}]:{port}" if ":" in bound else f"http://{bound}:{port}"
        log.info("storage-users internal API listening on %s", url)
        return cls(runner, url)

    async def stop(self) -> None:
        await self._runner.cleanup()


class ProviderFinder:
    """Keeps `ctx.storage` on the providers the registry lists (see the module's text)."""

    def __init__(self, registry: Registry, ctx: ServiceContext, *, interval: float) -> None:
        self._registry, self._ctx, self._interval = registry, ctx, interval
        self.providers: dict[str, RemoteStorage] = {}    # mount id -> its client
        self._task: asyncio.Task[None] | None = None
        self._router: StorageRouter | None = None
        self._retired: set[asyncio.Future[None]] = set()

    async def refresh(self) -> None:
        try:
            entries = await self._registry.entries()
        except Exception as exc:      # noqa: BLE001 - the registry away: keep what is known
            log.warning("storage providers not looked up: %s", exc)
            return
        changed = False
        for entry in entries:
            url, mount = entry.metadata.get("internal"), entry.metadata.get("mount_id")
            if entry.name != SERVICE or not url or not mount:
                continue
            known = self.providers.get(mount)
            if known is not None and known.base_url == url:
                continue
            if known is not None:
                asyncio.ensure_future(known.close())
            log.info("storage provider %s found at %s", mount, url)
            self.providers[mount] = RemoteStorage(url, self._ctx.config.machine_auth_api_key,
                                                  mount)
            changed = True
        if changed:
            self._ctx.storage = await self._combined()

    async def _combined(self) -> Storage:
        """The providers behind a StorageRouter (its space registry on this front, or in
        PostgreSQL), the one of STORAGE_USERS_MOUNT_ID first (it keeps the per-user records).
        A single remote provider too: while it is away the router still lists its spaces
        (`/me/drives` and the share jail stay 200, the missing spaces marked) where the bare
        RemoteStorage could only answer 503. A new provider makes a new router; the old one's
        registry is closed once the requests still using it are done."""
        config = self._ctx.config
        ordered = sorted(self.providers.items(), key=lambda p: (p[0] != config.storage_id, p[0]))
        placement = Placement({"personal": config.storage_personal_mount_id,
                               "project": config.storage_project_mount_id})
        registry = await open_space_registry(config)
        try:
            router = await StorageRouter.open([(m, cast(Storage, p)) for m, p in ordered],
                                              registry, placement)
        except BaseException:
            await registry.close()
            raise
        if self._router is not None:
            self._retired.add(asyncio.ensure_future(_close_later(self._router.registry)))
        self._router = router
        log.info("storage router over the providers %s", ", ".join(m for m, _ in ordered))
        return router

    async def start(self) -> None:
        await self.refresh()
        self._task = asyncio.create_task(self._run(), name="storage-providers")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.refresh()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for storage in self.providers.values():
            await storage.close()
        self.providers.clear()
        for retired in self._retired:
            retired.cancel()
        if self._router is not None:
            await self._router.registry.close()
            self._router = None


async def _close_later(registry: Any) -> None:
    await asyncio.sleep(RETIRE_AFTER)
    await registry.close()
