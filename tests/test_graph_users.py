"""Graph users, groups and role assignments through the real proxy of an embedded server: admins
create, change and delete; other users only look people up; oCIS's role ids; OData errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from kit import Graph

from ocis_server.domain.errors import NotFound
from ocis_server.runtime import embedded_server, make_test_config
from ocis_server.runtime.bootstrap import ensure_users
from ocis_server.domain.settings import ROLES

ADMIN = aiohttp.BasicAuth("admin", "admin")
EINSTEIN = aiohttp.BasicAuth("einstein", "relativity")
MARIE = aiohttp.BasicAuth("marie", "radioactivity")
USER_ROLE = "d7beeea8-8ff4-406b-8fb6-ab2dd81e6b11"
ADMIN_ROLE = "71881883-1768-46bd-a24d-a356a2afdf7f"
SPACEADMIN_ROLE = "2aadd357-682c-406b-8874-293091995fdd"
GUEST_ROLE = "38071a68-456a-4553-846a-fa67bf5596cc"


class Client:
    """Graph v1.0 through the kit's client, signed in as the user `auth` names."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session, self.base = session, url + "/graph/v1.0"

    async def call(self, method: str, path: str, auth: aiohttp.BasicAuth, status: int,
                   json: Any = None, params: dict[str, str] | None = None) -> Any:
        graph = Graph(self.session, auth.login, password=auth.password, base=self.base)
        return await graph.call(method, path, status, json=json, params=params)


@pytest.fixture
async def graph(tmp_path: Path) -> AsyncIterator[tuple[Client, Any]]:
    config = make_test_config(tmp_path)
    async with embedded_server(config) as srv, aiohttp.ClientSession() as session:
        yield Client(session, srv.url), srv


async def _create(c: Client, name: str, **extra: Any) -> dict[str, Any]:
    body = {"onPremisesSamAccountName": name, "displayName": name.title(),
            "mail": f"{name}@example.org", "passwordProfile": {"password": f"{name}-pw"}, **extra}
    return await c.call("POST", "/users", ADMIN, 201, json=body)


async def test_admin_manages_users(graph: tuple[Client, Any]) -> None:
    c, srv = graph
    alan = await _create(c, "alan")
    assert alan["onPremisesSamAccountName"] == "alan" and alan["userType"] == "Member"
    assert (await srv.ctx.storage.get_space(alan["id"])).type == "personal"   # ready to use
    async with c.session.request("PROPFIND", srv.url + "/remote.php/dav/files/alan/",
                                 auth=aiohttp.BasicAuth("alan", "alan-pw"),
                                 headers={"Depth": "0"}) as resp:
        assert resp.status == 207
    listed = await c.call("GET", "/users", ADMIN, 200, params={"$orderby": "displayName desc"})
    names = [u["onPremisesSamAccountName"] for u in listed["value"]]
    assert "alan" in names and "einstein" in names
    assert [u["displayName"] for u in listed["value"]] == sorted(
        (u["displayName"] for u in listed["value"]), key=str.casefold, reverse=True)
    await c.call("POST", "/users", ADMIN, 409, json={"onPremisesSamAccountName": "ALAN",
                                                      "passwordProfile": {"password": "x"}})
    got = await c.call("GET", "/users/alan", ADMIN, 200)           # by name, as oCIS allows
    assert got["id"] == alan["id"]
    patched = await c.call("PATCH", f"/users/{alan['id']}", ADMIN, 200,
                           json={"displayName": "Alan Turing", "mail": "turing@example.org",
                                 "passwordProfile": {"password": "enigma"}})
    assert patched["displayName"] == "Alan Turing" and patched["mail"] == "turing@example.org"
    await c.call("GET", "/me", aiohttp.BasicAuth("alan", "enigma"), 200)
    await c.call("GET", "/me", aiohttp.BasicAuth("alan", "alan-pw"), 401)
    await c.call("DELETE", f"/users/{alan['id']}", ADMIN, 204)
    await c.call("GET", f"/users/{alan['id']}", ADMIN, 404)
    with pytest.raises(NotFound):
        await srv.ctx.storage.get_space(alan["id"])                  # personal space purged


async def test_bad_user_input_is_400_not_500(graph: tuple[Client, Any]) -> None:
    c, _ = graph
    for body in ({}, {"onPremisesSamAccountName": "a b", "passwordProfile": {"password": "x"}},
                 {"onPremisesSamAccountName": "ok"},
                 {"onPremisesSamAccountName": "ok", "passwordProfile": "x"},
                 {"onPremisesSamAccountName": "ok", "passwordProfile": {"password": ""}},
                 {"onPremisesSamAccountName": 5, "passwordProfile": {"password": "x"}},
                 {"onPremisesSamAccountName": "ok", "mail": "nope",
                  "passwordProfile": {"password": "x"}},
                 {"onPremisesSamAccountName": "ok", "userType": "Root",
                  "passwordProfile": {"password": "x"}}):
        body_out = await c.call("POST", "/users", ADMIN, 400, json=body)
        assert body_out["error"]["code"] == "invalidRequest"
    await c.call("GET", "/users", ADMIN, 400, params={"$filter": "foo eq 'x'"})
    await c.call("GET", "/users", ADMIN, 400, params={"$orderby": "password"})
    await c.call("GET", "/users", ADMIN, 400, params={"$expand": "secrets"})
    await c.call("PATCH", "/users/einstein", ADMIN, 400, json={"role": "admin"})
    await c.call("PATCH", "/users/einstein", ADMIN, 501,
                 json={"onPremisesSamAccountName": "albert"})


async def test_only_admins_write_and_others_only_search(graph: tuple[Client, Any]) -> None:
    c, _ = graph
    await c.call("POST", "/users", EINSTEIN, 403, json={"onPremisesSamAccountName": "x",
                                                         "passwordProfile": {"password": "x"}})
    await c.call("DELETE", "/users/marie", EINSTEIN, 403)
    await c.call("PATCH", "/users/marie", EINSTEIN, 403, json={"displayName": "M"})
    await c.call("GET", "/users", EINSTEIN, 403)                         # no enumeration
    await c.call("GET", "/users", EINSTEIN, 403, params={"$search": "ma"})   # too short
    found = await c.call("GET", "/users", EINSTEIN, 200, params={"$search": '"mari"'})
    assert [u["displayName"] for u in found["value"]] == ["Marie Curie"]
    assert set(found["value"][0]) == {"id", "displayName", "mail", "userType"}
    marie = await c.call("GET", "/users/marie", EINSTEIN, 200)
    assert "onPremisesSamAccountName" not in marie
    me = await c.call("GET", "/users/einstein", EINSTEIN, 200)
    assert me["onPremisesSamAccountName"] == "einstein"
    await c.call("POST", "/groups", EINSTEIN, 403, json={"displayName": "g"})
    me_admin = await c.call("GET", "/me", ADMIN, 200)
    await c.call("DELETE", f"/users/{me_admin['id']}", ADMIN, 403)      # not oneself


async def test_groups_and_members(graph: tuple[Client, Any]) -> None:
    c, srv = graph
    group = await c.call("POST", "/groups", ADMIN, 201,
                         json={"displayName": "physics", "description": "Physicists"})
    gid = group["id"]
    await c.call("POST", "/groups", ADMIN, 409, json={"displayName": "Physics"})
    await c.call("POST", "/groups", ADMIN, 400, json={"displayName": ""})
    einstein = await c.call("GET", "/users/einstein", ADMIN, 200)
    ref = {"@odata.id": f"{srv.url}/graph/v1.0/users/{einstein['id']}"}
    await c.call("POST", f"/groups/{gid}/members/$ref", ADMIN, 204, json=ref)
    await c.call("POST", f"/groups/{gid}/members/$ref", ADMIN, 204, json=ref)   # idempotent
    await c.call("POST", f"/groups/{gid}/members/$ref", ADMIN, 400, json={"@odata.id": "x"})
    await c.call("POST", f"/groups/{gid}/members/$ref", ADMIN, 404,
                 json={"@odata.id": f"{srv.url}/graph/v1.0/users/nobody"})
    await c.call("POST", f"/groups/{gid}/members/$ref", EINSTEIN, 403, json=ref)
    members = await c.call("GET", f"/groups/{gid}/members", ADMIN, 200)
    assert [m["onPremisesSamAccountName"] for m in members] == ["einstein"]
    await c.call("GET", f"/groups/{gid}/members", EINSTEIN, 200)       # a member may look
    await c.call("GET", f"/groups/{gid}/members", MARIE, 403)          # others may not
    me = await c.call("GET", "/me", EINSTEIN, 200, params={"$expand": "memberOf"})
    assert [g["displayName"] for g in me["memberOf"]] == [     # with oCIS's demo groups
        "physics", "physics-lovers", "sailing-lovers", "users", "violin-haters"]
    expanded = await c.call("GET", "/groups", ADMIN, 200, params={"$expand": "members"})
    assert [len(g["members"]) for g in expanded["value"] if g["id"] == gid] == [1]
    only_members = await c.call("GET", "/users", ADMIN, 200,
                                params={"$filter": f"memberOf/any(m:m/id eq '{gid}')"})
    assert [u["onPremisesSamAccountName"] for u in only_members["value"]] == ["einstein"]
    await c.call("GET", "/groups", MARIE, 403)
    found = await c.call("GET", "/groups", MARIE, 200, params={"$search": "phys"})
    assert {g["displayName"] for g in found["value"]} == {"physics", "physics-lovers"}
    await c.call("DELETE", f"/groups/{gid}/members/{einstein['id']}/$ref", ADMIN, 204)
    await c.call("DELETE", f"/groups/{gid}/members/{einstein['id']}/$ref", ADMIN, 404)
    await c.call("DELETE", f"/groups/{gid}", EINSTEIN, 403)
    await c.call("DELETE", f"/groups/{gid}", ADMIN, 204)
    await c.call("GET", f"/groups/{gid}", ADMIN, 404)


async def test_role_assignments(graph: tuple[Client, Any]) -> None:
    c, srv = graph
    assert {role.id for role in ROLES} == {USER_ROLE, ADMIN_ROLE, SPACEADMIN_ROLE, GUEST_ROLE}
    apps = await c.call("GET", "/applications", EINSTEIN, 200)
    (app,) = apps["value"]
    assert {r["id"] for r in app["appRoles"]} == {USER_ROLE, ADMIN_ROLE, SPACEADMIN_ROLE,
                                                  GUEST_ROLE}
    assert (await c.call("GET", f"/applications/{app['id']}", EINSTEIN, 200))["id"] == app["id"]
    einstein = await c.call("GET", "/users/einstein", ADMIN, 200)
    uid = einstein["id"]
    (current,) = (await c.call("GET", f"/users/{uid}/appRoleAssignments", EINSTEIN, 200))["value"]
    assert current["appRoleId"] == USER_ROLE and current["resourceId"] == app["id"]
    await c.call("GET", f"/users/{uid}/appRoleAssignments", MARIE, 404)
    body = {"principalId": uid, "appRoleId": SPACEADMIN_ROLE, "resourceId": app["id"]}
    await c.call("POST", f"/users/{uid}/appRoleAssignments", EINSTEIN, 403, json=body)
    made = await c.call("POST", f"/users/{uid}/appRoleAssignments", ADMIN, 201, json=body)
    assert made["appRoleId"] == SPACEADMIN_ROLE and made["id"] != current["id"]
    assert (await srv.ctx.users.get(uid)).role == "spaceadmin"
    # a space admin may now create project spaces
    await c.call("POST", "/drives", EINSTEIN, 201, json={"name": "Relativity"})
    await c.call("POST", f"/users/{uid}/appRoleAssignments", ADMIN, 400,
                 json={**body, "appRoleId": "no-such-role"})
    await c.call("POST", f"/users/{uid}/appRoleAssignments", ADMIN, 400,
                 json={**body, "principalId": "someone-else"})
    await c.call("DELETE", f"/users/{uid}/appRoleAssignments/{current['id']}", ADMIN, 404)
    await c.call("DELETE", f"/users/{uid}/appRoleAssignments/{made['id']}", ADMIN, 204)
    assert (await srv.ctx.users.get(uid)).role == "user"
    admin = await c.call("GET", "/me", ADMIN, 200)
    await c.call("POST", f"/users/{admin['id']}/appRoleAssignments", ADMIN, 403,
                 json={"principalId": admin["id"], "appRoleId": USER_ROLE})
    by_role = await c.call("GET", "/users", ADMIN, 200, params={
        "$filter": f"appRoleAssignments/any(x:x/appRoleId eq '{ADMIN_ROLE}')",
        "$expand": "appRoleAssignments"})
    assert {u["onPremisesSamAccountName"] for u in by_role["value"]} == {"admin", "moss"}
    assert all(u["appRoleAssignments"][0]["appRoleId"] == ADMIN_ROLE for u in by_role["value"])


async def test_guests_and_user_type_filter(graph: tuple[Client, Any]) -> None:
    c, srv = graph
    guest = await _create(c, "visitor", userType="Guest")
    assert guest["userType"] == "Guest"
    assert (await srv.ctx.users.get(guest["id"])).role == "guest"
    guests = await c.call("GET", "/users", ADMIN, 200, params={"$filter": "userType eq 'Guest'"})
    assert [u["id"] for u in guests["value"]] == [guest["id"]]
    (assignment,) = (await c.call("GET", f"/users/{guest['id']}/appRoleAssignments", ADMIN,
                                  200))["value"]
    assert assignment["appRoleId"] == GUEST_ROLE


async def test_change_password(graph: tuple[Client, Any]) -> None:
    c, _ = graph
    await c.call("POST", "/me/changePassword", MARIE, 400,
                 json={"currentPassword": "wrong", "newPassword": "polonium"})
    await c.call("POST", "/me/changePassword", MARIE, 400, json={"currentPassword": "x"})
    await c.call("POST", "/me/changePassword", MARIE, 204,
                 json={"currentPassword": "radioactivity", "newPassword": "polonium"})
    await c.call("GET", "/me", aiohttp.BasicAuth("marie", "polonium"), 200)
    await c.call("GET", "/me", MARIE, 401)


async def test_change_password_is_throttled(graph: tuple[Client, Any]) -> None:
    c, _ = graph
    for _ in range(5):
        await c.call("POST", "/me/changePassword", EINSTEIN, 400,
                     json={"currentPassword": "guess", "newPassword": "x"})
    body = await c.call("POST", "/me/changePassword", EINSTEIN, 429,
                        json={"currentPassword": "relativity", "newPassword": "x"})
    assert body["error"]["code"] == "tooManyRequests"


async def test_demo_users_come_with_ocis_demo_groups(graph: tuple[Client, Any],
                                                     tmp_path: Path) -> None:
    """IDM_CREATE_DEMO_USERS also makes oCIS's demo groups, with their upstream ids and members
    (services/idm/ldif/demousers.ldif.tmpl); a restart neither duplicates nor resets them.
    Without demo users there are none."""
    c, _ = graph
    expected = {
        "users": ("509a9dcd-bb37-4f4f-a01a-19dca27d9cfa",
                  ["admin", "einstein", "marie", "moss", "richard"]),
        "sailing-lovers": ("6040aa17-9c64-4fef-9bd0-77234d71bad0", ["einstein"]),
        "violin-haters": ("dd58e5ec-842e-498b-8800-61f2ec6f911f", ["einstein"]),
        "radium-lovers": ("7b87fd49-286e-4a5f-bafd-c535d5dd997a", ["marie"]),
        "polonium-lovers": ("cedc21aa-4072-4614-8676-fa9165f598ff", ["marie"]),
        "quantum-lovers": ("a1726108-01f8-4c30-88df-2b1a9d1cba1a", ["richard"]),
        "philosophy-haters": ("167cbee2-0518-455a-bfb2-031fe0621e5d", ["richard"]),
        "physics-lovers": ("262982c1-2362-4afa-bfdf-8cbfef64a06e",
                           ["einstein", "marie", "richard"]),
    }

    async def listing(client: Client) -> dict[str, tuple[str, list[str]]]:
        body = await client.call("GET", "/groups", ADMIN, 200, params={"$expand": "members"})
        return {g["displayName"]: (g["id"], sorted(m["onPremisesSamAccountName"]
                                                   for m in g["members"]))
                for g in body["value"]}

    assert await listing(c) == expected
    await c.call("DELETE", "/groups/6040aa17-9c64-4fef-9bd0-77234d71bad0/members/"
                 "4c510ada-c86b-4815-8820-42cdf82c3d51/$ref", ADMIN, 204)
    _, srv = graph
    await ensure_users(srv.ctx.users, srv.config)        # what every start runs
    expected["sailing-lovers"] = ("6040aa17-9c64-4fef-9bd0-77234d71bad0", [])
    assert await listing(c) == expected                   # the admin's change stays
    none = make_test_config(tmp_path / "none", demo_users=False)
    async with embedded_server(none, only=["graph"]) as srv, aiohttp.ClientSession() as s:
        assert await listing(Client(s, srv.url)) == {}
