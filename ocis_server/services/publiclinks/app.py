"""The `publiclinks` aiohttp application, mounted at `/s` (public, unprotected) and `/f` (private
links: the proxy authenticates)."""

from __future__ import annotations

from aiohttp import web

from ocis_server.auth.publiclink import LinkPasswords
from ocis_server.services import thumbnails
from ocis_server.services.context import ServiceContext

from .config import STATE_KEY, PagesState
from .errors import error_middleware
from .landing import download, landing, preview, unlock, upload
from .private import private_link

_TOKEN = "/{token:[A-Za-z0-9_-]{1,128}}"


def create_app(ctx: ServiceContext, mount: str = "/s") -> web.Application:
    app = web.Application(middlewares=[error_middleware])
    app[STATE_KEY] = PagesState(ctx, LinkPasswords(ctx.throttle))
    if mount == "/f":
        app.router.add_get("/{fileid}", private_link)
        return app
    app[STATE_KEY].previews = thumbnails.previews_for(app, ctx)
    app.router.add_get(_TOKEN, landing)
    app.router.add_get(_TOKEN + "/", landing)
    app.router.add_post(_TOKEN + "/unlock", unlock)
    app.router.add_get(_TOKEN + "/download", download)
    app.router.add_get(_TOKEN + "/preview", preview)
    app.router.add_post(_TOKEN + "/upload", upload)
    return app
