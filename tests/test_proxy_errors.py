"""The proxy's own refusals look like the service's errors: the same domain error (401, 502, 429, 503)
on a service's path gets the same status, headers and body from the proxy as from the service app
itself, for DAV, OCS (XML, `format=json`, v1 and v2), Graph, the JSON services and the link pages."""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping
from pathlib import Path

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from aiohttp.typedefs import Handler

from ocis_server.domain.errors import OcisError, ServiceUnavailable, TooManyRequests
from ocis_server.identity.api import User
from ocis_server.runtime import embedded_server, make_test_config
from ocis_server.services import ServiceSpec, by_name
from ocis_server.services.context import ServiceContext

EINSTEIN = {"Authorization": "Basic " + base64.b64encode(b"einstein:relativity").decode()}
NO_HEADER = "No 'Authorization' header provided"          # the proxy's 401 message
# What a client compares: the status and these headers (WWW-Authenticate is the proxy's challenge).
HEADERS = ("Content-Type", "Ocs-Api-Version", "Retry-After", "Access-Control-Allow-Origin")
Answer = tuple[int, dict[str, str], str]

UNAUTHENTICATED = [   # (service, method, path, request headers)
    ("ocdav", "PROPFIND", "/remote.php/dav/files/einstein/", {"Depth": "0"}),
    ("ocdav", "GET", "/remote.php/webdav/file.txt", {}),
    ("frontend", "GET", "/ocs/v2.php/cloud/user?format=json", {}),
    ("frontend", "GET", "/ocs/v1.php/cloud/user?format=json", {}),
    ("frontend", "GET", "/ocs/v1.php/cloud/user?format=JSON", {}),
    ("frontend", "GET", "/ocs/v2.php/cloud/user", {}),
    ("frontend", "GET", "/ocs/v1.php/cloud/user", {"Accept": "application/json"}),
    ("graph", "GET", "/graph/v1.0/me", {}),
    ("auth-app", "GET", "/auth-app/tokens", {}),
    ("publiclinks", "GET", "/f/some-file-id", {}),
]
UNAVAILABLE = [       # storage and the user store run on another node: 502
    ("ocdav", "PROPFIND", "/remote.php/dav/files/einstein/", {"Depth": "0"}),
    ("frontend", "GET", "/ocs/v2.php/apps/files_sharing/api/v1/shares?format=json", {}),
    ("frontend", "GET", "/ocs/v1.php/apps/files_sharing/api/v1/shares", {}),
    ("graph", "GET", "/graph/v1.0/me/drives", {}),
]


def _shape(answer: Answer, *messages: str) -> tuple[int, dict[str, str], str]:
    """An answer with the messages (the only intended difference) and per-request values blanked."""
    status, headers, body = answer
    for message in messages:
        body = body.replace(html.escape(message), "*").replace(message, "*")
    for volatile in ("date", "request-id"):      # Graph's innererror
        body = _blank_json_value(body, volatile)
    return status, {h: headers[h] for h in HEADERS if h in headers}, body


def _blank_json_value(body: str, key: str) -> str:
    marker = f'"{key}": "'
    start = body.find(marker)
    if start < 0:
        return body
    end = body.index('"', start + len(marker))
    return body[:start + len(marker)] + "*" + body[end:]


async def _via_proxy(url: str, method: str, path: str, headers: Mapping[str, str]) -> Answer:
    async with aiohttp.ClientSession() as http, \
            http.request(method, url + path, headers=dict(headers)) as resp:
        return resp.status, dict(resp.headers), await resp.text()


async def _via_service(spec: ServiceSpec, ctx: ServiceContext, user: User | None, method: str,
                       path: str, headers: Mapping[str, str],
                       raises: OcisError | None = None) -> Answer:
    """The service's app on its own (as its tests run it): no proxy, `user` as the principal;
    with `raises`, every handler of the app raises that error (inside the app's error handling)."""
    mount = max((m for m in spec.mounts if path.startswith(m)), key=len)

    @web.middleware
    async def principal(request: web.Request, handler: Handler) -> web.StreamResponse:
        request["principal"], request["caller"] = user, None
        return await handler(request)

    @web.middleware
    async def failing(request: web.Request, handler: Handler) -> web.StreamResponse:
        assert raises is not None
        raise raises

    app = spec.resolve("app")(ctx, mount)
    if raises is not None:
        app.middlewares.append(failing)
    root = web.Application(middlewares=[principal])
    root.add_subapp(mount, app)
    async with TestClient(TestServer(root)) as client, \
            client.request(method, path, headers=dict(headers)) as resp:
        return resp.status, dict(resp.headers), await resp.text()


async def test_a_401_from_the_proxy_is_the_service_s_401(tmp_path: Path) -> None:
    async with embedded_server(make_test_config(tmp_path)) as srv:
        for name, method, path, headers in UNAUTHENTICATED:
            proxied = await _via_proxy(srv.url, method, path, headers)
            served = await _via_service(by_name()[name], srv.ctx, None, method, path, headers)
            assert proxied[0] == 401 and proxied[1]["WWW-Authenticate"].startswith("Basic"), path
            assert NO_HEADER in html.unescape(proxied[2]), (path, proxied[2])
            assert (_shape(proxied, NO_HEADER)
                    == _shape(served, "authentication required", "sign in to open this link")), path


async def test_a_502_from_the_proxy_is_the_service_s_502(tmp_path: Path) -> None:
    """Neither storage nor the user store runs on this node: the proxy cannot check a password,
    the service cannot reach storage; both answer 502 in the protocol's format."""
    table = by_name()
    specs = [table[name] for name in ("ocdav", "frontend", "graph", "proxy")]
    user = User("0b7f4bd4-6f53-4a1c-a3a1-4d0e5e1b2a11", "einstein", "Albert Einstein",
                "einstein@example.org", "user")
    async with embedded_server(make_test_config(tmp_path), specs=specs) as srv:
        for name, method, path, headers in UNAVAILABLE:
            proxied = await _via_proxy(srv.url, method, path, {**EINSTEIN, **headers})
            served = await _via_service(table[name], srv.ctx, user, method, path, headers)
            assert "users service is not running" in proxied[2], (path, proxied)
            assert (_shape(proxied, "the users service is not running on this node")
                    == _shape(served, "the storage-users service is not running on this node")), path
            status = proxied[0]
            assert status == (200 if "/v1.php/" in path else 502), path   # OCS v1: in the body


async def test_a_429_from_the_proxy_is_the_service_s_429(tmp_path: Path) -> None:
    config = make_test_config(tmp_path, PROXY_LOGIN_MAX_FAILURES="1", PROXY_LOGIN_FAILURE_WINDOW="60")
    wrong = {"Authorization": "Basic " + base64.b64encode(b"einstein:wrong").decode()}
    throttled = TooManyRequests("too many failed attempts, try again later", retry_after=30)
    async with embedded_server(config) as srv:
        assert (await _via_proxy(srv.url, "GET", "/graph/v1.0/me", wrong))[0] == 401
        for name, method, path, headers in UNAUTHENTICATED:
            proxied = await _via_proxy(srv.url, method, path, {**EINSTEIN, **headers})
            served = await _via_service(by_name()[name], srv.ctx, None, method, path, headers,
                                        raises=throttled)
            assert proxied[0] == 429 and 1 <= int(proxied[1]["Retry-After"]) <= 60, path
            assert served[1]["Retry-After"] == "30", path
            proxied[1]["Retry-After"] = served[1]["Retry-After"]
            assert _shape(proxied) == _shape(served), path


class DirectoryAway:
    """A user store whose directory does not answer (LDAP away): every use is a 503."""

    def __getattr__(self, name: str) -> object:
        raise ServiceUnavailable("the user directory does not answer", retry_after=5)


async def test_a_503_from_the_proxy_is_the_service_s_503(tmp_path: Path) -> None:
    away = ServiceUnavailable("the user directory does not answer", retry_after=5)
    async with embedded_server(make_test_config(tmp_path)) as srv:
        users, srv.ctx.users = srv.ctx.users, DirectoryAway()   # type: ignore[assignment]
        try:
            for name, method, path, headers in UNAUTHENTICATED:
                proxied = await _via_proxy(srv.url, method, path, {**EINSTEIN, **headers})
                served = await _via_service(by_name()[name], srv.ctx, None, method, path,
                                            headers, raises=away)
                assert proxied[1]["Retry-After"] == "5", (path, proxied)
                assert proxied[0] == (200 if "/v1.php/" in path else 503), path  # OCS v1: body
                assert _shape(proxied) == _shape(served), path
        finally:
            srv.ctx.users = users
