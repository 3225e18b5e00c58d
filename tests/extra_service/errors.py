"""The extra service's error renderer: plain text, so a test can tell it from every real one."""

from __future__ import annotations

import logging

from aiohttp import web

from ocis_server.domain.errors import OcisError
from ocis_server.services import errors


def render_error(error: OcisError, request: web.Request) -> web.Response:
    return web.Response(status=error.status, text=f"extra says {error.code}: {error.message}",
                        headers=errors.retry_headers(error))


error_middleware = errors.error_middleware(render_error, logging.getLogger(__name__))
