"""The one place where a webfinger failure becomes a JSON error body (RFC 7033 §4.2: 400 for a
missing or malformed resource, 404 for one this server does not know). No traceback, no host path."""

from __future__ import annotations

import logging

from ocis_server.services import jsonerrors

# RFC 7033 §5: any origin may query webfinger, error answers included.
error_middleware = jsonerrors.error_middleware(logging.getLogger(__name__),
                                               headers={"Access-Control-Allow-Origin": "*"})
