"""The error renderer the small JSON services share (auth-app, webfinger, and any service that names
none): a failure becomes `{"error": {"code", "message"}}` with the domain error's HTTP status."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from ocis_server.domain.errors import OcisError

from .errors import ErrorRenderer, retry_headers


def error_response(status: int, code: str, message: str,
                   headers: Mapping[str, str] | None = None) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status,
                             headers=headers)


def renderer(headers: Mapping[str, str] | None = None) -> ErrorRenderer:
    """A `render_error` whose answers all carry `headers` (webfinger: CORS on errors too)."""

    def render_error(error: OcisError, request: web.Request) -> web.Response:
        return error_response(error.status, error.code, error.message,
                              {**(headers or {}), **retry_headers(error)})

    return render_error


render_error = renderer()
