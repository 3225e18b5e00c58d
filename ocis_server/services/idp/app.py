"""The idp aiohttp applications, one per mount (`/konnect`, `/signin`,
`/.well-known/openid-configuration`). Each opens what it needs when the proxy starts it (state.py);
they share the signing keys through ServiceContext.keys and everything else through idp.db.

The handlers' modules (authlib, joserfc and cryptography under them) are imported with the first
request to a mount, after `IdpState.prepare` loaded the keys: an idle server holds none of it."""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable

from aiohttp import web

from ocis_server.services.context import ServiceContext

from .config import DISCOVERY_PATH
from .errors import error_middleware
from .state import idp_state, lifecycle

KONNECT, SIGNIN = "/konnect", "/signin"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _lazy(module: str, name: str) -> Handler:
    """The handler `name` of this package's `module`, imported with the first request."""
    found: list[Handler] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        await idp_state(request).prepare()
        if not found:
            found.append(getattr(importlib.import_module(f"{__package__}.{module}"), name))
        return await found[0](request)

    handle.__name__ = name
    return handle


def create_app(ctx: ServiceContext, mount: str) -> web.Application:
    """The sub-application the runtime mounts at `mount` (see SERVICES in services/__init__)."""
    app = web.Application(middlewares=[error_middleware], client_max_size=64 * 1024)
    app.cleanup_ctx.append(lifecycle(ctx, with_store=mount != DISCOVERY_PATH,
                                     maintain=mount == KONNECT))
    r = app.router
    if mount == DISCOVERY_PATH:
        r.add_get("", _lazy("discovery", "handle_discovery"))
    elif mount == KONNECT:
        r.add_get("/v1/jwks.json", _lazy("discovery", "handle_jwks"))
        r.add_route("GET", "/v1/userinfo", _lazy("discovery", "handle_userinfo"))
        r.add_route("POST", "/v1/userinfo", _lazy("discovery", "handle_userinfo"))
        r.add_post("/v1/token", _lazy("token", "handle_token"))
        r.add_post("/v1/device_authorization", _lazy("token", "handle_device_authorization"))
        r.add_post("/v1/revocation", _lazy("token", "handle_revocation"))
    elif mount == SIGNIN:
        r.add_get("/v1/identifier/_/authorize", _lazy("authorize", "handle_authorize"))
        r.add_post("/v1/identifier/_/login", _lazy("authorize", "handle_login"))
        r.add_post("/v1/identifier/_/consent", _lazy("authorize", "handle_consent"))
        r.add_get("/v1/identifier/_/endsession", _lazy("authorize", "handle_endsession"))
        r.add_get("/v1/device", _lazy("device", "handle_device_page"))
        r.add_post("/v1/device", _lazy("device", "handle_device_code"))
        r.add_post("/v1/device/confirm", _lazy("device", "handle_device_confirm"))
    else:
        raise ValueError(f"the idp service has no mount {mount!r}")
    return app
