"""The one place where a failure of the auth-app API becomes a JSON error body:
`{"error": {"code", "message"}}` with the domain error's HTTP status. No traceback, no host path."""

from __future__ import annotations

import logging

from ocis_server.services import errors, jsonerrors

render_error = jsonerrors.render_error
error_middleware = errors.error_middleware(render_error, logging.getLogger(__name__))
