"""The idp aiohttp applications, one per mount (`/konnect`, `/signin`,
`/.well-known/openid-configuration`). Each opens what it needs when the proxy starts it (state.py);
they share the signing keys through ServiceContext.keys and everything else through idp.db."""

from __future__ import annotations

from aiohttp import web

from ocis_server.services.context import ServiceContext

from . import authorize, device, discovery, token
from .config import DISCOVERY_PATH
from .errors import error_middleware
from .state import lifecycle

KONNECT, SIGNIN = "/konnect", "/signin"


def create_app(ctx: ServiceContext, mount: str) -> web.Application:
    """The sub-application the runtime mounts at `mount` (see SERVICES in services/__init__)."""
    app = web.Application(middlewares=[error_middleware], client_max_size=64 * 1024)
    app.cleanup_ctx.append(lifecycle(ctx, with_store=mount != DISCOVERY_PATH,
                                     maintain=mount == KONNECT))
    r = app.router
    if mount == DISCOVERY_PATH:
        r.add_get("", discovery.handle_discovery)
    elif mount == KONNECT:
        r.add_get("/v1/jwks.json", discovery.handle_jwks)
        r.add_route("GET", "/v1/userinfo", discovery.handle_userinfo)
        r.add_route("POST", "/v1/userinfo", discovery.handle_userinfo)
        r.add_post("/v1/token", token.handle_token)
        r.add_post("/v1/device_authorization", token.handle_device_authorization)
        r.add_post("/v1/revocation", token.handle_revocation)
    elif mount == SIGNIN:
        r.add_get("/v1/identifier/_/authorize", authorize.handle_authorize)
        r.add_post("/v1/identifier/_/login", authorize.handle_login)
        r.add_post("/v1/identifier/_/consent", authorize.handle_consent)
        r.add_get("/v1/identifier/_/endsession", authorize.handle_endsession)
        r.add_get("/v1/device", device.handle_device_page)
        r.add_post("/v1/device", device.handle_device_code)
        r.add_post("/v1/device/confirm", device.handle_device_confirm)
    else:
        raise ValueError(f"the idp service has no mount {mount!r}")
    return app
