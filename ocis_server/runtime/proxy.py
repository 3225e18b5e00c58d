"""The proxy: the root aiohttp application. It authenticates every request, then routes it by prefix
to the service sub-apps mounted in-process (reference/ocis-api.md §1.2).

A 401 is rendered in the format of the service the path belongs to (DAV XML, OCS envelope, Graph
OData error); paths no service owns are a plain 404 without asking for credentials.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

from aiohttp import web

from ocis_server.auth.principal import Authenticators
from ocis_server.domain.errors import OcisError, Unauthenticated
from ocis_server.services import ServiceSpec
from ocis_server.services.context import ServiceContext

log = logging.getLogger("ocis.proxy")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CTX_KEY: web.AppKey[ServiceContext] = web.AppKey("ocis_ctx", ServiceContext)


@dataclass(frozen=True, slots=True)
class Route:
    prefix: str
    spec: ServiceSpec


def _under(path: str, prefix: str) -> bool:
    """True when `path` is `prefix` or below it (`/status` does not cover `/statusfoo`)."""
    base = prefix.rstrip("/")
    return path == base or path.startswith(base + "/") or (prefix.endswith("/") and path == prefix)


def route_for(routes: Sequence[Route], path: str) -> Route | None:
    """The longest mount prefix that covers `path`."""
    best: Route | None = None
    for route in routes:
        if _under(path, route.prefix) and (best is None or len(route.prefix) > len(best.prefix)):
            best = route
    return best


def open_method(spec: ServiceSpec, method: str) -> bool:
    """CORS preflight and DAV capability discovery carry no credentials."""
    return method == "OPTIONS" and spec.error_format == "dav"


def public_path(spec: ServiceSpec, path: str) -> bool:
    return any(_under(path, prefix) for prefix in spec.unprotected)


# --- 401 bodies, one per protocol ----------------------------------------------------------------
def _dav_body(message: str) -> tuple[str, str]:
    body = ('<?xml version="1.0" encoding="utf-8"?>\n'
            '<d:error xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns">'
            "<s:exception>Sabre\\DAV\\Exception\\NotAuthenticated</s:exception>"
            f"<s:message>{escape(message)}</s:message></d:error>")
    return body, "application/xml; charset=utf-8"


def _ocs_body(message: str, request: web.Request) -> tuple[str, str]:
    meta = {"status": "failure", "statuscode": 997, "message": message,
            "totalitems": "", "itemsperpage": ""}
    wants_json = request.query.get("format") == "json" or (
        "application/json" in request.headers.get("Accept", "") and "format" not in request.query)
    if wants_json:
        return json.dumps({"ocs": {"meta": meta, "data": None}}), "application/json; charset=utf-8"
    fields = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in meta.items())
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<ocs><meta>{fields}</meta><data/></ocs>',
            "text/xml; charset=utf-8")


def _graph_body(message: str) -> tuple[str, str]:
    error = {"code": "unauthenticated", "message": message,
             "innererror": {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                            "request-id": str(uuid.uuid4())}}
    return json.dumps({"error": error}), "application/json; charset=utf-8"


def unauthorized(spec: ServiceSpec, request: web.Request, message: str,
                 challenge: str) -> web.Response:
    if spec.error_format == "dav":
        body, ctype = _dav_body(message)
    elif spec.error_format == "ocs":
        body, ctype = _ocs_body(message, request)
    elif spec.error_format == "graph":
        body, ctype = _graph_body(message)
    else:
        body, ctype = json.dumps({"error": message}), "application/json; charset=utf-8"
    response = web.Response(status=401, text=body, headers={"WWW-Authenticate": challenge})
    response.headers["Content-Type"] = ctype
    return response


_ROUTES_CACHED = 4096   # paths whose route is remembered (polls and syncs repeat their paths) ...
_PATH_CACHED_MAX = 512  # ... if they are at most this long (bounds the memory it can take)


def auth_middleware(ctx: ServiceContext, routes: Sequence[Route]) -> Callable[..., Awaitable[web.StreamResponse]]:
    # Per-request work kept small: the route of a path and the authenticators are remembered
    # (the latter rebuilt only if the runtime swaps the user store).
    known: dict[str, tuple[Route | None, bool]] = {}   # path -> (route, public path)
    auths = [Authenticators(ctx.users, ctx.config.basic_auth)]

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.rel_url.path_safe
        try:
            route, public = known[path]
        except KeyError:
            route = route_for(routes, path)
            public = route is not None and public_path(route.spec, path)
            if len(path) <= _PATH_CACHED_MAX:
                if len(known) >= _ROUTES_CACHED:
                    known.clear()
                known[path] = (route, public)
        request["principal"] = None
        if route is None:
            return await handler(request)          # nobody serves it: the router answers 404
        auth = auths[0]
        if auth.users is not ctx.users:
            auth = auths[0] = Authenticators(ctx.users, ctx.config.basic_auth)
        header = request.headers.get("Authorization")
        if public or open_method(route.spec, request.method):
            try:
                request["principal"] = await auth.principal(header)
            except OcisError:
                pass                               # public paths ignore bad credentials
            return await handler(request)
        try:
            user = await auth.principal(header)
        except Unauthenticated as exc:
            log.info("401 %s %s: %s", request.method, path, exc.message)
            return unauthorized(route.spec, request, exc.message, auth.challenge)
        except OcisError as exc:       # e.g. the user store does not run on this node (502)
            log.warning("cannot authenticate %s %s: %s", request.method, path, exc.message)
            return web.json_response({"error": {"code": exc.code, "message": exc.message}},
                                     status=exc.status)
        if user is None:
            return unauthorized(route.spec, request, "No 'Authorization' header provided",
                                auth.challenge)
        request["principal"] = user
        return await handler(request)

    return authenticate


def build_app(ctx: ServiceContext, mounted: Sequence[tuple[ServiceSpec, str, web.Application]]) -> web.Application:
    """The root application: auth middleware plus one sub-app per (service, mount), in order."""
    routes = [Route(mount, spec) for spec, mount, _ in mounted]
    root = web.Application(client_max_size=ctx.config.proxy_max_body_size,
                           middlewares=[auth_middleware(ctx, routes)])
    root[CTX_KEY] = ctx
    for _, mount, app in mounted:
        root.add_subapp(mount, app)
    return root
