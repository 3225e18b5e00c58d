"""The `webfinger` aiohttp application, mounted at `/.well-known/webfinger`."""

from __future__ import annotations

from aiohttp import web

from ocis_server.services.context import ServiceContext

from .config import CONFIG_KEY, WebfingerConfig
from .errors import error_middleware
from .lookup import webfinger


def create_app(ctx: ServiceContext, mount: str = "/.well-known/webfinger") -> web.Application:
    app = web.Application(middlewares=[error_middleware])
    app[CONFIG_KEY] = WebfingerConfig.from_context(ctx)
    app.router.add_get("", webfinger)
    app.router.add_get("/", webfinger)
    return app
