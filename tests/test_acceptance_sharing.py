"""Acceptance battery (protocol-notes.md §13) for spaces, sharing and links, walked over HTTP against the
real `ocis server` subprocess: scenarios 6, 7, 8, 18-24. einstein plays Alice, marie Brian,
katherine (Space Admin) the space creator, admin the administrator."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
import requests
from kit import password_of

JAIL = "a0ca6a90-a365-4782-871e-d44447bbc668$a0ca6a90-a365-4782-871e-d44447bbc668"
VIEWER = "b1e2218d-eef8-4d4c-b82d-0f1a1b48f3b5"
EDITOR = "fb6c3e19-e378-47e5-b277-9732f9de6e21"
UPLOADER = "1c996275-f1c9-4e71-abdf-a42f6495e960"
MANAGER = "312c0871-5ef7-4b3a-85b6-0e4074c64049"
SPACE_VIEWER = "a8d5fe5e-96e3-418d-825b-534dbdf22b99"
SPACE_EDITOR = "58c63c02-1d89-4572-916a-870abc5a1b7d"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
SHARES = "/apps/files_sharing/api/v1/shares"
FILEID = b'<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">' \
         b"<d:prop><oc:fileid/><d:getetag/></d:prop></d:propfind>"


class Api:
    """One user's HTTP session against the server."""

    def __init__(self, base: str, user: str, password: str | None = None) -> None:
        self.base, self.user = base, user
        self.http = requests.Session()
        self.http.auth = (user, password or password_of(user))

    def req(self, method: str, path: str, **kw: Any) -> requests.Response:
        return self.http.request(method, self.base + path, timeout=20, **kw)

    def json(self, method: str, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        resp = self.req(method, path, json=body, **kw)
        return resp.status_code, (resp.json() if resp.content else None)

    def prop(self, dav_path: str, name: str) -> str:
        resp = self.req("PROPFIND", dav_path, data=FILEID, headers={"Depth": "0"})
        assert resp.status_code == 207, (dav_path, resp.status_code, resp.text)
        return re.search(rf"<{name}>(.*?)</{name}>", resp.text).group(1)  # type: ignore[union-attr]

    def item(self, path: str) -> tuple[str, str]:
        """(drive id, item id) of a path in the user's personal space."""
        fileid = self.prop(f"/remote.php/dav/files/{self.user}{path}", "oc:fileid")
        return fileid.split("!")[0], fileid

    def put(self, dav_path: str, body: bytes) -> int:
        return self.req("PUT", dav_path, data=body).status_code

    def mkcol(self, path: str) -> None:
        assert self.req("MKCOL", f"/remote.php/dav/files/{self.user}{path}").status_code == 201


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def invite(object_id: str, role: str) -> dict[str, Any]:
    return {"recipients": [{"objectId": object_id, "@libre.graph.recipient.type": "user"}],
            "roles": [role]}


def user_id(api: Api) -> str:
    status, me = api.json("GET", "/graph/v1.0/me")
    assert status == 200
    return str(me["id"])


def create_space(api: Api, name: str, quota: int | None = None) -> tuple[int, Any]:
    body: dict[str, Any] = {"name": name}
    if quota is not None:
        body["quota"] = {"total": quota}
    return api.json("POST", "/graph/v1.0/drives", body)


def drive_ids(api: Api) -> set[str]:
    status, drives = api.json("GET", "/graph/v1.0/me/drives")
    assert status == 200
    return {d["id"] for d in drives["value"]}


def shared_with_me(api: Api, remote_id: str) -> dict[str, Any]:
    status, body = api.json("GET", "/graph/v1beta1/me/drive/sharedWithMe")
    assert status == 200, body
    (item,) = [i for i in body["value"] if i["remoteItem"]["id"] == remote_id]
    return item  # type: ignore[no-any-return]


@pytest.fixture
def api(real_server):
    return lambda user, password=None: Api(real_server.url, user, password)


def new_user(api: Any, prefix: str) -> Api:
    """A user the admin creates through Graph, so a scenario's changes touch nobody else."""
    name = unique(prefix)
    status, created = api("admin").json("POST", "/graph/v1.0/users", {
        "onPremisesSamAccountName": name, "displayName": "New User", "mail": f"{name}@example.org",
        "passwordProfile": {"password": "Pass-Word-123!"}, "accountEnabled": True})
    assert status == 201, created
    return api(name, "Pass-Word-123!")  # type: ignore[no-any-return]


def test_scenario_06_list_my_drives(real_server, api) -> None:
    new = new_user(api, "newuser")
    name = new.user
    status, drives = new.json("GET", "/graph/v1.0/me/drives")
    assert status == 200
    (personal,) = [d for d in drives["value"] if d["driveType"] == "personal"]
    assert personal["driveAlias"] == f"personal/{name}"
    assert personal["quota"]["state"] == "normal"
    assert personal["root"]["webDavUrl"] == f"{real_server.url}/dav/spaces/{personal['id']}"
    assert personal["webUrl"] == f"{real_server.url}/f/{personal['id']}"


def test_scenario_07_create_project_space(api) -> None:
    status, drive = create_space(api("katherine"), "Project Mars", 1000000000)
    assert status == 201, drive
    assert drive["driveAlias"] == "project/project-mars"
    assert drive["quota"]["total"] == 1000000000
    status, refused = create_space(api("einstein"), "Project Venus")
    assert status == 403, refused


def test_scenario_08_disable_then_delete_space(api) -> None:
    katherine, marie = api("katherine"), api("marie")
    status, drive = create_space(katherine, unique("Disable me"))
    assert status == 201
    sid, path = drive["id"], f"/graph/v1.0/drives/{drive['id']}"
    status, _ = katherine.json("POST", f"/graph/v1beta1/drives/{sid}/root/invite",
                               invite(user_id(marie), SPACE_VIEWER))
    assert status == 200 and sid in drive_ids(marie)

    assert katherine.req("DELETE", path, headers={"Purge": "T"}).status_code == 400  # enabled
    assert katherine.req("DELETE", path).status_code == 204                          # disable
    assert sid not in drive_ids(marie)
    restored = katherine.req("PATCH", path, json={}, headers={"Restore": "T"})
    assert restored.status_code == 200, restored.text
    assert "deleted" not in restored.json()["root"]
    assert sid in drive_ids(marie)

    assert katherine.req("DELETE", path).status_code == 204
    assert katherine.req("DELETE", path, headers={"Purge": "T"}).status_code == 204
    assert sid not in drive_ids(katherine)
    assert katherine.req("GET", path).status_code == 404


def test_scenario_18_share_via_graph_invite(api) -> None:
    alice, brian = api("einstein"), api("marie")
    name = unique("invite") + ".txt"
    assert alice.put(f"/remote.php/dav/files/einstein/{name}", b"shared") == 201
    sid, fid = alice.item(f"/{name}")
    status, body = alice.json("POST", f"/graph/v1beta1/drives/{sid}/items/{fid}/invite",
                              invite(user_id(brian), VIEWER))
    assert status == 200, body
    perm = body["value"][0]
    assert re.fullmatch(f"{UUID}:{UUID}:{UUID}", perm["id"]), perm["id"]
    assert perm["roles"] == [VIEWER]
    assert perm["grantedToV2"]["user"]["displayName"] == "Marie Curie"

    item = shared_with_me(brian, fid)
    assert item["remoteItem"]["id"] == fid
    assert item["@client.synchronize"] is True


def test_scenario_19_role_constraints(api) -> None:
    alice, brian = api("einstein"), api("marie")
    folder, file = unique("roles"), unique("roles") + ".txt"
    alice.mkcol(f"/{folder}")
    assert alice.put(f"/remote.php/dav/files/einstein/{file}", b"x") == 201
    brian_id = user_id(brian)
    cases = [(file, EDITOR), (file, UPLOADER)] + [
        (target, role) for target in (file, folder) for role in (MANAGER, SPACE_VIEWER, SPACE_EDITOR)]
    for target, role in cases:
        sid, fid = alice.item(f"/{target}")
        status, body = alice.json("POST", f"/graph/v1beta1/drives/{sid}/items/{fid}/invite",
                                  invite(brian_id, role))
        assert status == 400, (target, role, body)
        assert body["error"]["message"] == "role not applicable to this resource", body

    allowed = {}
    for target in (file, folder):
        sid, fid = alice.item(f"/{target}")
        status, body = alice.json("GET", f"/graph/v1beta1/drives/{sid}/items/{fid}/permissions")
        assert status == 200, body
        allowed[target] = {r["id"] for r in body["@libre.graph.permissions.roles.allowedValues"]}
    assert VIEWER in allowed[file] and VIEWER in allowed[folder]
    assert EDITOR in allowed[folder] and UPLOADER in allowed[folder]
    assert not allowed[file] & {EDITOR, UPLOADER, MANAGER, SPACE_VIEWER, SPACE_EDITOR}
    assert not allowed[folder] & {MANAGER, SPACE_VIEWER, SPACE_EDITOR}


def test_scenario_20_received_share_over_webdav(api) -> None:
    alice, brian = api("einstein"), api("marie")
    folder = unique("received")
    alice.mkcol(f"/{folder}")
    assert alice.put(f"/remote.php/dav/files/einstein/{folder}/inside.txt", b"inside") == 201
    sid, fid = alice.item(f"/{folder}")
    status, _ = alice.json("POST", f"/graph/v1beta1/drives/{sid}/items/{fid}/invite",
                           invite(user_id(brian), VIEWER))
    assert status == 200

    listing = brian.req("PROPFIND", f"/dav/spaces/{JAIL}/", headers={"Depth": "1"})
    assert listing.status_code == 207
    assert f"/dav/spaces/{JAIL}/{folder}/" in requests.utils.unquote(listing.text)
    got = brian.req("GET", f"/dav/spaces/{JAIL}/{folder}/inside.txt")
    assert got.status_code == 200 and got.content == b"inside"
    assert brian.put(f"/dav/spaces/{JAIL}/{folder}/new.txt", b"no") == 403

    before = brian.prop(f"/dav/spaces/{JAIL}/{folder}", "d:getetag")
    assert alice.put(f"/remote.php/dav/files/einstein/{folder}/inside.txt", b"changed") == 204
    assert brian.prop(f"/dav/spaces/{JAIL}/{folder}", "d:getetag") != before


def test_scenario_21_unmount_and_hide(api) -> None:
    alice, brian = api("einstein"), api("marie")
    folder = unique("unmount")
    alice.mkcol(f"/{folder}")
    sid, fid = alice.item(f"/{folder}")
    status, _ = alice.json("POST", f"/graph/v1beta1/drives/{sid}/items/{fid}/invite",
                           invite(user_id(brian), VIEWER))
    assert status == 200
    item_id = shared_with_me(brian, fid)["id"]

    assert brian.req("DELETE", f"/graph/v1beta1/drives/{JAIL}/items/{item_id}").status_code == 204
    assert shared_with_me(brian, fid)["@client.synchronize"] is False
    status, mounted = brian.json("POST", f"/graph/v1beta1/drives/{JAIL}/root/children",
                                 {"remoteItem": {"id": fid}})
    assert status == 201, mounted
    assert shared_with_me(brian, fid)["@client.synchronize"] is True
    status, hidden = brian.json("PATCH", f"/graph/v1beta1/drives/{JAIL}/items/{item_id}",
                                {"@UI.Hidden": True})
    assert status == 200, hidden
    assert hidden["@UI.Hidden"] is True
    assert shared_with_me(brian, fid)["@UI.Hidden"] is True


def _link(alice: Api, fid: str, sid: str, body: dict[str, Any]) -> str:
    status, link = alice.json("POST", f"/graph/v1beta1/drives/{sid}/items/{fid}/createLink", body)
    assert status == 200, link
    token = re.fullmatch(r".*/s/([^/]+)", link["link"]["webUrl"]).group(1)  # type: ignore[union-attr]
    return token


def test_scenario_22_public_link(real_server, api) -> None:
    alice = new_user(api, "sharer")   # a sharer of its own: this scenario exhausts the quota
    base = real_server.url
    folder = unique("public")
    alice.mkcol(f"/{folder}")
    sid, fid = alice.item(f"/{folder}")
    status, link = alice.json("POST", f"/graph/v1beta1/drives/{sid}/items/{fid}/createLink",
                              {"type": "view", "password": "Secret123!"})
    assert status == 200, link
    assert link["hasPassword"] is True
    token = re.fullmatch(rf"{re.escape(base)}/s/([^/]+)", link["link"]["webUrl"]).group(1)  # type: ignore[union-attr]

    def public(tok: str, password: str | None = None) -> requests.Session:
        session = requests.Session()
        if password:
            session.auth = ("public", password)
        return session

    ok = public(token, "Secret123!").request("PROPFIND", f"{base}/dav/public-files/{token}/",
                                            headers={"Depth": "1"})
    assert ok.status_code == 207
    wrong = public(token, "wrong").request("PROPFIND", f"{base}/dav/public-files/{token}/")
    assert wrong.status_code == 401
    put = public(token, "Secret123!").put(f"{base}/dav/public-files/{token}/x.txt", data=b"x")
    assert put.status_code == 403

    drop = _link(alice, fid, sid, {"type": "createOnly"})
    for _ in range(2):
        assert public(drop).put(f"{base}/dav/public-files/{drop}/same.txt",
                                data=b"drop").status_code == 201
    names = re.findall(r"<d:href>[^<]*?/([^/<]+)</d:href>", alice.req(
        "PROPFIND", f"/remote.php/dav/files/{alice.user}/{folder}", headers={"Depth": "1"}).text)
    assert sum(1 for n in names if n.startswith("same")) == 2, names
    edit = _link(alice, fid, sid, {"type": "edit"})
    assert public(edit).put(f"{base}/dav/public-files/{edit}/edited.txt",
                            data=b"edit").status_code == 201

    status, drive = api("admin").json("GET", f"/graph/v1.0/drives/{sid}")
    assert status == 200, drive
    used = drive["quota"]["used"]
    status, _ = api("admin").json("PATCH", f"/graph/v1.0/drives/{sid}",
                                  {"quota": {"total": used + 4}})
    assert status == 200
    full = public(edit).put(f"{base}/dav/public-files/{edit}/big.txt", data=b"x" * 64)
    assert full.status_code == 507


def test_scenario_23_ocs_share_create(api) -> None:
    alice, brian = api("einstein"), api("marie")
    folder, folder_v1 = unique("ocs"), unique("ocs-v1")
    alice.mkcol(f"/{folder}")
    alice.mkcol(f"/{folder_v1}")
    headers = {"OCS-APIREQUEST": "true"}
    form = {"shareType": "0", "shareWith": "marie", "path": f"/{folder}", "permissions": "31"}
    created = alice.req("POST", f"/ocs/v2.php{SHARES}?format=json", data=form, headers=headers)
    assert created.status_code == 200, created.text
    data = created.json()["ocs"]["data"]
    assert data["permissions"] == 15 and data["share_type"] == 0

    listed = brian.req("GET", f"/ocs/v2.php{SHARES}?shared_with_me=true&state=all&format=json",
                       headers=headers)
    assert listed.status_code == 200
    (mine,) = [s for s in listed.json()["ocs"]["data"] if s["id"] == data["id"]]
    assert mine["state"] == 0

    v1 = alice.req("POST", f"/ocs/v1.php{SHARES}?format=json",
                   data={**form, "path": f"/{folder_v1}"}, headers=headers)
    assert v1.status_code == 200
    assert v1.json()["ocs"]["meta"]["statuscode"] == 100
    assert v1.json()["ocs"]["data"]["permissions"] == 15


def test_scenario_24_space_membership_and_quota(api) -> None:
    manager, brian = api("katherine"), api("marie")
    status, drive = create_space(manager, unique("Members"))
    assert status == 201
    sid = drive["id"]
    status, body = manager.json("POST", f"/graph/v1beta1/drives/{sid}/root/invite",
                                invite(user_id(brian), SPACE_VIEWER))
    assert status == 200, body
    assert sid in drive_ids(brian)
    assert brian.put(f"/dav/spaces/{sid}/brian.txt", b"no") == 403

    status, patched = api("admin").json("PATCH", f"/graph/v1.0/drives/{sid}",
                                        {"quota": {"total": 10}})
    assert status == 200, patched
    assert manager.put(f"/dav/spaces/{sid}/eleven.txt", b"x" * 11) == 507
