"""The JSON error renderer shared by auth-app and webfinger: every failure is a small JSON body with
the right status, the configured headers, and never a traceback."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from ocis_server.domain.errors import NotFound
from ocis_server.services import errors, jsonerrors


def _app() -> web.Application:
    render = jsonerrors.renderer({"Access-Control-Allow-Origin": "*"})
    app = web.Application(middlewares=[errors.error_middleware(
        render, logging.getLogger("test.jsonerrors"))])

    async def missing(request: web.Request) -> web.Response:
        raise NotFound("no such thing")

    async def crash(request: web.Request) -> web.Response:
        raise ZeroDivisionError("/srv/secret/path")

    async def fine(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app.router.add_get("/missing", missing)
    app.router.add_get("/crash", crash)
    app.router.add_get("/fine", fine)
    return app


async def test_failures_become_json_errors_with_the_headers(aiohttp_client: Any) -> None:
    client = await aiohttp_client(_app())
    cases = [("GET", "/missing", 404, "itemNotFound", "no such thing"),
             ("GET", "/nowhere", 404, "itemNotFound", "not found"),
             ("POST", "/fine", 405, "notAllowed", "method not allowed"),
             ("GET", "/crash", 500, "generalException", "internal error")]
    for method, path, status, code, message in cases:
        async with client.request(method, path) as resp:
            assert resp.status == status, path
            assert resp.headers["Access-Control-Allow-Origin"] == "*"
            assert await resp.json() == {"error": {"code": code, "message": message}}
    async with client.get("/fine") as resp:
        assert resp.status == 200 and await resp.json() == {"ok": True}
