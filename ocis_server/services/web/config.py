"""What the web pages work with: the public base URL (the OIDC issuer the `web` client signs in
at), the cookie names and an HTTP session for calling this server's own APIs as the user."""

from __future__ import annotations

from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

from ocis_server.services import WEB_SESSION_COOKIE
from ocis_server.services.context import ServiceContext

CLIENT_ID = "web"                      # the embedded IdP's built-in client (idp/clients.py)
SESSION_COOKIE = WEB_SESSION_COOKIE    # the access token, sent to / and the private links
REFRESH_COOKIE = "ocis-web-refresh"    # the refresh token, sent to / only
SIGNIN_COOKIE = "ocis-web-signin"      # state and PKCE verifier of a sign-in in progress
CSRF_COOKIE = "ocis-web-csrf"          # double-submit token of the sign-out form
CALLBACK = "/oidc-callback.html"
SIGNIN_TTL = 600                       # seconds a started sign-in may take


@dataclass(slots=True)
class WebState:
    ctx: ServiceContext
    http: aiohttp.ClientSession | None = field(default=None)

    @property
    def base(self) -> str:
        return self.ctx.config.ocis_url.rstrip("/")

    @property
    def secure_cookies(self) -> bool:
        return self.base.startswith("https://")

    def session(self) -> aiohttp.ClientSession:
        if self.http is None:
            connector = aiohttp.TCPConnector(ssl=False if self.ctx.config.insecure else True)
            self.http = aiohttp.ClientSession(connector=connector,
                                              timeout=aiohttp.ClientTimeout(total=15))
        return self.http


STATE_KEY = web.AppKey("web_state", WebState)
