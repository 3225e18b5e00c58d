"""The one place where an sse failure becomes a response: the JSON error body (401 before a
stream starts, 429 beyond the streams a user may hold); once a stream runs it just ends."""

from __future__ import annotations

import logging

from ocis_server.services import errors, jsonerrors

render_error = jsonerrors.render_error
error_middleware = errors.error_middleware(render_error, logging.getLogger(__name__))
