"""The one place where a failure becomes a LibreGraph (OData) error body.

`{"error": {"code", "message", "innererror": {"date", "request-id"}}}`; HTTP statuses by code as
oCIS `services/graph/pkg/errorcode/errorcode.go` renders them. No traceback or host path in a body.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

from aiohttp import web

from ocis_server.domain.errors import OcisError, PayloadTooLarge
from ocis_server.services import errors
from ocis_server.services.errors import retry_headers

log = logging.getLogger(__name__)

# errorcode.go `Render`: note nameAlreadyExists is 409 here (WebDAV answers 405 for the same error).
STATUS_BY_CODE = {
    "accessDenied": 403,
    "invalidRequest": 400,
    "itemNotFound": 404,
    "nameAlreadyExists": 409,
    "notAllowed": 405,
    "notSupported": 501,
    "invalidRange": 416,
    "itemIsLocked": 423,
    "preconditionFailed": 412,
    "unauthenticated": 401,
    "quotaLimitReached": 507,
    "insufficientStorage": 507,
    "conflict": 409,
    "serviceNotAvailable": 503,
}   # generalException: the error's own status (500, or 502 when a store runs on another node)


def request_id(request: web.Request) -> str:
    """The id the proxy (or the client) gave this request, else a fresh one."""
    return request.headers.get("X-Request-Id") or str(uuid.uuid4())


def error_response(request: web.Request, code: str, message: str,
                   status: int | None = None, retry_after: str = "") -> web.Response:
    rid = request_id(request)
    date = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {"error": {"code": code, "message": message,
                      "innererror": {"date": date, "request-id": rid}}}
    headers = {"X-Request-Id": rid}
    if retry_after:
        headers["Retry-After"] = retry_after
    return web.json_response(body, status=status or STATUS_BY_CODE.get(code, 500),
                             headers=headers)


def render_error(error: OcisError, request: web.Request) -> web.Response:
    """The OData error for a domain error, with the status oCIS's graph gives its code."""
    status = STATUS_BY_CODE.get(error.code, error.status)
    if isinstance(error, PayloadTooLarge):
        status = 413        # its code is invalidRequest (400), but it stays a 413
    response = error_response(request, error.code, error.message, status)
    response.headers.update(retry_headers(error))
    return response


error_middleware = errors.error_middleware(render_error, log)
