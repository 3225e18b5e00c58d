"""The contract of every service's `errors.py`: `render_error(error, request) -> web.Response` turns
a domain error into the body of that service's protocol. The service table names it, so the proxy
answers its own 401, 429 and 502 on a service's paths with the very body the service would send;
`error_middleware` routes every failure of an app through it. No body carries a traceback or path.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from ocis_server.domain.errors import (
    MethodNotAllowed,
    NotFound,
    OcisError,
    ServiceUnavailable,
    TooManyRequests,
    disk_full_error,
    unavailable_cause,
)

ErrorRenderer = Callable[[OcisError, web.Request], web.Response]


def retry_headers(error: OcisError) -> dict[str, str]:
    """Retry-After in whole seconds for a 429 (RFC 6585 §4) or 503 (RFC 9110 §15.6.4), else
    nothing."""
    if isinstance(error, (TooManyRequests, ServiceUnavailable)):
        return {"Retry-After": str(max(1, math.ceil(error.retry_after)))}
    return {}


def error_middleware(render: ErrorRenderer, log: logging.Logger, *, not_found: str = "not found",
                     not_allowed: str = "method not allowed") -> Middleware:
    """Domain errors and unrouted requests (404, 405) rendered by `render`, a full disk as 507, a
    machine short of something as 503; a bug is logged and answered as a generic 500 in the same
    format."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except OcisError as error:
            return render(error, request)
        except web.HTTPNotFound:
            return render(NotFound(not_found), request)
        except web.HTTPMethodNotAllowed:
            return render(MethodNotAllowed(not_allowed), request)
        except web.HTTPException:
            raise
        except Exception as exc:
            full = disk_full_error(exc)     # ENOSPC or SQLite "disk is full" from below the API
            if full is not None:
                log.warning("%s %s: the data disk is full", request.method, request.path)
                return render(full, request)
            cause = unavailable_cause(exc)  # the machine, not our code: out of descriptors...
            if cause is not None:
                log.warning("%s %s: %s (%s)", request.method, request.path, cause.message, exc)
                return render(cause, request)
            log.exception("unexpected error in %s %s", request.method, request.path)
            return render(OcisError("internal error"), request)

    return middleware
