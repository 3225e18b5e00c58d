"""Inputs beyond what the storage takes get a clean 4xx before anything is stored (never a 500):
sizes over the largest file (TUS Upload-Length, OC-Total-Length, Content-Length), paths deeper
than the storage resolves, an OC-Checksum algorithm it cannot verify. Downloads carry the
headers that keep a browser from sniffing or framing them. In-process server, real proxy.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest
import pytest_asyncio

from ocis_server.domain.paths import MAX_PATH_DEPTH
from ocis_server.runtime import embedded_server, make_test_config
from ocis_server.storage.diskspace import MAX_FILE_SIZE

pytestmark = pytest.mark.asyncio(loop_scope="module")
AUTH = aiohttp.BasicAuth("admin", "admin")
TUS = {"Tus-Resumable": "1.0.0"}
DOWNLOAD = {"X-Content-Type-Options": "nosniff", "X-Download-Options": "noopen",
            "X-Frame-Options": "SAMEORIGIN", "X-Permitted-Cross-Domain-Policies": "none"}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[str, Path]]:
    tmp = tmp_path_factory.mktemp("limits")
    async with embedded_server(make_test_config(tmp)) as srv:
        yield srv.url, tmp / "data"


@pytest_asyncio.fixture(loop_scope="module")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(auth=AUTH) as session:
        yield session


def _no_temp_files(data: Path) -> None:
    root = data / "storage" / "users"
    assert not list((root / "blobs").rglob("put-*"))
    assert not [p for p in (root / "uploads").glob("*")] if (root / "uploads").exists() else True


async def test_tus_upload_length_beyond_the_largest_file_is_413(
        server: tuple[str, Path], http: aiohttp.ClientSession) -> None:
    url, data = server
    for length in (MAX_FILE_SIZE + 1, 2 ** 63, 2 ** 64 + 5, 10 ** 30):
        async with http.post(f"{url}/remote.php/webdav/", headers={
                **TUS, "Upload-Length": str(length),
                "Upload-Metadata": "filename " + base64.b64encode(b"huge.bin").decode()}) as r:
            body = await r.text()
            assert r.status == 413, body
            assert "Sabre\\DAV\\Exception" in body and "Traceback" not in body
    # the largest size passes the size rule (and then meets the disk's free space: 507)
    async with http.post(f"{url}/remote.php/webdav/", headers={
            **TUS, "Upload-Length": str(MAX_FILE_SIZE),
            "Upload-Metadata": "filename " + base64.b64encode(b"max.bin").decode()}) as r:
        assert r.status == 507, await r.text()
    _no_temp_files(data)


async def test_chunking_total_length_beyond_the_largest_file_is_413(
        server: tuple[str, Path], http: aiohttp.ClientSession) -> None:
    url, _ = server
    async with http.request("MKCOL", f"{url}/remote.php/dav/uploads/admin/huge-transfer",
                            headers={"OC-Total-Length": str(2 ** 70)}) as r:
        assert r.status == 413, await r.text()


async def test_put_content_length_beyond_the_largest_file_is_413(
        server: tuple[str, Path]) -> None:
    """A client announcing an impossible body gets 413 before a byte is read."""
    url, data = server
    host, port = urlsplit(url).hostname, urlsplit(url).port
    reader, writer = await asyncio.open_connection(host, port)
    token = base64.b64encode(b"admin:admin").decode()
    writer.write((f"PUT /remote.php/webdav/huge.bin HTTP/1.1\r\nHost: {host}\r\n"
                  f"Authorization: Basic {token}\r\nContent-Length: {2 ** 63}\r\n\r\n").encode())
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    writer.close()
    assert head.split(b" ")[1] == b"413", head
    _no_temp_files(data)


async def test_paths_deeper_than_the_storage_takes_are_400(
        server: tuple[str, Path], http: aiohttp.ClientSession) -> None:
    url, _ = server
    base = f"{url}/remote.php/webdav"
    path = ""
    for _ in range(MAX_PATH_DEPTH - 1):
        path += "/d"
        async with http.request("MKCOL", base + path) as r:
            assert r.status == 201
    async with http.put(f"{base}{path}/last.txt", data=b"deepest") as r:     # level 150
        assert r.status == 201
    async with http.get(f"{base}{path}/last.txt") as r:
        assert await r.read() == b"deepest"
    for method, target in (("MKCOL", f"{path}/d/e"), ("PUT", f"{path}/d/f.txt"),
                           ("PROPFIND", f"{path}/d/e"), ("MKCOL", "/x" * 400)):
        async with http.request(method, base + target, data=b"x") as r:
            body = await r.text()
            assert r.status == 400, (method, body)
            assert f"deeper than {MAX_PATH_DEPTH} levels" in body
    async with http.request("MOVE", f"{base}{path}/last.txt", headers={
            "Destination": f"{base}{path}/d/e/moved.txt"}) as r:
        assert r.status in (400, 409), await r.text()


async def test_unknown_oc_checksum_algorithm_is_400(
        server: tuple[str, Path], http: aiohttp.ClientSession) -> None:
    url, _ = server
    async with http.put(f"{url}/remote.php/webdav/sum.txt", data=b"abc",
                        headers={"OC-Checksum": "SHA256:abcdef"}) as r:
        assert r.status == 400
        assert "unsupported checksum algorithm" in await r.text()
    async with http.get(f"{url}/remote.php/webdav/sum.txt") as r:
        assert r.status == 404
    async with http.put(f"{url}/remote.php/webdav/sum.txt", data=b"abc",
                        headers={"OC-Checksum": "MD5:900150983cd24fb0d6963f7d28e17f72"}) as r:
        assert r.status == 201


async def test_downloads_carry_the_security_headers(
        server: tuple[str, Path], http: aiohttp.ClientSession) -> None:
    url, _ = server
    async with http.put(f"{url}/remote.php/webdav/page.html", data=b"<script>1</script>") as r:
        assert r.status == 201
    async with http.put(f"{url}/remote.php/webdav/page.html", data=b"<b>2</b>" * 40000) as r:
        assert r.status == 204
    async with http.get(f"{url}/remote.php/webdav/page.html") as r:   # big: sendfile path
        assert r.status == 200
        for name, value in DOWNLOAD.items():
            assert r.headers.get(name) == value, name
        assert r.headers["Content-Disposition"].startswith("attachment")
    async with http.request("PROPFIND", f"{url}/remote.php/webdav/page.html",
                            headers={"Depth": "0"}, data=b'<?xml version="1.0"?><d:propfind '
                            b'xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop>'
                            b'<oc:fileid/></d:prop></d:propfind>') as r:
        fileid = (await r.text()).split("<oc:fileid>")[1].split("<")[0]
    async with http.request("PROPFIND", f"{url}/remote.php/dav/meta/{fileid}/v",
                            headers={"Depth": "1"}) as r:
        text = await r.text()
        href = [h for h in text.split("<d:href>")[1:]
                if "/v/" in h.split("<")[0] and not h.split("<")[0].endswith("/v/")]
    assert href, text
    async with http.get(url + href[0].split("<")[0]) as r:          # a version: small path
        assert r.status == 200
        for name, value in DOWNLOAD.items():
            assert r.headers.get(name) == value, name
