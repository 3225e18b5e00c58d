"""Sharing NG over HTTP against an embedded server (protocol-notes.md §6, §7, §13 #18, #19,
#21, #24): invite on items and drive roots, permissions with allowed roles, PATCH/DELETE, role
definitions, sharedWithMe/sharedByMe, the share jail in me/drives, mount/hide/unmount."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from graph_sharing_helpers import JAIL, B, Client, invite_body, split

from ocis_server.domain import roles
from ocis_server.runtime import embedded_server, make_test_config


@pytest.fixture
async def client(tmp_path: Path):
    config = make_test_config(tmp_path)
    async with embedded_server(config, only=["ocdav", "graph"]) as srv, \
            aiohttp.ClientSession() as session:
        c = Client(session, srv.url)
        for user in ("einstein", "marie", "richard", "moss", "katherine"):
            status, me = await c.call("GET", user, "/graph/v1.0/me")
            assert status == 200
            c.ids[user] = me["id"]
        assert (await c.dav("MKCOL", "einstein", "/remote.php/webdav/folder")).status == 201
        assert (await c.dav("PUT", "einstein", "/remote.php/webdav/folder/f.txt", b"data")).status == 201
        assert (await c.dav("PUT", "einstein", "/remote.php/webdav/file.txt", b"file")).status == 201
        yield c


async def test_invite_lists_and_received_by_recipient(client: Client) -> None:
    drive, item = split(await client.item_id("einstein", "/folder"))
    status, body = await client.call("POST", "einstein", f"{B}/drives/{drive}/items/{item}/invite",
                                     invite_body(client.ids["marie"], roles.VIEWER))
    assert status == 200, body
    (perm,) = body["value"]
    assert len(perm["id"].split(":")) == 3
    assert perm["roles"] == [roles.VIEWER.id]
    assert perm["grantedToV2"]["user"]["displayName"] == "Marie Curie"
    assert perm["invitation"]["invitedBy"]["user"]["id"] == client.ids["einstein"]

    status, listing = await client.call("GET", "einstein",
                                        f"{B}/drives/{drive}/items/{item}/permissions")
    assert status == 200
    assert [p["id"] for p in listing["value"]] == [perm["id"]]
    allowed = {r["id"] for r in listing["@libre.graph.permissions.roles.allowedValues"]}
    assert allowed == {r.id for r in roles.available_for(roles.FOLDER)}
    assert roles.MANAGER.id not in allowed and roles.FILE_EDITOR.id not in allowed
    assert "libre.graph/driveItem/children/read" in listing[
        "@libre.graph.permissions.actions.allowedValues"]

    status, shared = await client.call("GET", "marie", f"{B}/me/drive/sharedWithMe")
    assert status == 200
    (entry,) = shared["value"]
    assert entry["id"] == f"{JAIL}!{perm['id']}" and entry["name"] == "folder"
    assert entry["@client.synchronize"] is True and entry["@UI.Hidden"] is False
    assert entry["remoteItem"]["id"] == item and "folder" in entry
    assert entry["parentReference"]["driveType"] == "virtual"
    assert entry["remoteItem"]["permissions"][0]["roles"] == [roles.VIEWER.id]

    status, by_me = await client.call("GET", "einstein", f"{B}/me/drive/sharedByMe")
    assert status == 200 and [i["id"] for i in by_me["value"]] == [item]
    assert by_me["value"][0]["permissions"][0]["id"] == perm["id"]
    # marie shared nothing; the viewer may not list the grants or reshare
    assert (await client.call("GET", "marie", f"{B}/me/drive/sharedByMe"))[1]["value"] == []
    status, _ = await client.call("GET", "marie", f"{B}/drives/{drive}/items/{item}/permissions")
    assert status == 403
    status, _ = await client.call("POST", "marie", f"{B}/drives/{drive}/items/{item}/invite",
                                  invite_body(client.ids["richard"], roles.VIEWER))
    assert status == 403
    # the share works over WebDAV through the jail, read-only
    ok = await client.dav("GET", "marie", f"/dav/spaces/{JAIL}!{perm['id']}/f.txt")
    assert ok.status == 200
    denied = await client.dav("PUT", "marie", f"/dav/spaces/{JAIL}!{perm['id']}/new.txt", b"x")
    assert denied.status in (403, 404)
    # a stranger sees nothing
    status, _ = await client.call("GET", "richard", f"{B}/drives/{drive}/items/{item}/permissions")
    assert status == 404


@pytest.mark.parametrize(("path", "role"), [
    ("/file.txt", roles.EDITOR), ("/file.txt", roles.UPLOADER), ("/file.txt", roles.MANAGER),
    ("/folder", roles.MANAGER), ("/folder", roles.SPACE_VIEWER), ("/folder", roles.SPACE_EDITOR),
    ("/folder", roles.FILE_EDITOR),
])
async def test_role_not_applicable_is_400(client: Client, path: str, role: roles.Role) -> None:
    drive, item = split(await client.item_id("einstein", path))
    status, body = await client.call("POST", "einstein", f"{B}/drives/{drive}/items/{item}/invite",
                                     invite_body(client.ids["marie"], role))
    assert status == 400 and body["error"]["code"] == "invalidRequest"
    assert body["error"]["message"] == "role not applicable to this resource"


async def test_file_permissions_offer_file_roles_only(client: Client) -> None:
    drive, item = split(await client.item_id("einstein", "/file.txt"))
    status, listing = await client.call("GET", "einstein",
                                        f"{B}/drives/{drive}/items/{item}/permissions")
    assert status == 200 and listing["value"] == []
    allowed = {r["id"] for r in listing["@libre.graph.permissions.roles.allowedValues"]}
    assert allowed == {roles.VIEWER.id, roles.FILE_EDITOR.id}
    status, body = await client.call("POST", "einstein", f"{B}/drives/{drive}/items/{item}/invite",
                                     invite_body(client.ids["marie"], roles.FILE_EDITOR))
    assert status == 200 and body["value"][0]["roles"] == [roles.FILE_EDITOR.id]


async def test_invite_errors(client: Client) -> None:
    drive, item = split(await client.item_id("einstein", "/folder"))
    url = f"{B}/drives/{drive}/items/{item}/invite"
    cases = [
        ({"recipients": [], "roles": [roles.VIEWER.id]}, 400),
        (invite_body(client.ids["marie"], roles.VIEWER) | {"roles": ["nope"]}, 400),
        (invite_body(client.ids["marie"], roles.VIEWER) | {"roles": []}, 400),
        (invite_body("00000000-0000-4000-8000-000000000000", roles.VIEWER), 404),
        (invite_body(client.ids["einstein"], roles.VIEWER), 400),
        (invite_body(client.ids["marie"], roles.VIEWER,
                     expirationDateTime="2001-01-01T00:00:00Z"), 400),
        (invite_body(client.ids["marie"], roles.VIEWER, expirationDateTime="soon"), 400),
        (invite_body(client.ids["marie"], roles.DENIED), 400),      # not enabled by default
    ]
    for body, expected in cases:
        status, answer = await client.call("POST", "einstein", url, body)
        assert status == expected, (body, answer)
        assert "error" in answer
    status, _ = await client.call("POST", "einstein", url, invite_body(client.ids["marie"], roles.VIEWER))
    assert status == 200
    status, _ = await client.call("POST", "einstein", url, invite_body(client.ids["marie"], roles.EDITOR))
    assert status == 400                       # already shared with marie
    status, _ = await client.call("POST", "einstein",
                                  f"{B}/drives/{drive}/items/{drive}!nonexistent/invite",
                                  invite_body(client.ids["marie"], roles.VIEWER))
    assert status == 404


async def test_patch_and_delete_permission(client: Client) -> None:
    drive, item = split(await client.item_id("einstein", "/folder"))
    base = f"{B}/drives/{drive}/items/{item}"
    _, body = await client.call("POST", "einstein", base + "/invite",
                                invite_body(client.ids["marie"], roles.VIEWER))
    perm_id = body["value"][0]["id"]
    status, patched = await client.call("PATCH", "einstein", f"{base}/permissions/{perm_id}",
                                        {"roles": [roles.EDITOR.id],
                                         "expirationDateTime": "2099-01-01T00:00:00Z"})
    assert status == 200 and patched["roles"] == [roles.EDITOR.id]
    assert patched["expirationDateTime"].startswith("2099-01-01T00:00:00")
    put = await client.dav("PUT", "marie", f"/dav/spaces/{JAIL}!{perm_id}/w.txt", b"x")
    assert put.status == 201
    status, cleared = await client.call("PATCH", "einstein", f"{base}/permissions/{perm_id}",
                                        {"expirationDateTime": None})
    assert status == 200 and "expirationDateTime" not in cleared
    status, _ = await client.call("PATCH", "einstein", f"{base}/permissions/{perm_id}",
                                  {"roles": [roles.MANAGER.id]})
    assert status == 400
    status, _ = await client.call("PATCH", "einstein", f"{base}/permissions/{perm_id}", {})
    assert status == 400
    status, _ = await client.call("PATCH", "marie", f"{base}/permissions/{perm_id}",
                                  {"roles": [roles.VIEWER.id]})
    assert status == 403
    status, _ = await client.call("DELETE", "einstein", f"{base}/permissions/{perm_id}")
    assert status == 204
    status, _ = await client.call("DELETE", "einstein", f"{base}/permissions/{perm_id}")
    assert status == 404
    assert (await client.call("GET", "marie", f"{B}/me/drive/sharedWithMe"))[1]["value"] == []


async def test_group_invite_reaches_members(client: Client) -> None:
    status, group = await client.call("POST", "moss", "/graph/v1.0/groups",
                                      {"displayName": "physics"})
    assert status == 201
    status, _ = await client.call(
        "POST", "moss", f"/graph/v1.0/groups/{group['id']}/members/$ref",
        {"@odata.id": f"{client.url}/graph/v1.0/users/{client.ids['richard']}"})
    assert status == 204
    drive, item = split(await client.item_id("einstein", "/folder"))
    status, body = await client.call("POST", "einstein", f"{B}/drives/{drive}/items/{item}/invite",
                                     invite_body(group["id"], roles.VIEWER, "group"))
    assert status == 200
    assert body["value"][0]["grantedToV2"]["group"]["displayName"] == "physics"
    _, shared = await client.call("GET", "richard", f"{B}/me/drive/sharedWithMe")
    assert [e["remoteItem"]["id"] for e in shared["value"]] == [item]
    assert (await client.call("GET", "marie", f"{B}/me/drive/sharedWithMe"))[1]["value"] == []


async def test_role_definitions(client: Client) -> None:
    status, defs = await client.call("GET", "marie", f"{B}/roleManagement/permissions/roleDefinitions")
    assert status == 200 and isinstance(defs, list)
    ids = [d["id"] for d in defs]
    assert roles.VIEWER.id in ids and roles.MANAGER.id in ids and roles.DENIED.id not in ids
    viewer = next(d for d in defs if d["id"] == roles.VIEWER.id)
    conditions = [p["condition"] for p in viewer["rolePermissions"]]
    assert "exists @Resource.File" in conditions and "exists @Resource.Folder" in conditions
    assert "libre.graph/driveItem/content/read" in viewer["rolePermissions"][0][
        "allowedResourceActions"]
    status, one = await client.call("GET", "marie",
                                    f"{B}/roleManagement/permissions/roleDefinitions/{roles.EDITOR.id}")
    assert status == 200 and one["id"] == roles.EDITOR.id
    status, _ = await client.call("GET", "marie", f"{B}/roleManagement/permissions/roleDefinitions/x")
    assert status == 404


async def test_jail_drives_mount_hide_unmount(client: Client) -> None:
    drive, item = split(await client.item_id("einstein", "/folder"))
    _, body = await client.call("POST", "einstein", f"{B}/drives/{drive}/items/{item}/invite",
                                invite_body(client.ids["marie"], roles.EDITOR))
    share_id = body["value"][0]["id"]
    mount = f"{JAIL}!{share_id}"
    status, drives = await client.call("GET", "marie", f"{B}/me/drives")
    assert status == 200
    by_type = {d["driveType"]: d for d in drives["value"]}
    jail = by_type["virtual"]
    assert jail["id"] == JAIL and jail["driveAlias"] == "virtual/shares"
    assert jail["root"]["webDavUrl"].endswith(f"/dav/spaces/{JAIL}")
    point = by_type["mountpoint"]
    assert point["id"] == mount and point["name"] == "folder"
    assert point["root"]["remoteItem"]["id"] == item
    status, only = await client.call("GET", "marie", f"{B}/me/drives",
                                     **{"$filter": "driveType eq 'mountpoint'"})
    assert [d["id"] for d in only["value"]] == [mount]
    # the jail etag changes when the owner changes the shared folder
    assert (await client.dav("PUT", "einstein", "/remote.php/webdav/folder/g.txt", b"g")).status == 201
    _, again = await client.call("GET", "marie", f"{B}/me/drives",
                                 **{"$filter": "driveType eq 'virtual'"})
    assert again["value"][0]["root"]["eTag"] != jail["root"]["eTag"]

    status, _ = await client.call("DELETE", "marie", f"{B}/drives/{JAIL}/items/{mount}")
    assert status == 204
    _, shared = await client.call("GET", "marie", f"{B}/me/drive/sharedWithMe")
    assert shared["value"][0]["@client.synchronize"] is False
    assert (await client.dav("GET", "marie", f"/dav/spaces/{mount}/f.txt")).status == 404
    _, only = await client.call("GET", "marie", f"{B}/me/drives",
                                **{"$filter": "driveType eq 'mountpoint'"})
    assert only["value"] == []

    status, mounted = await client.call("POST", "marie", f"{B}/drives/{JAIL}/root/children",
                                        {"name": "Einstein folder", "remoteItem": {"id": item}})
    assert status == 201 and mounted["@client.synchronize"] is True
    assert mounted["name"] == "Einstein folder"
    assert (await client.dav("GET", "marie", f"/dav/spaces/{mount}/f.txt")).status == 200

    status, hidden = await client.call("PATCH", "marie", f"{B}/drives/{JAIL}/items/{mount}",
                                       {"@UI.Hidden": True})
    assert status == 200 and hidden["@UI.Hidden"] is True
    status, got = await client.call("GET", "marie", f"{B}/drives/{JAIL}/items/{mount}")
    assert status == 200 and got["@UI.Hidden"] is True
    # errors: unknown resource, bad body, someone else's jail item, not the jail
    for body in ({"remoteItem": {"id": f"{drive}!missing"}}, {}, {"remoteItem": {"id": 3}}):
        status, _ = await client.call("POST", "marie", f"{B}/drives/{JAIL}/root/children", body)
        assert status in (400, 404)
    status, _ = await client.call("DELETE", "richard", f"{B}/drives/{JAIL}/items/{mount}")
    assert status == 404
    status, _ = await client.call("PATCH", "marie", f"{B}/drives/{JAIL}/items/{mount}",
                                  {"@UI.Hidden": "yes"})
    assert status == 400
    status, _ = await client.call("GET", "marie", f"{B}/drives/{drive}/items/{item}")
    assert status == 404


async def test_invite_several_recipients_is_all_or_nothing(client: Client) -> None:
    drive, item = split(await client.item_id("einstein", "/folder"))
    url = f"{B}/drives/{drive}/items/{item}/invite"
    status, _ = await client.call("POST", "einstein", url, invite_body(client.ids["marie"], roles.VIEWER))
    assert status == 200
    both = {"recipients": [{"objectId": client.ids["richard"], "@libre.graph.recipient.type": "user"},
                           {"objectId": client.ids["marie"], "@libre.graph.recipient.type": "user"}],
            "roles": [roles.VIEWER.id]}
    status, _ = await client.call("POST", "einstein", url, both)
    assert status == 400
    assert (await client.call("GET", "richard", f"{B}/me/drive/sharedWithMe"))[1]["value"] == []
    twice = {"recipients": [{"objectId": client.ids["richard"]}] * 2, "roles": [roles.EDITOR.id]}
    status, body = await client.call("POST", "einstein", url, twice)
    assert status == 200 and len(body["value"]) == 1
    many = {"recipients": [{"objectId": client.ids["moss"]}] * 101, "roles": [roles.VIEWER.id]}
    status, _ = await client.call("POST", "einstein", url, many)
    assert status == 400


async def test_mount_names_stay_unique(client: Client) -> None:
    drive, folder = split(await client.item_id("einstein", "/folder"))
    _, file_item = split(await client.item_id("einstein", "/file.txt"))
    for item in (folder, file_item):
        status, _ = await client.call("POST", "einstein", f"{B}/drives/{drive}/items/{item}/invite",
                                      invite_body(client.ids["marie"], roles.VIEWER))
        assert status == 200
    status, first = await client.call("POST", "marie", f"{B}/drives/{JAIL}/root/children",
                                      {"name": "Same", "remoteItem": {"id": folder}})
    assert status == 201 and first["name"] == "Same"
    status, second = await client.call("POST", "marie", f"{B}/drives/{JAIL}/root/children",
                                       {"name": "Same", "remoteItem": {"id": file_item}})
    assert status == 201 and second["name"] == "Same (1)"
    got = await client.dav("GET", "marie", "/remote.php/webdav/Shares/Same (1)")
    assert got.status == 200


async def test_permissions_select_and_federated_filter(client: Client) -> None:
    drive, item = split(await client.item_id("einstein", "/folder"))
    url = f"{B}/drives/{drive}/items/{item}/permissions"
    roles_key = "@libre.graph.permissions.roles.allowedValues"
    status, body = await client.call("GET", "einstein", url, **{"$select": roles_key})
    assert status == 200 and list(body) == [roles_key]
    flt = (f"{roles_key}/rolePermissions/any(p:contains(p/condition, "
           "'@Subject.UserType==\"Federated\"'))")
    status, body = await client.call("GET", "einstein", url, **{"$filter": flt})
    assert status == 200
    assert {r["id"] for r in body[roles_key]} == {roles.VIEWER.id, roles.EDITOR.id}
    for query in ({"$select": "size"}, {"$filter": "name eq 'x'"}):
        status, body = await client.call("GET", "einstein", url, **query)
        assert status == 400 and body["error"]["code"] == "invalidRequest"


async def test_pending_share_is_mounted_by_accepting(tmp_path: Path) -> None:
    config = make_test_config(tmp_path, FRONTEND_AUTO_ACCEPT_SHARES="false")
    async with embedded_server(config, only=["ocdav", "graph"]) as srv, \
            aiohttp.ClientSession() as session:
        c = Client(session, srv.url)
        _, marie = await c.call("GET", "marie", "/graph/v1.0/me")
        assert (await c.dav("MKCOL", "einstein", "/remote.php/webdav/p")).status == 201
        drive, item = split(await c.item_id("einstein", "/p"))
        status, body = await c.call("POST", "einstein", f"{B}/drives/{drive}/items/{item}/invite",
                                    invite_body(marie["id"], roles.VIEWER))
        assert status == 200
        mount = f"{JAIL}!{body['value'][0]['id']}"
        _, shared = await c.call("GET", "marie", f"{B}/me/drive/sharedWithMe")
        assert shared["value"][0]["@client.synchronize"] is False
        assert (await c.dav("PROPFIND", "marie", f"/dav/spaces/{mount}/", Depth="0")).status == 404
        _, drives = await c.call("GET", "marie", f"{B}/me/drives")
        assert "mountpoint" not in {d["driveType"] for d in drives["value"]}
        status, item_json = await c.call("POST", "marie", f"{B}/drives/{JAIL}/root/children",
                                         {"remoteItem": {"id": item}})
        assert status == 201 and item_json["@client.synchronize"] is True
        assert item_json["name"] == "p"
        assert (await c.dav("PROPFIND", "marie", f"/dav/spaces/{mount}/", Depth="0")).status == 207


ACTIONS = "@libre.graph.permissions.actions"


async def test_invite_by_actions(client: Client) -> None:
    """oCIS accepts `@libre.graph.permissions.actions` instead of a role id: the role with
    exactly those actions, else a custom grant rendered back as actions."""
    drive, item = split(await client.item_id("einstein", "/folder"))
    url = f"{B}/drives/{drive}/items/{item}/invite"
    body = {"recipients": [{"objectId": client.ids["marie"], "@libre.graph.recipient.type": "user"}],
            ACTIONS: list(roles.EDITOR.actions)}
    status, answer = await client.call("POST", "einstein", url, body)
    assert status == 200, answer
    assert answer["value"][0]["roles"] == [roles.EDITOR.id]
    # marie can write: the grant is the editor's
    assert (await client.dav("PUT", "marie", "/remote.php/webdav/Shares/folder/new.txt",
                             b"x")).status == 201
    # read and delete only: no such role, a custom grant
    custom = ["libre.graph/driveItem/children/read", "libre.graph/driveItem/content/read",
              "libre.graph/driveItem/standard/delete"]
    body = {"recipients": [{"objectId": client.ids["richard"],
                            "@libre.graph.recipient.type": "user"}], ACTIONS: custom}
    status, answer = await client.call("POST", "einstein", url, body)
    assert status == 200, answer
    (perm,) = answer["value"]
    assert "roles" not in perm
    assert "libre.graph/driveItem/standard/delete" in perm[ACTIONS]
    assert "libre.graph/driveItem/upload/create" not in perm[ACTIONS]
    status, listing = await client.call("GET", "einstein",
                                        f"{B}/drives/{drive}/items/{item}/permissions")
    (again,) = [p for p in listing["value"] if p["id"] == perm["id"]]
    assert sorted(again[ACTIONS]) == sorted(perm[ACTIONS])         # stored as granted
    assert (await client.dav("DELETE", "richard",
                             "/remote.php/webdav/Shares/folder/new.txt")).status == 204
    # bad input
    for bad in (["libre.graph/driveItem/teleport/create"], [], "children/read", [1]):
        body = {"recipients": [{"objectId": client.ids["moss"],
                                "@libre.graph.recipient.type": "user"}], ACTIONS: bad}
        status, answer = await client.call("POST", "einstein", url, body)
        assert status == 400, (bad, answer)
