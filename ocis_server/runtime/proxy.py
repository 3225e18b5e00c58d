"""The proxy: the root aiohttp application. It authenticates every request, then routes it by prefix
to the service sub-apps mounted in-process (protocol-notes.md §1).

A 401 is rendered in the format of the service the path belongs to (DAV XML, OCS envelope, Graph
OData error); paths no service owns are a plain 404 without asking for credentials.
"""

from __future__ import annotations

import json
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

from aiohttp import web

from ocis_server.auth.oidc import OidcVerifier
from ocis_server.auth.principal import BEARER_CHALLENGE, Authenticators, Caller
from ocis_server.auth.publiclink import is_public_basic
from ocis_server.auth.throttle import client_address
from ocis_server.config import ConfigError
from ocis_server.domain.errors import OcisError, ServiceUnavailable, TooManyRequests, Unauthenticated
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


class RouteTable:
    """The mount with the longest prefix that covers a path (`_under`): one dict probe per
    level of the path, deepest first."""

    def __init__(self, routes: Sequence[Route]) -> None:
        self._by_base: dict[str, Route] = {}
        for route in routes:
            base = route.prefix.rstrip("/")
            known = self._by_base.get(base)
            if known is None or len(route.prefix) > len(known.prefix):
                self._by_base[base] = route

    def __call__(self, path: str) -> Route | None:
        probe = path
        while True:
            route = self._by_base.get(probe)
            if route is not None:
                return route
            if not probe:
                return None
            probe = probe.rpartition("/")[0]


def open_method(spec: ServiceSpec, method: str) -> bool:
    """CORS preflight and DAV capability discovery carry no credentials."""
    return method == "OPTIONS" and spec.open_options


def public_path(spec: ServiceSpec, path: str) -> bool:
    return any(_under(path, prefix) for prefix in spec.unprotected)


# --- 401 bodies, one per protocol ----------------------------------------------------------------
def _dav_body(message: str, exception: str = "NotAuthenticated") -> tuple[str, str]:
    body = ('<?xml version="1.0" encoding="utf-8"?>\n'
            '<d:error xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns">'
            f"<s:exception>Sabre\\DAV\\Exception\\{exception}</s:exception>"
            f"<s:message>{escape(message)}</s:message></d:error>")
    return body, "application/xml; charset=utf-8"


def _ocs_body(message: str, request: web.Request, statuscode: int = 997) -> tuple[str, str]:
    meta = {"status": "failure", "statuscode": statuscode, "message": message,
            "totalitems": "", "itemsperpage": ""}
    wants_json = request.query.get("format") == "json" or (
        "application/json" in request.headers.get("Accept", "") and "format" not in request.query)
    if wants_json:
        return json.dumps({"ocs": {"meta": meta, "data": None}}), "application/json; charset=utf-8"
    fields = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in meta.items())
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<ocs><meta>{fields}</meta><data/></ocs>',
            "text/xml; charset=utf-8")


def _graph_body(message: str, code: str = "unauthenticated") -> tuple[str, str]:
    error = {"code": code, "message": message,
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


def retry_later(spec: ServiceSpec, request: web.Request,
                exc: TooManyRequests | ServiceUnavailable) -> web.Response:
    """429 (RFC 6585 §4) or 503 (RFC 9110 §15.6.4) in the service's format, with Retry-After
    in whole seconds."""
    message, status = exc.message, exc.status
    if spec.error_format == "dav":
        body, ctype = _dav_body(message, "TooManyRequests" if status == 429 else "ServiceUnavailable")
    elif spec.error_format == "ocs":
        body, ctype = _ocs_body(message, request, status)
    elif spec.error_format == "graph":
        body, ctype = _graph_body(message, exc.code)
    else:
        body, ctype = json.dumps({"error": {"code": exc.code, "message": message}}), \
            "application/json; charset=utf-8"
    response = web.Response(status=status, text=body,
                            headers={"Retry-After": str(max(1, math.ceil(exc.retry_after)))})
    response.headers["Content-Type"] = ctype
    return response


def authenticators(ctx: ServiceContext) -> Authenticators:
    """The request authenticators of this proxy; their key caches live as long as it. Failed
    logins go to the process's one throttle (ctx.throttle), which every password path shares."""
    config = ctx.config
    try:
        verifier = OidcVerifier(config, lambda: ctx.keys)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return Authenticators(ctx.users, config.basic_auth, app_auth=config.app_auth,
                          app_tokens=lambda: ctx.app_tokens, verifier=verifier,
                          throttle=ctx.throttle, storage=lambda: ctx.storage)


_ROUTES_CACHED = 4096   # paths whose route is remembered (polls and syncs repeat their paths) ...
_PATH_CACHED_MAX = 512  # ... if they are at most this long (bounds the memory it can take)


def auth_middleware(ctx: ServiceContext, routes: Sequence[Route]) -> Callable[..., Awaitable[web.StreamResponse]]:
    # Per-request work kept small: the route of a path and the authenticators are remembered
    # (the latter rebuilt only if the runtime swaps the user store).
    known: dict[str, tuple[Route | None, bool]] = {}   # path -> (route, public path)
    route_for = RouteTable(routes)
    auth = authenticators(ctx)
    trusted = tuple(ctx.config.trusted_proxies)

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.rel_url.path_safe
        try:
            route, public = known[path]
        except KeyError:
            route = route_for(path)
            public = route is not None and public_path(route.spec, path)
            if len(path) <= _PATH_CACHED_MAX:
                if len(known) >= _ROUTES_CACHED:
                    known.clear()
                known[path] = (route, public)
        request["principal"] = request["caller"] = None
        if route is None:
            return await handler(request)          # nobody serves it: the router answers 404
        if public and route.spec.own_auth:         # e.g. the IdP's token endpoint: a client's
            return await handler(request)          # credentials are not a user's failed login
        auth.users = ctx.users                     # the runtime may have swapped the user store
        header = request.headers.get("Authorization")
        address = client_address(request, trusted) if header else ""
        if public and is_public_basic(header):     # a link password (`public:<pw>`): the
            return await handler(request)          # service checks it; no user login failed
        if public or open_method(route.spec, request.method):
            try:
                _identify(request, await auth.caller(header, address))
            except OcisError:
                pass                               # public paths ignore bad credentials
            return await handler(request)
        try:
            caller = await auth.caller(header, address)
        except TooManyRequests as exc:
            log.warning("429 %s %s from %s: %s", request.method, path, address, exc.message)
            return retry_later(route.spec, request, exc)
        except ServiceUnavailable as exc:   # the user store waits for its directory (LDAP)
            log.warning("503 %s %s: %s", request.method, path, exc.message)
            return retry_later(route.spec, request, exc)
        except Unauthenticated as exc:
            log.info("401 %s %s: %s", request.method, path, exc.message)
            challenge = auth.challenge
            if header and header.lstrip()[:7].lower() == "bearer ":
                challenge = BEARER_CHALLENGE + ', error="invalid_token"'   # RFC 6750 §3.1
            return unauthorized(route.spec, request, exc.message, challenge)
        except OcisError as exc:       # e.g. the user store does not run on this node (502)
            log.warning("cannot authenticate %s %s: %s", request.method, path, exc.message)
            return web.json_response({"error": {"code": exc.code, "message": exc.message}},
                                     status=exc.status)
        if caller is None:
            return unauthorized(route.spec, request, "No 'Authorization' header provided",
                                auth.challenge)
        _identify(request, caller)
        return await handler(request)

    return authenticate


def _identify(request: web.Request, caller: Caller | None) -> None:
    request["caller"] = caller                     # how they authenticated (webfinger needs claims)
    request["principal"] = caller.user if caller else None


def build_app(ctx: ServiceContext, mounted: Sequence[tuple[ServiceSpec, str, web.Application]]) -> web.Application:
    """The root application: auth middleware plus one sub-app per (service, mount), in order."""
    routes = [Route(mount, spec) for spec, mount, _ in mounted]
    root = web.Application(client_max_size=ctx.config.proxy_max_body_size,
                           middlewares=[auth_middleware(ctx, routes)])
    root[CTX_KEY] = ctx
    for _, mount, app in mounted:
        root.add_subapp(mount, app)
    return root
