"""Moving what a share recipient received, as oCIS answers it (issue 17; protocol-notes.md §4).

In oCIS the share jail is a storage provider of its own: a MOVE out of a received share into the
recipient's space, the reverse, and a MOVE from one received share to another are refused by the
gateway or the sharesstorageprovider with CODE_UNIMPLEMENTED, which ocdav answers with 502 and
`cross storage moves are not supported, use copy and delete` (reva `ocdav/move.go`,
`gateway/storageprovider.go` `Move`, `sharesstorageprovider.go` `Move`; acceptance
`apiSpacesDavOperation/moveByFileId.feature`, `coreApiShareOperationsToShares2/moveReceivedShare`
and `apiSharingNg1/moveReceivedShare.feature`). Over the share jail (`/dav/spaces/<jail>`) and the
legacy `/Shares` folder alike; nothing moves, and COPY + DELETE (what clients then do) works."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from kit import Ocs

from ocis_server.domain.ids import SHARE_JAIL_ID
from ocis_server.runtime import embedded_server, make_test_config

SHARES = "/ocs/v2.php/apps/files_sharing/api/v1/shares"
JAIL = f"/remote.php/dav/spaces/{SHARE_JAIL_ID}${SHARE_JAIL_ID}"
OLD = "/remote.php/webdav"
NEW = "/remote.php/dav/files/marie"
CROSS = "cross storage moves are not supported, use copy and delete"


class Dav:
    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session, self.url = session, url
        self.personal = ""          # marie's personal space URL (/remote.php/dav/spaces/<id>)
        self.share_ids: dict[str, str] = {}

    async def req(self, method: str, user: str, path: str, body: bytes = b"",
                  **headers: str) -> tuple[int, str]:
        resp = await Ocs(self.session, user, base=self.url).send(method, path, body=body or None,
                                                                 headers=headers)
        return resp.status, resp.data.decode()

    async def move(self, src: str, dst: str, user: str = "marie") -> tuple[int, str]:
        return await self.req("MOVE", user, src, Destination=self.url + dst)

    async def exists(self, user: str, path: str) -> bool:
        status, _ = await self.req("PROPFIND", user, path, Depth="0")
        assert status in (207, 404), (path, status)
        return status == 207

    async def share(self, path: str, permissions: str) -> None:
        body = await Ocs(self.session, "einstein", base=self.url).ocs(
            "POST", SHARES, 200, data={"shareType": "0", "shareWith": "marie", "path": path,
                                       "permissions": permissions})
        self.share_ids[path.strip("/")] = str(body["data"]["id"])   # type: ignore[index]


@pytest.fixture
async def dav(tmp_path: Path) -> AsyncIterator[Dav]:
    async with embedded_server(make_test_config(tmp_path), only=["ocdav", "frontend"]) as srv, \
            aiohttp.ClientSession() as session:
        d = Dav(session, srv.url)
        for folder in ("Docs", "Docs/sub", "Other", "View"):
            assert (await d.req("MKCOL", "einstein", f"{OLD}/{folder}"))[0] == 201
        for path in ("Docs/a.txt", "Docs/sub/deep.txt", "Other/b.txt", "View/c.txt"):
            assert (await d.req("PUT", "einstein", f"{OLD}/{path}", b"from einstein"))[0] == 201
        assert (await d.req("PUT", "marie", f"{OLD}/mine.txt", b"marie's"))[0] == 201
        await d.share("/Docs", "15")          # editor
        await d.share("/Other", "15")
        await d.share("/View", "1")           # viewer
        status, xml = await d.req("PROPFIND", "marie", f"{OLD}/", b'<?xml version="1.0"?>'
                                  b'<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">'
                                  b'<d:prop><oc:spaceid/></d:prop></d:propfind>', Depth="0")
        assert status == 207
        found = re.search(r"<oc:spaceid>([^<]+)</oc:spaceid>", xml)
        assert found
        d.personal = f"/remote.php/dav/spaces/{found.group(1)}"
        yield d


def assert_cross_storage(answer: tuple[int, str], what: str) -> None:
    status, body = answer
    assert status == 502, f"{what}: {status} {body[:300]}"
    assert f"<s:message>{CROSS}</s:message>" in body, f"{what}: {body[:300]}"
    assert "<d:error" in body


async def test_out_of_a_received_share_into_the_own_space_is_502(dav: Dav) -> None:
    by_id = f"{JAIL}!{dav.share_ids['Docs']}"
    for src, dst in (
            (f"{JAIL}/Docs/a.txt", f"{dav.personal}/a.txt"),       # share jail -> spaces URL
            (f"{by_id}/a.txt", f"{OLD}/a.txt"),                      # mount by share id -> old DAV
            (f"{OLD}/Shares/Docs/a.txt", f"{OLD}/a.txt"),            # legacy /Shares, both ways
            (f"{NEW}/Shares/Docs/a.txt", f"{NEW}/a.txt"),
            (f"{NEW}/Shares/Docs/sub", f"{NEW}/sub"),                # a folder alike
    ):
        assert_cross_storage(await dav.move(src, dst), f"{src} -> {dst}")
    # nothing moved: still in einstein's folder, nothing new in marie's space
    assert await dav.exists("einstein", f"{OLD}/Docs/a.txt")
    assert await dav.exists("einstein", f"{OLD}/Docs/sub/deep.txt")
    assert await dav.exists("marie", f"{JAIL}/Docs/a.txt")
    assert not await dav.exists("marie", f"{OLD}/a.txt")
    assert not await dav.exists("marie", f"{OLD}/sub")


async def test_from_the_own_space_into_a_received_share_is_502_even_for_a_viewer(dav: Dav) -> None:
    for dst in (f"{JAIL}/Docs/mine.txt", f"{OLD}/Shares/Docs/mine.txt",
                f"{JAIL}/View/mine.txt", f"{NEW}/Shares/View/mine.txt"):
        # reva: the gateway refuses before the storage looks at permissions (a Viewer share too)
        assert_cross_storage(await dav.move(f"{OLD}/mine.txt", dst), f"mine.txt -> {dst}")
    assert_cross_storage(await dav.move(f"{dav.personal}/mine.txt", f"{JAIL}/Docs/mine.txt"),
                         "spaces URL -> jail")
    # a new name in the jail root itself (no share there): the gateway's 502 as well
    for dst in (f"{JAIL}/mine.txt", f"{OLD}/Shares/mine.txt"):
        assert_cross_storage(await dav.move(f"{OLD}/mine.txt", dst), f"mine.txt -> {dst}")
    # ... while from inside a share the share jail answers: no share by that name (404)
    status, body = await dav.move(f"{JAIL}/Docs/a.txt", f"{JAIL}/a.txt")
    assert status == 404, body
    assert await dav.req("GET", "marie", f"{OLD}/mine.txt") == (200, "marie's")
    assert not await dav.exists("einstein", f"{OLD}/Docs/mine.txt")
    assert not await dav.exists("einstein", f"{OLD}/View/mine.txt")


async def test_between_two_received_shares_is_502(dav: Dav) -> None:
    # both shares lie in einstein's one space, still two storages for oCIS (share ids differ)
    for src, dst in (
            (f"{JAIL}/Docs/a.txt", f"{JAIL}/Other/a.txt"),
            (f"{JAIL}!{dav.share_ids['Docs']}/a.txt", f"{JAIL}!{dav.share_ids['Other']}/a.txt"),
            (f"{OLD}/Shares/Docs/a.txt", f"{OLD}/Shares/Other/a.txt"),
            (f"{NEW}/Shares/Other/b.txt", f"{NEW}/Shares/Docs/b.txt"),
            (f"{JAIL}/View/c.txt", f"{JAIL}/Docs/c.txt"),        # from a Viewer share: 502 too
    ):
        assert_cross_storage(await dav.move(src, dst), f"{src} -> {dst}")
    assert await dav.exists("einstein", f"{OLD}/Docs/a.txt")
    assert not await dav.exists("einstein", f"{OLD}/Other/a.txt")
    assert await dav.exists("einstein", f"{OLD}/Other/b.txt")
    assert await dav.exists("einstein", f"{OLD}/View/c.txt")


async def test_a_nested_share_is_a_share_of_its_own(dav: Dav) -> None:
    """Docs/sub shared as well: through the Docs mount it stays one share (201), from the `sub`
    mount into the Docs mount it is two (502), as the share ids decide in reva."""
    await dav.share("/Docs/sub", "15")
    assert_cross_storage(await dav.move(f"{JAIL}/sub/deep.txt", f"{JAIL}/Docs/deep.txt"),
                         "sub mount -> Docs mount")
    status, body = await dav.move(f"{JAIL}/Docs/sub/deep.txt", f"{JAIL}/Docs/deep.txt")
    assert status == 201, body
    assert await dav.exists("einstein", f"{OLD}/Docs/deep.txt")


async def test_a_viewer_moving_out_gets_403_and_moves_inside_a_share_still_work(dav: Dav) -> None:
    # out of a Viewer share to a place outside every share: the missing move right first (403)
    for src, dst in ((f"{JAIL}/View/c.txt", f"{OLD}/c.txt"),
                     (f"{OLD}/Shares/View/c.txt", f"{OLD}/c.txt")):
        status, body = await dav.move(src, dst)
        assert status == 403, f"{src}: {status} {body[:200]}"
    # inside one editor share: an ordinary move (201), the sharer sees it
    status, body = await dav.move(f"{OLD}/Shares/Docs/a.txt", f"{OLD}/Shares/Docs/sub/a.txt")
    assert status == 201, body
    assert await dav.exists("einstein", f"{OLD}/Docs/sub/a.txt")
    status, body = await dav.move(f"{JAIL}/Docs/sub/a.txt", f"{JAIL}/Docs/renamed.txt")
    assert status == 201, body
    # what a client does after the 502: copy, then delete the source
    status, body = await dav.req("COPY", "marie", f"{JAIL}/Docs/renamed.txt",
                                 Destination=dav.url + f"{OLD}/renamed.txt")
    assert status == 201, body
    assert (await dav.req("DELETE", "marie", f"{JAIL}/Docs/renamed.txt"))[0] == 204
    assert await dav.req("GET", "marie", f"{OLD}/renamed.txt") == (200, "from einstein")
    assert not await dav.exists("einstein", f"{OLD}/Docs/renamed.txt")
