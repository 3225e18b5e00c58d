"""The `auth-app` aiohttp application: `/tokens` relative to the `/auth-app` mount. It owns the app
token store (opened with the app, closed with it; SQLite, or PostgreSQL with OCIS_DATABASE_URL)
and publishes it as `ctx.app_tokens`, where the proxy's Basic authenticator finds it."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from ocis_server.identity.apptokens import AppTokenRules, AppTokenStore
from ocis_server.services.context import ServiceContext

from . import tokens
from .config import CONFIG_KEY, CONTEXT_KEY, AuthAppConfig
from .errors import error_middleware


async def open_store(config: AuthAppConfig, database_url: str) -> AppTokenRules:
    """SQLite beside the node, or with OCIS_DATABASE_URL the tables every front node shares."""
    if database_url:
        from ocis_server.identity.pgapptokens import PostgresAppTokenStore   # psycopg, lazily

        return await PostgresAppTokenStore.open(database_url)
    return await AppTokenStore.open(config.database)


def create_app(ctx: ServiceContext, mount: str = "/auth-app") -> web.Application:
    app = web.Application(middlewares=[error_middleware])
    app[CONTEXT_KEY] = ctx
    app[CONFIG_KEY] = config = AuthAppConfig.from_context(ctx)

    async def store(_: web.Application) -> AsyncIterator[None]:
        opened = await open_store(config, ctx.config.database_url)
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
