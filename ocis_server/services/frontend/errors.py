"""The one place where a failure becomes an OCS envelope: domain errors -> OCS metas.

Handlers raise `ocis_server.domain.errors`; `render_error` renders them (v2 maps statuscodes to HTTP
statuses, v1 stays on 200 but for 401 and 429), for this app's middleware and for the proxy's
own refusals on /ocs. No body ever carries a traceback or a host path.
"""

from __future__ import annotations

import logging

from aiohttp import web

from ocis_server.domain.errors import (
    BadRequest,
    InsufficientStorage,
    NotFound,
    OcisError,
    PermissionDenied,
    ServiceUnavailable,
    Unauthenticated,
)
from ocis_server.services import errors
from ocis_server.services.errors import retry_headers

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
    if error.status >= 500 and error.status not in ocs.PASSED_THROUGH:
        return ocs.Meta("failure", ocs.SERVER_ERROR, error.message)
    # 405, 409, 412, 416, 423, 429, 502, 503: v2 passes 200..599 statuscodes through as HTTP status.
    return ocs.Meta("failure", error.status, error.message)


def render_error(error: OcisError, request: web.Request) -> web.Response:
    """The OCS envelope for a domain error, in the format and API version the request asked for."""
    response = ocs.respond(request, None, meta_for(error))
    response.headers.update(retry_headers(error))
    return response


error_middleware = errors.error_middleware(render_error, log, not_found="Not found",
                                           not_allowed="Method not allowed")
