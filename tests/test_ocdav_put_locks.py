"""PUT's lock and folder checks when the handler skips its lookup (no If-Match/If-None-Match):
a depth-0 lock on the parent blocks creating a member, not replacing one; a depth-infinity
lock blocks both; a folder at the path is still a 409."""

from __future__ import annotations

import pytest
from kit import Dav, ocdav_root
from test_ocdav import LOCKINFO


@pytest.fixture
async def dav(aiohttp_client, tmp_path):
    root, _users, _storage = await ocdav_root(tmp_path)
    return Dav(await aiohttp_client(root))


async def lock(dav: Dav, path: str, depth: str) -> str:
    resp = await dav.request("LOCK", path, 200, body=LOCKINFO.format(scope="exclusive"),
                             headers={"Depth": depth, "Timeout": "Second-600"})
    return resp.headers["Lock-Token"].strip("<>")


async def test_depth0_parent_lock_blocks_new_members_only(dav):
    await dav.mkcol("/d")
    await dav.put("/d/old.txt", b"1")
    token = await lock(dav, "/d", "0")
    await dav.put("/d/old.txt", b"2", status=204)            # not a membership change
    await dav.put("/d/new.txt", b"3", status=423)
    await dav.put("/d/new.txt", b"3", headers={"If": f"<{dav.url('/d')}> (<{token}>)"})
    assert (await dav.get("/d/old.txt")).data == b"2"


async def test_depth_infinity_lock_blocks_replace_and_create(dav):
    await dav.mkcol("/e")
    await dav.put("/e/old.txt", b"1")
    token = await lock(dav, "/e", "infinity")
    await dav.put("/e/old.txt", b"2", status=423)
    await dav.put("/e/new.txt", b"2", status=423)
    await dav.put("/e/old.txt", b"2", status=204, headers={"If": f"(<{token}>)"})


async def test_locked_file_and_folder_target(dav):
    await dav.put("/f.txt", b"1")
    token = await lock(dav, "/f.txt", "0")
    await dav.put("/f.txt", b"2", status=423)
    await dav.put("/f.txt", b"2", status=204, headers={"If": f"(<{token}>)"})
    await dav.mkcol("/g")
    await dav.put("/g", b"x", status=409)
    await dav.put("/missing/x.txt", b"x", status=409)
