"""The one place where a failure becomes a LibreGraph (OData) error body.

`{"error": {"code", "message", "innererror": {"date", "request-id"}}}`; HTTP statuses by code as
oCIS `services/graph/pkg/errorcode/errorcode.go` renders them. No traceback or host path in a body.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

from aiohttp import web
from aiohttp.typedefs import Handler

from ocis_server.domain.errors import (
    OcisError,
    PayloadTooLarge,
    ServiceUnavailable,
    disk_full_error,
    unavailable_cause,
)

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
    "generalException": 500,
    "serviceNotAvailable": 503,
}


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


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ServiceUnavailable as error:
        return error_response(request, error.code, error.message, 503, error.retry_after_header)
    except OcisError as error:
        status = STATUS_BY_CODE.get(error.code, error.status)
        if isinstance(error, PayloadTooLarge):
            status = 413        # its code is invalidRequest (400), but it stays a 413
        return error_response(request, error.code, error.message, status)
    except web.HTTPNotFound:
        return error_response(request, "itemNotFound", "not found")
    except web.HTTPMethodNotAllowed:
        return error_response(request, "notAllowed", "method not allowed")
    except web.HTTPException:
        raise
    except Exception as exc:
        full = disk_full_error(exc)
        if full is not None:
            log.warning("%s %s: the data disk is full", request.method, request.path)
            return error_response(request, full.code, full.message, full.status)
        cause = unavailable_cause(exc)
        if cause is not None:
            log.warning("%s %s: %s (%s)", request.method, request.path, cause.message, exc)
            return error_response(request, cause.code, cause.message, 503,
                                  cause.retry_after_header)
        log.exception("unexpected error in %s %s", request.method, request.path)
        return error_response(request, "generalException", "internal error")
