"""Names a client tries to create are judged as oCIS judges them (reva ValidateName): blank or
only spaces, `\\`, `/` inside a segment, `.`/`..` are 400 with a Sabre error body on MKCOL, PUT,
and the destination of MOVE and COPY, through a user's namespace and a public link alike."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio
from kit import basic

from ocis_server.runtime import EmbeddedServer, embedded_server, make_test_config

pytestmark = pytest.mark.asyncio(loop_scope="module")
BASE = "/remote.php/dav/files/einstein"
AUTH = {"Authorization": basic("einstein", "relativity")}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def srv(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[EmbeddedServer]:
    config = make_test_config(tmp_path_factory.mktemp("names"))
    async with embedded_server(config, only=["ocdav", "frontend"]) as server:
        yield server


async def send(srv: EmbeddedServer, method: str, path: str, *, auth: bool = True,
               data: bytes | None = None, **headers: str) -> tuple[int, str]:
    all_headers = {**(AUTH if auth else {}), **headers}
    async with aiohttp.ClientSession() as session, session.request(
            method, srv.url + path, data=data, headers=all_headers) as resp:
        return resp.status, await resp.text()


def bad(answer: tuple[int, str]) -> None:
    status, body = answer
    assert status == 400, answer
    assert "Sabre\\DAV\\Exception\\BadRequest" in body


async def test_new_names_are_checked(srv: EmbeddedServer) -> None:
    bad(await send(srv, "MKCOL", BASE + "/%20%20%20"))
    bad(await send(srv, "MKCOL", BASE + "/a%5Cb"))
    bad(await send(srv, "MKCOL", BASE + "/a%2Fb"))
    bad(await send(srv, "PUT", BASE + "/%20", data=b"x"))
    assert (await send(srv, "MKCOL", BASE + "/trailing%20"))[0] == 201    # only blank is blank
    assert (await send(srv, "PUT", BASE + "/src.txt", data=b"x"))[0] == 201
    for method in ("MOVE", "COPY"):
        for name in ("%20%20", "a%5Cb", "%09"):
            bad(await send(srv, method, BASE + "/src.txt",
                           Destination=srv.url + BASE + "/" + name))
    status, _ = await send(srv, "GET", BASE + "/src.txt")
    assert status == 200                                                # nothing moved
    listing = (await send(srv, "PROPFIND", BASE + "/", Depth="1"))[1]
    assert "%20%20" not in listing


async def test_public_link_new_names(srv: EmbeddedServer) -> None:
    assert (await send(srv, "MKCOL", BASE + "/drop"))[0] == 201
    async with aiohttp.ClientSession() as session, session.post(
            srv.url + "/ocs/v2.php/apps/files_sharing/api/v1/shares?format=json",
            data={"path": "/drop", "shareType": "3", "permissions": "15"},
            headers=AUTH) as resp:
        token = (await resp.json())["ocs"]["data"]["token"]
    root = f"/remote.php/dav/public-files/{token}"
    bad(await send(srv, "PUT", root + "/%20%20", auth=False, data=b"x"))
    bad(await send(srv, "MKCOL", root + "/%20", auth=False))
    assert (await send(srv, "PUT", root + "/fine.txt", auth=False, data=b"x"))[0] == 201
    bad(await send(srv, "MOVE", root + "/fine.txt", auth=False,
                   Destination=srv.url + root + "/%20"))
