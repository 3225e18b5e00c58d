"""The error renderer the small JSON services share (auth-app, webfinger): a failure becomes
`{"error": {"code", "message"}}` with the domain error's HTTP status; 404/405 for unrouted requests;
a bug is logged and answered 500 with nothing more. No traceback, no host path in a body."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from ocis_server.domain.errors import (
    OcisError,
    ServiceUnavailable,
    disk_full_error,
    unavailable_cause,
)


def error_response(status: int, code: str, message: str,
                   headers: Mapping[str, str] | None = None) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status,
                             headers=headers)


def error_middleware(log: logging.Logger, *,
                     headers: Mapping[str, str] | None = None) -> Middleware:
    """A middleware rendering every failure of the app as above; `headers` go on each error."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ServiceUnavailable as error:
            return _unavailable(error, headers)
        except OcisError as error:
            return error_response(error.status, error.code, error.message, headers)
        except web.HTTPNotFound:
            return error_response(404, "itemNotFound", "not found", headers)
        except web.HTTPMethodNotAllowed:
            return error_response(405, "notAllowed", "method not allowed", headers)
        except web.HTTPException:
            raise
        except Exception as exc:
            full = disk_full_error(exc)
            if full is not None:
                log.warning("%s %s: the data disk is full", request.method, request.path)
                return error_response(full.status, full.code, full.message, headers)
            cause = unavailable_cause(exc)
            if cause is not None:
                log.warning("%s %s: %s (%s)", request.method, request.path, cause.message, exc)
                return _unavailable(cause, headers)
            log.exception("unexpected error in %s %s", request.method, request.path)
            return error_response(500, "generalException", "internal error", headers)

    return middleware


def _unavailable(error: ServiceUnavailable, headers: Mapping[str, str] | None) -> web.Response:
    """503 with Retry-After: what the service needs is away for a while."""
    return error_response(503, error.code, error.message,
                          {**(headers or {}), "Retry-After": error.retry_after_header})
