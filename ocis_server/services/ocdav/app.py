"""The ocdav aiohttp application: one per mount prefix, every DAV method dispatched from one
table to its module (Radicale-style one module per verb family).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from ocis_server.services.context import ServiceContext

from .config import CONFIG_KEY, CONTEXT_KEY, OcdavConfig
from .errors import DavError, error_middleware
from .locking import handle_lock, handle_unlock
from .propfind import handle_propfind
from .proppatch import handle_proppatch
from .status import handle_status
from .transfer import handle_get, handle_put
from .tree import handle_copy, handle_delete, handle_mkcol, handle_move

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
STATUS_MOUNTS = ("/status.php", "/status")


async def handle_options(request: web.Request) -> web.StreamResponse:
    """Answered without authentication (reva options.go); TUS is not advertised yet."""
    return web.Response(status=204, headers={
        "DAV": "1, 2",
        "Allow": ", ".join(METHODS),
        "MS-Author-Via": "DAV",
        "Accept-Ranges": "bytes",
    })


METHODS: dict[str, Handler] = {
    "OPTIONS": handle_options,
    "GET": handle_get,
    "HEAD": handle_get,
    "PUT": handle_put,
    "DELETE": handle_delete,
    "MKCOL": handle_mkcol,
    "COPY": handle_copy,
    "MOVE": handle_move,
    "PROPFIND": handle_propfind,
    "PROPPATCH": handle_proppatch,
    "LOCK": handle_lock,
    "UNLOCK": handle_unlock,
}


async def dispatch(request: web.Request) -> web.StreamResponse:
    handler = METHODS.get(request.method)
    if handler is None:
        raise DavError(405, f"{request.method} is not supported",
                       headers={"Allow": ", ".join(METHODS)})
    return await handler(request)


def create_app(ctx: ServiceContext, mount: str) -> web.Application:
    """The sub-application the runtime mounts at `mount` (see SERVICES in services/__init__)."""
    app = web.Application(middlewares=[error_middleware])
    app[CONTEXT_KEY] = ctx
    app[CONFIG_KEY] = OcdavConfig.from_config(ctx.config)
    if mount in STATUS_MOUNTS:
        app.router.add_get("", handle_status)
        app.router.add_get("/", handle_status)
    else:
        # Every path below the mount: namespaces.py maps the raw URL to (space, path).
        app.router.add_route("*", "", dispatch)
        app.router.add_route("*", "/{tail:[\\s\\S]*}", dispatch)
    return app
