"""The one place where a failure becomes an OCS envelope: domain errors -> OCS metas.

Handlers raise `ocis_server.domain.errors`; this middleware renders them (v2 maps statuscodes
to HTTP statuses, v1 stays on 200). No body ever carries a traceback or a host path.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from ocis_server.domain.errors import (
    BadRequest,
    InsufficientStorage,
    NotFound,
    OcisError,
    PermissionDenied,
    ServiceUnavailable,
    Unauthenticated,
    disk_full_error,
    unavailable_cause,
)

from . import ocs

log = logging.getLogger(__name__)


def meta_for(error: OcisError) -> ocs.Meta:
    """The OCS meta for a domain error (reva response.go predefined metas)."""
    if isinstance(error, NotFound):
        return ocs.Meta("failure", ocs.NOT_FOUND, error.message)
    if isinstance(error, Unauthenticated):
        return ocs.Meta("failure", ocs.UNAUTHORISED, error.message)
    if isinstance(error, PermissionDenied):
        return ocs.Meta("failure", ocs.FORBIDDEN, error.message)
    if isinstance(error, BadRequest):
        return ocs.Meta("failure", ocs.INVALID_INPUT, error.message)
    if isinstance(error, InsufficientStorage):   # 507 passes through (v2), as a quota error
        return ocs.Meta("failure", error.status, error.message)
    if isinstance(error, ServiceUnavailable):       # v2: HTTP 503, so clients retry later
        return ocs.Meta("failure", 503, error.message)
    if error.status >= 500:
        return ocs.Meta("failure", ocs.SERVER_ERROR, error.message)
    # 405, 409, 412, 416, 423, ...: v2 passes 200..599 statuscodes through as the HTTP status.
    return ocs.Meta("failure", error.status, error.message)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ServiceUnavailable as error:
        return _unavailable(request, error)
    except OcisError as error:
        return ocs.respond(request, None, meta_for(error))
    except web.HTTPNotFound:
        return ocs.respond(request, None, ocs.Meta("failure", ocs.NOT_FOUND, "Not found"))
    except web.HTTPMethodNotAllowed:
        return ocs.respond(request, None, ocs.Meta("failure", 405, "Method not allowed"))
    except web.HTTPException:
        raise
    except Exception as exc:
        full = disk_full_error(exc)
        if full is not None:
            log.warning("%s %s: the data disk is full", request.method, request.path)
            return ocs.respond(request, None, meta_for(full))
        cause = unavailable_cause(exc)
        if cause is not None:
            log.warning("%s %s: %s (%s)", request.method, request.path, cause.message, exc)
            return _unavailable(request, cause)
        log.exception("unexpected error in %s %s", request.method, request.path)
        return ocs.respond(request, None, ocs.Meta("failure", ocs.SERVER_ERROR, "internal error"))


def _unavailable(request: web.Request, error: ServiceUnavailable) -> web.Response:
    """The envelope with statuscode 503 (HTTP 503 in v2; v1 stays 200) and Retry-After."""
    response = ocs.respond(request, None, meta_for(error))
    response.headers["Retry-After"] = error.retry_after_header
    return response
