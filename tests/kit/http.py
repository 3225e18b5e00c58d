"""One HTTP client for the tests, with a helper per verb that asserts the expected status
(Radicale's `tests/__init__.py`): `await dav.put("/a.txt", b"x", status=201)`.

It drives aiohttp's in-process `TestClient` (give paths) and a real server through an
`aiohttp.ClientSession` (give `base`, the server's URL) the same way. A reply is aiohttp's response
with the body already read into `.data` (and, for PROPFIND/PROPPATCH 207, parsed into `.xml`).
"""

from __future__ import annotations

import json as jsonlib
import xml.etree.ElementTree as ET
from typing import Any

from . import auth

D = "{DAV:}"
OC = "{http://owncloud.org/ns}"
DAV_PREFIXES = ("/remote.php", "/dav", "/webdav", "/status")


class Http:
    """Requests signed in as `user` (None: anonymous); every call names the status it expects."""

    def __init__(self, client: Any, user: Any = None, *, password: str | None = None,
                 base: str = "", headers: dict[str, str] | None = None) -> None:
        self.client, self.base = client, base
        self.headers = {**auth.headers(user, password), **(headers or {})}

    def url(self, path: str) -> str:
        return self.base + path

    async def send(self, method: str, path: str, *,
                   body: bytes | str | dict[str, str] | None = None, json: Any = None,
                   params: dict[str, str] | None = None,
                   headers: dict[str, str] | None = None) -> Any:
        """The response, body read into `.data`, whatever its status (for helpers that hand the
        status to the test); `request` and the verb helpers check it."""
        resp = await self.client.request(method, self.url(path), data=body, json=json,
                                         params=params, headers={**self.headers, **(headers or {})})
        resp.data = await resp.read()
        return resp

    async def request(self, method: str, path: str, status: int, **kw: Any) -> Any:
        resp = await self.send(method, path, **kw)
        assert resp.status == status, (method, path, resp.status, resp.data[:500])
        return resp

    async def get(self, path: str, status: int = 200, **kw: Any) -> Any:
        return await self.request("GET", path, status, **kw)

    async def post(self, path: str, status: int = 200, **kw: Any) -> Any:
        return await self.request("POST", path, status, **kw)

    async def put(self, path: str, body: bytes | str = b"x", status: int = 201, **kw: Any) -> Any:
        return await self.request("PUT", path, status, body=body, **kw)

    async def patch(self, path: str, status: int = 200, **kw: Any) -> Any:
        return await self.request("PATCH", path, status, **kw)

    async def delete(self, path: str, status: int = 204, **kw: Any) -> Any:
        return await self.request("DELETE", path, status, **kw)


class Dav(Http):
    """WebDAV below `root` (a path starting with a DAV prefix is taken as it is)."""

    def __init__(self, client: Any, user: Any = "alice", root: str = "/remote.php/webdav", *,
                 password: str | None = None, base: str = "") -> None:
        super().__init__(client, user, password=password, base=base)
        self.root = root

    def url(self, path: str) -> str:
        return self.base + (path if path.startswith(DAV_PREFIXES) else self.root + path)

    async def mkcol(self, path: str, status: int = 201, **kw: Any) -> Any:
        return await self.request("MKCOL", path, status, **kw)

    async def move(self, path: str, dest: str, status: int = 201,
                   headers: dict[str, str] | None = None) -> Any:
        return await self.request("MOVE", path, status,
                                  headers={"Destination": self.url(dest), **(headers or {})})

    async def copy(self, path: str, dest: str, status: int = 201,
                   headers: dict[str, str] | None = None) -> Any:
        return await self.request("COPY", path, status,
                                  headers={"Destination": self.url(dest), **(headers or {})})

    async def propfind(self, path: str, body: str | None = None, depth: str = "1",
                       status: int = 207, headers: dict[str, str] | None = None) -> Any:
        resp = await self.request("PROPFIND", path, status, body=body,
                                  headers={"Depth": depth, **(headers or {})})
        if status == 207:
            resp.xml = ET.fromstring(resp.data)
        return resp

    async def proppatch(self, path: str, body: str, status: int = 207,
                        headers: dict[str, str] | None = None) -> Any:
        resp = await self.request("PROPPATCH", path, status, body=body, headers=headers)
        if status == 207:
            resp.xml = ET.fromstring(resp.data)
        return resp


class Ocs(Http):
    """OCS: the `OCS-APIREQUEST` header, `format=json`, and the envelope checked and unwrapped."""

    def __init__(self, client: Any, user: Any = None, **kw: Any) -> None:
        super().__init__(client, user, headers={"OCS-APIREQUEST": "true"}, **kw)

    async def ocs(self, method: str, path: str, status: int = 200, *,
                  statuscode: int | None = None, data: dict[str, str] | None = None,
                  **params: str) -> Any:
        """The `ocs` object of a JSON answer; `statuscode` checks `meta.statuscode` too."""
        resp = await self.request(method, path, status, body=data,
                                  params={**params, "format": "json"})
        body = jsonlib.loads(resp.data)["ocs"]
        if statuscode is not None:
            assert body["meta"]["statuscode"] == statuscode, body["meta"]
        return body


class Graph(Http):
    """LibreGraph: JSON in and out; a 204 has an empty body."""

    async def call(self, method: str, path: str, status: int, *, json: Any = None,
                   params: dict[str, str] | None = None,
                   headers: dict[str, str] | None = None) -> Any:
        resp = await self.request(method, path, status, json=json, params=params, headers=headers)
        if resp.status == 204:
            assert resp.data == b""
            return None
        return jsonlib.loads(resp.data) if resp.data else None


def props_of(xml: ET.Element) -> dict[str, ET.Element]:
    """href -> the 200 <d:prop> element of each response of a multistatus."""
    out = {}
    for response in xml.findall(f"{D}response"):
        href = response.findtext(f"{D}href")
        for propstat in response.findall(f"{D}propstat"):
            if "200" in propstat.findtext(f"{D}status", ""):
                out[href] = propstat.find(f"{D}prop")
    return out


def propfind_body(*names: str) -> str:
    inner = "".join(f"<{n}/>" for n in names)
    return ('<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">'
            f"<d:prop>{inner}</d:prop></d:propfind>")
