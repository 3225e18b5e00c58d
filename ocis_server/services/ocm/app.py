"""The `ocm` aiohttp application. The service table mounts it at `/.well-known/ocm` and
`/ocm-provider` (discovery) and at `/ocm` (the server-to-server API); all are unauthenticated, as in
oCIS: a peer is recognised by the providers file, not by a login."""

from __future__ import annotations

from aiohttp import web

from ocis_server.config import ConfigError
from ocis_server.services.context import ServiceContext

from .config import CONFIG_KEY, OcmConfig
from .discovery import CAPABILITIES_KEY, discovery
from .errors import error_middleware
from .notifications import notify
from .providers import Providers, ProvidersFileError
from .shares import create_share

PROVIDERS_KEY = web.AppKey("ocm_providers", Providers)
DISCOVERY_MOUNTS = ("/.well-known/ocm", "/ocm-provider")
# The optional OCM endpoints (discovery `capabilities`) this app routes under /ocm (below): none
# is advertised that is not served.
CAPABILITIES: tuple[str, ...] = ("/notifications",)


def _providers(config: OcmConfig) -> Providers:
    try:
        return Providers(config.providers_file)
    except ProvidersFileError as exc:
        raise ConfigError(f"OCM_OCM_PROVIDER_AUTHORIZER_PROVIDERS_FILE: {exc}") from None


def create_app(ctx: ServiceContext, mount: str = "/ocm") -> web.Application:
    config = OcmConfig.from_context(ctx)
    app = web.Application(middlewares=[error_middleware])
    app[CONFIG_KEY] = config
    app[CAPABILITIES_KEY] = CAPABILITIES
    if mount in DISCOVERY_MOUNTS:
        app.router.add_get("", discovery)
        app.router.add_get("/", discovery)
        return app
    providers = _providers(config)
    app[PROVIDERS_KEY] = providers
    async def post_share(request: web.Request) -> web.Response:
        return await create_share(request, ctx, providers)

    async def post_notification(request: web.Request) -> web.Response:
        return await notify(request, ctx, providers)

    app.router.add_post("/shares", post_share)
    app.router.add_post("/notifications", post_notification)
    return app
