"""The one place where an OCM failure becomes a body: the OCM API's `Error` object
`{"message": ...}`, and for a 400 on a bad request body its `validationErrors`
`[{"name": <field>, "message": <REASON>}]` (cs3org/OCM-API spec.yaml, definitions `Error`, `400`).
No traceback, no host path; the proxy's own refusals on OCM paths use it too."""

from __future__ import annotations

import logging

from aiohttp import web

from ocis_server.domain.errors import BadRequest, OcisError
from ocis_server.services import errors


class InvalidBody(BadRequest):
    """A request body field is missing or wrong."""

    code = "INVALID_PARAMETERS"

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("INVALID_PARAMETERS: " + ", ".join(name for name, _ in problems))
        self.problems = problems


# reva's `reqres` codes by status: the body of the invitation endpoints (`/sciencemesh/*`,
# `/ocm/invite-accepted`) is `{"code": ..., "message": ...}` as oCIS answers there.
REQRES_CODES = {400: "INVALID_PARAMETER", 401: "UNAUTHENTICATED", 403: "UNTRUSTED_SERVICE",
                404: "RESOURCE_NOT_FOUND", 409: "ALREADY_EXIST", 501: "FUNCTION_NOT_IMPLEMENTED",
                502: "PROVIDER_ERROR"}


def _reqres(request: web.Request) -> bool:
    path = request.path.rstrip("/")
    return path.startswith("/sciencemesh") or path.endswith("/ocm/invite-accepted")


def render_error(error: OcisError, request: web.Request) -> web.Response:
    body: dict[str, object] = {"message": error.message}
    if _reqres(request):
        body = {"code": REQRES_CODES.get(error.status, "SERVER_ERROR"), "message": error.message}
    if isinstance(error, InvalidBody):
        body["validationErrors"] = [{"name": name, "message": reason}
                                    for name, reason in error.problems]
    return web.json_response(body, status=error.status, headers=errors.retry_headers(error))


error_middleware = errors.error_middleware(render_error, logging.getLogger(__name__))
