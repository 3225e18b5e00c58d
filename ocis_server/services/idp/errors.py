"""How the IdP answers failures: OAuth error JSON at the API endpoints (RFC 6749 §5.2), a plain
HTML page in the browser. Domain errors never leak detail, and a bad request is never a 500."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Awaitable, Callable

from aiohttp import web

from ocis_server.domain.errors import OcisError, TooManyRequests, disk_full_error
from ocis_server.services.errors import retry_headers

from .pages import message_page

log = logging.getLogger("ocis.idp")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class OAuthError(Exception):
    """An error a token/device/userinfo endpoint returns as `{"error": ..., ...}`."""

    def __init__(self, error: str, description: str = "", status: int = 400,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(description or error)
        self.error, self.description, self.status = error, description, status
        self.headers = headers or {}

    def response(self) -> web.Response:
        body = {"error": self.error}
        if self.description:
            body["error_description"] = self.description
        return web.json_response(body, status=self.status, headers={**NO_STORE, **self.headers})


class PageError(Exception):
    """A failure shown to the person in the browser (never a redirect to an unchecked URI)."""

    def __init__(self, status: int, title: str, text: str) -> None:
        super().__init__(text)
        self.status, self.title, self.text = status, title, text


def render_error(error: OcisError, request: web.Request) -> web.Response:
    """A domain error as OAuth error JSON at the API (`/konnect/`), else as a page in the browser."""
    api = request.path.startswith("/konnect/")
    if isinstance(error, TooManyRequests):
        retry = retry_headers(error)
        if api:
            return OAuthError("slow_down", error.message, 429, retry).response()
        response = message_page("Too many attempts", "Too many failed attempts. Please wait a "
                                "few minutes and try again.", status=429)
        response.headers.update(retry)
        return response
    log.info("idp %s %s: %s", request.method, request.path, error.message)
    if error.status == 507:                    # a full data disk: sessions, codes cannot be kept
        if api:
            return OAuthError("temporarily_unavailable", error.message, 507).response()
        return message_page("Request failed", error.message, status=507)
    unavailable = error.status >= 500          # e.g. the user store is not running here
    if api:
        if unavailable:
            return OAuthError("temporarily_unavailable", error.message, 503,
                              retry_headers(error)).response()
        return OAuthError("invalid_request", error.message, error.status).response()
    page = message_page("Request failed", error.message, status=503 if unavailable
                        else error.status)
    page.headers.update(retry_headers(error))
    return page


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except OAuthError as exc:
        return exc.response()
    except PageError as exc:
        return message_page(exc.title, exc.text, status=exc.status)
    except OcisError as exc:
        return render_error(exc, request)
    except sqlite3.OperationalError as exc:    # from a store that did not map it itself
        full = disk_full_error(exc)
        if full is None:
            raise
        log.warning("idp %s %s: the data disk is full", request.method, request.path)
        return render_error(full, request)
