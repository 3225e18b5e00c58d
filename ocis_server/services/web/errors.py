"""Failures on the web pages become small HTML pages with the domain error's status; no traceback,
no host path."""

from __future__ import annotations

import logging

from aiohttp import web

from ocis_server.domain.errors import OcisError
from ocis_server.services.errors import error_middleware as _middleware
from ocis_server.services.errors import retry_headers

from .pages import message_page

log = logging.getLogger(__name__)
_TITLES = {400: "Bad request", 401: "Sign in required", 403: "Not allowed", 404: "Not found",
           405: "Not allowed", 502: "Not available", 503: "Try again later"}


def render_error(error: OcisError, request: web.Request) -> web.Response:
    response = message_page(_TITLES.get(error.status, "Error"), error.message, status=error.status)
    response.headers.update(retry_headers(error))
    return response


error_middleware = _middleware(render_error, log, not_found="There is nothing at this address.")
