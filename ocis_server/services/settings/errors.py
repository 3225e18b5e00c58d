"""The one place where a failure of the settings API becomes a body: a go-micro error as oCIS's
settings service writes it, `{"id": "ocis-settings", "code", "detail", "status"}`. The HTTP status
follows oCIS's `handleError`: 400, 404 and 500 keep theirs, any other error code (403 Forbidden
among them) is sent with 400; unreadable JSON is 412; the proxy's own 401 and 429 stay as they are.
No traceback, no host path.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from aiohttp import web

from ocis_server.domain.errors import OcisError, TooManyRequests, Unauthenticated
from ocis_server.services import errors

SERVICE_ID = "ocis-settings"


def render_error(error: OcisError, request: web.Request) -> web.Response:
    code = error.status
    if isinstance(error, (Unauthenticated, TooManyRequests)) or code in (400, 404, 412, 500):
        status = code
    elif code >= 500:
        status = 500
    else:
        status = 400
    body = {"id": SERVICE_ID, "code": code, "detail": error.message,
            "status": HTTPStatus(code).phrase if code in HTTPStatus._value2member_map_ else ""}
    return web.json_response(body, status=status, headers=errors.retry_headers(error))


error_middleware = errors.error_middleware(render_error, logging.getLogger(__name__))
