"""The one place where a userlog failure becomes a response: the OCS v2 envelope (the service
lives under /ocs, like oCIS's userlog), HTTP status as the domain error's."""

from __future__ import annotations

import logging

from aiohttp import web

from ocis_server.domain.errors import OcisError
from ocis_server.services import errors


def render_error(error: OcisError, request: web.Request) -> web.Response:
    return web.json_response(
        {"ocs": {"meta": {"status": "error", "statuscode": error.status,
                          "message": error.message}, "data": None}},
        status=error.status, headers=errors.retry_headers(error))


error_middleware = errors.error_middleware(render_error, logging.getLogger(__name__))
