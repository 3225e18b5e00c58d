"""TUS uploads in several requests into a remote space, two real instances: Marie at paris
creates an upload in Einstein's shared folder (editor) through paris's `/dav/spaces/<id>/`;
paris creates it at zurich's `/dav/ocm/<share>/` and answers with a Location of its own (no
zurich host, no secret). Three PATCHes of a 25 MiB file, with a PATCH broken off in between
(HEAD tells where to resume), land at zurich byte-identical with the checksum the client
announced. The Location is Marie's only; the viewer share refuses the creation (403)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
from collections.abc import AsyncIterator

import aiohttp
from test_ocm_federation import (  # noqa: F401  (the fixture)
    EINSTEIN, MARIE, Pair, call, einstein_shares, marie_accepts, pair)

MIB = 1024 * 1024
TUS = {"Tus-Resumable": "1.0.0"}


def metadata(**items: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in items.items())


async def patch(p: Pair, location: str, data: bytes, offset: int) -> tuple[int, int]:
    status, _, headers = await call(p.http, "PATCH", location, MARIE, data=data, headers={
        **TUS, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"})
    return status, int(headers.get("Upload-Offset", -1))


async def broken_patch(p: Pair, location: str, data: bytes, offset: int) -> None:
    """A PATCH announcing `data` whose connection breaks after 3 MiB of it."""
    async def body() -> AsyncIterator[bytes]:
        for start in range(0, 3 * MIB, MIB):
            yield data[start:start + MIB]
            await asyncio.sleep(0.05)
        raise ConnectionResetError("the client's network went away")

    try:
        async with aiohttp.ClientSession() as http:
            await http.patch(location, auth=MARIE, data=body(), headers={
                **TUS, "Upload-Offset": str(offset), "Content-Length": str(len(data)),
                "Content-Type": "application/offset+octet-stream"})
    except (aiohttp.ClientError, ConnectionResetError):
        pass


async def test_upload_in_several_patches_through_paris(pair: Pair) -> None:
    p = pair
    await einstein_shares(p)
    drives = await marie_accepts(p)
    dav, viewer = drives["Physics"]["root"]["webDavUrl"], drives["Lectures"]["root"]["webDavUrl"]
    data = os.urandom(25 * MIB)
    sha1 = hashlib.sha1(data).hexdigest()

    status, _, headers = await call(p.http, "POST", dav + "/", MARIE, headers={
        **TUS, "Upload-Length": str(len(data)),
        "Upload-Metadata": metadata(filename="big.bin", checksum=f"SHA1 {sha1}")})
    assert status == 201
    location = headers["Location"]
    assert location.startswith(f"{p.paris.url}/dav/spaces/")
    assert p.zurich.url not in location and "/data/" not in location
    assert "/dav/ocm/" not in location and "127.0.0.1:" + p.zurich.url.rsplit(":", 1)[1] \
        not in location
    # the Location is Marie's: Einstein's paris login finds no such upload
    assert (await call(p.http, "HEAD", location, EINSTEIN, headers=TUS))[0] == 404

    assert await patch(p, location, data[:10 * MIB], 0) == (204, 10 * MIB)
    await broken_patch(p, location, data[10 * MIB:20 * MIB], 10 * MIB)
    offsets = [-1]
    for _ in range(50):           # zurich learns of the break once paris's request ends
        await asyncio.sleep(0.2)
        status, _, headers = await call(p.http, "HEAD", location, MARIE, headers=TUS)
        assert status == 200 and headers["Upload-Length"] == str(len(data))
        offsets.append(int(headers["Upload-Offset"]))
        if offsets[-1] == offsets[-2]:
            break
    offset = offsets[-1]
    assert 10 * MIB <= offset <= 13 * MIB        # what zurich kept of the broken PATCH
    assert await patch(p, location, data[offset:20 * MIB], offset) == (204, 20 * MIB)
    status, end = await patch(p, location, data[20 * MIB:], 20 * MIB)
    assert (status, end) == (204, len(data))

    status, body, _ = await call(p.http, "GET", f"{p.zurich.url}/remote.php/webdav/Physics/"
                                 "big.bin", EINSTEIN)
    assert status == 200 and body == data
    einstein = await p.zurich.ctx.users.get_by_name("einstein")
    node = await p.zurich.ctx.storage.lookup(einstein.id, ("Physics", "big.bin"))
    assert node.checksums["SHA1"] == sha1
    # the finished upload is gone at zurich, and so at paris
    assert (await call(p.http, "HEAD", location, MARIE, headers=TUS))[0] == 404

    # the viewer share: zurich refuses the creation, paris passes the 403 on
    status, _, headers = await call(p.http, "POST", viewer + "/", MARIE, headers={
        **TUS, "Upload-Length": "5", "Upload-Metadata": metadata(filename="no.txt")})
    assert status == 403 and "Location" not in headers


async def test_upload_in_the_share_jail_and_cancelled(pair: Pair) -> None:
    """The desktop client's way: POST below `/remote.php/webdav/Shares/<name>/`; the upload's
    DELETE reaches zurich, after which the Location is gone."""
    p = pair
    await einstein_shares(p)
    await marie_accepts(p)
    data = os.urandom(3 * MIB)
    status, _, headers = await call(
        p.http, "POST", f"{p.paris.url}/remote.php/webdav/Shares/Physics/", MARIE, headers={
            **TUS, "Upload-Length": str(len(data)),
            "Upload-Metadata": metadata(filename="sub.bin")})
    assert status == 201
    location = headers["Location"]
    assert p.zurich.url not in location
    assert await patch(p, location, data[:MIB], 0) == (204, MIB)
    assert (await call(p.http, "DELETE", location, MARIE, headers=TUS))[0] == 204
    assert (await call(p.http, "HEAD", location, MARIE, headers=TUS))[0] == 404
    assert (await call(p.http, "GET", f"{p.zurich.url}/remote.php/webdav/Physics/sub.bin",
                       EINSTEIN))[0] == 404
