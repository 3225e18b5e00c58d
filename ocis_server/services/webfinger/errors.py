"""The one place where a webfinger failure becomes a JSON error body (RFC 7033 §4.2: 400 for a
missing or malformed resource, 404 for one this server does not know). No traceback, no host path."""

from __future__ import annotations

import logging

from ocis_server.services import errors, jsonerrors

# RFC 7033 §5: any origin may query webfinger, error answers included.
render_error = jsonerrors.renderer({"Access-Control-Allow-Origin": "*"})
error_middleware = errors.error_middleware(render_error, logging.getLogger(__name__))
