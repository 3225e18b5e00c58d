"""Project space membership through sharing NG (protocol-notes.md §13 #24): `root/invite`,
`root/permissions`, role changes and removal, the last Manager (never removed or demoted, also
when two Managers demote each other at once), v1.0 `grantedToIdentities`, access over WebDAV."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from graph_sharing_helpers import B, Client, invite_body

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
        status, drive = await c.call("POST", "katherine", "/graph/v1.0/drives",
                                     {"name": "Mars", "description": "red"})
        assert status == 201
        c.ids["drive"] = drive["id"]
        yield c


def root(client: Client, suffix: str) -> str:
    return f"{B}/drives/{client.ids['drive']}/root/{suffix}"


async def test_invite_member_lists_and_grants_access(client: Client) -> None:
    status, body = await client.call("POST", "katherine", root(client, "invite"),
                                     invite_body(client.ids["marie"], roles.SPACE_VIEWER))
    assert status == 200, body
    (perm,) = body["value"]
    assert perm["id"] == f"u:{client.ids['marie']}"
    assert perm["roles"] == [roles.SPACE_VIEWER.id]
    assert perm["grantedToV2"]["user"]["displayName"] == "Marie Curie"

    status, listing = await client.call("GET", "katherine", root(client, "permissions"))
    assert status == 200
    got = {p["id"]: p["roles"] for p in listing["value"]}
    assert got == {f"u:{client.ids['katherine']}": [roles.MANAGER.id],
                   f"u:{client.ids['marie']}": [roles.SPACE_VIEWER.id]}
    allowed = {r["id"] for r in listing["@libre.graph.permissions.roles.allowedValues"]}
    assert allowed == {roles.SPACE_VIEWER.id, roles.SPACE_EDITOR.id, roles.MANAGER.id}

    # marie sees the drive, may read but not write; a viewer may list the members
    status, drives = await client.call("GET", "marie", f"{B}/me/drives",
                                       **{"$filter": "driveType eq 'project'"})
    assert [d["id"] for d in drives["value"]] == [client.ids["drive"]]
    put = await client.dav("PUT", "marie", f"/dav/spaces/{client.ids['drive']}/x.txt", b"x")
    assert put.status == 403
    status, seen = await client.call("GET", "marie", root(client, "permissions"))
    assert status == 200 and seen["@libre.graph.permissions.roles.allowedValues"] == []
    # a viewer may not add members; roles for files and folders do not apply to a root
    status, _ = await client.call("POST", "marie", root(client, "invite"),
                                  invite_body(client.ids["richard"], roles.SPACE_VIEWER))
    assert status == 403
    for role in (roles.VIEWER, roles.EDITOR, roles.FILE_EDITOR):
        status, body = await client.call("POST", "katherine", root(client, "invite"),
                                         invite_body(client.ids["richard"], role))
        assert status == 400 and body["error"]["message"] == "role not applicable to this resource"
    # a stranger gets 404
    status, _ = await client.call("GET", "richard", root(client, "permissions"))
    assert status == 404


async def test_v1_drive_renders_granted_to_identities(client: Client) -> None:
    await client.call("POST", "katherine", root(client, "invite"),
                      invite_body(client.ids["marie"], roles.SPACE_EDITOR))
    status, drive = await client.call("GET", "katherine", f"/graph/v1.0/drives/{client.ids['drive']}")
    assert status == 200
    perms = {p["grantedToIdentities"][0]["user"]["id"]: p["roles"]
             for p in drive["root"]["permissions"]}
    assert perms == {client.ids["katherine"]: ["manager"], client.ids["marie"]: ["editor"]}
    status, beta = await client.call("GET", "katherine", f"{B}/drives/{client.ids['drive']}")
    assert {p["id"] for p in beta["root"]["permissions"]} == {
        f"u:{client.ids['katherine']}", f"u:{client.ids['marie']}"}


async def test_change_role_and_remove(client: Client) -> None:
    marie = f"u:{client.ids['marie']}"
    await client.call("POST", "katherine", root(client, "invite"),
                      invite_body(client.ids["marie"], roles.SPACE_VIEWER))
    status, patched = await client.call("PATCH", "katherine", root(client, f"permissions/{marie}"),
                                        {"roles": [roles.SPACE_EDITOR.id]})
    assert status == 200 and patched["roles"] == [roles.SPACE_EDITOR.id]
    put = await client.dav("PUT", "marie", f"/dav/spaces/{client.ids['drive']}/x.txt", b"x")
    assert put.status == 201
    status, _ = await client.call("PATCH", "katherine", root(client, f"permissions/{marie}"),
                                  {"roles": [roles.EDITOR.id]})
    assert status == 400
    status, _ = await client.call("PATCH", "katherine", root(client, f"permissions/{marie}"),
                                  {"roles": [roles.SPACE_VIEWER.id],
                                   "expirationDateTime": "2001-01-01T00:00:00Z"})
    assert status == 400
    status, _ = await client.call("PATCH", "marie", root(client, f"permissions/{marie}"),
                                  {"roles": [roles.MANAGER.id]})
    assert status == 403
    status, _ = await client.call("DELETE", "katherine", root(client, "permissions/u:nobody"))
    assert status == 404
    status, _ = await client.call("DELETE", "katherine", root(client, f"permissions/{marie}"))
    assert status == 204
    status, _ = await client.call("GET", "marie", f"{B}/drives/{client.ids['drive']}")
    assert status == 404


async def test_last_manager_cannot_leave_or_be_demoted(client: Client) -> None:
    me = f"u:{client.ids['katherine']}"
    status, body = await client.call("DELETE", "katherine", root(client, f"permissions/{me}"))
    assert status == 400 and "last manager" in body["error"]["message"]
    status, body = await client.call("PATCH", "katherine", root(client, f"permissions/{me}"),
                                     {"roles": [roles.SPACE_VIEWER.id]})
    assert status == 400
    status, body = await client.call("POST", "katherine", root(client, "invite"),
                                     invite_body(client.ids["katherine"], roles.SPACE_EDITOR))
    assert status == 400
    _, listing = await client.call("GET", "katherine", root(client, "permissions"))
    assert [p["roles"] for p in listing["value"]] == [[roles.MANAGER.id]]


async def test_two_managers_demoting_each_other_at_once(client: Client) -> None:
    marie, katherine = f"u:{client.ids['marie']}", f"u:{client.ids['katherine']}"
    status, _ = await client.call("POST", "katherine", root(client, "invite"),
                                  invite_body(client.ids["marie"], roles.MANAGER))
    assert status == 200
    for _ in range(5):
        results = await asyncio.gather(
            client.call("PATCH", "katherine", root(client, f"permissions/{marie}"),
                        {"roles": [roles.SPACE_VIEWER.id]}),
            client.call("PATCH", "marie", root(client, f"permissions/{katherine}"),
                        {"roles": [roles.SPACE_VIEWER.id]}))
        statuses = sorted(status for status, _ in results)
        _, listing = await client.call("GET", "moss", f"/graph/v1.0/drives/{client.ids['drive']}")
        managers = [p for p in listing["root"]["permissions"] if p["roles"] == ["manager"]]
        assert len(managers) == 1, listing
        # the one who lost is refused (400) or no longer a manager (403); one change went through
        assert statuses[0] == 200 and statuses[1] in (400, 403)
        # the remaining manager promotes the other again for the next round
        winner = managers[0]["grantedToIdentities"][0]["user"]["id"]
        loser_perm = marie if winner == client.ids["katherine"] else katherine
        user = "katherine" if winner == client.ids["katherine"] else "marie"
        status, _ = await client.call("PATCH", user, root(client, f"permissions/{loser_perm}"),
                                      {"roles": [roles.MANAGER.id]})
        assert status == 200


async def test_personal_root_has_no_members(client: Client) -> None:
    status, drive = await client.call("GET", "einstein", "/graph/v1.0/me/drive")
    status, _ = await client.call("POST", "einstein", f"{B}/drives/{drive['id']}/root/invite",
                                     invite_body(client.ids["marie"], roles.SPACE_VIEWER))
    assert status == 400
    status, listing = await client.call("GET", "einstein", f"{B}/drives/{drive['id']}/root/permissions")
    assert status == 200 and listing["value"] == []


def _iso(seconds_from_now: float) -> str:
    stamp = datetime.now(UTC) + timedelta(seconds=seconds_from_now)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def test_membership_expiry(client: Client) -> None:
    marie = f"u:{client.ids['marie']}"
    status, body = await client.call(
        "POST", "katherine", root(client, "invite"),
        invite_body(client.ids["marie"], roles.SPACE_EDITOR, expirationDateTime="2099-05-01T10:00:00Z"))
    assert status == 200 and body["value"][0]["expirationDateTime"].startswith("2099-05-01T10:00")
    _, drive = await client.call("GET", "katherine", f"/graph/v1.0/drives/{client.ids['drive']}")
    (member,) = [p for p in drive["root"]["permissions"] if p["roles"] == ["editor"]]
    assert member["expirationDateTime"].startswith("2099-05-01T10:00")
    # a role change keeps the expiry; clearing it needs an explicit null
    status, patched = await client.call("PATCH", "katherine", root(client, f"permissions/{marie}"),
                                        {"roles": [roles.SPACE_VIEWER.id]})
    assert status == 200 and patched["expirationDateTime"].startswith("2099-05-01")
    status, patched = await client.call("PATCH", "katherine", root(client, f"permissions/{marie}"),
                                        {"expirationDateTime": None})
    assert status == 200 and "expirationDateTime" not in patched
    assert patched["roles"] == [roles.SPACE_VIEWER.id]
    # a membership ending in a moment: access ends with it, and the member is no longer listed
    status, _ = await client.call("PATCH", "katherine", root(client, f"permissions/{marie}"),
                                  {"expirationDateTime": _iso(1.5)})
    assert status == 200
    status, _ = await client.call("GET", "marie", f"{B}/drives/{client.ids['drive']}")
    assert status == 200
    await asyncio.sleep(2)
    status, _ = await client.call("GET", "marie", f"{B}/drives/{client.ids['drive']}")
    assert status == 404
    get = await client.dav("PROPFIND", "marie", f"/dav/spaces/{client.ids['drive']}/", Depth="0")
    assert get.status == 404
    _, listing = await client.call("GET", "katherine", root(client, "permissions"))
    assert [p["id"] for p in listing["value"]] == [f"u:{client.ids['katherine']}"]


async def test_expired_manager_does_not_count(client: Client) -> None:
    status, _ = await client.call(
        "POST", "katherine", root(client, "invite"),
        invite_body(client.ids["marie"], roles.MANAGER, expirationDateTime=_iso(1)))
    assert status == 200
    await asyncio.sleep(1.5)
    me = f"u:{client.ids['katherine']}"
    status, body = await client.call("PATCH", "katherine", root(client, f"permissions/{me}"),
                                     {"roles": [roles.SPACE_VIEWER.id]})
    assert status == 400 and "last manager" in body["error"]["message"]


async def test_group_member_sees_and_uses_the_drive(client: Client) -> None:
    status, group = await client.call("POST", "moss", "/graph/v1.0/groups", {"displayName": "crew"})
    assert status == 201
    status, _ = await client.call(
        "POST", "moss", f"/graph/v1.0/groups/{group['id']}/members/$ref",
        {"@odata.id": f"{client.url}/graph/v1.0/users/{client.ids['richard']}"})
    assert status == 204
    status, body = await client.call("POST", "katherine", root(client, "invite"),
                                     invite_body(group["id"], roles.SPACE_EDITOR, "group"))
    assert status == 200 and body["value"][0]["id"] == f"g:{group['id']}"
    assert body["value"][0]["grantedToV2"]["group"]["displayName"] == "crew"
    status, drives = await client.call("GET", "richard", f"{B}/me/drives",
                                       **{"$filter": "driveType eq 'project'"})
    assert [d["id"] for d in drives["value"]] == [client.ids["drive"]]
    status, _ = await client.call("GET", "richard", f"/graph/v1.0/drives/{client.ids['drive']}")
    assert status == 200
    put = await client.dav("PUT", "richard", f"/dav/spaces/{client.ids['drive']}/r.txt", b"r")
    assert put.status == 201
    _, drive = await client.call("GET", "katherine", f"/graph/v1.0/drives/{client.ids['drive']}")
    groups = [p for p in drive["root"]["permissions"] if "group" in p["grantedToIdentities"][0]]
    assert groups[0]["grantedToIdentities"][0]["group"]["displayName"] == "crew"
    assert groups[0]["roles"] == ["editor"]
    status, _ = await client.call("DELETE", "katherine",
                                  root(client, f"permissions/g:{group['id']}"))
    assert status == 204
    _, drives = await client.call("GET", "richard", f"{B}/me/drives",
                                  **{"$filter": "driveType eq 'project'"})
    assert drives["value"] == []
