"""The runtime control API (OCIS_RUNTIME_HOST:PORT, loopback) behind `ocis list` and `ocis health`,
and the per-service debug listeners (`<SERVICE>_DEBUG_ADDR`) with /healthz and /readyz.

Control API: GET /services -> [{"name","state","group","restarts","since","error","node","address"}]
(this node's services, then those other nodes registered: MICRO_REGISTRY=nats-js-kv);
GET /health -> {"status", "services": {name: "ok" | "degraded: why" | reason}}: 200 "healthy";
with a shared registry also `<name>@<node>` for every other node's instance, and for one that
stopped renewing its entry (killed, cut off: unhealthy until it or a newer instance registers);
503 "degraded" (serving, but a service waits for its disk, LDAP server or database: its requests
get 503 with Retry-After) or 503 "unhealthy" (a service failed or is not running);
GET /healthz (alive: nothing failed; a degraded process is alive) and GET /readyz (every service
ready or degraded: it takes traffic; the body says which services are degraded); GET /instance ->
{"url","listen","runtime","config_dir","data","started"}: which instance answered (also in /health).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from ocis_server.registry import MemoryRegistry, Registry

from .supervisor import State, Supervisor
from .units import Unit

SUPERVISOR: web.AppKey[Supervisor] = web.AppKey("supervisor", Supervisor)
Describe = Callable[[], dict[str, Any]]
INSTANCE: web.AppKey[Describe] = web.AppKey("instance")
REGISTRY: web.AppKey[Registry] = web.AppKey("registry")
NODE: web.AppKey[str] = web.AppKey("node")


async def _services(request: web.Request) -> web.Response:
    supervisor = request.app[SUPERVISOR]
    entries = await request.app[REGISTRY].entries()
    node = request.app[NODE]
    own = {e.name: e for e in entries if e.node == node}
    listed: list[dict[str, object]] = []
    for status in supervisor.status.values():
        entry = own.get(status.name)
        listed.append(status.as_json() | {"node": entry.node if entry else "",
                                          "address": entry.address if entry else ""})
    for entry in entries:             # the other nodes' instances, as they registered them
        if entry.node != node:
            listed.append({"name": entry.name, "state": entry.state, "group": None,
                           "restarts": 0, "since": "", "error": "", "node": entry.node,
                           "address": entry.address})
    return web.json_response(listed)


def overall(checks: dict[str, str]) -> str:
    """healthy | degraded | unhealthy, from the per-service results of `Supervisor.health`."""
    if all(v == "ok" for v in checks.values()):
        return "healthy"
    if all(v == "ok" or v.startswith("degraded:") for v in checks.values()):
        return "degraded"
    return "unhealthy"


async def _health(request: web.Request) -> web.Response:
    checks = await request.app[SUPERVISOR].health()
    checks.update(await _other_nodes(request.app[REGISTRY], request.app[NODE]))
    status = overall(checks)
    return web.json_response({"status": status, "services": checks,
                              "instance": request.app[INSTANCE]()},
                             status=200 if status == "healthy" else 503)


async def _other_nodes(registry: Registry, node: str) -> dict[str, str]:
    """`<service>@<node>` of the instances other nodes registered (MICRO_REGISTRY=nats-js-kv):
    "ok" when ready, "degraded: ..." when degraded, its state otherwise; and those that stopped
    renewing (not stopped cleanly), until they or a newer instance of the service register."""
    checks: dict[str, str] = {}
    for entry in await registry.entries():
        if entry.node != node:
            checks[f"{entry.name}@{entry.node}"] = (
                "ok" if entry.state == "ready" else
                f"degraded: on node {entry.node}" if entry.state == "degraded" else entry.state)
    for lost in registry.lost():
        when = datetime.fromtimestamp(lost.since, UTC).isoformat(timespec="seconds")
        checks[f"{lost.entry.name}@{lost.entry.node}"] = (
            f"stopped renewing its registration (gone since {when}; was at {lost.entry.address})")
    return checks


def _degraded(supervisor: Supervisor) -> dict[str, str]:
    return {s.name: s.error for s in supervisor.status.values() if s.state is State.DEGRADED}


async def _instance(request: web.Request) -> web.Response:
    return web.json_response(request.app[INSTANCE]())


async def _healthz(request: web.Request) -> web.Response:
    supervisor = request.app[SUPERVISOR]
    failed = [s.name for s in supervisor.status.values() if s.state is State.FAILED]
    if failed or supervisor.gave_up.is_set():
        return web.json_response({"status": "unhealthy", "failed": failed}, status=503)
    degraded = _degraded(supervisor)
    if degraded:
        return web.json_response({"status": "degraded", "degraded": degraded})
    return web.json_response({"status": "ok"})


async def _readyz(request: web.Request) -> web.Response:
    supervisor = request.app[SUPERVISOR]
    waiting = [s.name for s in supervisor.status.values()
               if s.state not in (State.READY, State.DEGRADED)]
    if waiting:
        return web.json_response({"status": "not ready", "waiting": waiting}, status=503)
    degraded = _degraded(supervisor)
    if degraded:
        return web.json_response({"status": "degraded", "degraded": degraded})
    return web.json_response({"status": "ready"})


def control_app(supervisor: Supervisor, instance: Describe,
                registry: Registry | None = None, node: str = "") -> web.Application:
    app = web.Application()
    app[SUPERVISOR] = supervisor
    app[REGISTRY] = registry or MemoryRegistry()
    app[NODE] = node
    app[INSTANCE] = instance
    app.router.add_get("/instance", _instance)
    app.router.add_get("/services", _services)
    app.router.add_get("/health", _health)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    return app


def debug_app(supervisor: Supervisor, unit: Unit) -> web.Application:
    """One service's debug listener; /healthz runs the service's real check; the proxy's also
    answers /replay: its replay lane's counters (replayed, recorded, stale, entries, bytes)."""
    name = unit.spec.name

    async def healthz(_: web.Request) -> web.Response:
        state = supervisor.status[name].state
        result = await supervisor.check(unit)
        if state in (State.FAILED, State.DEGRADED) or (state is State.READY and result != "ok"):
            return web.Response(status=503, text=f"{result}\n")     # degraded is not healthy
        return web.Response(text="OK\n")

    async def readyz(_: web.Request) -> web.Response:
        status = supervisor.status[name]
        if status.state is State.DEGRADED:
            return web.Response(text=f"DEGRADED: {status.error}\n")
        if status.state is not State.READY:
            return web.Response(status=503, text=f"{status.state.value}\n")
        return web.Response(text="OK\n")

    async def replay(_: web.Request) -> web.Response:
        memo = getattr(unit, "replay", None)      # the proxy's replay lane (replay.py)
        return web.json_response(memo.stats() if memo is not None else {})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    if hasattr(unit, "replay"):
        app.router.add_get("/replay", replay)
    return app
