"""The browser side of the authorization code flow (OIDC Core §3.1, PKCE RFC 7636): the authorize
endpoint, the sign-in and consent forms it shows, and end-session. A client or redirect URI that does
not check out gets an error page, never a redirect (no open redirects)."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit

from aiohttp import web

from ocis_server.domain.errors import OcisError, Unauthenticated

from .clients import Client
from .config import AUTHORIZE_PATH, CODE_TTL, CONSENT_PATH, LOGIN_PATH
from .errors import PageError
from .forms import read_form
from .pages import consent_page, login_page, message_page, redirect
from .state import (
    check_csrf,
    csrf_token,
    current_user,
    end_session,
    idp_state,
    render,
    start_session,
)
from .store import Grant
from .tokens import granted_scope

log = logging.getLogger("ocis.idp")
MAX_PARAM = 2048          # longest accepted value of one authorize parameter
THROTTLE_SOURCE = "idp"   # sign-in failures in the shared login throttle (auth/throttle.py)


@dataclass(frozen=True, slots=True)
class AuthRequest:
    client: Client
    redirect_uri: str
    scope: str
    state: str | None
    nonce: str | None
    challenge: str | None
    prompt: frozenset[str]


class RedirectError(Exception):
    """An error reported back to a verified redirect URI (RFC 6749 §4.1.2.1)."""

    def __init__(self, error: str, description: str = "") -> None:
        super().__init__(error)
        self.error, self.description = error, description


def _redirect(request: web.Request, req: AuthRequest, params: dict[str, str]) -> web.Response:
    if req.state is not None:
        params["state"] = req.state
    params["iss"] = idp_state(request).cfg.issuer    # RFC 9207: mix-up defence
    sep = "&" if "?" in req.redirect_uri else "?"
    return redirect(req.redirect_uri + sep + urlencode(params))


def parse_authorize(request: web.Request, params: dict[str, str]) -> AuthRequest:
    state = idp_state(request)
    if any(len(v) > MAX_PARAM for v in params.values()):
        raise PageError(400, "Invalid request", "A parameter of this sign-in request is too long.")
    client = state.clients.get(params.get("client_id", ""))
    if client is None:
        raise PageError(400, "Unknown application", "The application that sent you here is not "
                        "registered with this server.")
    redirect_uri = params.get("redirect_uri", "")
    if not client.redirect_allowed(redirect_uri):
        raise PageError(400, "Invalid redirect", "The application asked to return to an address "
                        "that is not registered for it.")
    return AuthRequest(client, redirect_uri, granted_scope(params.get("scope", "")),
                       params.get("state"), params.get("nonce"), params.get("code_challenge"),
                       frozenset(params.get("prompt", "").split()))


def check_request(req: AuthRequest, params: dict[str, str]) -> None:
    """What can be reported to the (verified) redirect URI."""
    if params.get("response_type") != "code":
        raise RedirectError("unsupported_response_type", "only response_type=code is supported")
    if "authorization_code" not in req.client.grant_types:
        raise RedirectError("unauthorized_client")
    if req.challenge is None:
        if req.client.public:
            raise RedirectError("invalid_request", "PKCE (code_challenge, S256) is required")
    elif params.get("code_challenge_method") != "S256" or not 43 <= len(req.challenge) <= 128:
        raise RedirectError("invalid_request", "code_challenge_method must be S256")
    if "none" in req.prompt and len(req.prompt) > 1:
        raise RedirectError("invalid_request", "prompt=none cannot be combined")


def _continue_target(raw: str) -> str:
    """A `continue` value is a path on this IdP, never another origin."""
    parts = urlsplit(raw)
    if (parts.scheme or parts.netloc or not raw.startswith("/signin/") or "\\" in raw
            or raw.startswith("//") or ".." in parts.path or not raw.isprintable() or " " in raw):
        raise PageError(400, "Invalid request", "The sign-in form was altered.")
    return raw


def _client_name(request: web.Request, continue_to: str) -> str:
    query = dict(parse_qsl(urlsplit(continue_to).query))
    client = idp_state(request).clients.get(query.get("client_id", ""))
    return client.name if client else "ownCloud Infinite Scale"


def show_login(request: web.Request, continue_to: str, *, username: str = "", error: str = "",
               status: int = 200) -> web.Response:
    return render(request, login_page(LOGIN_PATH, csrf_token(request), continue_to,
                                      _client_name(request, continue_to), username=username,
                                      error=error, status=status))


async def handle_authorize(request: web.Request) -> web.StreamResponse:
    params = dict(request.query)
    if len(params) != len(request.query):     # RFC 6749 §3.1: no parameter more than once
        raise PageError(400, "Invalid request", "A parameter of this sign-in request is repeated.")
    req = parse_authorize(request, params)
    try:
        check_request(req, params)
        signed = await current_user(request)
        if signed is None or "login" in req.prompt:
            if "none" in req.prompt:
                raise RedirectError("login_required")
            return show_login(request, request.path_qs,   # login_hint prefills the name
                              username=params.get("login_hint", "")[:256])
        user, auth_time = signed
        if "consent" in req.prompt or not req.client.trusted:
            if "none" in req.prompt:
                raise RedirectError("consent_required")
            return render(request, consent_page(
                CONSENT_PATH, csrf_token(request), {"continue": request.path_qs}, req.client.name,
                user.username, req.scope))
        return await _grant(request, req, user.id, auth_time)
    except RedirectError as exc:
        return _error_redirect(request, req, exc)


def _error_redirect(request: web.Request, req: AuthRequest, exc: RedirectError) -> web.Response:
    params = {"error": exc.error}
    if exc.description:
        params["error_description"] = exc.description
    return _redirect(request, req, params)


async def _grant(request: web.Request, req: AuthRequest, user_id: str,
                 auth_time: int) -> web.Response:
    state = idp_state(request)
    grant = Grant(req.client.id, user_id, req.scope, auth_time, secrets.token_hex(16), req.nonce,
                  req.redirect_uri, req.challenge)
    code = await state.store.add_code(grant, CODE_TTL)
    return _redirect(request, req, {"code": code})


async def handle_login(request: web.Request) -> web.StreamResponse:
    fields = await read_form(request)
    check_csrf(request, fields)
    continue_to = _continue_target(fields.get("continue", ""))
    username = fields.get("username", "").strip()[:256]
    password = fields.get("password", "")[:1024]
    state = idp_state(request)
    keys = (f"user:{username.lower()}", state.address_key(request))
    state.logins.check(*keys)           # TooManyRequests -> 429 page (errors.py)
    user = None
    if username and password:
        try:
            user = await state.users.authenticate(username, password)
        except Unauthenticated:
            user = None
    if user is None:
        state.logins.failure(*keys, source=THROTTLE_SOURCE)
        log.info("idp: failed sign-in for %r from %s", username, keys[1][5:])
        return show_login(request, continue_to, username=username,
                          error="Wrong user name or password.")
    state.logins.success(keys[0], source=THROTTLE_SOURCE)
    response = redirect(_without_prompt_login(continue_to), 303)
    await start_session(request, response, user)
    return response


def _without_prompt_login(target: str) -> str:
    """After signing in, `prompt=login` is satisfied: drop it so authorize does not ask again."""
    parts = urlsplit(target)
    query = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "prompt":
            value = " ".join(p for p in value.split() if p != "login")
            if not value:
                continue
        query.append((key, value))
    return parts.path + ("?" + urlencode(query) if query else "")


async def handle_consent(request: web.Request) -> web.StreamResponse:
    fields = await read_form(request)
    check_csrf(request, fields)
    continue_to = _continue_target(fields.get("continue", ""))
    parts = urlsplit(continue_to)
    if parts.path != AUTHORIZE_PATH:
        raise PageError(400, "Invalid request", "The consent form was altered.")
    params = dict(parse_qsl(parts.query))
    req = parse_authorize(request, params)
    try:
        check_request(req, params)
        signed = await current_user(request)
        if signed is None:
            return redirect(continue_to, 303)     # the session ended meanwhile: sign in again
        if fields.get("decision") != "allow":
            raise RedirectError("access_denied", "the user denied the request")
        return await _grant(request, req, signed[0].id, signed[1])
    except RedirectError as exc:
        return _error_redirect(request, req, exc)


async def handle_endsession(request: web.Request) -> web.StreamResponse:
    """OIDC RP-Initiated Logout: end the session; return only to a registered URI of the client
    named by client_id or by the id_token_hint's audience."""
    state = idp_state(request)
    params = request.query
    client_id = params.get("client_id", "")
    hint = params.get("id_token_hint")
    if hint:
        try:
            aud = state.keys.verify(hint).get("aud")
            client_id = client_id or (aud if isinstance(aud, str) else "")
        except OcisError:
            client_id = ""
    target = params.get("post_logout_redirect_uri", "")
    client = state.clients.get(client_id)
    if target and client is not None and client.redirect_allowed(target):
        if params.get("state"):
            target += ("&" if "?" in target else "?") + urlencode({"state": params["state"]})
        response: web.StreamResponse = redirect(target)
    else:
        response = message_page("Signed out", "You have been signed out.")
    await end_session(request, response)
    return response
