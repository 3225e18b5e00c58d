"""GET `/`: what this server is and how to connect; signed in, also the user's spaces and the
shares waiting for them. What it shows of the user comes from the server's own Graph API called
with the user's token, so the page sees exactly what every other client sees."""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

import aiohttp
from aiohttp import web

from ocis_server.services.htmlpages import set_csrf_cookie

from . import pages, signin
from .config import CSRF_COOKIE, REFRESH_COOKIE, SESSION_COOKIE, STATE_KEY, WebState

log = logging.getLogger(__name__)
ENDED = "Your session has ended: sign in again."


class Expired(Exception):
    """The access token was refused (401)."""


async def _get(state: WebState, token: str, path: str) -> Any:
    async with state.session().get(f"{state.base}{path}", allow_redirects=False,
                                   headers={"Authorization": f"Bearer {token}"}) as resp:
        if resp.status == 401:
            raise Expired(path)
        if resp.status != 200:
            raise aiohttp.ClientResponseError(resp.request_info, (), status=resp.status)
        return await resp.json(content_type=None)


async def _account(state: WebState, token: str) -> pages.Account:
    me, drives, shared = await asyncio.gather(
        _get(state, token, "/graph/v1.0/me"),
        _get(state, token, "/graph/v1beta1/me/drives"),
        _get(state, token, "/graph/v1beta1/me/drive/sharedWithMe"))
    spaces = [d for d in drives.get("value", []) if isinstance(d, dict)]
    waiting = [s for s in shared.get("value", []) if isinstance(s, dict)
               and not s.get("@client.synchronize") and not s.get("@UI.Hidden")]
    return pages.Account(name=str(me.get("displayName") or me.get("onPremisesSamAccountName")),
                         login=str(me.get("onPremisesSamAccountName") or ""),
                         spaces=spaces, waiting=waiting)


async def home(request: web.Request) -> web.StreamResponse:
    if "code" in request.query or "error" in request.query:   # "/" is a registered redirect too
        return await signin.callback(request)
    state = request.app[STATE_KEY]
    csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    account, renewed, notice = await _signed_in(request, state)
    response = pages.home_page(state.base, account, csrf=csrf, notice=notice)
    if renewed is not None:
        signin.remember(response, state, renewed)
    elif notice == ENDED:
        signin.forget(response)
    if not request.cookies.get(CSRF_COOKIE):
        set_csrf_cookie(response, CSRF_COOKIE, csrf, path="/", secure=state.secure_cookies)
    return response


async def _signed_in(request: web.Request, state: WebState
                     ) -> tuple[pages.Account | None, signin.Tokens | None, str]:
    """(account, new tokens if they were refreshed, a notice when the session ended)."""
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token:
        return None, None, ""
    try:
        try:
            return await _account(state, token), None, ""
        except Expired:
            renewed = await signin.refresh(state, request.cookies.get(REFRESH_COOKIE, ""))
            if renewed is None:
                return None, None, ENDED
            return await _account(state, renewed.access), renewed, ""
    except Expired:
        return None, None, ENDED
    except (aiohttp.ClientError, TimeoutError, ValueError, AttributeError) as exc:
        log.warning("the home page could not read the account: %s", exc)
        return None, None, "Your spaces could not be read just now: try again or sign in again."
