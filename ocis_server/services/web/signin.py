"""Sign-in as the IdP's `web` client: authorization code with PKCE (RFC 7636), the code exchanged
at the issuer's token endpoint by this server; the tokens live in HttpOnly cookies. Sign-out
revokes the refresh token (RFC 7009) and forgets both."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from ocis_server.domain.errors import BadRequest
from ocis_server.services.htmlpages import csrf_matches

from .config import (
    CALLBACK,
    CLIENT_ID,
    CSRF_COOKIE,
    REFRESH_COOKIE,
    SESSION_COOKIE,
    SIGNIN_COOKIE,
    SIGNIN_TTL,
    STATE_KEY,
    WebState,
)

log = logging.getLogger(__name__)
SCOPE = "openid profile email offline_access"


@dataclass(frozen=True, slots=True)
class Tokens:
    access: str
    refresh: str
    expires_in: int


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def start(request: web.Request) -> web.StreamResponse:
    """GET /login: off to the IdP's sign-in page, remembering state and verifier for the way back."""
    state = request.app[STATE_KEY]
    nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(48)
    query = urlencode({"client_id": CLIENT_ID, "response_type": "code", "scope": SCOPE,
                       "redirect_uri": state.base + CALLBACK, "state": nonce,
                       "code_challenge": _challenge(verifier), "code_challenge_method": "S256"})
    response = web.HTTPSeeOther(f"{state.base}/signin/v1/identifier/_/authorize?{query}")
    response.set_cookie(SIGNIN_COOKIE, f"{nonce}.{verifier}", path=CALLBACK, httponly=True,
                        samesite="Lax", secure=state.secure_cookies, max_age=SIGNIN_TTL)
    return response


async def callback(request: web.Request) -> web.StreamResponse:
    """GET /oidc-callback.html?code&state: the IdP sends the browser back here. Without a code
    (opened by hand, or the silent-redirect target) it leads to `/`, never a bare 404."""
    state = request.app[STATE_KEY]
    query = request.query
    if "error" in query:
        raise BadRequest(f"The sign-in did not complete: {query.get('error_description') or query['error']}.")
    if "code" not in query:
        raise web.HTTPSeeOther("/")
    nonce, _, verifier = request.cookies.get(SIGNIN_COOKIE, "").partition(".")
    if not nonce or not hmac.compare_digest(nonce.encode(), query.get("state", "").encode()):
        raise BadRequest("This sign-in expired or was started in another browser: sign in again.")
    tokens = await _token(state, {"grant_type": "authorization_code", "code": query["code"],
                                  "redirect_uri": state.base + CALLBACK, "code_verifier": verifier})
    if tokens is None:
        raise BadRequest("The sign-in could not be completed: sign in again.")
    response = web.HTTPSeeOther("/")
    response.del_cookie(SIGNIN_COOKIE, path=CALLBACK)
    remember(response, state, tokens)
    return response


def remember(response: web.StreamResponse, state: WebState, tokens: Tokens) -> None:
    secure = state.secure_cookies
    response.set_cookie(SESSION_COOKIE, tokens.access, path="/", httponly=True, samesite="Lax",
                        secure=secure)
    if tokens.refresh:
        response.set_cookie(REFRESH_COOKIE, tokens.refresh, path="/", httponly=True,
                            samesite="Strict", secure=secure)


def forget(response: web.StreamResponse) -> None:
    for name in (SESSION_COOKIE, REFRESH_COOKIE):
        response.del_cookie(name, path="/")


async def refresh(state: WebState, refresh_token: str) -> Tokens | None:
    if not refresh_token:
        return None
    return await _token(state, {"grant_type": "refresh_token", "refresh_token": refresh_token})


async def _token(state: WebState, form: dict[str, str]) -> Tokens | None:
    """POST the issuer's token endpoint as the public `web` client; None when it refuses."""
    url = f"{state.base}/konnect/v1/token"
    try:
        async with state.session().post(url, data={**form, "client_id": CLIENT_ID},
                                        allow_redirects=False) as resp:
            doc: Any = await resp.json(content_type=None) if resp.status == 200 else None
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        log.warning("token endpoint %s: %s", url, exc)
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("access_token"), str):
        return None
    refresh_token = doc.get("refresh_token")
    return Tokens(doc["access_token"], refresh_token if isinstance(refresh_token, str) else "",
                  int(doc.get("expires_in") or 0))


async def sign_out(request: web.Request) -> web.StreamResponse:
    """POST /logout (with the form's CSRF token): revoke the refresh token, forget the cookies."""
    state = request.app[STATE_KEY]
    form = await request.post()
    if not csrf_matches(request, CSRF_COOKIE, str(form.get("csrf", ""))):
        raise BadRequest("This form expired: reload the page and sign out again.")
    token = request.cookies.get(REFRESH_COOKIE, "")
    if token:
        try:
            async with state.session().post(f"{state.base}/konnect/v1/revocation",
                                            data={"token": token, "client_id": CLIENT_ID}):
                pass
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("revoking the refresh token failed: %s", exc)
    response = web.HTTPSeeOther("/")
    forget(response)
    return response
