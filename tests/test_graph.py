"""The LibreGraph service as clients see it: me, me/drives with $filter/$orderby, drive CRUD,
disable/restore/purge, quota state, access rules and the OData error body."""

from __future__ import annotations

import pytest
from kit import (
    ADMIN,
    ALICE,
    BOB,
    SPACEADMIN,
    STANDARD,
    STORAGE_ID,
    Graph,
    headers,
    memory_users,
    root_app,
    storage_with_homes,
)

from ocis_server.config import load_config
from ocis_server.domain.errors import NotFound
from ocis_server.services.context import ServiceContext
from ocis_server.services.graph.app import create_app
from ocis_server.services.graph.drives import quota_json, quota_state

URL = "https://cloud.example.test"


@pytest.fixture
async def storage(tmp_path):
    store = await storage_with_homes(tmp_path / "storage", ALICE, BOB)
    yield store
    await store.close()


@pytest.fixture
async def client(aiohttp_client, storage, tmp_path):
    config = load_config({"OCIS_CONFIG_DIR": str(tmp_path / "cfg"),
                          "OCIS_BASE_DATA_PATH": str(tmp_path), "OCIS_URL": URL + "/"})
    users = await memory_users(*STANDARD)
    ctx = ServiceContext(config, storage, users)
    return await aiohttp_client(root_app(users, ("/graph", create_app(ctx, "/graph"))))


async def call(client, method, path, user, *, status, json=None, headers=None, params=None):
    return await Graph(client, user).call(method, path, status, json=json, params=params,
                                          headers=headers)


async def create_project(client, name, user=ADMIN, *, status=201, **extra):
    return await call(client, "POST", "/graph/v1.0/drives", user, status=status,
                      json={"name": name, "driveType": "project", **extra})


def assert_error(body, code):
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert body["error"]["innererror"]["request-id"]
    assert body["error"]["innererror"]["date"].endswith("Z")


# --- me --------------------------------------------------------------------------------------

async def test_me(client):
    body = await call(client, "GET", "/graph/v1.0/me", ALICE, status=200)
    assert body == {"id": ALICE.id, "displayName": "Alice Liddell", "mail": "alice@example.org",
                    "onPremisesSamAccountName": "alice", "userType": "Member",
                    "accountEnabled": True}
    body = await call(client, "GET", "/graph/v1.0/me", ALICE, status=200,
                      params={"$expand": "memberOf"})
    assert body["memberOf"] == []


async def test_me_without_principal_is_401(client):
    body = await call(client, "GET", "/graph/v1.0/me", None, status=401)
    assert_error(body, "unauthenticated")
    body = await call(client, "GET", "/graph/v1beta1/me/drives", None, status=401)
    assert_error(body, "unauthenticated")


async def test_unknown_endpoint_is_odata_404(client):
    body = await call(client, "GET", "/graph/v1.0/nothing/here", ALICE, status=404)
    assert_error(body, "itemNotFound")


# --- drives ----------------------------------------------------------------------------------

async def test_my_personal_drive_shape(client):
    drive = await call(client, "GET", "/graph/v1.0/me/drive", ALICE, status=200)
    drive_id = f"{STORAGE_ID}${ALICE.id}"
    assert drive["id"] == drive_id
    assert drive["driveType"] == "personal" and drive["driveAlias"] == "personal/alice"
    assert drive["name"] == "Alice Liddell"
    assert drive["owner"]["user"] == {"id": ALICE.id, "displayName": "Alice Liddell"}
    assert drive["webUrl"] == f"{URL}/f/{drive_id}"
    assert drive["root"]["webDavUrl"] == f"{URL}/dav/spaces/{drive_id}"
    assert drive["root"]["id"] == f"{drive_id}!{ALICE.id}"
    assert drive["root"]["eTag"].startswith('"') and drive["root"]["eTag"].endswith('"')
    assert drive["lastModifiedDateTime"].endswith("Z")
    quota = drive["quota"]
    assert quota["total"] == 0 and quota["used"] == 0 and quota["state"] == "normal"
    assert quota["remaining"] > 0            # unlimited: the free space of the data disk
    assert "deleted" not in drive["root"]


async def test_me_drives_lists_only_reachable(client):
    await create_project(client, "Marketing")
    body = await call(client, "GET", "/graph/v1beta1/me/drives", ALICE, status=200)
    # v1beta1 adds the share jail (virtual/shares) for everyone, as oCIS does
    assert [d["driveAlias"] for d in body["value"]] == ["personal/alice", "virtual/shares"]
    body = await call(client, "GET", "/graph/v1.0/me/drives", ADMIN, status=200)
    assert [d["driveAlias"] for d in body["value"]] == ["project/marketing"]


async def test_me_drives_filter_and_orderby(client, storage):
    for name in ("Beta", "alpha", "Gamma"):
        drive = await create_project(client, name)
        space_id = drive["id"].split("$")[1]
        await storage.set_member(space_id, ALICE.id, "viewer")
    url = "/graph/v1.0/me/drives"
    body = await call(client, "GET", url, ALICE, status=200,
                      params={"$filter": "driveType eq 'project'", "$orderby": "name desc"})
    assert [d["name"] for d in body["value"]] == ["Gamma", "Beta", "alpha"]
    body = await call(client, "GET", url, ALICE, status=200, params={"$orderby": "name"})
    assert [d["name"] for d in body["value"]] == ["Alice Liddell", "alpha", "Beta", "Gamma"]
    body = await call(client, "GET", url, ALICE, status=200,
                      params={"$filter": "driveType eq 'personal'"})
    assert [d["driveType"] for d in body["value"]] == ["personal"]
    gamma = next(d for d in (await call(client, "GET", url, ALICE, status=200))["value"]
                 if d["name"] == "Gamma")
    body = await call(client, "GET", url, ALICE, status=200,
                      params={"$filter": f"id eq '{gamma['id']}'"})
    assert [d["name"] for d in body["value"]] == ["Gamma"]
    body = await call(client, "GET", url, ALICE, status=200,
                      params={"$orderby": "lastModifiedDateTime desc"})
    times = [d["lastModifiedDateTime"] for d in body["value"]]
    assert times == sorted(times, reverse=True)


@pytest.mark.parametrize("params", [
    {"$filter": "driveType ne 'project'"},
    {"$filter": "owner eq 'x'"},
    {"$filter": "driveType eq 'project' or id eq 'x'"},
    {"$orderby": "size"},
    {"$orderby": "name sideways"},
])
async def test_me_drives_unsupported_query_is_400(client, params):
    body = await call(client, "GET", "/graph/v1.0/me/drives", ALICE, status=400, params=params)
    assert_error(body, "invalidRequest")


async def test_create_project_space_as_admin(client, storage):
    drive = await create_project(client, "Team Space", description="for the team",
                                 quota={"total": 5000})
    assert drive["driveType"] == "project" and drive["driveAlias"] == "project/team-space"
    assert drive["description"] == "for the team"
    assert drive["quota"] == {"total": 5000, "used": 0, "remaining": 5000, "deleted": 0,
                              "state": "normal"}
    assert drive["root"]["permissions"] == [
        {"grantedToIdentities": [{"user": {"id": ADMIN.id, "displayName": "Admin"}}],
         "roles": ["manager"]}]
    space_id = drive["id"].split("$")[1]
    assert (await storage.members(space_id)) == {ADMIN.id: "manager"}
    # v1beta1 renders members with unified role ids.
    beta = await call(client, "GET", f"/graph/v1beta1/drives/{drive['id']}", ADMIN, status=200)
    assert beta["root"]["permissions"][0]["roles"] == ["312c0871-5ef7-4b3a-85b6-0e4074c64049"]
    assert beta["root"]["permissions"][0]["grantedToV2"]["user"]["id"] == ADMIN.id


async def test_create_project_space_as_spaceadmin(client):
    await create_project(client, "Ops", user=SPACEADMIN)


async def test_create_project_space_as_user_is_403(client):
    body = await create_project(client, "Mine", user=ALICE, status=403)
    assert_error(body, "accessDenied")


@pytest.mark.parametrize("name", ["", "   ", "a/b", "a\\b", "a.b", "a:b", "a?b", "a*b", 'a"b',
                                  "a>b", "a<b", "a|b", "x" * 256, 42])
async def test_create_project_space_bad_name_is_400(client, name):
    body = await create_project(client, name, status=400)
    assert_error(body, "invalidRequest")


@pytest.mark.parametrize("payload", [
    {"name": "Q", "quota": {"total": -1}},
    {"name": "Q", "quota": {"total": "lots"}},
    {"name": "Q", "driveType": "personal"},
])
async def test_create_project_space_bad_body_is_400(client, payload):
    body = await call(client, "POST", "/graph/v1.0/drives", ADMIN, status=400, json=payload)
    assert_error(body, "invalidRequest")


async def test_create_with_invalid_json_is_400(client):
    resp = await client.post("/graph/v1.0/drives", data=b"{nope", headers=headers(ADMIN))
    assert resp.status == 400
    assert_error(await resp.json(), "invalidRequest")


async def test_other_users_drive_is_404(client):
    drive_id = f"{STORAGE_ID}${BOB.id}"
    body = await call(client, "GET", f"/graph/v1.0/drives/{drive_id}", ALICE, status=404)
    assert_error(body, "itemNotFound")
    await call(client, "GET", f"/graph/v1.0/drives/{drive_id}", BOB, status=200)
    # and one that does not exist at all looks the same
    body = await call(client, "GET", f"/graph/v1.0/drives/{STORAGE_ID}$nope", ALICE, status=404)
    await call(client, "GET", f"/graph/v1.0/drives/other-storage${BOB.id}", BOB, status=404)


async def test_list_all_drives(client):
    await create_project(client, "Shared")
    body = await call(client, "GET", "/graph/v1.0/drives", ADMIN, status=200)
    assert {d["driveAlias"] for d in body["value"]} == {
        "personal/alice", "personal/bob", "project/shared"}
    body = await call(client, "GET", "/graph/v1.0/drives", ALICE, status=200)
    assert [d["driveAlias"] for d in body["value"]] == ["personal/alice"]


async def test_patch_drive(client, storage):
    drive = await create_project(client, "Old Name")
    url = f"/graph/v1.0/drives/{drive['id']}"
    space_id = drive["id"].split("$")[1]
    await storage.set_member(space_id, ALICE.id, "manager")
    await storage.set_member(space_id, BOB.id, "editor")
    body = await call(client, "PATCH", url, ALICE, status=200,
                      json={"name": "New Name", "description": "d"})
    assert body["name"] == "New Name" and body["description"] == "d"
    body = await call(client, "PATCH", url, BOB, status=403, json={"name": "Bobs"})
    assert_error(body, "accessDenied")
    # A Manager may not raise their own quota; an admin may.
    await call(client, "PATCH", url, ALICE, status=403, json={"quota": {"total": 10}})
    body = await call(client, "PATCH", url, ADMIN, status=200, json={"quota": {"total": 10}})
    assert body["quota"]["total"] == 10 and body["quota"]["remaining"] == 10
    await call(client, "PATCH", url, ALICE, status=400, json={"name": "a/b"})
    body = await call(client, "PATCH", url, ALICE, status=200, json={"driveAlias": "project/nn"})
    assert body["driveAlias"] == "project/nn"
    for alias in ("personal/nn", "project/", "project/a/b", 7):
        await call(client, "PATCH", url, ALICE, status=400, json={"driveAlias": alias})
    await call(client, "PATCH", url, ALICE, status=400, json=["not", "an", "object"])


async def test_user_cannot_patch_or_disable_own_personal_drive(client):
    url = f"/graph/v1.0/drives/{STORAGE_ID}${ALICE.id}"
    await call(client, "PATCH", url, ALICE, status=403, json={"name": "Mine"})
    await call(client, "DELETE", url, ALICE, status=403)


async def test_disable_restore_purge(client, storage):
    drive = await create_project(client, "Lifecycle")
    url = f"/graph/v1.0/drives/{drive['id']}"
    space_id = drive["id"].split("$")[1]
    await storage.set_member(space_id, ALICE.id, "viewer")
    # purging an enabled drive is refused
    body = await call(client, "DELETE", url, ADMIN, status=400, headers={"Purge": "T"})
    assert_error(body, "invalidRequest")
    # a viewer may not disable it
    await call(client, "DELETE", url, ALICE, status=403)
    await call(client, "DELETE", url, ADMIN, status=204)
    body = await call(client, "GET", url, ADMIN, status=200)
    assert body["root"]["deleted"] == {"state": "trashed"}
    # disabled: invisible to plain members, listed for its managers
    await call(client, "GET", url, ALICE, status=404)
    listed = await call(client, "GET", "/graph/v1.0/me/drives", ALICE, status=200)
    assert drive["id"] not in [d["id"] for d in listed["value"]]
    listed = await call(client, "GET", "/graph/v1.0/me/drives", ADMIN, status=200)
    assert drive["id"] in [d["id"] for d in listed["value"]]
    await call(client, "PATCH", url, ADMIN, status=400, json={"name": "x"})
    body = await call(client, "PATCH", url, ADMIN, status=200, json={},
                      headers={"Restore": "T"})
    assert "deleted" not in body["root"]
    await call(client, "GET", url, ALICE, status=200)
    await call(client, "DELETE", url, ADMIN, status=204)
    await call(client, "DELETE", url, ADMIN, status=204, headers={"Purge": "T"})
    await call(client, "GET", url, ADMIN, status=404)
    with pytest.raises(NotFound):
        await storage.get_space(space_id)


async def test_quota_used_and_state_from_content(client, storage):
    drive = await create_project(client, "Full", quota={"total": 100})
    space_id = drive["id"].split("$")[1]

    async def body():
        yield b"x" * 80

    await storage.upload(space_id, ("data.bin",), body(), length=80)
    got = await call(client, "GET", f"/graph/v1.0/drives/{drive['id']}", ADMIN, status=200)
    assert got["quota"] == {"total": 100, "used": 80, "remaining": 20, "deleted": 0,
                            "state": "nearing"}


@pytest.mark.parametrize("used, total, state", [
    (0, 100, "normal"), (75, 100, "normal"), (76, 100, "nearing"), (90, 100, "nearing"),
    (91, 100, "critical"), (99, 100, "critical"), (100, 100, "exceeded"),
    (150, 100, "exceeded"), (10**12, 0, "normal"),
])
def test_quota_state(used, total, state):
    assert quota_state(used, total) == state


def test_quota_remaining():
    assert quota_json(150, 100, None)["remaining"] == 0
    assert quota_json(5, 0, 1234)["remaining"] == 1234
    assert "remaining" not in quota_json(5, 0, None)


async def test_create_with_quota_without_total_gets_the_default(client):
    # as oCIS: no total given -> GRAPH_SPACES_DEFAULT_QUOTA, 1 GB unless configured
    drive = await create_project(client, "Open", quota={})
    assert drive["quota"]["total"] == 1_000_000_000 and drive["quota"]["state"] == "normal"
