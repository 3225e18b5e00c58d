"""Sharing and spaces as oCIS answers them (issue 17; oCIS acceptance features
apiSpaces/restoreSpaceObjects, apiSpacesShares/shareSpaces, apiSharingNg link shares; reva
`shares/spaces.go`): a Space Viewer lists the trash bin (207) but may not restore from it (403);
an editor or viewer adding or removing members over OCS gets HTTP and OCS 404 "No share
permission"; an internal link with a password is 400; `DELETE shares/<space id>?shareWith=<name>`
removes a member."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from graph_sharing_helpers import B, Client, invite_body, ocs_shares, with_project_space
from kit import headers

from ocis_server.domain import roles
from ocis_server.runtime import embedded_server, make_test_config


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    async with embedded_server(make_test_config(tmp_path), only=["ocdav", "frontend", "graph"]) \
            as srv, aiohttp.ClientSession() as session:
        c = await with_project_space(Client(session, srv.url), ("einstein", "marie", "richard"))
        for user, role in (("marie", roles.SPACE_VIEWER), ("richard", roles.SPACE_EDITOR)):
            status, _ = await c.call("POST", "katherine",
                                     f"{B}/drives/{c.ids['drive']}/root/invite",
                                     invite_body(c.ids[user], role))
            assert status == 200
        yield c


async def member_ids(client: Client) -> set[str]:
    status, body = await client.call("GET", "katherine",
                                     f"{B}/drives/{client.ids['drive']}/root/permissions")
    assert status == 200
    return {p["id"] for p in body["value"]}


async def test_space_viewer_lists_the_trash_but_cannot_restore(client: Client) -> None:
    drive = client.ids["drive"]
    assert (await client.dav("PUT", "katherine", f"/dav/spaces/{drive}/gone.txt", b"x")).status == 201
    assert (await client.dav("DELETE", "katherine", f"/dav/spaces/{drive}/gone.txt")).status == 204
    trash = f"/remote.php/dav/spaces/trash-bin/{drive}"
    listing = await client.dav("PROPFIND", "marie", trash + "/", Depth="1")
    assert listing.status == 207
    async with client.session.request("PROPFIND", client.url + trash + "/",
                                      headers={**headers("marie"), "Depth": "1"}) as resp:
        text = await resp.text()
    assert "gone.txt" in text
    key = text.split(trash + "/", 2)[2].split("<", 1)[0].strip("/")
    assert key
    restore = await client.dav("MOVE", "marie", f"{trash}/{key}",
                               Destination=f"{client.url}/dav/spaces/{drive}/gone.txt")
    assert restore.status == 403
    purge = await client.dav("DELETE", "marie", f"{trash}/{key}")
    assert purge.status == 403
    # the editor restores it: it was still there
    restore = await client.dav("MOVE", "richard", f"{trash}/{key}",
                               Destination=f"{client.url}/dav/spaces/{drive}/gone.txt")
    assert restore.status == 201


@pytest.mark.parametrize("user", ["marie", "richard"])
async def test_viewer_or_editor_sharing_a_space_gets_404_over_ocs(client: Client, user: str) -> None:
    for role in ("manager", "spaceeditor", "spaceviewer"):
        status, body = await ocs_shares(client, user, "POST", shareType="7", shareWith="einstein",
                                 space=client.ids["drive"], role=role)
        assert status == 404 and body["ocs"]["meta"]["statuscode"] == 404, body
        assert body["ocs"]["meta"]["message"] == "No share permission"
    # nor may they remove a member
    status, _ = await ocs_shares(client, user, "DELETE", f"/{client.ids['drive']}",
                          query={"shareWith": "katherine"})
    assert status == 404
    assert f"u:{client.ids['einstein']}" not in await member_ids(client)
    assert f"u:{client.ids['katherine']}" in await member_ids(client)


async def test_ocs_unshare_a_space_member_by_share_with(client: Client) -> None:
    drive = client.ids["drive"]
    status, body = await ocs_shares(client, "katherine", "DELETE", f"/{drive}",
                             query={"shareWith": "marie"})
    assert status == 200, body
    assert f"u:{client.ids['marie']}" not in await member_ids(client)
    status, _ = await client.call("GET", "marie", f"/graph/v1.0/drives/{drive}")
    assert status == 404
    # a group member leaves the same way; the last manager stays
    status, group = await client.call("POST", "moss", "/graph/v1.0/groups",   # moss: admin
                                      {"displayName": "mars-crew"})
    assert status == 201, group
    status, _ = await client.call("POST", "katherine", f"{B}/drives/{drive}/root/invite",
                                  invite_body(group["id"], roles.SPACE_VIEWER, "group"))
    assert status == 200
    status, _ = await ocs_shares(client, "katherine", "DELETE", f"/{drive}",
                          query={"shareWith": "mars-crew"})
    assert status == 200
    assert f"g:{group['id']}" not in await member_ids(client)
    status, body = await ocs_shares(client, "katherine", "DELETE", f"/{drive}",
                             query={"shareWith": "katherine"})
    assert status == 400 and "last manager" in body["ocs"]["meta"]["message"]
    # somebody who is no member, or no shareWith at all: nothing to remove
    status, _ = await ocs_shares(client, "katherine", "DELETE", f"/{drive}",
                          query={"shareWith": "einstein"})
    assert status == 404
    status, _ = await ocs_shares(client, "katherine", "DELETE", f"/{drive}")
    assert status == 404


async def test_internal_link_with_password_is_400(client: Client) -> None:
    drive = client.ids["drive"]
    assert (await client.dav("MKCOL", "katherine", f"/dav/spaces/{drive}/docs")).status == 201
    body = (b'<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">'
            b"<d:prop><oc:fileid/></d:prop></d:propfind>")
    async with client.session.request("PROPFIND", f"{client.url}/dav/spaces/{drive}/docs",
                                      data=body, headers={**headers("katherine"),
                                                          "Depth": "0"}) as resp:
        assert resp.status == 207
        item = (await resp.text()).split("<oc:fileid>")[1].split("</oc:fileid>")[0]
    url = f"{B}/drives/{drive}/items/{item}/createLink"
    status, body = await client.call("POST", "katherine", url,
                                     {"type": "internal", "password": "Secret-123!"})
    assert status == 400 and body["error"]["message"] == \
        "password is redundant for the internal link", body
    status, body = await ocs_shares(client, "katherine", "POST", shareType="3", permissions="0",
                             space_ref=item, password="Secret-123!")
    assert status == 400 and body["ocs"]["meta"]["message"] == \
        "password is redundant for the internal link", body
    # without a password it is made; a password cannot be set on it afterwards
    status, link = await client.call("POST", "katherine", url, {"type": "internal"})
    assert status == 200 and link["hasPassword"] is False
    status, body = await client.call(
        "POST", "katherine", f"{B}/drives/{drive}/items/{item}/permissions/{link['id']}/setPassword",
        {"password": "Secret-123!"})
    assert status == 400 and "redundant" in body["error"]["message"]
