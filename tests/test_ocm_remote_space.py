"""An accepted federated share is a space in Marie's registry at paris: Graph `me/drives` and
`ocis spaces ls` list it (owner `einstein@zurich.test`), and paris forwards the WebDAV traffic of
`/dav/spaces/<id>/` to the sharer's URI with the shared secret, streaming, with hrefs and the
`Destination` rewritten and the sharer's answers (ETag, OC-FileId, its 403) passed on. Marie uses
her paris login only; the sharer never sees it. While the sharer is down the listings still
answer, marking the space unreachable, and requests into it are a 502/504 with a DAV body.

The sharer here is a stand-in WebDAV server (`zurich`) that checks the secret as zurich's
`/dav/ocm/` does and records what it got."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from yarl import URL
from test_ocm_shares import changed

from ocis_server.domain.ids import OCM_STORAGE_ID
from ocis_server.runtime import EmbeddedServer, embedded_server, make_test_config
from ocm_peers import serve, write_providers

MARIE = aiohttp.BasicAuth("marie", "radioactivity")
SECRET = "hfiuhworzwnur98d3wjiwhr"


@dataclass
class Zurich:
    files: dict[str, bytes] = field(default_factory=lambda: {"data.txt": b"measurements\n"})
    seen: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    read_only: bool = False
    slow: bool = False
    tus_location: str = ""

    def sent(self) -> list[tuple[str, str, dict[str, str]]]:
        """The requests but paris's own reachability checks (a depth-0 PROPFIND the share's
        event follower sends in the background whenever it likes)."""
        return [s for s in self.seen if s[0] != "PROPFIND"]

    def last(self) -> tuple[str, str, dict[str, str]]:
        return self.sent()[-1]

    def app(self) -> web.Application:
        app = web.Application(client_max_size=1024 ** 3)
        app.router.add_route("*", "/dav/ocm/share-1/{tail:.*}", self.handle)
        app.router.add_route("*", "/dav/ocm/share-1", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append((request.method, request.path, dict(request.headers)))
        if request.headers.get("Authorization") != f"Bearer {SECRET}":
            return web.Response(status=401)
        if self.slow:
            await asyncio.sleep(5)
        name = request.match_info.get("tail", "")
        if request.method == "PROPFIND":
            return self.propfind(name)
        if request.method == "GET" and name == "moved":
            return web.Response(status=302, headers={"Location": "http://169.254.169.254/"})
        if request.method == "GET" and name == "cookie.txt":
            return web.Response(body=b"c", headers={"Set-Cookie": "zurich=1",
                                                    "Location": "http://elsewhere/"})
        if request.method == "GET":
            if name not in self.files:
                return web.Response(status=404)
            body = self.files[name]
            return web.Response(body=body, headers={
                "ETag": f'"{hashlib.md5(body).hexdigest()}"', "OC-FileId": f"zurich!{name}"})
        if request.method == "PUT":
            if self.read_only:
                return web.Response(status=403, text="<d:error/>", content_type="application/xml")
            digest, size = hashlib.sha256(), 0
            async for chunk in request.content.iter_chunked(65536):   # streamed in
                digest.update(chunk)
                size += len(chunk)
            self.files[name] = f"{size}:{digest.hexdigest()}".encode()
            return web.Response(status=201, headers={"ETag": '"new"', "OC-FileId": "zurich!x"})
        if request.method == "MOVE":
            return web.Response(status=201)
        if request.method == "POST" and self.tus_location:
            await request.read()
            return web.Response(status=201, headers={"Location": self.tus_location,
                                                     "Tus-Resumable": "1.0.0"})
        return web.Response(status=405)

    def propfind(self, name: str) -> web.Response:
        names = [name] if name else ["", *self.files]
        parts = "".join(
            f"<d:response><d:href>/dav/ocm/share-1/{n}</d:href><d:propstat><d:prop>"
            f"<d:getetag>&quot;e-{n or 'root'}&quot;</d:getetag></d:prop>"
            "<d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>" for n in names)
        return web.Response(status=207, content_type="application/xml", text=(
            f'<?xml version="1.0"?><d:multistatus xmlns:d="DAV:">{parts}</d:multistatus>'))


@dataclass
class World:
    paris: EmbeddedServer
    http: aiohttp.ClientSession
    zurich: Zurich
    space: str
    providers: Path


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    zurich = Zurich()
    async with serve(zurich.app()) as zurich_url:
        providers = write_providers(tmp_path / "ocmproviders.json", {"zurich.test": zurich_url})
        config = make_test_config(
            tmp_path / "paris", OCIS_ENABLE_OCM="true", OCM_REQUIRE_INVITE="false", OCM_DOMAIN="paris.test",
            OCM_OCM_PROVIDER_AUTHORIZER_PROVIDERS_FILE=str(providers),
            OCM_OCM_STORAGE_PROVIDER_INSECURE="true", OCM_CLIENT_CONNECT_TIMEOUT="1",
            OCM_CLIENT_TIMEOUT="2")
        async with embedded_server(config) as paris, aiohttp.ClientSession() as http:
            body = changed(protocol__webdav__uri=f"{zurich_url}/dav/ocm/share-1")
            async with http.post(f"{paris.url}/ocm/shares", json=body) as resp:
                assert resp.status == 201
            ocs = f"{paris.url}/ocs/v2.php/apps/files_sharing/api/v1"
            async with http.get(f"{ocs}/remote_shares/pending?format=json", auth=MARIE) as resp:
                [share] = (await resp.json())["ocs"]["data"]
            async with http.post(f"{ocs}/remote_shares/pending/{share['id']}", auth=MARIE) as r:
                assert r.status == 200
            space = f"{OCM_STORAGE_ID}${share['id'].removeprefix('ocm:')}"
            yield World(paris, http, zurich, space, providers)


async def drives(w: World) -> list[dict[str, Any]]:
    async with w.http.get(f"{w.paris.url}/graph/v1beta1/me/drives", auth=MARIE) as resp:
        assert resp.status == 200
        return [d for d in (await resp.json())["value"] if d["id"] == w.space]


async def test_remote_space_listed_and_forwarded(world: World) -> None:
    w = world
    [drive] = await drives(w)
    assert drive["driveType"] == "mountpoint" and drive["name"] == "Physics"
    assert drive["owner"]["user"]["id"] == "einstein@zurich.test"
    assert drive["root"]["webDavUrl"] == f"{w.paris.url}/dav/spaces/{w.space}"
    assert drive["@ocis.federation"] == {"provider": "zurich.test", "reachable": True,
                                         "message": ""}
    assert drive["root"]["eTag"] == '"e-root"'
    dav = drive["root"]["webDavUrl"]

    # PROPFIND: hrefs under paris's space URL, never zurich's
    async with w.http.request("PROPFIND", dav + "/", auth=MARIE, headers={"Depth": "1"}) as resp:
        assert resp.status == 207
        text = await resp.text()
    assert f"<d:href>/dav/spaces/{w.space.replace('$', '%24')}/data.txt</d:href>" in text \
        or f"<d:href>/dav/spaces/{w.space}/data.txt</d:href>" in text
    assert "/dav/ocm/" not in text
    # GET passes zurich's ETag and file id; Marie's paris login never reaches zurich
    async with w.http.get(dav + "/data.txt", auth=MARIE) as resp:
        assert (resp.status, await resp.read()) == (200, b"measurements\n")
        assert resp.headers["OC-FileId"] == "zurich!data.txt" and resp.headers["ETag"]
    assert all(h.get("Authorization") == f"Bearer {SECRET}" for _, _, h in w.zurich.seen)
    # the legacy prefix works alike
    async with w.http.get(f"{w.paris.url}/remote.php/dav/spaces/{w.space}/data.txt",
                          auth=MARIE) as resp:
        assert resp.status == 200
    # PUT of 20 MiB streams through (zurich hashes what it got)
    blob = bytes(range(256)) * (20 * 4096)

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(blob), 1 << 20):
            yield blob[i:i + (1 << 20)]
    async with w.http.put(dav + "/big.bin", data=chunks(), auth=MARIE) as resp:
        assert resp.status == 201 and resp.headers["OC-FileId"] == "zurich!x"
    assert w.zurich.files["big.bin"] == f"{len(blob)}:{hashlib.sha256(blob).hexdigest()}".encode()
    # MOVE: the Destination is rewritten onto zurich's URI
    async with w.http.request("MOVE", dav + "/data.txt", auth=MARIE,
                              headers={"Destination": f"{dav}/renamed.txt"}) as resp:
        assert resp.status == 201
    assert w.zurich.last()[2]["Destination"].endswith("/dav/ocm/share-1/renamed.txt")
    async with w.http.request("MOVE", dav + "/data.txt", auth=MARIE,
                              headers={"Destination": f"{w.paris.url}/dav/spaces/x/y"}) as resp:
        assert resp.status == 502 and "same remote space" in await resp.text()
    # zurich refuses a write (a viewer share): 403 at paris
    w.zurich.read_only = True
    async with w.http.put(dav + "/no.txt", data=b"x", auth=MARIE) as resp:
        assert resp.status == 403
    # climbing out is refused before anything is sent
    before = len(w.zurich.sent())
    async with w.http.get(URL(dav + "/%2e%2e/other", encoded=True), auth=MARIE) as resp:
        assert resp.status == 400
    assert len(w.zurich.sent()) == before


async def test_only_the_recipient_reaches_it(world: World) -> None:
    w = world
    dav = f"{w.paris.url}/dav/spaces/{w.space}/data.txt"
    async with w.http.get(dav, auth=aiohttp.BasicAuth("einstein", "relativity")) as resp:
        assert resp.status == 404
    async with w.http.get(dav) as resp:
        assert resp.status == 401
    assert w.zurich.seen == [] or all(m == "PROPFIND" for m, _, _ in w.zurich.seen)


async def test_unreachable_sharer(world: World, tmp_path: Path) -> None:
    w = world
    w.zurich.slow = True                   # answers after the 2 s time-out
    [drive] = await drives(w)
    assert drive["@ocis.federation"]["reachable"] is False
    assert "did not answer in time" in drive["@ocis.federation"]["message"]
    async with w.http.get(f"{w.paris.url}/dav/spaces/{w.space}/data.txt", auth=MARIE) as resp:
        assert resp.status == 504
        text = await resp.text()
    assert "<s:message>zurich.test did not answer in time</s:message>" in text
    assert str(tmp_path) not in text and "Traceback" not in text


async def test_tus_upload_sent_whole_becomes_a_put(world: World) -> None:
    """owncloudcmd creates a TUS upload at the DAV root with the file's path below it; in a
    remote space (here by its jail mount point) the whole body goes to the sharer as a PUT."""
    w = world
    body = b"tus payload " * 1000
    meta = "filename " + base64.b64encode(b"/Shares/Physics/sub/t.bin").decode()
    headers = {"Tus-Resumable": "1.0.0", "Upload-Length": str(len(body)),
               "Upload-Metadata": meta, "Content-Type": "application/offset+octet-stream"}
    async with w.http.post(f"{w.paris.url}/remote.php/dav/files/marie/", data=body,
                           headers=headers, auth=MARIE) as resp:
        assert resp.status == 201, await resp.text()
        assert resp.headers["Upload-Offset"] == str(len(body))
        assert resp.headers["OC-FileId"] == "zurich!x"
    assert w.zurich.files["sub/t.bin"] == f"{len(body)}:{hashlib.sha256(body).hexdigest()}".encode()
    assert w.zurich.last()[0] == "PUT"
    # in several requests it is created at the sharer (TUS there), in the file's folder; an
    # upload URL the sharer names off its listed origin is not taken (403), nor shown
    w.zurich.tus_location = "http://169.254.169.254/data/token"
    async with w.http.post(f"{w.paris.url}/remote.php/dav/files/marie/", data=body[:10],
                           headers=headers, auth=MARIE) as resp:
        assert resp.status == 403 and "Location" not in resp.headers
        assert "169.254" not in await resp.text()
    method, path, seen = w.zurich.last()
    assert (method, path) == ("POST", "/dav/ocm/share-1/sub/")
    assert seen["Upload-Metadata"] == "filename " + base64.b64encode(b"t.bin").decode()
    assert seen["Upload-Length"] == str(len(body)) and seen["Content-Length"] == "10"
    # a local upload is untouched by all this
    meta = "filename " + base64.b64encode(b"/local.txt").decode()
    async with w.http.post(f"{w.paris.url}/remote.php/dav/files/marie/", data=b"x",
                           headers={**headers, "Upload-Length": "1", "Upload-Metadata": meta},
                           auth=MARIE) as resp:
        assert resp.status == 201
    async with w.http.get(f"{w.paris.url}/remote.php/webdav/local.txt", auth=MARIE) as resp:
        assert await resp.read() == b"x"


async def test_what_the_sharer_may_not_do(world: World) -> None:
    """A redirect is not followed (502); the sharer's cookies and Location never reach Marie."""
    w = world
    dav = f"{w.paris.url}/dav/spaces/{w.space}"
    async with w.http.get(dav + "/moved", auth=MARIE, allow_redirects=False) as resp:
        assert resp.status == 502 and "a redirect" in await resp.text()
    async with w.http.get(dav + "/cookie.txt", auth=MARIE) as resp:
        assert resp.status == 200 and await resp.read() == b"c"
        assert "Set-Cookie" not in resp.headers and "Location" not in resp.headers


async def test_a_slow_sharer_does_not_hold_up_the_share_jail(world: World) -> None:
    w = world
    w.zurich.slow = True                   # answers after 5 s; paris gives up after 2
    started = asyncio.get_running_loop().time()
    async with w.http.request("PROPFIND", f"{w.paris.url}/remote.php/webdav/Shares/",
                              auth=MARIE, headers={"Depth": "1"}) as resp:
        assert resp.status == 207 and "Shares/Physics/" in await resp.text()
    assert asyncio.get_running_loop().time() - started < 1.5


async def test_a_delisted_sharer(world: World) -> None:
    """zurich dropped from paris's providers file: nothing more is sent there; the listing
    still answers (the space unreachable, saying why), a request into it is a 403."""
    w = world
    write_providers(w.providers, {"lyon.test": "https://lyon.test"})
    await asyncio.sleep(5.1)                 # the last answer from zurich expires
    before = len(w.zurich.seen)
    [drive] = await drives(w)
    assert drive["@ocis.federation"]["reachable"] is False
    assert "no longer a trusted OCM provider" in drive["@ocis.federation"]["message"]
    async with w.http.get(f"{w.paris.url}/dav/spaces/{w.space}/data.txt", auth=MARIE) as resp:
        assert resp.status == 403
    assert len(w.zurich.seen) == before
