"""The OCS share API over HTTP against an embedded server (protocol-notes.md §3, §13 #23):
create with bitmask or role, list own and received, get, update, delete, accept/decline,
sharees, v1/v2 status mapping, JSON and XML."""

from __future__ import annotations

import asyncio
import calendar
import json
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from kit import Ocs

from ocis_server.runtime import embedded_server, make_test_config

API = "/ocs/{v}.php/apps/files_sharing/api/v1"


class Client:
    """OCS and WebDAV as the demo users, over the kit's client; the tests check the statuses."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session, self.url = session, url

    async def ocs(self, method: str, user: str, route: str, *, v: str = "v2", fmt: str = "json",
                  data: dict[str, str] | None = None, **query: str) -> tuple[int, Any]:
        params = {**query, **({"format": "json"} if fmt == "json" else {})}
        resp = await Ocs(self.session, user, base=self.url).send(
            method, API.format(v=v) + route, params=params, body=data)
        text = resp.data.decode()
        return resp.status, json.loads(text) if fmt == "json" else text

    async def dav(self, method: str, user: str, path: str, body: bytes = b"") -> int:
        resp = await Ocs(self.session, user, base=self.url).send(
            method, "/remote.php/webdav" + path, body=body or None)
        return int(resp.status)


@pytest.fixture
async def client(tmp_path: Path):
    config = make_test_config(tmp_path)
    async with embedded_server(config, only=["ocdav", "frontend"]) as srv, \
            aiohttp.ClientSession() as session:
        c = Client(session, srv.url)
        c.srv = srv  # type: ignore[attr-defined]
        assert await c.dav("MKCOL", "einstein", "/folder") == 201
        assert await c.dav("PUT", "einstein", "/folder/f.txt", b"data") == 201
        assert await c.dav("PUT", "einstein", "/file.txt", b"file") == 201
        yield c


def _share(**extra: str) -> dict[str, str]:
    return {"shareType": "0", "shareWith": "marie", "path": "/folder", **extra}


async def test_create_strips_resharing_and_lists_for_both_sides(client: Client) -> None:
    status, body = await client.ocs("POST", "einstein", "/shares", data=_share(permissions="31"))
    assert status == 200 and body["ocs"]["meta"]["statuscode"] == 200
    data = body["ocs"]["data"]
    assert data["permissions"] == 15 and data["share_type"] == 0
    assert data["share_with"] == "marie" and data["share_with_displayname"] == "Marie Curie"
    assert data["uid_owner"] == "einstein" and data["item_type"] == "folder"
    assert data["path"] == "/folder" and data["file_target"] == "/Shares/folder"
    assert len(data["id"].split(":")) == 3 and "!" in data["item_source"]
    share_id = data["id"]

    _, body = await client.ocs("GET", "einstein", "/shares", path="/folder")
    assert [s["id"] for s in body["ocs"]["data"]] == [share_id]
    _, body = await client.ocs("GET", "marie", "/shares", shared_with_me="true", state="all")
    (received,) = body["ocs"]["data"]
    assert received["id"] == share_id and received["state"] == 0
    assert received["path"] == "/Shares/folder"
    # marie does not see it as her own share; moss sees nothing
    _, body = await client.ocs("GET", "marie", "/shares")
    assert body["ocs"]["data"] == []
    status, _ = await client.ocs("GET", "moss", f"/shares/{share_id}")
    assert status == 404

    # v1: HTTP 200 and statuscode 100, XML by default
    status, text = await client.ocs("GET", "einstein", f"/shares/{share_id}", v="v1", fmt="xml")
    root = ET.fromstring(text)
    assert status == 200 and root.findtext("meta/statuscode") == "100"
    assert root.findtext("data/element/id") == share_id
    assert root.findtext("data/element/permissions") == "15"


async def test_file_share_and_role_fitting(client: Client) -> None:
    status, body = await client.ocs("POST", "einstein", "/shares",
                                    data=_share(path="/file.txt", permissions="31"))
    assert status == 200 and body["ocs"]["data"]["permissions"] == 3   # files: no create/delete
    status, body = await client.ocs("POST", "einstein", "/shares",
                                    data=_share(path="/file.txt", shareWith="moss", role="editor"))
    assert status == 400 and "not applicable" in body["ocs"]["meta"]["message"]
    status, body = await client.ocs("POST", "einstein", "/shares",
                                    data=_share(shareWith="moss", role="uploader"))
    assert status == 200 and body["ocs"]["data"]["permissions"] == 4
    status, body = await client.ocs("POST", "einstein", "/shares", v="v1",
                                    data=_share(path="/", shareWith="moss"))
    assert status == 200 and body["ocs"]["meta"]["statuscode"] == 102   # space root


async def test_bad_requests(client: Client) -> None:
    status, body = await client.ocs("POST", "einstein", "/shares", data=_share(shareWith="nobody"))
    assert status == 404 and body["ocs"]["meta"]["statuscode"] == 998
    status, body = await client.ocs("POST", "einstein", "/shares", v="v1",
                                    data=_share(shareWith="nobody"))
    assert status == 200 and body["ocs"]["meta"]["statuscode"] == 998
    status, _ = await client.ocs("POST", "einstein", "/shares", data=_share(path="/missing"))
    assert status == 404
    status, _ = await client.ocs("POST", "einstein", "/shares", data=_share(permissions="x"))
    assert status == 400
    status, _ = await client.ocs("POST", "einstein", "/shares", data=_share(permissions="64000"))
    assert status == 400
    status, _ = await client.ocs("POST", "einstein", "/shares", data=_share(shareType="42"))
    assert status == 400
    status, _ = await client.ocs("POST", "einstein", "/shares", data=_share(shareWith="einstein"))
    assert status == 400
    status, _ = await client.ocs("POST", "einstein", "/shares",
                                 data=_share(expireDate="2001-01-01"))
    assert status == 400
    assert (await client.ocs("POST", "einstein", "/shares", data=_share()))[0] == 200
    status, _ = await client.ocs("POST", "einstein", "/shares", data=_share())
    assert status == 403                                 # already shared with marie
    # marie may not share einstein's folder onwards
    status, _ = await client.ocs("POST", "marie", "/shares",
                                 data={"shareType": "0", "shareWith": "moss",
                                       "space": (await _item_source(client))})
    assert status == 403


async def _item_source(client: Client) -> str:
    _, body = await client.ocs("GET", "einstein", "/shares", path="/folder")
    return str(body["ocs"]["data"][0]["item_source"])


async def test_update_delete_and_expiry(client: Client) -> None:
    _, body = await client.ocs("POST", "einstein", "/shares", data=_share(permissions="1"))
    share_id = body["ocs"]["data"]["id"]
    status, body = await client.ocs("PUT", "einstein", f"/shares/{share_id}",
                                    data={"permissions": "15", "expireDate": "2099-12-31"})
    assert status == 200 and body["ocs"]["data"]["permissions"] == 15
    assert body["ocs"]["data"]["expiration"] == "2099-12-31 23:59:59"
    status, body = await client.ocs("PUT", "einstein", f"/shares/{share_id}", data={"role": "viewer"})
    assert status == 200 and body["ocs"]["data"]["permissions"] == 1
    status, _ = await client.ocs("PUT", "marie", f"/shares/{share_id}", data={"permissions": "15"})
    assert status == 403
    status, _ = await client.ocs("PUT", "einstein", f"/shares/{share_id}", data={})
    assert status == 400
    status, _ = await client.ocs("DELETE", "einstein", f"/shares/{share_id}")
    assert status == 200
    _, body = await client.ocs("GET", "marie", "/shares", shared_with_me="true", state="all")
    assert body["ocs"]["data"] == []
    status, _ = await client.ocs("DELETE", "einstein", f"/shares/{share_id}")
    assert status == 404


async def test_pending_accept_decline(tmp_path: Path) -> None:
    config = make_test_config(tmp_path, FRONTEND_AUTO_ACCEPT_SHARES="false")
    async with embedded_server(config, only=["ocdav", "frontend"]) as srv, \
            aiohttp.ClientSession() as session:
        client = Client(session, srv.url)
        assert await client.dav("MKCOL", "einstein", "/folder") == 201
        _, body = await client.ocs("POST", "einstein", "/shares", data=_share())
        share_id = body["ocs"]["data"]["id"]
        _, body = await client.ocs("GET", "marie", "/shares", shared_with_me="true")
        assert body["ocs"]["data"] == []                          # default: accepted only
        _, body = await client.ocs("GET", "marie", "/shares", shared_with_me="true", state="1")
        assert [s["state"] for s in body["ocs"]["data"]] == [1]
        status, body = await client.ocs("POST", "marie", f"/shares/pending/{share_id}")
        assert status == 200 and body["ocs"]["data"][0]["state"] == 0
        status, body = await client.ocs("DELETE", "marie", f"/shares/pending/{share_id}")
        assert status == 200 and body["ocs"]["data"][0]["state"] == 2
        status, _ = await client.ocs("POST", "moss", f"/shares/pending/{share_id}")
        assert status == 404
        status, body = await client.ocs("PUT", "marie", f"/shares/pending/{share_id}",
                                        data={"hidden": "true"})
        assert status == 200 and body["ocs"]["data"][0]["hidden"] is True
        _, body = await client.ocs("GET", "marie", "/shares", shared_with_me="true", state="all")
        assert body["ocs"]["data"] == []
        _, body = await client.ocs("GET", "marie", "/shares", shared_with_me="true", state="all",
                                   show_hidden="true")
        assert [s["id"] for s in body["ocs"]["data"]] == [share_id]
        async with session.get(srv.url + "/ocs/v1.php/cloud/capabilities?format=json") as resp:
            sharing = (await resp.json())["ocs"]["data"]["capabilities"]["files_sharing"]
        assert sharing["api_enabled"] is True and sharing["auto_accept_share"] is False


async def test_group_share_and_sharees(client: Client) -> None:
    users = client.srv.ctx.users  # type: ignore[attr-defined]
    group = await users.create_group(name="physics-fans")
    for name in ("marie", "moss"):
        await users.add_member(group.id, (await users.get_by_name(name)).id)
    status, body = await client.ocs("POST", "einstein", "/shares",
                                    data=_share(shareType="1", shareWith="physics-fans",
                                                permissions="1"))
    assert status == 200 and body["ocs"]["data"]["share_type"] == 1
    share_id = body["ocs"]["data"]["id"]
    for name in ("marie", "moss"):
        _, body = await client.ocs("GET", name, "/shares", shared_with_me="true")
        assert [s["id"] for s in body["ocs"]["data"]] == [share_id]
    _, body = await client.ocs("GET", "einstein", "/shares", share_types="0")
    assert body["ocs"]["data"] == []
    status, _ = await client.ocs("POST", "einstein", "/shares",
                                 data=_share(shareType="1", shareWith="no-such-group"))
    assert status == 404

    _, body = await client.ocs("GET", "einstein", "/sharees", search="mar", itemType="folder")
    users_found = body["ocs"]["data"]["users"] + body["ocs"]["data"]["exact"]["users"]
    assert [u["value"]["shareWith"] for u in users_found] == ["marie"]
    assert users_found[0]["value"]["shareType"] == 0
    _, body = await client.ocs("GET", "einstein", "/sharees", search="physics-fans")
    assert [g["value"]["shareWith"] for g in body["ocs"]["data"]["exact"]["groups"]] == [
        "physics-fans"]


async def test_space_membership_share_type_7(client: Client) -> None:
    ctx = client.srv.ctx  # type: ignore[attr-defined]
    einstein = await ctx.users.get_by_name("einstein")
    space = await ctx.storage.create_space(space_type="project", name="Mars", alias="project/mars",
                                           owner_id=einstein.id)
    await ctx.storage.set_member(space.id, einstein.id, "manager")
    form = {"shareType": "7", "shareWith": "marie", "space": space.space_id}
    status, body = await client.ocs("POST", "einstein", "/shares", data={**form, "role": "viewer"})
    assert status == 200, body
    assert body["ocs"]["data"]["share_type"] == 7 and body["ocs"]["data"]["permissions"] == 1
    marie = await ctx.users.get_by_name("marie")
    assert (await ctx.storage.members(space.id))[marie.id] == "viewer"
    status, body = await client.ocs("POST", "einstein", "/shares", data={**form, "role": "uploader"})
    assert status == 400 and "not applicable" in body["ocs"]["meta"]["message"]
    # marie (a viewer) may not add members (reva: 404 "No share permission"); a personal space
    # has none
    status, body = await client.ocs("POST", "marie", "/shares",
                                    data={**form, "shareWith": "moss", "role": "spaceviewer"})
    assert status == 404 and body["ocs"]["meta"]["message"] == "No share permission"
    status, _ = await client.ocs("POST", "einstein", "/shares",
                                 data={**form, "space": f"{space.storage_id}${einstein.id}"})
    assert status == 400
    # removing the membership by its id; the last manager stays
    membership = f"{space.storage_id}:{space.id}:{marie.id}"
    assert (await client.ocs("DELETE", "marie", f"/shares/{membership}"))[0] == 404
    assert (await client.ocs("DELETE", "einstein", f"/shares/{membership}"))[0] == 200
    assert marie.id not in await ctx.storage.members(space.id)
    status, _ = await client.ocs("DELETE", "einstein",
                                 f"/shares/{space.storage_id}:{space.id}:{einstein.id}")
    assert status == 400


async def test_space_membership_expire_date(client: Client) -> None:
    """Share types 7/8 take `expireDate` like user shares: stored as the member's expiry, rendered
    `2006-01-02 15:04:05`; a past or malformed date is 400 and adds nobody; expired = no member."""
    ctx = client.srv.ctx  # type: ignore[attr-defined]
    einstein = await ctx.users.get_by_name("einstein")
    marie = await ctx.users.get_by_name("marie")
    space = await ctx.storage.create_space(space_type="project", name="Venus",
                                           alias="project/venus", owner_id=einstein.id)
    await ctx.storage.set_member(space.id, einstein.id, "manager")
    group = await ctx.users.create_group(name="venus-crew")
    form = {"shareType": "7", "shareWith": "marie", "space": space.space_id, "role": "spaceviewer"}
    for bad in ("2001-01-01", "not-a-date"):
        status, body = await client.ocs("POST", "einstein", "/shares",
                                        data={**form, "expireDate": bad})
        assert status == 400, body
        assert marie.id not in await ctx.storage.members(space.id)

    status, body = await client.ocs("POST", "einstein", "/shares",
                                    data={**form, "expireDate": "2099-12-31"})
    assert status == 200, body
    assert body["ocs"]["data"]["expiration"] == "2099-12-31 23:59:59"
    expiry = (await ctx.storage.member_expirations(space.id))[marie.id]
    assert expiry == calendar.timegm((2099, 12, 31, 23, 59, 59, 0, 0, 0))

    status, body = await client.ocs("POST", "einstein", "/shares", v="v1", fmt="xml",
                                    data={**form, "shareType": "8", "shareWith": "venus-crew",
                                          "expireDate": "2099-06-30T12:00:00+00:00"})
    assert status == 200 and "<statuscode>100</statuscode>" in body, body
    assert "<expiration>2099-06-30 12:00:00</expiration>" in body
    assert (await ctx.storage.member_expirations(space.id))[group.id] == calendar.timegm(
        (2099, 6, 30, 12, 0, 0, 0, 0, 0))

    # an expiry that has passed ends the membership; without expireDate it never ends
    soon = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() + 1.2))
    status, body = await client.ocs("POST", "einstein", "/shares", data={**form, "expireDate": soon})
    assert status == 200, body
    assert marie.id in await ctx.storage.members(space.id)
    await asyncio.sleep(1.5)
    assert marie.id not in await ctx.storage.members(space.id)
    status, body = await client.ocs("POST", "einstein", "/shares", data=form)
    assert status == 200 and body["ocs"]["data"]["expiration"] == ""
    assert marie.id in await ctx.storage.members(space.id)
    assert marie.id not in await ctx.storage.member_expirations(space.id)
