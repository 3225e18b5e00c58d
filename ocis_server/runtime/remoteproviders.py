"""Storage providers in other processes.

Provider side: `InternalApi` serves storage/remote/server.py on STORAGE_USERS_HTTP_ADDR while
storage-users runs, when a registry can tell fronts about it (MICRO_REGISTRY other than memory)
or the address was set explicitly; the registry entry carries its URL and mount id.

Front side: `ProviderFinder` runs in a process without storage-users: it looks the providers up
in the registry (entries `storage-users` with metadata `internal` and `mount_id`), keeps one
RemoteStorage per mount id (its address updated when the provider comes back elsewhere) and
hands them to the services as the context's storage. A provider that stops renewing keeps its
RemoteStorage: its spaces answer 503 with Retry-After until it is back."""

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

log = logging.getLogger("ocis.runtime")
SERVICE = "storage-users"


def serves_internal_api(config: Config) -> bool:
    return config.registry != "memory" or config.origin("storage_users_http_addr").kind != "default"


class InternalApi:
    def __init__(self, runner: web.AppRunner, url: str) -> None:
        self._runner, self.url = runner, url

    @classmethod
    async def start(cls, config: Config, storage: Callable[[], Any]) -> InternalApi:
        if not config.machine_auth_api_key:
            raise ConfigError("the storage provider's internal API needs OCIS_MACHINE_AUTH_API_KEY, "
                              "which `ocis init` generates")
        addr = config.storage_users_http_addr
        try:
            host, port = split_addr(addr)
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            sock = socket.create_server((host, port), family=family, backlog=512)
        except ValueError as exc:
            raise ConfigError(f"invalid STORAGE_USERS_HTTP_ADDR {addr!r}: {exc}") from None
        except OSError as exc:
            raise ConfigError(f"cannot listen on {addr} (STORAGE_USERS_HTTP_ADDR): "
                              f"{exc.strerror or exc}") from None
        sock.setblocking(False)
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
            self._ctx.storage = self._combined()

    def _combined(self) -> Storage:
        """One provider as the storage; several behind the router when it is there."""
        mine = self.providers.get(self._ctx.config.storage_id)
        first = mine or next(iter(self.providers.values()))
        return cast(Storage, first)

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
