"""One running node: selects services from the table, binds the listeners, wires the shared
ServiceContext, and runs the supervisor with the control API and the debug listeners beside it."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import socket
from collections.abc import Sequence
from typing import Any, cast

from aiohttp import web

from ocis_server.auth.logins import login_throttle
from ocis_server.config import Config, ConfigError, split_addr
from ocis_server.services import SERVICES, ServiceSpec
from ocis_server.services.context import ServiceContext

from .control import control_app, debug_app
from .listener import ProxyUnit, bind
from .supervisor import Supervisor
from .units import HttpUnit, Unavailable, Unit

log = logging.getLogger("ocis.runtime")


def select_services(config: Config, specs: Sequence[ServiceSpec] = SERVICES,
                    only: Sequence[str] | None = None) -> list[ServiceSpec]:
    """OCIS_RUN_SERVICES (exactly these), else defaults - OCIS_EXCLUDE_RUN_SERVICES +
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
        chosen = {s.name for s in specs if s.default}
        chosen = (chosen - set(config.exclude_run_services)) | set(config.add_run_services)
    return [spec for spec in specs if spec.name in chosen]


def _listen(addr: str, what: str) -> socket.socket:
    try:
        host, port = split_addr(addr)
        return bind(host, port)
    except ValueError as exc:
        raise ConfigError(f"invalid {what} address {addr!r}: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"cannot listen on {addr} ({what}): {exc.strerror or exc}") from None


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
                                       reserved=self._reserved_descriptors(specs)))
        known = {u.spec.name for u in units}
        missing = [s.name for s in specs if s.name not in known]
        if missing:
            raise ConfigError(f"service(s) {', '.join(missing)} cannot run in this process")
        return units

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
        specs = select_services(self.config, self._specs, self._only)
        config = self.config
        for spec in specs:
            for attr in spec.requires:
                if not getattr(config, attr):
                    raise ConfigError(f"{spec.name} needs {attr}, which `ocis init` generates: "
                                      "run it first")
        proxy_sock = None
        if any(s.entry for s in specs):
            proxy_sock = _listen(config.proxy_http_addr, "PROXY_HTTP_ADDR")
            self.url = _url(proxy_sock)
            if config.origin("ocis_url").kind == "default":
                config = dataclasses.replace(config, ocis_url=self.url)
        self.config = config
        try:
            control_sock = _listen(f"{config.runtime_host}:{config.runtime_port}", "OCIS_RUNTIME")
        except BaseException:
            if proxy_sock is not None:
                proxy_sock.close()
            raise
        self.runtime_url = _url(control_sock)
        names = {s.name for s in specs}
        self.ctx = ServiceContext(config,
                                  cast(Any, Unavailable("storage-users", here="storage-users" in names)),
                                  cast(Any, Unavailable("users", here="users" in names)),
                                  throttle=login_throttle(config))
        units = self._units(specs, self.ctx, proxy_sock)
        self.supervisor = Supervisor(units, backoff=config.restart_backoff,
                                     max_failures=config.max_failures,
                                     max_backoff=config.max_restart_backoff)
        try:
            await self._serve(control_app(self.supervisor), control_sock)
            for unit in units:
                addr = config.debug_addr(unit.spec.name)
                if addr:
                    await self._serve(debug_app(self.supervisor, unit),
                                      _listen(addr, f"{unit.spec.name} debug"))
            await self.supervisor.start()
        except BaseException:
            await self.stop()
            raise
        log.info("ocis ready: %s (runtime %s)", self.url or "no proxy", self.runtime_url)

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
        if self.supervisor is not None:
            await self.supervisor.stop()
        runners, self._runners = self._runners, []
        for runner in runners:
            await runner.cleanup()
