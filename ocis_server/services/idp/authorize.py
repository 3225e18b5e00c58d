"""The browser side of the authorization code flow (OIDC Core §3.1, PKCE RFC 7636): the authorize
endpoint, the sign-in and consent forms it shows, and end-session. authlib's code grant validates
the request and issues the code; a client or redirect URI that does not check out gets our error
page, never a redirect (no open redirects)."""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, urlencode, urlsplit

from aiohttp import web
from authlib.oauth2 import OAuth2Error  # type: ignore[import-untyped]
from authlib.oidc.core.errors import ConsentRequiredError  # type: ignore[import-untyped]

from ocis_server.domain.errors import OcisError, Unauthenticated

from .config import AUTHORIZE_PATH, CONSENT_PATH, LOGIN_PATH
from .errors import PageError
from .forms import read_form
from .oauth import AioRequest, oauth_request
from .pages import consent_page, login_page, message_page, redirect
from .state import (
    IdpState,
    check_csrf,
    csrf_token,
    current_user,
    end_session,
    idp_state,
    render,
    start_session,
)

log = logging.getLogger("ocis.idp")
MAX_PARAM = 2048          # longest accepted value of one authorize parameter
THROTTLE_SOURCE = "idp"   # sign-in failures in the shared login throttle (auth/throttle.py)


def _page_error(state: IdpState, params: dict[str, str]) -> PageError:
    """A refusal that cannot go back to the client: no verified redirect URI (RFC 6749 §4.1.2.1)."""
    client = state.clients.get(params.get("client_id", ""))
    if client is None:
        return PageError(400, "Unknown application", "The application that sent you here is not "
                         "registered with this server.")
    if not client.redirect_allowed(params.get("redirect_uri", "")):
        return PageError(400, "Invalid redirect", "The application asked to return to an address "
                         "that is not registered for it.")
    return PageError(400, "Invalid request", "This sign-in request is not valid.")


def _refuse(state: IdpState, oauth_req: AioRequest, exc: OAuth2Error) -> web.Response:
    """authlib's error redirect when it verified the redirect URI, else our error page."""
    if exc.redirect_uri:
        response: web.Response = state.oauth.handle_error_response(oauth_req, exc)
        return response
    raise _page_error(state, oauth_req.payload.data)


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
    return await _authorize(request, params, request.path_qs)


async def _authorize(request: web.Request, params: dict[str, str], continue_to: str,
                     decision: str | None = None) -> web.StreamResponse:
    """authlib validates the request (client, redirect URI, response type, scope, PKCE, nonce,
    prompt); we ask the person to sign in and to consent; authlib issues the code. `decision`
    is the consent form's answer when it resumes the request."""
    state = idp_state(request)
    if any(len(v) > MAX_PARAM for v in params.values()):
        raise PageError(400, "Invalid request", "A parameter of this sign-in request is too long.")
    if not all(v.isprintable() for v in params.values()):   # nothing to smuggle into a header
        raise _page_error(state, params)
    signed = await current_user(request)
    user, auth_time = signed if signed else (None, 0)
    oauth_req = oauth_request(state, request, params, path=AUTHORIZE_PATH)
    oauth_req.auth_time = auth_time
    oauth = state.oauth
    try:
        grant = await oauth.run(oauth.get_consent_grant, oauth_req, end_user=user)
        prompt = set(params.get("prompt", "").split())
        if decision is None and (user is None or "login" in prompt):
            return show_login(request, continue_to,    # login_hint prefills the name
                              username=params.get("login_hint", "")[:256])
        if user is None:
            return redirect(continue_to, 303)     # the session ended meanwhile: sign in again
        if decision is None and ("consent" in prompt or not grant.client.trusted):
            if "none" in prompt:
                raise ConsentRequiredError(redirect_uri=grant.redirect_uri,
                                           state=oauth_req.payload.state)
            return render(request, consent_page(
                CONSENT_PATH, csrf_token(request), {"continue": continue_to}, grant.client.name,
                user.username, oauth_req.scope))
    except OAuth2Error as exc:
        return _refuse(state, oauth_req, exc)
    approved = user if decision in (None, "allow") else None
    response: web.Response = await oauth.run(oauth.create_authorization_response, oauth_req,
                                             grant_user=approved, grant=grant)
    return response


async def handle_login(request: web.Request) -> web.StreamResponse:
    fields = await read_form(request)
    check_csrf(request, fields)
    continue_to = _continue_target(fields.get("continue", ""))
    username = fields.get("username", "").strip()[:256]
    password = fields.get("password", "")[:1024]
    state = idp_state(request)
    account, address = f"user:{username.lower()}", state.address_key(request)
    await state.logins.admit(account, address)     # TooManyRequests -> 429 page (errors.py)
    user = None
    if username and password:
        try:
            user = await state.users.authenticate(username, password)
        except Unauthenticated:
            user = None
    if user is None:
        await state.logins.failed(account, address, source=THROTTLE_SOURCE)
        log.info("idp: failed sign-in for %r from %s", username, address[5:])
        return show_login(request, continue_to, username=username,
                          error="Wrong user name or password.")
    state.logins.success(account, address, source=THROTTLE_SOURCE)
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
    query = parse_qsl(parts.query)
    params = dict(query)
    if len(params) != len(query):
        raise PageError(400, "Invalid request", "The consent form was altered.")
    return await _authorize(request, params, continue_to,
                            "allow" if fields.get("decision") == "allow" else "deny")


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
