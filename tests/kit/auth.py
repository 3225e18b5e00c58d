"""The one way tests authenticate: HTTP Basic with `password_of(user)`, and, for services mounted
without the proxy, a stand-in for the proxy that turns Basic credentials into a principal with the
server's own Basic parsing (`ocis_server.auth.basic`)."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable

from aiohttp import web

from ocis_server.auth.basic import authenticate_basic
from ocis_server.domain.errors import Unauthenticated
from ocis_server.identity import User, UserStore

from .users import password_of

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def basic(user: str | User, password: str | None = None) -> str:
    """The Authorization value for `user` (a name or a User) with `password_of(user)` unless
    `password` is given."""
    name = user if isinstance(user, str) else user.username
    secret = password_of(name) if password is None else password
    return "Basic " + base64.b64encode(f"{name}:{secret}".encode()).decode()


def headers(user: str | User | None, password: str | None = None, **extra: str) -> dict[str, str]:
    """Request headers signed in as `user` (none for None), plus `extra` (`OCS_APIREQUEST="true"`
    is sent as `OCS-APIREQUEST: true`)."""
    out = {name.replace("_", "-"): value for name, value in extra.items()}
    if user is not None:
        out["Authorization"] = basic(user, password)
    return out


def ocs_headers(user: str | User | None, password: str | None = None) -> dict[str, str]:
    """`headers()` plus `OCS-APIREQUEST: true`, as OCS clients send it."""
    return headers(user, password, OCS_APIREQUEST="true")


def proxy_stand_in(users: UserStore) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """Middleware standing in for the proxy in front of a service sub-app: no credentials ->
    `request["principal"] = None`; valid Basic -> that user; invalid Basic -> 401."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        request["principal"] = None
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            try:
                request["principal"] = await authenticate_basic(users, header)
            except Unauthenticated:
                raise web.HTTPUnauthorized() from None
        return await handler(request)

    return middleware


def root_app(users: UserStore, *mounts: tuple[str, web.Application]) -> web.Application:
    """A root application with the proxy stand-in and each (prefix, sub-app) mounted."""
    root = web.Application(middlewares=[proxy_stand_in(users)])
    for prefix, app in mounts:
        root.add_subapp(prefix, app)
    return root
