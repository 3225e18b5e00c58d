"""What the supervisor runs: one Unit per service, with start (ready when it returns), run (returns or
raises only when the service dies), check (health) and stop.

Storage and user store are opened here and handed to services through the shared ServiceContext;
HTTP services are sub-apps the proxy mounts. The SERVICES table names the unit class of each other
service (and the store driver it opens); they load lazily.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, cast

from aiohttp import web

from ocis_server.domain.errors import BadGateway, ServiceUnavailable
from ocis_server.identity.publishing import PublishingUserStore
from ocis_server.services import ServiceSpec
from ocis_server.services.context import ServiceContext
from ocis_server.storage.database import read_only_folder

from .bootstrap import ensure_personal_spaces, ensure_users
from .providers import open_router, several
from .remoteproviders import InternalApi, serves_internal_api
from .workerrole import WorkerRole

log = logging.getLogger("ocis.runtime")
RETIRE_AFTER = 60.0    # seconds a replaced storage stays open for the requests still using it


class Unit(Protocol):
    spec: ServiceSpec

    async def start(self) -> None: ...
    async def run(self) -> None: ...
    async def check(self) -> None: ...
    async def stop(self) -> None: ...


class Unavailable:
    """Stands in for storage or users when that service does not run in this process (502), or
    runs here but is not open right now (`here`: degraded or restarting, 503 with Retry-After),
    or runs on another node not found yet (`waiting`: why, 503 with Retry-After)."""

    def __init__(self, service: str, *, here: bool = False, waiting: str = "") -> None:
        self._service = service
        self._here = here
        self._waiting = waiting

    def __getattr__(self, name: str) -> Any:
        if self._waiting:
            raise ServiceUnavailable(self._waiting, retry_after=2.0)
        if self._here:
            raise ServiceUnavailable(f"the {self._service} service is unavailable right now; "
                                     f"it is being started again")
        raise BadGateway(f"the {self._service} service is not running on this node")


def background_here() -> bool:
    """Whether this process runs the once-per-node rounds: yes unless it is a worker other than
    the primary (OCIS_WORKERS > 1, runtime/workers.py)."""
    role = WorkerRole.from_env()
    return role is None or role.primary


async def _forever() -> None:
    await asyncio.Event().wait()


class StorageUnit:
    """storage-users: the storage provider its spec's driver names, in its data folder
    (STORAGE_USERS_OCIS_ROOT, by default <base>/storage/users).

    On a read-only data folder it opens in read-only mode: reads are served, writes answer 503
    with Retry-After, and the unit is degraded (`ocis health`). Each health check looks at the
    folder again; once it takes writes the storage is opened read-write in place of the
    read-only one, without a restart. A full data disk is degraded too (writes answer 507,
    reads and deletes go on), until the storage's probe finds room again."""

    def __init__(self, spec: ServiceSpec, ctx: ServiceContext) -> None:
        self.spec, self.ctx = spec, ctx
        self._storage: Any = None
        self.read_only = ""            # why the storage is read-only; "" when it is not
        self._retired: dict[asyncio.Task[None], Any] = {}   # replaced storages, closing soon
        self._internal: InternalApi | None = None     # STORAGE_USERS_HTTP_ADDR while served

    @property
    def _root(self) -> Path:
        return self.ctx.config.users_root

    async def start(self) -> None:
        root = self._root
        routed = several(self.ctx.config)     # several providers: read-only mode is not offered
        read_only = not routed and (root / "metadata.db").exists() and read_only_folder(root)
        if read_only:
            self.read_only = (f"read-only mode: the data folder {root} is read-only; reads are "
                              f"served, writes answer 503 until it takes writes again")
            log.warning("storage-users starts in %s", self.read_only)
        self._storage = await self._open(read_only=read_only)
        await self._storage.check()
        if routed:
            primary = self._storage
            try:
                self._storage = await open_router(
                    self.ctx.config, primary,
                    lambda folder, mount: self._open(read_only=False, root=folder, mount=mount))
            except BaseException:
                await primary.close()
                raise
        self.ctx.storage = self._storage
        if self._internal is None and serves_internal_api(self.ctx.config) and background_here():
            self._internal = await InternalApi.start(self.ctx.config, lambda: self._storage)

    def endpoint(self) -> dict[str, str] | None:
        """What the registry entry carries for fronts on other nodes: the internal API's URL
        and the storage id (STORAGE_USERS_MOUNT_ID)."""
        if self._internal is None:
            return None
        return {"internal": self._internal.url, "mount_id": self.ctx.config.storage_id}

    async def _open(self, *, read_only: bool, root: Path | None = None,
                    mount: str | None = None) -> Any:
        cls = self.spec.resolve("driver")
        storage = await cls.open(
            root or self._root, mount or self.ctx.config.storage_id,
            free_space_reserve=max(0, self.ctx.config.free_space_reserve),
            personal_quota=max(0, self.ctx.config.personal_spaces_default_quota),
            **({"read_only": True} if read_only else {}),
            # settings values and signing keys belong with the user: shared by every front node
            **({"database_url": self.ctx.config.database_url}
               if self.ctx.config.database_url else {}))
        storage.publish_to(self.ctx.events.publish)     # committed changes -> the event bus
        return storage

    async def _leave_read_only_mode(self) -> None:
        """The folder takes writes again: open the storage read-write and hand it to the
        services; the read-only one closes once the requests still using it are done."""
        writable = await self._open(read_only=False)
        old, self._storage = self._storage, writable
        self.ctx.storage = writable
        self.read_only = ""
        log.warning("storage-users: the data folder %s takes writes again; read-only mode "
                    "ended", self._root)
        task = asyncio.ensure_future(self._close_later(old))
        self._retired[task] = old
        task.add_done_callback(lambda done: self._retired.pop(done, None))

    @staticmethod
    async def _close_later(storage: Any) -> None:
        await asyncio.sleep(RETIRE_AFTER)
        await storage.close()

    async def run(self) -> None:
        if self.read_only:             # degraded from the start: health says why
            raise ServiceUnavailable(self.read_only)
        next_clean = 0.0
        while True:
            await asyncio.sleep(self.ctx.config.health_interval)
            await self.check()
            now = asyncio.get_running_loop().time()
            if now >= next_clean and background_here():   # expired upload sessions, at most every few minutes
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
        if self.read_only and not read_only_folder(self._root):
            await self._leave_read_only_mode()
        await self._storage.check()
        if self.read_only:
            raise ServiceUnavailable(self.read_only)
        if getattr(self._storage, "disk_full", False):
            raise ServiceUnavailable("the data disk is full: reads and deletes are served, "
                                     "writes answer 507 until space is freed")

    async def stop(self) -> None:
        internal, self._internal = self._internal, None
        if internal is not None:
            await internal.stop()
        storage, self._storage = self._storage, None
        self.ctx.storage = cast(Any, Unavailable(self.spec.name, here=True))
        retired, self._retired = self._retired, {}
        for task, old in retired.items():
            task.cancel()
            await old.close()
        if storage is not None:
            await storage.close()


class UsersUnit:
    """users: the user store. The builtin one (its spec's driver) at <base>/idm/users.db, bootstrapped with the admin
    (and demo users); with OCIS_DATABASE_URL the same in PostgreSQL (identity/pgstore.py); or, with OCIS_LDAP_URI, an external directory read through ldap3. Every user
    gets a personal space at start, and one who appears later within a health interval.
    """

    def __init__(self, spec: ServiceSpec, ctx: ServiceContext) -> None:
        self.spec, self.ctx = spec, ctx
        self._store: Any = None
        self._known: set[str] = set()      # users whose personal space is known to exist

    async def start(self) -> None:
        config = self.ctx.config
        if config.ldap_uri:
            store = await _open_ldap(config)
        elif config.database_url:
            store = await _open_postgres(config.database_url)
        else:
            store = await self.spec.resolve("driver").open(config.base_data_path / "idm" / "users.db")
        try:
            if config.ldap_uri:
                if config.create_demo_users:
                    log.warning("IDM_CREATE_DEMO_USERS is ignored: users come from %s",
                                config.ldap_uri)
                users = await store.list()
            else:
                users = await ensure_users(store, config)
            await self._ensure_spaces(users)
        except BaseException:
            await store.close()
            raise
        self._store = store
        self.ctx.users = cast(Any, PublishingUserStore(store, self.ctx.events.publish))

    async def _ensure_spaces(self, users: list[Any]) -> None:
        if isinstance(self.ctx.storage, Unavailable):
            return
        fresh = [u for u in users if u.id not in self._known]
        if fresh:
            await ensure_personal_spaces(self.ctx.storage, fresh)
            self._known.update(u.id for u in fresh)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.ctx.config.health_interval)
            await self.check()
            # Accounts made elsewhere (the directory, auto-provisioning) get their spaces here.
            if self._store is not None and background_here():
                users = await self._store.list()      # the directory away: degraded
                try:
                    await self._ensure_spaces(users)
                except (BadGateway, ServiceUnavailable) as exc:   # storage away: next round
                    log.warning("personal spaces not checked: %s", exc.message)

    async def check(self) -> None:
        if self._store is None:
            raise RuntimeError("user store is not open")
        await self._store.check()

    async def stop(self) -> None:
        store, self._store = self._store, None
        self.ctx.users = cast(Any, Unavailable(self.spec.name, here=True))
        if store is not None:
            await store.close()


async def _open_postgres(url: str) -> Any:
    """The user store in PostgreSQL, imported only when configured (psycopg is loaded lazily)."""
    from ocis_server.identity.pgstore import PostgresUserStore

    return await PostgresUserStore.open(url)


async def _open_ldap(config: Any) -> Any:
    """The LDAP user source, imported only when configured (ldap3 is not needed otherwise)."""
    from ocis_server.identity.ldap import LdapUserStore
    from ocis_server.identity.ldapconn import LdapSettings

    return await LdapUserStore.open(LdapSettings.from_config(config),
                                    config.base_data_path / "idm" / "ldap-local.db",
                                    config.database_url)


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
        self._factory = self.spec.resolve("app")
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


class IdmUnit:
    """idm: the LDAP server its spec's driver names (services/idm/server.py) over whatever user
    store runs."""

    def __init__(self, spec: ServiceSpec, ctx: ServiceContext) -> None:
        self.spec, self.ctx = spec, ctx
        self.server: Any = None          # IdmServer; tests read its ldaps_port / ldap_port

    async def start(self) -> None:
        server = self.spec.resolve("driver")(self.ctx)
        await server.start()
        self.server = server

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.ctx.config.health_interval)
            await self.check()

    async def check(self) -> None:
        if self.server is None:
            raise RuntimeError("not started")
        self.server.check()

    async def stop(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            await server.stop()


UnitFactory = Callable[[ServiceSpec, ServiceContext], Unit]   # what a spec's `unit` names
