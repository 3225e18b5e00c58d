"""The `ocm` aiohttp application. The service table mounts it at `/.well-known/ocm` and
`/ocm-provider` (discovery) and at `/ocm` (the server-to-server API), all unauthenticated as in
oCIS (a peer is recognised by the providers file, not by a login), and at `/sciencemesh` (the
invitation endpoints of our signed-in users, invites.py)."""

from __future__ import annotations

from aiohttp import web

from ocis_server.config import ConfigError
from ocis_server.services.context import ServiceContext

from .config import CONFIG_KEY, OcmConfig
from .discovery import CAPABILITIES_KEY, discovery
from .eventstream import ShareStreams, share_events
from .client import OcmClient
from .errors import error_middleware
from .forwarding import RemoteSpaceGateway
from .invites import Invitations
from .notifications import notify
from .providers import Providers, ProvidersFileError
from .shares import create_share
from .subscriptions import Subscriptions

PROVIDERS_KEY = web.AppKey("ocm_providers", Providers)
DISCOVERY_MOUNTS = ("/.well-known/ocm", "/ocm-provider")
# The optional OCM endpoints (discovery `capabilities`) this app routes under /ocm (below): none
# is advertised that is not served.
CAPABILITIES: tuple[str, ...] = ("/invite-accepted", "/notifications")


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
    invitations = _invitations(app, ctx, config, providers)
    if mount == "/sciencemesh":
        _sciencemesh_routes(app, invitations)
        return app
    async def post_share(request: web.Request) -> web.Response:
        return await create_share(request, ctx, providers)

    async def post_notification(request: web.Request) -> web.Response:
        return await notify(request, ctx, providers)

    streams = ShareStreams()

    async def get_share_events(request: web.Request) -> web.StreamResponse:
        return await share_events(request, ctx, streams)

    async def end_streams(_: web.Application) -> None:
        streams.close_all()          # open streams end, so shutdown does not wait for them

    app.on_shutdown.append(end_streams)

    app.router.add_post("/shares", post_share)
    app.router.add_get("/shares/{share_id}/events", get_share_events)
    app.router.add_post("/notifications", post_notification)
    app.router.add_post("/invite-accepted", invitations.invite_accepted)
    _serve_remote_spaces(ctx, app, config, providers)
    return app


def _serve_remote_spaces(ctx: ServiceContext, app: web.Application, config: OcmConfig,
                         providers: Providers) -> None:
    """Remote spaces for the WebDAV and Graph front ends of this process: their traffic to the
    sharers goes through this service's client (OCM_OCM_STORAGE_PROVIDER_INSECURE)."""
    client = OcmClient(providers, insecure=config.storage_insecure,
                       connect_timeout=config.connect_timeout, timeout=config.timeout,
                       max_response_size=config.max_response_size)
    gateway = RemoteSpaceGateway(providers, client, stream_timeout=config.timeout)
    ctx.remote_spaces = gateway
    # The event streams of the remote spaces hold a connection each: their own session.
    streams = OcmClient(providers, insecure=config.storage_insecure,
                        connect_timeout=config.connect_timeout, timeout=config.timeout,
                        max_response_size=config.max_response_size, per_host=0)
    subscriptions = Subscriptions(ctx, providers, streams, gateway)

    async def start(_: web.Application) -> None:
        await subscriptions.start()

    async def stop(_: web.Application) -> None:
        await subscriptions.stop()

    async def close(_: web.Application) -> None:
        ctx.remote_spaces = None
        await client.close()
        await streams.close()

    app.on_startup.append(start)
    app.on_shutdown.append(stop)
    app.on_cleanup.append(close)


def _invitations(app: web.Application, ctx: ServiceContext, config: OcmConfig,
                 providers: Providers) -> Invitations:
    """The invitation handlers, with the invite manager's client (closed with the app)."""
    client = OcmClient(providers, insecure=config.invite_insecure,
                       connect_timeout=config.connect_timeout, timeout=config.timeout,
                       max_response_size=config.max_response_size)

    async def close(_: web.Application) -> None:
        await client.close()

    app.on_cleanup.append(close)
    return Invitations(ctx, config, providers, client, config.invite_lifetime)


def _sciencemesh_routes(app: web.Application, invitations: Invitations) -> None:
    """reva's sciencemesh handlers oCIS serves for its web UI (generate-invite is GET there,
    POST from the acceptance tests: both)."""
    add = app.router.add_route
    for method in ("GET", "POST"):
        add(method, "/generate-invite", invitations.generate)
    add("GET", "/list-invite", invitations.list_tokens)
    add("POST", "/accept-invite", invitations.accept)
    add("GET", "/find-accepted-users", invitations.find_accepted)
    for method in ("DELETE", "POST"):
        add(method, "/delete-accepted-user", invitations.delete_accepted)
