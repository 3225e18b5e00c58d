"""The runtime control API (OCIS_RUNTIME_HOST:PORT, loopback) behind `ocis list` and `ocis health`,
and the per-service debug listeners (`<SERVICE>_DEBUG_ADDR`) with /healthz and /readyz.

Control API: GET /services -> [{"name","state","group","restarts","since","error"}];
GET /health -> 200 {"status":"healthy","services":{name: "ok"|reason}} or 503 "unhealthy";
GET /healthz (alive: nothing failed) and GET /readyz (every service ready).
"""

from __future__ import annotations

from aiohttp import web

from .supervisor import State, Supervisor
from .units import Unit

SUPERVISOR: web.AppKey[Supervisor] = web.AppKey("supervisor", Supervisor)


async def _services(request: web.Request) -> web.Response:
    supervisor = request.app[SUPERVISOR]
    return web.json_response([s.as_json() for s in supervisor.status.values()])


async def _health(request: web.Request) -> web.Response:
    checks = await request.app[SUPERVISOR].health()
    healthy = all(v == "ok" for v in checks.values())
    return web.json_response({"status": "healthy" if healthy else "unhealthy", "services": checks},
                             status=200 if healthy else 503)


async def _healthz(request: web.Request) -> web.Response:
    supervisor = request.app[SUPERVISOR]
    failed = [s.name for s in supervisor.status.values() if s.state is State.FAILED]
    if failed or supervisor.gave_up.is_set():
        return web.json_response({"status": "unhealthy", "failed": failed}, status=503)
    return web.json_response({"status": "ok"})


async def _readyz(request: web.Request) -> web.Response:
    supervisor = request.app[SUPERVISOR]
    waiting = [s.name for s in supervisor.status.values() if s.state is not State.READY]
    if waiting:
        return web.json_response({"status": "not ready", "waiting": waiting}, status=503)
    return web.json_response({"status": "ready"})


def control_app(supervisor: Supervisor) -> web.Application:
    app = web.Application()
    app[SUPERVISOR] = supervisor
    app.router.add_get("/services", _services)
    app.router.add_get("/health", _health)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    return app


def debug_app(supervisor: Supervisor, unit: Unit) -> web.Application:
    """One service's debug listener; /healthz runs the service's real check."""
    name = unit.spec.name

    async def healthz(_: web.Request) -> web.Response:
        state = supervisor.status[name].state
        result = await supervisor.check(unit)
        if state is State.FAILED or (state is State.READY and result != "ok"):
            return web.Response(status=503, text=f"{result}\n")
        return web.Response(text="OK\n")

    async def readyz(_: web.Request) -> web.Response:
        if supervisor.status[name].state is not State.READY:
            return web.Response(status=503, text=f"{supervisor.status[name].state.value}\n")
        return web.Response(text="OK\n")

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app
