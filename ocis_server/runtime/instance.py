"""One running node: selects services from the table, binds the listeners, wires the shared
ServiceContext, and runs the supervisor with the control API and the debug listeners beside it."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import socket
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

from aiohttp import web

from ocis_server.auth.logins import login_throttle
from ocis_server.config import Config, ConfigError, split_addr
from ocis_server.config.ports import (
    STATE_FILE,
    configured_http_port,
    remove_state,
    with_derived_ports,
    write_state,
)
from ocis_server.services import SERVICES, ServiceSpec
from ocis_server.registry import Registry
from ocis_server.registry.lookup import Lookup
from ocis_server.services.context import ServiceContext
from ocis_server.sharing.events import settled as sharing_settled

from .control import control_app, debug_app
from .eventbus import close_bus, open_bus
from .forward import Forwarder
from .lifecycle import announce, free_if_busy, listeners
from .nodes import local_entries, node_name, open_registry
from .remoteproviders import ProviderFinder
from .listener import ProxyUnit, bind
from .supervisor import Supervisor
from .units import HttpUnit, Unavailable, Unit
from .workerrole import HEADER, ONLY_PRIMARY_SERVICES, WorkerRole
from .workerstate import worker_bus, worker_freshness, worker_throttle

log = logging.getLogger("ocis.runtime")
LOOKUP_TTL = 3.0     # seconds the proxy keeps the registry's list of other nodes' services


def select_services(config: Config, specs: Sequence[ServiceSpec] = SERVICES,
                    only: Sequence[str] | None = None) -> list[ServiceSpec]:
    """OCIS_RUN_SERVICES (exactly these), else defaults (and the services whose `enabled_by`
    setting is true, e.g. ocm with OCIS_ENABLE_OCM) - OCIS_EXCLUDE_RUN_SERVICES +
    OCIS_ADD_RUN_SERVICES. `only` (`ocis <svc> server`) runs the named services with what they
    depend on, plus the entry point (the proxy) when they are HTTP services: in one process the proxy
    is their listener."""
    table = {spec.name: spec for spec in specs}
    for source, names in (("OCIS_RUN_SERVICES", config.run_services),
                          ("OCIS_EXCLUDE_RUN_SERVICES", config.exclude_run_services),
                          ("OCIS_ADD_RUN_SERVICES", config.add_run_services), ("server", only or ())):
        unknown = [n for n in names if n not in table]
        if unknown:
            raise ConfigError(f"unknown service(s) in {source}: {', '.join(unknown)} "
                              f"(known: {', '.join(table)})")
    if only:
        chosen: set[str] = set()
        todo = list(only)
        while todo:
            name = todo.pop()
            if name not in chosen:
                chosen.add(name)
                todo.extend(d for d in table[name].depends if not table[name].entry)
        if any(table[n].app for n in chosen):
            chosen.update(s.name for s in specs if s.entry)
    elif config.run_services:
        chosen = set(config.run_services)
    else:
        chosen = {s.name for s in specs
                  if s.default or (s.enabled_by and getattr(config, s.enabled_by, False) is True)}
        chosen = (chosen - set(config.exclude_run_services)) | set(config.add_run_services)
    return [spec for spec in specs if spec.name in chosen]


def _listen(addr: str, what: str, *, reuse_port: bool = False) -> socket.socket:
    try:
        host, port = split_addr(addr)
        return bind(host, port, reuse_port=reuse_port)
    except ValueError as exc:
        raise ConfigError(f"invalid {what} address {addr!r}: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"cannot listen on {addr} ({what}): {exc.strerror or exc}") from None


def _control_socket(config: Config, role: WorkerRole | None = None) -> socket.socket:
    """The control API's socket; a derived port (see config.ports) someone else holds gives way
    to any free port, an explicitly configured one is an error. A worker other than the
    primary has its own on any free port (`ocis list` and `ocis health` reach the primary)."""
    if role is not None and not role.primary:
        return _listen(f"{config.runtime_host}:0", "OCIS_RUNTIME")
    addr = f"{config.runtime_host}:{config.runtime_port}"
    try:
        return _listen(addr, "OCIS_RUNTIME")
    except ConfigError:
        if config.origin("runtime_port").kind != "default" or not config.runtime_port:
            raise
    return _listen(f"{config.runtime_host}:0", "OCIS_RUNTIME")


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class Runtime:
    def __init__(self, config: Config, *, only: Sequence[str] | None = None,
                 specs: Sequence[ServiceSpec] = SERVICES) -> None:
        self.config = config
        self._only = only
        self._specs = specs
        self._runners: list[web.AppRunner] = []
        self._stop = asyncio.Event()
        self.url = ""            # public (proxy) base URL, "" when no proxy runs here
        self.runtime_url = ""
        self.supervisor: Supervisor | None = None
        self.ctx: ServiceContext | None = None
        self.registry: Registry | None = None
        self.node = node_name()                     # host-pid: this node in the registry
        self.providers: ProviderFinder | None = None    # storage providers of other nodes
        self._debug: list[tuple[str, str]] = []     # (service, URL) of each debug listener
        self._t0 = time.monotonic()
        self.started = datetime.now(UTC).isoformat(timespec="seconds")
        self.role = WorkerRole.from_env()           # one of several workers (OCIS_WORKERS)
        self.freshness: Any = None                  # freshness.Freshness in a worker

    def _units(self, specs: list[ServiceSpec], ctx: ServiceContext,
               proxy_sock: socket.socket | None) -> list[Unit]:
        units: list[Unit] = []
        http_units: list[HttpUnit] = []
        for spec in specs:
            if spec.unit:
                units.append(spec.resolve("unit")(spec, ctx))
            elif spec.app:
                unit = HttpUnit(spec, ctx)
                http_units.append(unit)
                units.append(unit)
        for spec in specs:
            if spec.entry:
                assert proxy_sock is not None
                for unit in http_units:
                    unit.proxied = True
                units.append(ProxyUnit(spec, ctx, http_units, proxy_sock,
                                       reserved=self._reserved_descriptors(specs),
                                       **self._elsewhere(specs), **self._worker_hooks()))
        known = {u.spec.name for u in units}
        missing = [s.name for s in specs if s.name not in known]
        if missing:
            raise ConfigError(f"service(s) {', '.join(missing)} cannot run in this process")
        return units

    def _elsewhere(self, specs: Sequence[ServiceSpec]) -> dict[str, Any]:
        """With a shared registry (MICRO_REGISTRY=nats-js-kv), the proxy forwards the HTTP services
        of the instance (default ones, and those enabled, e.g. ocm with OCIS_ENABLE_OCM) that do
        not run here to a node that registered them (forward.py)."""
        if self.config.registry == "memory" or self.registry is None:
            return {}
        here = {s.name for s in specs}
        config = self.config
        remote = [s for s in self._specs if s.app and s.mounts and s.name not in here
                  and (s.default or (s.enabled_by and getattr(config, s.enabled_by) is True))]
        lookup = Lookup(self.registry, node=self.node, ttl=LOOKUP_TTL,
                        dead_for=max(1.0, self.config.register_ttl))
        return {"remote": remote,
                "forwarder": Forwarder(lookup, self.node, lambda route, request, error:
                                       route.render(error, request),
                                       secret=config.machine_auth_api_key,
                                       trusted_proxies=config.trusted_proxies,
                                       connect_timeout=config.proxy_forward_connect_timeout,
                                       read_timeout=config.proxy_forward_read_timeout)}

    def _worker_hooks(self) -> dict[str, Any]:
        """A worker's proxy checks the shared databases before each request (freshness.py)
        and, with OCIS_WORKERS_DEBUG, names itself in every answer."""
        if self.role is None:
            return {}
        header = (HEADER, str(self.role.index)) if self.config.workers_debug else None
        return {"freshness": self.freshness, "header": header}

    def _reserved_descriptors(self, specs: Sequence[ServiceSpec]) -> int:
        """Descriptors the proxy's client connections must leave free: the reserve for files,
        SQLite and the LDAP client, plus the idm listener's connections when it runs here."""
        idm = self.config.idm_max_connections if any(s.name == "idm" for s in specs) else 0
        return max(0, self.config.proxy_reserved_descriptors) + max(0, idm)

    async def _serve(self, app: web.Application, sock: socket.socket) -> None:
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        self._runners.append(runner)
        await web.SockSite(runner, sock).start()

    async def start(self) -> None:
        """Bind every listener (fail fast on a busy port), then start the services in order."""
        self._t0 = time.monotonic()
        self.started = datetime.now(UTC).isoformat(timespec="seconds")
        specs = select_services(self.config, self._specs, self._only)
        if self.role is not None and not self.role.primary:
            specs = [s for s in specs if s.name not in ONLY_PRIMARY_SERVICES]
        config = self.config
        for spec in specs:
            for attr in spec.requires:
                if not getattr(config, attr):
                    raise ConfigError(f"{spec.name} needs {attr}, which `ocis init` generates: "
                                      "run it first")
        proxy_sock = None
        http_port = configured_http_port(config)
        if any(s.entry for s in specs):
            proxy_sock = _listen(config.proxy_http_addr, "PROXY_HTTP_ADDR",
                                 reuse_port=self.role is not None)
            self.url = _url(proxy_sock)
            http_port = proxy_sock.getsockname()[1]
            if config.origin("ocis_url").kind == "default":
                config = dataclasses.replace(config, ocis_url=self.url)
        config = with_derived_ports(config, http_port)
        try:
            control_sock = _control_socket(config, self.role)
        except BaseException:
            if proxy_sock is not None:
                proxy_sock.close()
            raise
        self.runtime_url = _url(control_sock)
        self.config = config = free_if_busy(config, control_sock.getsockname()[1])
        names = {s.name for s in specs}
        self.ctx = ServiceContext(config,
                                  cast(Any, Unavailable("storage-users", here="storage-users" in names)),
                                  cast(Any, Unavailable("users", here="users" in names)),
                                  throttle=login_throttle(config, worker_throttle(config, self.role)))
        self.registry = self.ctx.registry = open_registry(config)
        if self.role is not None:
            self.freshness = worker_freshness(config, self.ctx, names)
        self.ctx.events = await worker_bus(config, self.role, self.freshness,
                                           await open_bus(config, self.node))
        if config.enable_ocm or "ocm" in names:     # the front ends share with `user@domain`
            from ocis_server.services.ocm.peer import OcmPeer
            self.ctx.ocm = OcmPeer.from_context(self.ctx)
        if "storage-users" not in names and config.registry != "memory":
            self.providers = ProviderFinder(self.registry, self.ctx,
                                            interval=min(2.0, max(0.2, config.register_interval)))
            self.ctx.storage = cast(Any, Unavailable(
                "storage-users", waiting="no storage provider is registered yet; try again "
                "shortly"))
        units = self._units(specs, self.ctx, proxy_sock)
        self.supervisor = Supervisor(units, backoff=config.restart_backoff,
                                     max_failures=config.max_failures,
                                     max_backoff=config.max_restart_backoff)
        try:
            node = self.node
            await self._serve(control_app(self.supervisor, self.instance, self.registry, node),
                              control_sock)
            for unit in units:
                addr = config.debug_addr(unit.spec.name)
                if addr:
                    sock = _listen(addr, f"{unit.spec.name} debug")
                    await self._serve(debug_app(self.supervisor, unit), sock)
                    self._debug.append((unit.spec.name, _url(sock)))
            if self.providers is not None:
                await self.providers.start()
            await self.supervisor.start()
            http, runtime, supervisor = self.url, self.runtime_url, self.supervisor
            await self.registry.start(lambda: local_entries(supervisor, node, http, runtime))
        except BaseException:
            await self.stop()
            raise
        self._announce(units)

    def instance(self) -> dict[str, Any]:
        """Which instance this is: what `ocis health` and `ocis list` print about what they reached."""
        host, port = split_addr(self.runtime_url.removeprefix("http://"))
        return {"url": self.config.ocis_url, "listen": self.url or None,
                "runtime": f"{host}:{port}", "config_dir": str(self.config.config_dir),
                "data": str(self.config.base_data_path), "started": self.started}

    def _announce(self, units: Sequence[Unit]) -> None:
        """One line per listener, then "ready"; and the record `ocis health` finds this by."""
        worker = "" if self.role is None else f"worker {self.role.index}: "
        for name, url, note in listeners(self.config, self.runtime_url, units, self._debug):
            announce.info("%s%s listening on %s%s", worker, name, url, note)
        record = self.instance()
        primary = self.role is None or self.role.primary   # the primary's record is the instance's
        if primary and not write_state(self.config.config_dir, record):
            log.warning("cannot write %s: `ocis health` finds this instance only with "
                        "OCIS_RUNTIME_PORT=%s", self.config.config_dir / STATE_FILE,
                        record["runtime"].rpartition(":")[2])
        assert self.supervisor is not None
        elapsed = time.monotonic() - self._t0
        announce.info("%sready: %d services in %.1fs, %s (config %s)", worker,
                      len(self.supervisor.status),
                      elapsed, self.config.ocis_url if self.url else "no HTTP listener",
                      self.config.config_dir)

    def request_stop(self) -> None:
        self._stop.set()

    async def wait(self) -> int:
        """Block until a stop is requested (0) or the supervisor gave up (1)."""
        assert self.supervisor is not None
        stop = asyncio.create_task(self._stop.wait())
        gave_up = asyncio.create_task(self.supervisor.gave_up.wait())
        await asyncio.wait({stop, gave_up}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        gave_up.cancel()
        return 1 if self.supervisor.gave_up.is_set() else 0

    async def stop(self) -> None:
        if self.role is None or self.role.primary:
            remove_state(self.config.config_dir)
        await sharing_settled()     # sharing changes whose request went away end and publish
        if self.registry is not None:
            await self.registry.close()
        if self.supervisor is not None:
            await self.supervisor.stop()
        if self.providers is not None:
            await self.providers.close()
        if self.ctx is not None:
            await close_bus(self.ctx.events)
            await self.ctx.throttle.close()      # its PostgreSQL pool, with OCIS_DATABASE_URL
        runners, self._runners = self._runners, []
        for runner in runners:
            await runner.cleanup()
        if self.freshness is not None:
            self.freshness.close()
