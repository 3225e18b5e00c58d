"""Favourites are each user's own (oCIS keeps one flag per user): a folder shared between two
users shows `oc:favorite` and lists in `oc:filter-files` only for whoever marked it, over HTTP
against a real server; a public link cannot mark one."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio
from kit import basic

from ocis_server.runtime import EmbeddedServer, embedded_server, make_test_config

pytestmark = pytest.mark.asyncio(loop_scope="module")

PASSWORDS = {"einstein": "relativity", "marie": "radioactivity"}
OC = "http://owncloud.org/ns"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def srv(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[EmbeddedServer]:
    config = make_test_config(tmp_path_factory.mktemp("favs"))
    async with embedded_server(config, only=["ocdav", "frontend"]) as server:
        yield server


async def call(srv: EmbeddedServer, method: str, path: str, user: str | None,
               body: str | bytes | None = None, **headers: str) -> tuple[int, str]:
    if user:
        headers["Authorization"] = basic(user, PASSWORDS[user])
    async with aiohttp.ClientSession() as session, session.request(
            method, srv.url + path, data=body, headers=headers) as resp:
        return resp.status, await resp.text()


def patch(value: str) -> str:
    return (f'<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:" xmlns:oc="{OC}">'
            f"<d:set><d:prop><oc:favorite>{value}</oc:favorite></d:prop></d:set>"
            "</d:propertyupdate>")


FAV_PROPFIND = (f'<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="{OC}">'
                "<d:prop><oc:favorite/></d:prop></d:propfind>")
FAV_REPORT = (f'<?xml version="1.0"?><oc:filter-files xmlns:d="DAV:" xmlns:oc="{OC}">'
              "<d:prop><d:displayname/></d:prop><oc:filter-rules><oc:favorite>1</oc:favorite>"
              "</oc:filter-rules></oc:filter-files>")


async def favorite(srv: EmbeddedServer, user: str, path: str) -> str:
    status, text = await call(srv, "PROPFIND", path, user, FAV_PROPFIND, Depth="0")
    assert status == 207, text
    return text.split("<oc:favorite>")[1].split("</oc:favorite>")[0] if "<oc:favorite>" in text \
        else "missing"


async def favourites(srv: EmbeddedServer, user: str) -> list[str]:
    status, text = await call(srv, "REPORT", f"/remote.php/dav/files/{user}/", user, FAV_REPORT)
    assert status == 207, text
    return [part.split("</d:href>")[0] for part in text.split("<d:href>")[1:]]


async def test_favourites_are_per_user(srv: EmbeddedServer) -> None:
    await call(srv, "MKCOL", "/remote.php/dav/files/einstein/shared", "einstein")
    status, _ = await call(srv, "PUT", "/remote.php/dav/files/einstein/shared/f.txt", "einstein",
                           b"x")
    assert status == 201
    async with aiohttp.ClientSession() as session, session.post(
            srv.url + "/ocs/v2.php/apps/files_sharing/api/v1/shares",
            data={"path": "/shared", "shareWith": "marie", "shareType": "0",
                  "permissions": "15"},
            headers={"Authorization": basic("einstein", "relativity")}) as resp:
        assert resp.status == 200
    mine = "/remote.php/dav/files/einstein/shared/f.txt"
    hers = "/remote.php/dav/files/marie/Shares/shared/f.txt"
    status, _ = await call(srv, "PROPPATCH", mine, "einstein", patch("1"))
    assert status == 207
    assert await favorite(srv, "einstein", mine) == "1"
    assert await favorite(srv, "marie", hers) == "0"           # einstein's flag is his
    assert [h for h in await favourites(srv, "einstein") if h.endswith("f.txt")]
    assert await favourites(srv, "marie") == []
    status, _ = await call(srv, "PROPPATCH", hers, "marie", patch("1"))
    assert status == 207
    status, _ = await call(srv, "PROPPATCH", mine, "einstein", patch("0"))
    assert await favorite(srv, "einstein", mine) == "0"
    assert await favorite(srv, "marie", hers) == "1"           # hers stays
    assert await favourites(srv, "einstein") == []


async def test_public_link_cannot_mark_favourites(srv: EmbeddedServer) -> None:
    await call(srv, "MKCOL", "/remote.php/dav/files/einstein/open", "einstein")
    await call(srv, "PUT", "/remote.php/dav/files/einstein/open/g.txt", "einstein", b"y")
    async with aiohttp.ClientSession() as session, session.post(
            srv.url + "/ocs/v2.php/apps/files_sharing/api/v1/shares?format=json",
            data={"path": "/open", "shareType": "3", "permissions": "15"},
            headers={"Authorization": basic("einstein", "relativity")}) as resp:
        token = (await resp.json())["ocs"]["data"]["token"]
    status, text = await call(srv, "PROPPATCH", f"/remote.php/dav/public-files/{token}/g.txt",
                              None, patch("1"))
    assert status == 207 and "403 Forbidden" in text
