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


def render_error(error: OcisError, request: web.Request) -> web.Response:
    body: dict[str, object] = {"message": error.message}
    if isinstance(error, InvalidBody):
        body["validationErrors"] = [{"name": name, "message": reason}
                                    for name, reason in error.problems]
    return web.json_response(body, status=error.status, headers=errors.retry_headers(error))


error_middleware = errors.error_middleware(render_error, logging.getLogger(__name__))
