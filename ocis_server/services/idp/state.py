"""What a mounted IdP app works with (config, clients, keys, store, throttles), its lifecycle, and
the browser-facing helpers: the sign-in session cookie and the defences of every form POST (its
Origin or Referer must be this IdP's; the CSRF token, a double-submit cookie with SameSite=Strict,
compared in constant time).

Nothing of the IdP's crypto or OAuth machinery is loaded before it is asked for: the signing keys
(joserfc, cryptography), the clients and authlib's server are made with the first request to an
IdP mount (`IdpState.prepare`, app.py) or the first bearer token the proxy verifies (issue 18,
memory: about 11 MiB an idle server does not hold)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from aiohttp import web

from ocis_server.auth.keys import KeySet
from ocis_server.auth.logins import LoginThrottle
from ocis_server.auth.throttle import Throttle, address_key, client_address
from ocis_server.domain.errors import NotFound, ServiceUnavailable
from ocis_server.identity import User, UserStore
from ocis_server.services.context import ServiceContext
from ocis_server.services.htmlpages import csrf_matches, set_csrf_cookie

from .config import DEVICE_CODE_MAX_FAILURES, SESSION_TTL, STATE_KEY, IdpConfig
from .errors import PageError
from .store import IdpRules, IdpStore

if TYPE_CHECKING:
    from .clients import Client
    from .oauth import OAuthServer

log = logging.getLogger("ocis.idp")
SESSION_COOKIE = "ocis-idp-session"
CSRF_COOKIE = "ocis-idp-csrf"
COOKIE_PATH = "/signin/"
MAINTENANCE_INTERVAL = 600.0
SHARED_KEYS_INTERVAL = 30.0


@dataclass(slots=True)
class IdpState:
    ctx: ServiceContext
    cfg: IdpConfig
    keys: KeySet               # loaded by prepare()
    store: IdpRules
    codes: Throttle            # wrong device user codes per address
    clients: dict[str, Client] = field(default_factory=dict)     # made by prepare()
    oauth: OAuthServer = None  # type: ignore[assignment]  # authlib's server (not in discovery)
    prepared: bool = False
    _preparing: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def prepare(self) -> None:
        """Load the signing keys, make the clients and (with a store) authlib's server, once:
        every handler of an IdP mount awaits this first (app.py)."""
        if self.prepared:
            return
        async with self._preparing:
            if self.prepared:
                return
            from .clients import builtin_clients   # authlib
            from .oauth import OAuthServer

            try:
                await self.keys.load()
            except (OSError, ValueError) as exc:
                log.error("idp: the signing keys in %s cannot be loaded: %s", self.keys.directory,
                          exc)
                raise ServiceUnavailable("the identity provider's signing keys cannot be "
                                         "loaded") from None
            self.clients = builtin_clients(self.ctx.public_url, self.cfg.trusted_clients)
            if self.store is not None:
                self.oauth = OAuthServer(self, asyncio.get_running_loop())
            self.prepared = True

    @property
    def users(self) -> UserStore:
        return self.ctx.users   # read each time: the runtime swaps it when `users` restarts

    @property
    def logins(self) -> LoginThrottle:
        """The login throttle every password path of this process shares (auth/logins.py)."""
        return self.ctx.throttle

    def address_key(self, request: web.Request) -> str:
        """`addr:<ip>` (IPv6 per /64) of the caller; X-Forwarded-For only from trusted proxies."""
        return address_key(client_address(request, self.cfg.trusted_proxies))


def idp_state(request: web.Request) -> IdpState:
    return request.app[STATE_KEY]


def lifecycle(ctx: ServiceContext, *, with_store: bool,
              maintain: bool = False) -> Callable[[web.Application], AsyncIterator[None]]:
    """aiohttp cleanup context: open idp.db and the (deferred) signing keys when the proxy starts
    this app, close them when it stops. The keys go on ctx.keys for the proxy's verifier.
    One app (`maintain`) also purges expired records and rotates the key when it is due."""
    async def run(app: web.Application) -> AsyncIterator[None]:
        cfg = IdpConfig.from_context(ctx)
        directory = ctx.config.base_data_path / "idp"
        keys = ctx.keys
        if keys is None or keys.directory != directory:
            keys = await _open_keys(ctx, cfg, directory)
        ctx.keys = keys
        store = await _open_store(ctx, directory) if with_store else None
        state = app[STATE_KEY] = IdpState(
            ctx, cfg, keys,
            store,   # type: ignore[arg-type]  # the discovery app never touches the store
            Throttle(DEVICE_CODE_MAX_FAILURES, cfg.failure_window))
        task = None
        if maintain and store is not None:
            task = asyncio.create_task(_maintain(cfg, keys, store))
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if state.oauth is not None:
                state.oauth.close()
            if store is not None:
                await store.close()
            if ctx.keys is keys:
                ctx.keys = None
                close = getattr(keys, "close", None)     # the shared keys' pool
                if close is not None:
                    await close()
    return run


async def _open_keys(ctx: ServiceContext, cfg: IdpConfig, directory: Path) -> KeySet:
    """The key files beside the node (read with their first use), or with OCIS_DATABASE_URL the
    keys every front node shares (auth/pgkeys.py), so that any node verifies what another
    signed."""
    keep = max(cfg.access_token_ttl, cfg.id_token_ttl) + 60
    if ctx.config.database_url:
        from ocis_server.auth.pgkeys import SharedKeySet     # psycopg only when configured

        return await SharedKeySet.open_shared(ctx.config.database_url, directory,
                                              algorithm=cfg.signing_method, keep_retired=keep)
    return KeySet.deferred(directory, algorithm=cfg.signing_method, keep_retired=keep)


async def _open_store(ctx: ServiceContext, directory: Path) -> IdpRules:
    """idp.db beside the node, or with OCIS_DATABASE_URL the tables every front node shares."""
    if ctx.config.database_url:
        from .pgidp import PostgresIdpStore       # psycopg only when configured

        return await PostgresIdpStore.open(ctx.config.database_url)
    return await IdpStore.open(directory / "idp.db")


async def _maintain(cfg: IdpConfig, keys: KeySet, store: IdpRules) -> None:
    rotation = cfg.key_rotation_interval
    pause = MAINTENANCE_INTERVAL if rotation <= 0 else max(1.0, min(MAINTENANCE_INTERVAL,
                                                                    rotation / 10))
    if hasattr(keys, "refresh"):     # shared keys: learn other nodes' rotations soon
        pause = min(pause, SHARED_KEYS_INTERVAL)
    while True:
        try:
            due = keys.loaded and time.time() - keys.since >= rotation   # unloaded: none used yet
            if rotation > 0 and due:
                log.info("idp: rotating the signing key (kid %s is %.0f s old)", keys.kid,
                         time.time() - keys.since)
                await keys.rotate()
            await store.purge()
            await keys.prune()
        except Exception:
            log.exception("idp maintenance failed")
        await asyncio.sleep(pause)


# --- CSRF ------------------------------------------------------------------------------------
def csrf_token(request: web.Request) -> str:
    """The browser's CSRF token (its cookie), or a fresh one `render` must set."""
    token = request.cookies.get(CSRF_COOKIE, "")
    if len(token) < 32 or not token.replace("-", "").replace("_", "").isalnum():
        token = request.get("idp_new_csrf") or secrets.token_urlsafe(32)
        request["idp_new_csrf"] = token
    return token


def render(request: web.Request, response: web.Response) -> web.Response:
    """Attach the CSRF cookie a page's form relies on, if this request created it."""
    fresh = request.get("idp_new_csrf")
    if fresh:
        secure = idp_state(request).cfg.secure_cookies
        set_csrf_cookie(response, CSRF_COOKIE, fresh, path=COOKIE_PATH, secure=secure)
    return response


def _origin(url: str) -> str:
    """`scheme://host:port` of a URL, default ports spelled out; "" when it has none."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower(), 0)
    except ValueError:
        return ""
    if not parts.scheme or not parts.hostname:
        return ""
    return f"{parts.scheme.lower()}://{parts.hostname.lower()}:{port}"


def check_origin(request: web.Request) -> None:
    """A form POST must come from a page of this IdP: its `Origin` (or, when a browser sends
    none, its `Referer`) must be the issuer's or OCIS_URL's origin. `Origin: null` (a sandboxed
    or privacy-redirected page) is cross-origin too. A client sending neither header is left to
    the CSRF token: browsers send Origin with every POST today."""
    sent = request.headers.get("Origin")
    if sent is None:
        sent = request.headers.get("Referer")
        if sent is None:
            return
    state = idp_state(request)
    allowed = {_origin(state.cfg.issuer), _origin(state.ctx.public_url)}
    origin = _origin(sent)
    if not origin or origin not in allowed:
        log.warning("idp: refused a %s form sent from %r", request.path, sent[:200])
        raise PageError(403, "Sign-in refused",
                        "This form was sent from a page of another site, so it was refused. "
                        "Open the sign-in page of this server and try again.")


def check_csrf(request: web.Request, form: Mapping[str, str]) -> None:
    """Both defences against cross-site form posts: where the form came from, and the token."""
    check_origin(request)
    if not csrf_matches(request, CSRF_COOKIE, form.get("csrf", "")):
        raise PageError(403, "Session expired",
                        "This form expired or did not come from this site. Go back, reload the "
                        "page and try again.")


# --- the sign-in session ----------------------------------------------------------------------
async def current_user(request: web.Request) -> tuple[User, int] | None:
    """The signed-in user and when they signed in, or None."""
    sid = request.cookies.get(SESSION_COOKIE)
    if not sid:
        return None
    state = idp_state(request)
    found = await state.store.session(sid)
    if found is None:
        return None
    try:
        user = await state.users.get(found[0])
    except NotFound:
        return None
    return (user, found[1]) if user.enabled else None   # a disabled account signs in again


async def start_session(request: web.Request, response: web.StreamResponse, user: User) -> int:
    state = idp_state(request)
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        await state.store.drop_session(old)      # no session fixation: always a new id
    sid, auth_time = await state.store.add_session(user.id, SESSION_TTL)
    response.set_cookie(SESSION_COOKIE, sid, path=COOKIE_PATH, httponly=True, samesite="Lax",
                        secure=state.cfg.secure_cookies, max_age=SESSION_TTL)
    return auth_time


async def end_session(request: web.Request, response: web.StreamResponse) -> None:
    sid = request.cookies.get(SESSION_COOKIE)
    if sid:
        await idp_state(request).store.drop_session(sid)
    response.del_cookie(SESSION_COOKIE, path=COOKIE_PATH)
