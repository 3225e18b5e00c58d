"""The web aiohttp applications, one per mount: `/` (the start page, and the sign-out form),
`/login` (sign-in starts), and the `web` client's redirect targets `/oidc-callback.html` and
`/oidc-silent-redirect.html`."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from ocis_server.services.context import ServiceContext

from .config import STATE_KEY, WebState
from .errors import error_middleware
from .home import home
from .signin import callback, sign_out, start

MOUNTS = ("/", "/login", "/logout", "/oidc-callback.html", "/oidc-silent-redirect.html")


async def _close_session(app: web.Application) -> AsyncIterator[None]:
    yield
    http = app[STATE_KEY].http
    if http is not None:
        await http.close()


def create_app(ctx: ServiceContext, mount: str = "/") -> web.Application:
    if mount not in MOUNTS:
        raise ValueError(f"the web service has no mount {mount!r}")
    app = web.Application(middlewares=[error_middleware])
    app[STATE_KEY] = WebState(ctx)
    app.cleanup_ctx.append(_close_session)
    if mount == "/":                 # served for the root path only (see runtime/proxy.py)
        app.router.add_get("/", home)
    elif mount == "/login":
        app.router.add_get("", start)
    elif mount == "/logout":
        app.router.add_post("", sign_out)
    else:
        app.router.add_get("", callback)
    return app
