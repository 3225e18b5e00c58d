"""Failures on the link pages become small HTML pages with the domain error's status; a bug is
logged and answered 500 with nothing more (no traceback, no host path)."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from ocis_server.domain.errors import OcisError, disk_full_error, unavailable_cause
from ocis_server.services.errors import retry_headers

from .pages import message_page

log = logging.getLogger(__name__)
_TITLES = {400: "Bad request", 401: "Sign in required", 403: "Not allowed",
           404: "Link not found", 429: "Too many attempts", 503: "Try again later",
           507: "Not enough space"}


def render_error(error: OcisError, request: web.Request) -> web.Response:
    """The page for a domain error: for this app's handlers and the proxy's own refusals (a
    private link opened without signing in)."""
    response = message_page(_TITLES.get(error.status, "Error"), error.message, status=error.status)
    response.headers.update(retry_headers(error))
    return response


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except OcisError as error:
        return render_error(error, request)
    except web.HTTPNotFound:
        return message_page("Not found", "There is nothing at this address.", status=404)
    except web.HTTPMethodNotAllowed:
        return message_page("Not allowed", "This method is not allowed here.", status=405)
    except web.HTTPException:
        raise
    except Exception as exc:
        full = disk_full_error(exc)
        if full is not None:
            log.warning("%s %s: the data disk is full", request.method, request.path)
            return render_error(full, request)
        cause = unavailable_cause(exc)
        if cause is not None:
            log.warning("%s %s: %s (%s)", request.method, request.path, cause.message, exc)
            return render_error(cause, request)
        log.exception("unexpected error in %s %s", request.method, request.path)
        return message_page("Error", "Something went wrong.", status=500)
