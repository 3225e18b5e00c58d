"""The one error renderer of ocdav: domain errors and DAV conditions become SabreDAV-style XML
bodies (`d:error` + `s:exception` + `s:message`); anything unexpected becomes a generic 500.
`render_error` is what the service table names: the proxy renders its refusals on DAV paths with it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from aiohttp import web

from ocis_server.domain.errors import OcisError, disk_full_error, unavailable_cause
from ocis_server.services.errors import retry_headers

from .xml import CONTENT_TYPE, XML_DECL, esc

log = logging.getLogger("ocis.ocdav")

# Exception class names as SabreDAV (and therefore reva's ocdav) reports them per status.
_SABRE = {
    400: "BadRequest", 401: "NotAuthenticated", 403: "Forbidden", 404: "NotFound",
    405: "MethodNotAllowed", 409: "Conflict", 411: "LengthRequired", 412: "PreconditionFailed",
    415: "UnsupportedMediaType", 416: "RequestedRangeNotSatisfiable", 423: "Locked",
    429: "TooManyRequests",
    501: "NotImplemented", 503: "ServiceUnavailable", 507: "InsufficientStorage",
}


class DavError(Exception):
    """A protocol-level failure with an optional RFC 4918 precondition element (raw XML)."""

    def __init__(self, status: int, message: str, condition: str = "",
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.condition = condition
        self.headers = headers or {}


H = TypeVar("H")


def method_handler(request: web.Request, methods: Mapping[str, H], where: str = "") -> H:
    """The handler of the request's method in a namespace's table; any other method -> 405
    with Allow (`where`: the namespace, for the message)."""
    handler = methods.get(request.method)
    if handler is None:
        raise DavError(405, f"{request.method} is not supported{where}",
                       headers={"Allow": ", ".join(methods)})
    return handler


def exception_name(status: int) -> str:
    name = _SABRE.get(status)
    return f"Sabre\\DAV\\Exception\\{name}" if name else "Sabre\\DAV\\Exception"


def error_body(status: int, message: str, condition: str = "", code: str = "") -> bytes:
    errorcode = f"<s:errorcode>{esc(code)}</s:errorcode>" if code else ""
    return XML_DECL + (
        '<d:error xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns">'
        f"{condition}<s:exception>{exception_name(status)}</s:exception>"
        f"<s:message>{esc(message)}</s:message>{errorcode}</d:error>").encode()


def error_response(status: int, message: str, condition: str = "", code: str = "",
                   headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=error_body(status, message, condition, code),
                        headers={"Content-Type": CONTENT_TYPE, **(headers or {})})


def render_error(error: OcisError, request: web.Request) -> web.Response:
    """The DAV body for a domain error: for this app's handlers and the proxy's own refusals."""
    headers = retry_headers(error)
    if error.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="ocis"'   # the proxy sets its own challenge
    return error_response(error.status, error.message, code=error.code, headers=headers)


@web.middleware
async def error_middleware(request: web.Request,
                           handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                           ) -> web.StreamResponse:
    try:
        return await handler(request)
    except DavError as exc:
        return error_response(exc.status, exc.message, exc.condition, headers=exc.headers)
    except OcisError as exc:
        return render_error(exc, request)
    except web.HTTPException as exc:
        if exc.status >= 400 and not exc.body:
            return error_response(exc.status, exc.reason, headers=dict(exc.headers))
        raise
    except ConnectionResetError:
        raise
    except Exception as exc:
        full = disk_full_error(exc)
        if full is not None:    # ENOSPC or SQLite "disk is full" from below the storage API
            log.warning("ocdav: %s %s: the data disk is full", request.method, request.path)
            return render_error(full, request)
        cause = unavailable_cause(exc)         # the machine, not our code: out of descriptors...
        if cause is not None:
            log.warning("ocdav: %s %s: %s (%s)", request.method, request.path, cause.message, exc)
            return render_error(cause, request)
        # Never leak host paths or tracebacks to the client (security-notes.md §5).
        log.exception("ocdav: unexpected error on %s %s", request.method, request.path)
        return error_response(500, "Internal Server Error")

