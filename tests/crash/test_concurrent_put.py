"""Concurrent PUTs to one path on a real (embedded) server: 20 clients at once. Without a
precondition every one lands (one 201, the rest 204), the file is exactly one body and every other
body is a version; with If-Match exactly one wins and the others get a clean 412."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from ocis_server.runtime import embedded_server, make_test_config

CLIENTS = 20
SIZE = 300_000   # big enough that the uploads overlap on the wire
DAV = "/remote.php/dav/files/admin"


def _body(i: int) -> bytes:
    seed = hashlib.sha256(f"client-{i}".encode()).digest()
    return (seed * (SIZE // len(seed) + 1))[:SIZE]


async def _slow(data: bytes) -> AsyncIterator[bytes]:
    """Send in pieces with pauses so the 20 bodies interleave."""
    for start in range(0, len(data), 64 * 1024):
        yield data[start:start + 64 * 1024]
        await asyncio.sleep(0.002)


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[tuple[str, object]]:
    async with embedded_server(make_test_config(tmp_path)) as srv:
        yield srv.url, srv


async def _put_all(url: str, headers: dict[str, str] | None = None) -> list[int]:
    auth = aiohttp.BasicAuth("admin", "admin")
    async with aiohttp.ClientSession(auth=auth) as http:
        async def one(i: int) -> int:
            data = _body(i)
            async with http.put(f"{url}{DAV}/same.bin", data=_slow(data), headers={
                    "Content-Length": str(len(data)), **(headers or {})}) as resp:
                await resp.read()
                return resp.status
        return list(await asyncio.gather(*(one(i) for i in range(CLIENTS))))


async def _current(url: str) -> tuple[bytes, str, str]:
    async with (aiohttp.ClientSession(auth=aiohttp.BasicAuth("admin", "admin")) as http,
                http.get(f"{url}{DAV}/same.bin") as resp):
        assert resp.status == 200
        return await resp.read(), resp.headers["ETag"].strip('"'), resp.headers["OC-FileId"]


async def _versions(srv: object, file_id: str) -> list[bytes]:
    storage = srv.ctx.storage  # type: ignore[attr-defined]
    node_id = file_id.rsplit("!", 1)[-1]
    out = []
    for version in await storage.list_versions(node_id):
        path = await storage.version_blob_path(node_id, version.key)
        out.append(await asyncio.to_thread(Path(path).read_bytes))
    return out


async def test_twenty_puts_to_one_path_one_wins_whole_the_rest_are_versions(server) -> None:
    url, srv = server
    statuses = await _put_all(url)
    assert sorted(statuses) == [201] + [204] * (CLIENTS - 1), statuses
    content, _, file_id = await _current(url)
    bodies = [_body(i) for i in range(CLIENTS)]
    assert content in bodies                           # exactly one body, never a mix
    versions = await _versions(srv, file_id)
    assert len(versions) == CLIENTS - 1
    assert all(v in bodies for v in versions)
    assert sorted([content, *versions]) == sorted(bodies)   # nothing lost, nothing twice


async def test_twenty_puts_with_the_same_if_match_one_wins_the_rest_get_412(server) -> None:
    url, srv = server
    async with (aiohttp.ClientSession(auth=aiohttp.BasicAuth("admin", "admin")) as http,
                http.put(f"{url}{DAV}/same.bin", data=b"original") as resp):
        assert resp.status == 201
    _, etag, file_id = await _current(url)
    statuses = await _put_all(url, {"If-Match": f'"{etag}"'})
    assert sorted(statuses) == [204] + [412] * (CLIENTS - 1), statuses
    content, new_etag, _ = await _current(url)
    assert content in [_body(i) for i in range(CLIENTS)]
    assert new_etag != etag
    assert await _versions(srv, file_id) == [b"original"]
