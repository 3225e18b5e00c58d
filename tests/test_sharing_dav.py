"""Received shares over WebDAV against an embedded server (protocol-notes.md §4, §13 #20): the share
jail lists accepted shares, a mount point reaches the shared folder with the share's permissions,
owners see `oc:share-types`, recipients `S`/`M`, and the owner's changes move the recipient's etag."""

from __future__ import annotations

import base64
import re
import time
from pathlib import Path

import aiohttp
import pytest
from kit import Ocs, ocs_headers

from ocis_server.domain.ids import SHARE_JAIL_ID
from ocis_server.runtime import embedded_server, make_test_config

SHARES = "/ocs/v2.php/apps/files_sharing/api/v1/shares"
JAIL = f"/remote.php/dav/spaces/{SHARE_JAIL_ID}${SHARE_JAIL_ID}"
PROPS = ('<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns" '
         'xmlns:ocs="http://open-collaboration-services.org/ns"><d:prop><d:getetag/>'
         '<oc:permissions/><oc:share-types/><ocs:share-permissions/><oc:shareid/><oc:name/>'
         '</d:prop></d:propfind>')


class Dav:
    """WebDAV and OCS as the demo users, over the kit's client; the tests check the statuses."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session, self.url = session, url

    async def req(self, method: str, user: str, path: str, body: bytes | str = b"",
                  **headers: str) -> tuple[int, str]:
        resp = await Ocs(self.session, user, base=self.url).send(method, path, body=body or None,
                                                                 headers=headers)
        return resp.status, resp.data.decode()

    async def propfind(self, user: str, path: str, depth: str = "0") -> tuple[int, str]:
        return await self.req("PROPFIND", user, path, PROPS, Depth=depth)

    async def share(self, user: str, **form: str) -> dict[str, object]:
        body = await Ocs(self.session, user, base=self.url).ocs("POST", SHARES, 200, data=form)
        return body["data"]  # type: ignore[no-any-return]


def prop(xml: str, name: str, index: int = 0) -> str:
    found = re.findall(rf"<{name}>(.*?)</{name}>|<{name}/>", xml, re.DOTALL)
    return found[index] if found else "<missing>"


@pytest.fixture
async def dav(tmp_path: Path):
    config = make_test_config(tmp_path)
    async with embedded_server(config, only=["ocdav", "frontend"]) as srv, \
            aiohttp.ClientSession() as session:
        client = Dav(session, srv.url)
        client.srv = srv  # type: ignore[attr-defined]
        assert (await client.req("MKCOL", "einstein", "/remote.php/webdav/Docs"))[0] == 201
        assert (await client.req("PUT", "einstein", "/remote.php/webdav/Docs/a.txt", b"v1"))[0] == 201
        yield client


async def test_viewer_reads_through_the_jail_and_sees_owner_changes(dav: Dav) -> None:
    share = await dav.share("einstein", shareType="0", shareWith="marie", path="/Docs",
                            role="viewer")
    mount = f"{JAIL}!{share['id']}"

    status, listing = await dav.propfind("marie", JAIL + "/", depth="1")
    assert status == 207
    assert f"<oc:shareid>{share['id']}</oc:shareid>" in listing
    assert "<oc:name>Docs</oc:name>" in listing and "<oc:permissions>SM</oc:permissions>" in listing
    status, owners = await dav.req("PROPFIND", "marie", JAIL + "/", Depth="1")
    assert prop(owners, "oc:owner-id", 1) == "einstein"       # the mount's owner, not marie

    status, root = await dav.propfind("marie", mount + "/", depth="1")
    assert status == 207
    assert prop(root, "oc:permissions") == "SM"                   # the mount point itself
    assert prop(root, "oc:permissions", 1) == "S"                 # a file inside
    assert prop(root, "ocs:share-permissions") == "1"
    etag_before = prop(root, "d:getetag")

    assert await dav.req("GET", "marie", mount + "/a.txt") == (200, "v1")
    assert (await dav.req("PUT", "marie", mount + "/b.txt", b"nope"))[0] == 403
    assert (await dav.req("DELETE", "marie", mount + "/a.txt"))[0] == 403
    assert (await dav.req("MKCOL", "marie", mount + "/sub"))[0] == 403
    # by mount point name too
    assert await dav.req("GET", "marie", JAIL + "/Docs/a.txt") == (200, "v1")

    # the owner changes a file: the recipient's etag of the mount point changes
    assert (await dav.req("PUT", "einstein", "/remote.php/webdav/Docs/a.txt", b"v2"))[0] == 204
    _, root = await dav.propfind("marie", mount + "/")
    assert prop(root, "d:getetag") != etag_before
    assert await dav.req("GET", "marie", mount + "/a.txt") == (200, "v2")

    # the owner sees the share type; moss sees nothing of it
    _, owner = await dav.propfind("einstein", "/remote.php/webdav/Docs")
    assert prop(owner, "oc:share-types") == "<oc:share-type>0</oc:share-type>"
    assert prop(owner, "oc:permissions") == "RDNVCKZP"
    assert (await dav.propfind("moss", mount + "/"))[0] == 404
    _, jail = await dav.propfind("moss", JAIL + "/", depth="1")
    assert share["id"] not in jail


async def test_editor_writes_and_resource_id_access(dav: Dav) -> None:
    share = await dav.share("einstein", shareType="0", shareWith="marie", path="/Docs",
                            permissions="15")
    mount = f"{JAIL}!{share['id']}"
    _, root = await dav.propfind("marie", mount + "/")
    assert prop(root, "oc:permissions") == "SMDNVCK"
    assert (await dav.req("PUT", "marie", mount + "/from-marie.txt", b"hi"))[0] == 201
    assert await dav.req("GET", "einstein", "/remote.php/webdav/Docs/from-marie.txt") == (200, "hi")
    # the shared folder itself stays the sharer's: no delete, no move away; nothing leaves
    # einstein's space by MOVE (oCIS: 502, clients copy instead)
    home = dav.url + "/remote.php/webdav"
    assert (await dav.req("DELETE", "marie", mount + "/"))[0] == 403
    assert (await dav.req("MOVE", "marie", mount + "/", Destination=home + "/Mine"))[0] == 403
    assert (await dav.req("MOVE", "marie", mount + "/a.txt",
                          Destination=home + "/stolen.txt"))[0] == 502
    assert (await dav.req("COPY", "marie", mount + "/a.txt",
                          Destination=home + "/copied.txt"))[0] == 201
    assert (await dav.req("MOVE", "marie", mount + "/from-marie.txt",
                          Destination=dav.url + mount + "/renamed.txt"))[0] == 201
    assert await dav.req("GET", "einstein", "/remote.php/webdav/Docs/a.txt") == (200, "v1")
    assert (await dav.req("GET", "einstein", "/remote.php/webdav/Docs/renamed.txt"))[0] == 200
    # TUS into the mount point: the upload session checks the share, not space membership
    name = base64.b64encode(b"tus.txt").decode()
    async with dav.session.post(dav.url + mount + "/", headers={
            **ocs_headers("marie"), "Tus-Resumable": "1.0.0", "Upload-Length": "3",
            "Upload-Metadata": f"filename {name}"}) as resp:
        assert resp.status == 201, await resp.text()
        location = resp.headers["Location"]
    async with dav.session.patch(location, data=b"tus", headers={
            **ocs_headers("marie"), "Tus-Resumable": "1.0.0", "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream"}) as resp:
        assert resp.status == 204, await resp.text()
    assert await dav.req("GET", "einstein", "/remote.php/webdav/Docs/tus.txt") == (200, "tus")
    # the shared folder by its resource id in the owner's space
    rid = str(share["item_source"])
    assert await dav.req("GET", "marie", f"/remote.php/dav/spaces/{rid}/a.txt") == (200, "v1")
    # a Denied share on a subfolder wins over the Editor share above it
    assert (await dav.req("MKCOL", "einstein", "/remote.php/webdav/Docs/secret"))[0] == 201
    assert (await dav.req("PUT", "einstein", "/remote.php/webdav/Docs/secret/s.txt", b"s"))[0] == 201
    await dav.share("einstein", shareType="0", shareWith="marie", path="/Docs/secret",
                    permissions="64")
    assert (await dav.req("GET", "marie", f"/remote.php/dav/spaces/{rid}/a.txt"))[0] == 200
    assert (await dav.req("GET", "marie", f"/remote.php/dav/spaces/{rid}/secret/s.txt"))[0] == 404
    # but not the rest of einstein's space
    space = rid.split("!")[0]
    assert (await dav.propfind("marie", f"/remote.php/dav/spaces/{space}/"))[0] == 404


async def test_group_share_decline_and_expiry(dav: Dav) -> None:
    users = dav.srv.ctx.users  # type: ignore[attr-defined]
    group = await users.create_group(name="radium")
    await users.add_member(group.id, (await users.get_by_name("moss")).id)
    share = await dav.share("einstein", shareType="1", shareWith="radium", path="/Docs",
                            permissions="1")
    mount = f"{JAIL}!{share['id']}"
    assert await dav.req("GET", "moss", mount + "/a.txt") == (200, "v1")
    assert (await dav.req("GET", "marie", mount + "/a.txt"))[0] == 404
    _, owner = await dav.propfind("einstein", "/remote.php/webdav/Docs")
    assert prop(owner, "oc:share-types") == "<oc:share-type>1</oc:share-type>"

    # declined: unmounted
    async with dav.session.delete(dav.url + SHARES + f"/pending/{share['id']}",
                                  headers=ocs_headers("moss")) as resp:
        assert resp.status == 200
    assert (await dav.req("GET", "moss", mount + "/a.txt"))[0] == 404
    async with dav.session.post(dav.url + SHARES + f"/pending/{share['id']}",
                                headers=ocs_headers("moss")) as resp:
        assert resp.status == 200
    assert (await dav.req("GET", "moss", mount + "/a.txt"))[0] == 200

    # a disabled space takes its shares with it
    storage = dav.srv.ctx.storage  # type: ignore[attr-defined]
    owner_space = str(share["space_id"]).split("$")[1]
    await storage.update_space(owner_space, disabled=True)
    assert (await dav.req("GET", "moss", mount + "/a.txt"))[0] == 404
    await storage.update_space(owner_space, disabled=False)
    assert (await dav.req("GET", "moss", mount + "/a.txt"))[0] == 200

    # expired: gone
    await storage.update_share(str(share["id"]), expiration=time.time() - 1)
    assert (await dav.req("GET", "moss", mount + "/a.txt"))[0] == 404
    _, jail = await dav.propfind("moss", JAIL + "/", depth="1")
    assert str(share["id"]) not in jail


async def test_legacy_namespace_shows_the_jail_as_shares(dav: Dav) -> None:
    _, home = await dav.req("PROPFIND", "marie", "/remote.php/webdav/", Depth="1")
    assert "/remote.php/webdav/Shares/" not in home              # nothing mounted yet
    await dav.share("einstein", shareType="0", shareWith="marie", path="/Docs", role="viewer")
    _, home = await dav.req("PROPFIND", "marie", "/remote.php/webdav/", Depth="1")
    assert "<d:href>/remote.php/webdav/Shares/</d:href>" in home
    status, shares = await dav.req("PROPFIND", "marie", "/remote.php/webdav/Shares", Depth="1")
    assert status == 207 and "<d:href>/remote.php/webdav/Shares/Docs/</d:href>" in shares
    assert await dav.req("GET", "marie", "/remote.php/webdav/Shares/Docs/a.txt") == (200, "v1")
    assert await dav.req("GET", "marie", "/remote.php/dav/files/marie/Shares/Docs/a.txt") == (
        200, "v1")
    assert (await dav.req("PUT", "marie", "/remote.php/webdav/Shares/Docs/x.txt", b"x"))[0] == 403
    assert (await dav.req("MKCOL", "marie", "/remote.php/webdav/Shares/new"))[0] == 404  # no mount
    # einstein's own `Shares` folder stays a folder
    assert (await dav.req("MKCOL", "einstein", "/remote.php/webdav/Shares"))[0] == 201
    assert (await dav.req("PUT", "einstein", "/remote.php/webdav/Shares/own.txt", b"o"))[0] == 201


async def test_recipient_renames_the_mount_point(dav: Dav) -> None:
    share = await dav.share("einstein", shareType="0", shareWith="marie", path="/Docs",
                            role="viewer")
    mount = f"{JAIL}!{share['id']}"
    status, _ = await dav.req("MOVE", "marie", mount + "/", Destination=dav.url + JAIL + "/Renamed")
    assert status == 201
    _, listing = await dav.propfind("marie", JAIL + "/", depth="1")
    assert "<oc:name>Renamed</oc:name>" in listing and "<oc:name>Docs</oc:name>" not in listing
    assert await dav.req("GET", "marie", "/remote.php/webdav/Shares/Renamed/a.txt") == (200, "v1")
    status, _ = await dav.req("MOVE", "marie", "/remote.php/webdav/Shares/Renamed",
                              Destination=dav.url + "/remote.php/webdav/Shares/Again")
    assert status == 201
    async with dav.session.get(dav.url + SHARES + "?format=json&shared_with_me=true",
                               headers=ocs_headers("marie")) as resp:
        (received,) = (await resp.json())["ocs"]["data"]
    assert received["path"] == "/Shares/Again"
    # the sharer's folder keeps its name
    assert await dav.req("GET", "einstein", "/remote.php/webdav/Docs/a.txt") == (200, "v1")
