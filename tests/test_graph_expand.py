"""Graph forms ownCloud Web relies on, through the real proxy of an embedded server: `$expand` of
`drive`, `drives`, `memberOf`, `appRoleAssignments` together on `/users` and `/users/{id}` (Web's
`getUser`), `/me/drive/root/children`, and group members as oCIS lists them (a bare array)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from kit import Graph

from ocis_server.runtime import embedded_server, make_test_config

ADMIN = aiohttp.BasicAuth("admin", "admin")
EINSTEIN = aiohttp.BasicAuth("einstein", "relativity")
MARIE = aiohttp.BasicAuth("marie", "radioactivity")
USER_ROLE = "d7beeea8-8ff4-406b-8fb6-ab2dd81e6b11"


class Client:
    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session, self.url = session, url

    async def call(self, method: str, path: str, auth: aiohttp.BasicAuth, status: int,
                   json: Any = None, params: dict[str, str] | None = None) -> Any:
        graph = Graph(self.session, auth.login, password=auth.password,
                      base=self.url + "/graph/v1.0")
        return await graph.call(method, path, status, json=json, params=params)


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    async with embedded_server(make_test_config(tmp_path)) as srv, \
            aiohttp.ClientSession() as session:
        yield Client(session, srv.url)


async def test_web_get_user_expands_drive_groups_and_roles(client: Client) -> None:
    me = await client.call("GET", "/me", EINSTEIN, 200)
    group = await client.call("POST", "/groups", ADMIN, 201, json={"displayName": "thought-experiments"})
    await client.call("POST", f"/groups/{group['id']}/members/$ref", ADMIN, 204,
                      json={"@odata.id": f"{client.url}/graph/v1.0/users/{me['id']}"})
    project = await client.call("POST", "/drives", ADMIN, 201, json={"name": "Relativity"})

    expand = {"$expand": "drive,memberOf,appRoleAssignments"}   # ownCloud Web's getUser
    user = await client.call("GET", f"/users/{me['id']}", EINSTEIN, 200, params=expand)
    assert user["drive"]["driveType"] == "personal" and user["drive"]["id"].endswith(me["id"])
    assert user["drive"]["owner"]["user"]["id"] == me["id"]
    assert "thought-experiments" in [g["displayName"] for g in user["memberOf"]]
    assert [a["appRoleId"] for a in user["appRoleAssignments"]] == [USER_ROLE]
    assert "drives" not in user
    admin = await client.call("GET", "/me", ADMIN, 200)
    both = await client.call("GET", f"/users/{admin['id']}", ADMIN, 200,
                             params={"$expand": "drives,drive"})
    assert [d["driveType"] for d in both["drives"]] == ["personal", "project"]
    assert both["drives"][1]["name"] == "Relativity" and both["drive"] == both["drives"][0]
    listed = await client.call("GET", "/users", ADMIN, 200, params={
        "$expand": "appRoleAssignments, drive,memberOf", "$search": "einstein"})
    assert [u["drive"]["owner"]["user"]["id"] for u in listed["value"]] == [me["id"]]
    assert [len(u["memberOf"]) for u in listed["value"]] == [len(user["memberOf"])]
    other = await client.call("GET", f"/users/{admin['id']}", EINSTEIN, 200, params=expand)
    assert "drive" not in other and "memberOf" not in other   # not theirs to see
    await client.call("GET", f"/users/{me['id']}", EINSTEIN, 400,
                      params={"$expand": "drive,secrets"})


async def test_my_drive_root_children_are_drive_items(client: Client) -> None:
    me = await client.call("GET", "/me", MARIE, 200)
    dav = f"{client.url}/remote.php/dav/files/marie"
    async with client.session.request("MKCOL", dav + "/Radium", auth=MARIE) as resp:
        assert resp.status == 201
    async with client.session.put(dav + "/notes.txt", data=b"polonium", auth=MARIE) as resp:
        assert resp.status in (201, 204)
    async with client.session.put(dav + "/Radium/inner.txt", data=b"x", auth=MARIE) as resp:
        assert resp.status in (201, 204)
    drive = await client.call("GET", "/me/drive", MARIE, 200)
    body = await client.call("GET", "/me/drive/root/children", MARIE, 200)
    items = {i["name"]: i for i in body["value"]}
    assert {"Radium", "notes.txt"} <= set(items) and "inner.txt" not in items
    notes, folder = items["notes.txt"], items["Radium"]
    assert notes["size"] == 8 and notes["file"] == {"mimeType": "text/plain"}
    assert "folder" not in notes and folder["folder"] == {} and "file" not in folder
    assert notes["parentReference"] == {"driveType": "personal", "driveId": drive["id"],
                                        "id": drive["root"]["id"]}
    assert notes["id"].startswith(drive["id"] + "!") and notes["eTag"].startswith('"')
    async with client.session.request("PROPFIND", dav + "/notes.txt", auth=MARIE,
                                      headers={"Depth": "0"}) as resp:
        assert notes["eTag"] in (await resp.text()).replace("&quot;", '"')
    theirs = await client.call("GET", "/me/drive/root/children", EINSTEIN, 200)
    assert "notes.txt" not in {i["name"] for i in theirs["value"]}
    assert me["id"] in drive["id"]


async def test_group_members_as_ocis_lists_them(client: Client) -> None:
    einstein = await client.call("GET", "/me", EINSTEIN, 200)
    marie = await client.call("GET", "/me", MARIE, 200)
    group = await client.call("POST", "/groups", ADMIN, 201, json={"displayName": "nobelists"})
    for user in (marie, einstein):
        await client.call("POST", f"/groups/{group['id']}/members/$ref", ADMIN, 204,
                          json={"@odata.id": f"{client.url}/graph/v1.0/users/{user['id']}"})
    members = await client.call("GET", f"/groups/{group['id']}/members", ADMIN, 200)
    assert isinstance(members, list)                     # a bare array, as oCIS renders it
    assert sorted(m["onPremisesSamAccountName"] for m in members) == ["einstein", "marie"]
    assert {m["id"] for m in members} == {einstein["id"], marie["id"]}
    assert all(m["displayName"] and m["mail"] for m in members)
    expanded = await client.call("GET", f"/groups/{group['id']}", ADMIN, 200,
                                 params={"$expand": "members"})
    assert sorted(expanded["members"], key=lambda m: m["id"]) == sorted(
        members, key=lambda m: m["id"])
    listed = await client.call("GET", "/groups", ADMIN, 200,
                               params={"$expand": "members", "$search": "nobel"})
    assert [len(g["members"]) for g in listed["value"]] == [2]
    seen_by_member = await client.call("GET", f"/groups/{group['id']}/members", MARIE, 200)
    assert isinstance(seen_by_member, list) and len(seen_by_member) == 2
    await client.call("GET", "/groups/no-such-group/members", ADMIN, 404)
