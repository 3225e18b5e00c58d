"""Two real instances, the whole receiving story over HTTP: Einstein at zurich shares /Physics
(editor) and /Lectures (viewer) with marie@paris.test; Marie accepts at paris (OCS); the shares
are spaces in her registry (Graph `me/drives`); through paris's `/dav/spaces/<id>/`, with her
paris login only, she lists, reads and writes into zurich's folder as the role allows (the
viewer share's PUT is zurich's 403, passed on); hrefs name paris's URL. Zurich goes down: the
listing still answers, the space is marked unreachable, requests into it are a 502 with a DAV
body; zurich comes back and so does the space. Removing the entry at paris leaves zurich's data
alone."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ocis_server.config import Config
from ocis_server.domain import roles
from ocis_server.runtime import EmbeddedServer, embedded_server
from ocis_server.sharing import federated_sent, rules
from ocm_peers import introduce, peer_config

EINSTEIN = aiohttp.BasicAuth("einstein", "relativity")
MARIE = aiohttp.BasicAuth("marie", "radioactivity")
OCS = "/ocs/v2.php/apps/files_sharing/api/v1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Pair:
    zurich: EmbeddedServer
    paris: EmbeddedServer
    zurich_config: Config
    http: aiohttp.ClientSession


def configs(root: Path) -> tuple[Config, Config]:
    """zurich and paris under `root` (tests/ocm_peers.py), short client timeouts; zurich on a
    fixed port, so that it can come back on the same address. Started: `introduce(root, …)`."""
    env = {"OCM_REQUIRE_INVITE": "false", "OCM_CLIENT_CONNECT_TIMEOUT": "1",
           "OCM_CLIENT_TIMEOUT": "3"}
    return (peer_config(root, "zurich", PROXY_HTTP_ADDR=f"127.0.0.1:{free_port()}", **env),
            peer_config(root, "paris", **env))


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[Pair]:
    zurich_config, paris_config = configs(tmp_path)
    async with (embedded_server(zurich_config) as zurich, embedded_server(paris_config) as paris,
                aiohttp.ClientSession() as http):
        introduce(tmp_path, zurich, paris)
        yield Pair(zurich, paris, zurich_config, http)


async def call(http: aiohttp.ClientSession, method: str, url: str, auth: aiohttp.BasicAuth,
               **kw: Any) -> tuple[int, bytes, Any]:
    async with http.request(method, url, auth=auth, **kw) as resp:
        return resp.status, await resp.read(), resp.headers


async def einstein_shares(p: Pair) -> None:
    base = f"{p.zurich.url}/remote.php/webdav"
    for folder in ("Physics", "Lectures", "Private"):
        assert (await call(p.http, "MKCOL", f"{base}/{folder}", EINSTEIN))[0] == 201
    for name in ("Physics/a.txt", "Lectures/l1.txt", "Private/diary.txt"):
        assert (await call(p.http, "PUT", f"{base}/{name}", EINSTEIN, data=b"E=mc2"))[0] == 201
    ctx = p.zurich.ctx
    einstein = await ctx.users.get_by_name("einstein")
    assert ctx.ocm is not None
    for path, role in (("Physics", roles.EDITOR), ("Lectures", roles.VIEWER)):
        node = await ctx.storage.lookup(einstein.id, (path,))
        access = await rules.access_to(ctx, einstein, node)
        await federated_sent.create(ctx, einstein, node, access, role, "marie@paris.test", ctx.ocm)


async def marie_accepts(p: Pair) -> dict[str, dict[str, Any]]:
    """Marie accepts every pending share; her remote spaces by name (Graph me/drives)."""
    status, body, _ = await call(p.http, "GET", f"{p.paris.url}{OCS}/shares?shared_with_me=true"
                                 "&state=1&format=json", MARIE)
    pending = json.loads(body)["ocs"]["data"]
    assert sorted(s["name"] for s in pending) == ["Lectures", "Physics"]
    assert {s["uid_owner"] for s in pending} == {"einstein@zurich.test"}
    for share in pending:
        status, _, _ = await call(p.http, "POST", f"{p.paris.url}{OCS}/shares/pending/"
                                  f"{share['id']}?format=json", MARIE)
        assert status == 200
    return await remote_drives(p)


async def federate(root: Path, p: Pair) -> dict[str, dict[str, Any]]:
    """The two started under `root` list each other, Einstein shares and Marie accepts: her
    remote spaces by name."""
    introduce(root, p.zurich, p.paris)
    await einstein_shares(p)
    return await marie_accepts(p)


async def remote_drives(p: Pair) -> dict[str, dict[str, Any]]:
    async with p.http.get(f"{p.paris.url}/graph/v1beta1/me/drives", auth=MARIE) as resp:
        assert resp.status == 200
        value = (await resp.json())["value"]
    return {d["name"]: d for d in value if "@ocis.federation" in d}


async def test_marie_works_in_einsteins_folder_through_paris(pair: Pair) -> None:
    p = pair
    await einstein_shares(p)
    drives = await marie_accepts(p)
    physics, lectures = drives["Physics"], drives["Lectures"]
    assert physics["owner"]["user"]["id"] == "einstein@zurich.test"
    assert physics["@ocis.federation"]["reachable"] is True and physics["root"]["eTag"]
    dav = physics["root"]["webDavUrl"]
    assert dav.startswith(f"{p.paris.url}/dav/spaces/")

    status, body, _ = await call(p.http, "PROPFIND", dav + "/", MARIE, headers={"Depth": "1"})
    text = body.decode()
    assert status == 207 and "a.txt" in text and "diary" not in text
    assert "/dav/ocm/" not in text and p.zurich.url not in text
    assert dav.removeprefix(p.paris.url).replace("$", "%24") in text \
        or dav.removeprefix(p.paris.url) in text
    status, body, headers = await call(p.http, "GET", dav + "/a.txt", MARIE)
    assert (status, body) == (200, b"E=mc2") and headers.get("OC-FileId")
    assert headers.get("ETag")

    # editor: PUT, MKCOL, MOVE land in Einstein's folder at zurich
    assert (await call(p.http, "PUT", dav + "/from-marie.txt", MARIE, data=b"bonjour"))[0] == 201
    assert (await call(p.http, "MKCOL", dav + "/sub", MARIE))[0] == 201
    status, _, _ = await call(p.http, "MOVE", dav + "/from-marie.txt", MARIE,
                              headers={"Destination": dav + "/sub/moved.txt"})
    assert status == 201
    zurich_file = f"{p.zurich.url}/remote.php/webdav/Physics/sub/moved.txt"
    assert (await call(p.http, "GET", zurich_file, EINSTEIN))[1] == b"bonjour"

    # viewer: zurich refuses the write, paris says 403 too, nothing lands
    view = lectures["root"]["webDavUrl"]
    assert (await call(p.http, "PUT", view + "/nope.txt", MARIE, data=b"x"))[0] == 403
    assert (await call(p.http, "GET", view + "/l1.txt", MARIE))[0] == 200
    assert (await call(p.http, "GET", f"{p.zurich.url}/remote.php/webdav/Lectures/nope.txt",
                       EINSTEIN))[0] == 404

    # another paris user (the demo Einstein of paris) does not reach Marie's remote space
    assert (await call(p.http, "GET", dav + "/a.txt", EINSTEIN))[0] in (401, 404)

    # removing the entry at paris: gone from her registry, Einstein's folder untouched
    share_id = physics["root"]["remoteItem"]["permissions"][0]["id"]
    status, _, _ = await call(p.http, "DELETE", f"{p.paris.url}{OCS}/remote_shares/{share_id}"
                              "?format=json", MARIE)
    assert status == 200
    assert "Physics" not in await remote_drives(p)
    assert (await call(p.http, "GET", dav + "/a.txt", MARIE))[0] == 404
    assert (await call(p.http, "GET", f"{p.zurich.url}/remote.php/webdav/Physics/a.txt",
                       EINSTEIN))[1] == b"E=mc2"


async def test_zurich_down_and_back(tmp_path: Path) -> None:
    zurich_config, paris_config = configs(tmp_path)
    async with embedded_server(paris_config) as paris, aiohttp.ClientSession() as http:
        async with embedded_server(zurich_config) as zurich:
            p = Pair(zurich, paris, zurich_config, http)
            dav = (await federate(tmp_path, p))["Physics"]["root"]["webDavUrl"]
        await asyncio.sleep(5.1)                     # the last answer is remembered 5 s
        drives = await remote_drives(p)              # zurich is down: the listing still answers
        assert drives["Physics"]["@ocis.federation"]["reachable"] is False
        assert "zurich.test cannot be reached" in drives["Physics"]["@ocis.federation"]["message"]
        status, body, _ = await call(http, "PROPFIND", dav + "/", MARIE, headers={"Depth": "0"})
        assert status == 502 and b"<s:message>zurich.test cannot be reached" in body
        assert b"Traceback" not in body and str(tmp_path).encode() not in body
        # zurich returns on the same address: so does the space
        async with embedded_server(zurich_config):
            for _ in range(30):
                drives = await remote_drives(p)
                if drives["Physics"]["@ocis.federation"]["reachable"]:
                    break
                await asyncio.sleep(0.5)
            assert drives["Physics"]["@ocis.federation"]["reachable"] is True
            assert (await call(http, "GET", dav + "/a.txt", MARIE))[:2] == (200, b"E=mc2")


async def test_remote_space_in_the_share_jail(pair: Pair) -> None:
    """For clients without spaces (ownCloud desktop 2.x): the remote space is `/Shares/<name>`
    in the legacy namespaces and a mount point of the jail space, forwarded alike."""
    p = pair
    await einstein_shares(p)
    await marie_accepts(p)
    for root in (f"{p.paris.url}/remote.php/webdav", f"{p.paris.url}/remote.php/dav/files/marie"):
        status, body, _ = await call(p.http, "PROPFIND", root + "/Shares/", MARIE,
                                     headers={"Depth": "1"})
        text = body.decode()
        assert status == 207 and "Shares/Physics/" in text and "Shares/Lectures/" in text
        status, body, _ = await call(p.http, "PROPFIND", root + "/Shares/Physics/", MARIE,
                                     headers={"Depth": "1"})
        assert status == 207
        assert f"{root.removeprefix(p.paris.url)}/Shares/Physics/a.txt" in body.decode()
        status, body, headers = await call(p.http, "GET", root + "/Shares/Physics/a.txt", MARIE)
        assert (status, body) == (200, b"E=mc2")
    jail = f"{p.paris.url}/dav/spaces/a0ca6a90-a365-4782-871e-d44447bbc668$a0ca6a90-a365-4782-871e-d44447bbc668"
    status, body, _ = await call(p.http, "GET", jail + "/Physics/a.txt", MARIE)
    assert (status, body) == (200, b"E=mc2")
    # the home root lists Shares; its ETag follows a change at zurich
    async def shares_etag() -> str:
        _, body, _ = await call(p.http, "PROPFIND", f"{p.paris.url}/remote.php/webdav/", MARIE,
                                headers={"Depth": "1"})
        text = body.decode()
        part = text[text.index("/remote.php/webdav/Shares/"):]
        return part[part.index("getetag>") + 8:part.index("</d:getetag")]
    before = await shares_etag()
    assert (await call(p.http, "PUT", f"{p.zurich.url}/remote.php/webdav/Physics/new.txt",
                       EINSTEIN, data=b"new"))[0] == 201
    await asyncio.sleep(5.1)                             # the last answer is remembered 5 s
    assert await shares_etag() != before
