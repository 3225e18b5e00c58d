"""The `auth-app` aiohttp application: `/tokens` relative to the `/auth-app` mount. It owns the app
token store (opened with the app, closed with it) and publishes it as `ctx.app_tokens`, where the
proxy's Basic authenticator finds it."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from ocis_server.identity.apptokens import AppTokenStore
from ocis_server.services.context import ServiceContext

from . import tokens
from .config import CONFIG_KEY, CONTEXT_KEY, AuthAppConfig
from .errors import error_middleware


def create_app(ctx: ServiceContext, mount: str = "/auth-app") -> web.Application:
    app = web.Application(middlewares=[error_middleware])
    app[CONTEXT_KEY] = ctx
    app[CONFIG_KEY] = config = AuthAppConfig.from_context(ctx)

    async def store(_: web.Application) -> AsyncIterator[None]:
        opened = await AppTokenStore.open(config.database)
        ctx.app_tokens = opened
        try:
            yield
        finally:
            if ctx.app_tokens is opened:
                ctx.app_tokens = None
            await opened.close()

    app.cleanup_ctx.append(store)
    app.router.add_post("/tokens", tokens.create_token)
    app.router.add_get("/tokens", tokens.list_tokens)
    app.router.add_delete("/tokens", tokens.delete_token)
    return app
