"""The proxy: the root aiohttp application. It authenticates every request, then routes it by prefix
to the service sub-apps mounted in-process (protocol-notes.md §1).

Its refusals (401, 429, 502) are rendered by the error renderer of the service the path belongs to
(DAV XML, OCS envelope, Graph OData error, ...), so they look like the service's own; paths no
service owns are a plain 404 without asking for credentials.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.web_urldispatcher import AbstractRuleMatching, MatchedSubAppResource

from ocis_server.auth.oidc import OidcVerifier
from ocis_server.auth.principal import BEARER_CHALLENGE, Authenticators, Caller
from ocis_server.auth.publiclink import is_public_basic
from ocis_server.auth.signedurl import SIGNATURE, SignedUrls
from ocis_server.auth.throttle import client_address
from ocis_server.config import ConfigError
from ocis_server.domain.errors import OcisError, TooManyRequests, Unauthenticated
from ocis_server.events import ACTOR
from ocis_server.services import ServiceSpec
from ocis_server.services.context import ServiceContext
from ocis_server.services.errors import ErrorRenderer

from .cors import CorsPolicy, is_preflight
from .forward import FORWARDED, vouch
from .replay import Memo, recorder

if TYPE_CHECKING:
    from aiohttp.web_urldispatcher import _InfoDict

    from .forward import Forwarder

log = logging.getLogger("ocis.proxy")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CTX_KEY: web.AppKey[ServiceContext] = web.AppKey("ocis_ctx", ServiceContext)


@dataclass(frozen=True, slots=True)
class Route:
    prefix: str
    spec: ServiceSpec
    render: ErrorRenderer      # the service's `render_error` (its table row's `errors`)
    remote: bool = False       # runs on another node: forwarded (forward.py) once authenticated


def _under(path: str, prefix: str) -> bool:
    """True when `path` is `prefix` or below it (`/status` does not cover `/statusfoo`). The mount
    `/` covers the root path only: paths no service owns stay a plain 404."""
    if prefix == "/":
        return path == "/"
    base = prefix.rstrip("/")
    return path == base or path.startswith(base + "/") or (prefix.endswith("/") and path == prefix)


class RouteTable:
    """The mount with the longest prefix that covers a path (`_under`): one dict probe per
    level of the path, deepest first."""

    def __init__(self, routes: Sequence[Route]) -> None:
        self._by_base: dict[str, Route] = {}
        self._root: Route | None = None            # the mount `/`: the root path only
        for route in routes:
            if route.prefix == "/":
                self._root = route
                continue
            base = route.prefix.rstrip("/")
            known = self._by_base.get(base)
            if known is None or len(route.prefix) > len(known.prefix):
                self._by_base[base] = route

    def __call__(self, path: str) -> Route | None:
        if path == "/" and self._root is not None:
            return self._root
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


def refusal(route: Route, request: web.Request, error: OcisError) -> web.Response:
    """The proxy's own refusal (401, 429, 502, ...) in the body the service renders for the same
    domain error: the renderer its table row names."""
    return route.render(error, request)


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


def signed_urls(ctx: ServiceContext) -> SignedUrls | None:
    """The pre-signed URL authenticator (PROXY_ENABLE_PRESIGNEDURLS), keys from the storage."""
    config = ctx.config
    if not config.presigned_urls:
        return None
    scheme = config.ocis_url.partition("://")[0] or "https"

    async def key_of(user_id: str) -> str | None:
        return await ctx.storage.signing_key(user_id)

    return SignedUrls(ctx.users, key_of, methods=tuple(config.presigned_url_methods),
                      schemes=("https", scheme))


async def _signed_caller(signed: SignedUrls, ctx: ServiceContext, request: web.Request,
                         address: str) -> Caller:
    signed.users = ctx.users                       # the runtime may have swapped the user store
    user = await signed.user(request.method, request.host, request.raw_path.partition("?")[0],
                             list(request.query.items()), address)
    return Caller(user, "signed-url")


_ROUTES_CACHED = 4096   # paths whose route is remembered (polls and syncs repeat their paths) ...
_PATH_CACHED_MAX = 512  # ... if they are at most this long (bounds the memory it can take)


def auth_middleware(ctx: ServiceContext, routes: Sequence[Route], cors: CorsPolicy | None = None,
                    forwarder: Forwarder | None = None
                    ) -> Callable[..., Awaitable[web.StreamResponse]]:
    # Per-request work kept small: the route of a path and the authenticators are remembered
    # (the latter rebuilt only if the runtime swaps the user store).
    known: dict[str, tuple[Route | None, bool]] = {}   # path -> (route, public path)
    route_for = RouteTable(routes)
    auth = authenticators(ctx)
    signed = signed_urls(ctx)
    trusted = tuple(ctx.config.trusted_proxies)
    secret = ctx.config.machine_auth_api_key
    remote = {r: forwarder.handler(r) for r in routes if r.remote and forwarder is not None}

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.rel_url.path_safe
        if FORWARDED in request.headers:           # from a node of the instance? its client
            vouch(request, secret)                 # counts (forward.py), else the peer does
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
        ACTOR.set("")            # a keep-alive connection serves its requests in one task
        if route is None:
            return await handler(request)          # nobody serves it: the router answers 404
        if route.remote:                           # another node serves it: from here on, the
            handler = remote[route]                # handler is the forwarding to that node
        if request.method == "OPTIONS" and cors is not None:
            origin = is_preflight(request)         # CORS preflight: answered before authentication
            if origin is not None:
                return cors.preflight(request, origin)
        if public and route.spec.own_auth:         # e.g. the IdP's token endpoint: a client's
            return await handler(request)          # credentials are not a user's failed login
        if public and any(_under(path, p) for p in route.spec.own_credentials):
            return await handler(request)          # e.g. an OCM shared secret at /dav/ocm
        auth.users = ctx.users                     # the runtime may have swapped the user store
        header = request.headers.get("Authorization") or _session_bearer(route.spec, request)
        address = client_address(request, trusted) if header else ""
        if public and is_public_basic(header):     # a link password (`public:<pw>`): the
            return await handler(request)          # service checks it; no user login failed
        if signed is not None and not public and SIGNATURE in request.query:
            try:                                   # a pre-signed URL (signedurl.py)
                signer = await _signed_caller(signed, ctx, request,
                                              address or client_address(request, trusted))
                _identify(request, signer)
                return await handler(request)
            except TooManyRequests as exc:
                log.warning("429 %s %s: %s", request.method, path, exc.message)
                return refusal(route, request, exc)
            except Unauthenticated as exc:
                if not header:                     # else the credentials sent decide, as in oCIS
                    return _challenge(refusal(route, request, exc), auth.challenge)
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
            return refusal(route, request, exc)
        except Unauthenticated as exc:
            log.info("401 %s %s: %s", request.method, path, exc.message)
            challenge = auth.challenge
            if header and header.lstrip()[:7].lower() == "bearer ":
                challenge = BEARER_CHALLENGE + ', error="invalid_token"'   # RFC 6750 §3.1
            return _challenge(refusal(route, request, exc), challenge)
        except OcisError as exc:       # the user store does not run on this node (502) or waits
                                       # for its directory (503)
            log.warning("cannot authenticate %s %s: %s", request.method, path, exc.message)
            return refusal(route, request, exc)
        if caller is None:
            missing = Unauthenticated("No 'Authorization' header provided")
            return _challenge(refusal(route, request, missing), auth.challenge)
        _identify(request, caller)
        return await handler(request)

    return authenticate


def _challenge(response: web.Response, challenge: str) -> web.Response:
    response.headers["WWW-Authenticate"] = challenge     # what this proxy accepts, not the service's
    return response


def _session_bearer(spec: ServiceSpec, request: web.Request) -> str | None:
    """The web sign-in's token as a bearer credential, for reading a page of a service that takes
    it (a private link opened from the start page); never for a method that changes anything."""
    if not spec.session_cookie or request.method not in ("GET", "HEAD"):
        return None
    token = request.cookies.get(spec.session_cookie)
    return f"Bearer {token}" if token else None


def _identify(request: web.Request, caller: Caller | None) -> None:
    request["caller"] = caller                     # how they authenticated (webfinger needs claims)
    request["principal"] = caller.user if caller else None
    ACTOR.set(caller.user.id if caller else "")  # the executant of the events it causes


def build_app(ctx: ServiceContext, mounted: Sequence[tuple[ServiceSpec, str, web.Application]],
              remote: Sequence[tuple[ServiceSpec, str]] = (),
              forwarder: Forwarder | None = None, memo: Memo | None = None) -> web.Application:
    """The root application: auth middleware plus one sub-app per (service, mount), in order;
    the `remote` (service, mount)s run on other nodes and go to the `forwarder`. With `memo`,
    the replay lane's recorder is the outermost middleware (replay.py)."""
    routes = [Route(mount, spec, spec.resolve("errors")) for spec, mount, _ in mounted]
    if forwarder is not None:
        routes += [Route(mount, spec, spec.resolve("errors"), remote=True)
                   for spec, mount in remote]
    cors = CorsPolicy.from_config(ctx.config)
    middlewares = [auth_middleware(ctx, routes, cors, forwarder)]
    if memo is not None:
        middlewares.insert(0, recorder(memo))
    root = web.Application(client_max_size=ctx.config.proxy_max_body_size,
                           middlewares=middlewares)
    root.on_response_prepare.append(cors.on_prepare)   # CORS headers on every answer (cors.py)
    root[CTX_KEY] = ctx
    for _, mount, app in mounted:
        if mount == "/":       # aiohttp has no prefix "/": a sub-app matched on the root path
            root._add_subapp(functools.partial(MatchedSubAppResource, _RootPath(), app), app)
        else:
            root.add_subapp(mount, app)
    return root


class _RootPath(AbstractRuleMatching):
    """Matches the root path only (the `/` mount; the start page of the web service)."""

    async def match(self, request: web.Request) -> bool:
        return request.path == "/"

    def get_info(self) -> _InfoDict:
        return {"path": "/"}

    @property
    def canonical(self) -> str:
        return "/"
