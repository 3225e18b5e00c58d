"""The extra service's app: greets the caller; `/missing` raises a domain error."""

from __future__ import annotations

from aiohttp import web

from ocis_server.domain.errors import NotFound
from ocis_server.services.context import ServiceContext

from .errors import error_middleware


def create_app(ctx: ServiceContext, mount: str) -> web.Application:
    async def hello(request: web.Request) -> web.Response:
        user = request["principal"]
        return web.json_response({"mount": mount, "hello": user.username if user else None,
                                  "users": len(await ctx.users.list())})

    async def missing(request: web.Request) -> web.Response:
        raise NotFound("nothing here")

    app = web.Application(middlewares=[error_middleware])
    app.router.add_get("/hello", hello)
    app.router.add_get("/public/hello", hello)
    app.router.add_get("/missing", missing)
    return app
