"""Public links end to end against an embedded server: OCS share type 3 (create, list, update,
delete, password policy, capabilities, tokeninfo) and WebDAV `/dav/public-files/<token>/…`
(password, scoping, viewer read-only, file drop create-only with auto-rename, throttling)."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from kit import Http, Ocs, ocs_headers

from ocis_server.runtime import embedded_server, make_test_config

API = "/ocs/v2.php/apps/files_sharing/api/v1"


class Client:
    """OCS, WebDAV and public links, over the kit's client; the tests check the statuses."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session, self.url = session, url

    def as_user(self, user: str | None, password: str | None = None) -> Http:
        """Signed in as an OCS client (`OCS-APIREQUEST`); anonymous requests carry no headers."""
        if user is None:
            return Http(self.session, base=self.url)
        return Ocs(self.session, user, password=password, base=self.url)

    async def ocs(self, method: str, user: str | None, route: str,
                  data: dict[str, str] | None = None,
                  headers: dict[str, str] | None = None) -> tuple[int, Any]:
        resp = await self.as_user(user).send(method, API + route, params={"format": "json"},
                                             body=data, headers=headers)
        return resp.status, json.loads(resp.data)

    async def link(self, **fields: str) -> dict[str, Any]:
        status, body = await self.ocs("POST", "einstein", "/shares",
                                      data={"shareType": "3", "path": "/folder", **fields})
        assert status == 200, body
        return body["ocs"]["data"]

    async def dav(self, method: str, user: str, path: str, body: bytes = b"") -> int:
        resp = await self.as_user(user).send(method, "/remote.php/webdav" + path,
                                             body=body or None)
        return int(resp.status)

    async def public(self, method: str, token: str, path: str = "", *, password: str | None = None,
                     body: bytes = b"", headers: dict[str, str] | None = None
                     ) -> tuple[int, bytes]:
        """A public link's WebDAV, with its password as Basic `public:<password>` when given."""
        anyone = self.as_user("public" if password is not None else None, password)
        resp = await anyone.send(method, f"/dav/public-files/{token}{path}", body=body or None,
                                 headers=headers)
        return resp.status, resp.data


@pytest.fixture
async def client(tmp_path: Path):
    config = make_test_config(tmp_path)
    async with embedded_server(config, only=["ocdav", "frontend"]) as srv, \
            aiohttp.ClientSession() as session:
        c = Client(session, srv.url)
        c.srv = srv  # type: ignore[attr-defined]
        assert await c.dav("MKCOL", "einstein", "/folder") == 201
        assert await c.dav("MKCOL", "einstein", "/folder/sub") == 201
        assert await c.dav("PUT", "einstein", "/folder/f.txt", b"data") == 201
        assert await c.dav("PUT", "einstein", "/secret.txt", b"outside") == 201
        yield c


async def test_capabilities_announce_public_links(client: Client) -> None:
    async with client.session.get(client.url + "/ocs/v2.php/cloud/capabilities",
                                  params={"format": "json"}) as resp:
        caps = (await resp.json())["ocs"]["data"]["capabilities"]["files_sharing"]["public"]
    assert caps["enabled"] is True and caps["upload"] is True
    assert caps["supports_upload_only"] is True and caps["password"]["enforced"] is False


async def test_view_link_reads_and_refuses_writes(client: Client) -> None:
    data = await client.link(permissions="1", name="for bob")
    token = data["token"]
    assert len(token) >= 15 and data["share_type"] == 3 and data["permissions"] == 1
    assert data["url"].endswith(f"/s/{token}") and data["name"] == "for bob"
    assert data["share_with"] == ""
    status, body = await client.public("GET", token, "/f.txt")
    assert (status, body) == (200, b"data")
    status, body = await client.public("PROPFIND", token, "/", headers={"Depth": "1"})
    assert status == 207 and b"f.txt" in body and b"sub" in body
    assert (await client.public("PUT", token, "/new.txt", body=b"x"))[0] == 403
    assert (await client.public("DELETE", token, "/f.txt"))[0] == 403
    assert (await client.public("MKCOL", token, "/d"))[0] == 403
    # the token scopes every path to the linked folder
    assert (await client.public("GET", token, "/../secret.txt"))[0] in (400, 404)
    assert (await client.public("GET", token, "/secret.txt"))[0] == 404
    assert (await client.public("GET", "nosuchtoken0000000", "/f.txt"))[0] == 404


async def test_password_link_basic_auth_and_change(client: Client) -> None:
    data = await client.link(permissions="15", password="Secret123!")
    token = data["token"]
    assert data["share_with"] == "***redacted***" and data["permissions"] == 15
    assert (await client.public("PROPFIND", token, "/"))[0] == 401
    assert (await client.public("PROPFIND", token, "/", password="wrong"))[0] == 401
    assert (await client.public("PROPFIND", token, "/", password="Secret123!"))[0] == 207
    assert (await client.public("PUT", token, "/up.txt", password="Secret123!",
                                body=b"up"))[0] == 201
    assert await client.dav("GET", "einstein", "/folder/up.txt") == 200
    assert (await client.public("DELETE", token, "/up.txt", password="Secret123!"))[0] == 204
    # a new password takes effect on the next request
    status, _ = await client.ocs("PUT", "einstein", f"/shares/{data['id']}",
                                 data={"password": "Other456!"})
    assert status == 200
    assert (await client.public("PROPFIND", token, "/", password="Secret123!"))[0] == 401
    assert (await client.public("PROPFIND", token, "/", password="Other456!"))[0] == 207


async def test_password_guesses_are_throttled_per_token(client: Client) -> None:
    token = (await client.link(permissions="1", password="Right789!"))["token"]
    statuses = [(await client.public("PROPFIND", token, "/", password=f"guess{i}"))[0]
                for i in range(6)]
    assert statuses[:5] == [401] * 5 and statuses[5] == 429
    assert (await client.public("PROPFIND", token, "/", password="Right789!"))[0] == 429
    other = (await client.link(permissions="1"))["token"]       # other links are not locked
    assert (await client.public("PROPFIND", other, "/"))[0] == 207


async def test_file_drop_creates_only_and_renames(client: Client) -> None:
    data = await client.link(permissions="4")
    token = data["token"]
    assert data["permissions"] == 4
    assert (await client.public("PUT", token, "/drop.txt", body=b"one"))[0] == 201
    assert (await client.public("PUT", token, "/drop.txt", body=b"two"))[0] == 201
    assert (await client.public("PUT", token, "/f.txt", body=b"three"))[0] == 201
    async with client.session.get(client.url + "/remote.php/webdav/folder/drop (2).txt",
                                  headers=ocs_headers("einstein")) as resp:
        assert await resp.read() == b"two"
    async with client.session.get(client.url + "/remote.php/webdav/folder/f.txt",
                                  headers=ocs_headers("einstein")) as resp:
        assert await resp.read() == b"data"                # never overwritten
    assert (await client.public("GET", token, "/drop.txt"))[0] == 403
    assert (await client.public("DELETE", token, "/drop.txt"))[0] == 403
    assert (await client.public("PUT", token, "/sub/x.txt", body=b"x"))[0] == 403
    status, body = await client.public("PROPFIND", token, "/", headers={"Depth": "1"})
    assert status == 207 and b"drop.txt" not in body and b"f.txt" not in body


async def test_upload_link_creates_but_never_overwrites(client: Client) -> None:
    token = (await client.link(permissions="5"))["token"]
    assert (await client.public("PUT", token, "/new.txt", body=b"n"))[0] == 201
    assert (await client.public("PUT", token, "/f.txt", body=b"x"))[0] == 403
    assert (await client.public("GET", token, "/f.txt"))[0] == 200


async def test_deleted_link_stops_working(client: Client) -> None:
    data = await client.link(permissions="1")
    assert (await client.public("GET", data["token"], "/f.txt"))[0] == 200
    status, body = await client.ocs("GET", "einstein", "/shares")
    assert data["id"] in [s["id"] for s in body["ocs"]["data"]]
    status, _ = await client.ocs("DELETE", "einstein", f"/shares/{data['id']}")
    assert status == 200
    assert (await client.public("GET", data["token"], "/f.txt"))[0] == 404
    status, _ = await client.ocs("GET", "einstein", f"/shares/{data['id']}")
    assert status == 404


async def test_others_cannot_manage_a_link(client: Client) -> None:
    data = await client.link(permissions="1")
    status, _ = await client.ocs("DELETE", "marie", f"/shares/{data['id']}")
    assert status == 404
    status, body = await client.ocs("GET", "marie", "/shares")
    assert data["id"] not in [s["id"] for s in body["ocs"]["data"]]


async def test_update_type_expiry_and_name(client: Client) -> None:
    data = await client.link(permissions="1")
    status, body = await client.ocs("PUT", "einstein", f"/shares/{data['id']}",
                                    data={"publicUpload": "true", "expireDate": "2099-01-01",
                                          "name": "renamed"})
    assert status == 200
    updated = body["ocs"]["data"]
    assert updated["permissions"] == 15 and updated["name"] == "renamed"
    assert updated["expiration"].startswith("2099-01-01")
    assert (await client.public("PUT", data["token"], "/w.txt", body=b"w"))[0] == 201
    status, _ = await client.ocs("PUT", "einstein", f"/shares/{data['id']}",
                                 data={"permissions": "2"})
    assert status == 400


async def test_tokeninfo(client: Client) -> None:
    open_link = await client.link(permissions="1")
    status, body = await client.ocs("GET", None, f"/tokeninfo/unprotected/{open_link['token']}")
    info = body["ocs"]["data"]
    assert status == 200 and info["password_protected"] is False
    assert info["space_path"] == "/folder" and info["space_type"] == "personal"
    closed = await client.link(permissions="1", password="Secret123!")
    status, body = await client.ocs("GET", None, f"/tokeninfo/unprotected/{closed['token']}")
    assert status == 200 and body["ocs"]["data"]["password_protected"] is True
    assert "space_path" not in body["ocs"]["data"]
    status, _ = await client.ocs("GET", None, f"/tokeninfo/protected/{closed['token']}",
                                 headers=ocs_headers("public", "nope"))
    assert status == 401
    status, body = await client.ocs("GET", None, f"/tokeninfo/protected/{closed['token']}",
                                    headers=ocs_headers("public", "Secret123!"))
    assert status == 200 and body["ocs"]["data"]["space_path"] == "/folder"


async def test_file_link_names_the_file(client: Client) -> None:
    status, body = await client.ocs("POST", "einstein", "/shares",
                                    data={"shareType": "3", "path": "/folder/f.txt"})
    token = body["ocs"]["data"]["token"]
    assert (await client.public("GET", token, "/f.txt")) == (200, b"data")
    assert (await client.public("GET", token, "")) == (200, b"data")
    assert (await client.public("GET", token, "/other.txt"))[0] == 404
    status, _ = await client.ocs("POST", "einstein", "/shares",
                                 data={"shareType": "3", "path": "/folder/f.txt",
                                       "permissions": "4"})
    assert status == 400


async def test_password_policy(tmp_path: Path) -> None:
    config = make_test_config(tmp_path,
                              OCIS_SHARING_PUBLIC_WRITEABLE_SHARE_MUST_HAVE_PASSWORD="true")
    async with embedded_server(config, only=["ocdav", "frontend"]) as srv, \
            aiohttp.ClientSession() as session:
        c = Client(session, srv.url)
        assert await c.dav("MKCOL", "einstein", "/folder") == 201
        status, body = await c.ocs("POST", "einstein", "/shares",
                                   data={"shareType": "3", "path": "/folder", "permissions": "15"})
        assert status == 400 and body["ocs"]["meta"]["message"] == "missing required password"
        assert (await c.link(permissions="1"))["permissions"] == 1
        assert (await c.link(permissions="15", password="Pw123456!"))["permissions"] == 15
        async with session.get(srv.url + "/ocs/v2.php/cloud/capabilities",
                               params={"format": "json"}) as resp:
            caps = (await resp.json())["ocs"]["data"]["capabilities"]["files_sharing"]["public"]
        assert caps["password"]["enforced_for"]["read_write"] is True
        assert caps["password"]["enforced_for"]["read_only"] is False


async def test_edit_link_moves_and_copies_inside_the_link_only(client: Client) -> None:
    token = (await client.link(permissions="15"))["token"]
    base = f"{client.url}/dav/public-files/{token}"
    status, _ = await client.public("MOVE", token, "/f.txt",
                                    headers={"Destination": f"{base}/sub/moved.txt"})
    assert status == 201
    assert await client.dav("GET", "einstein", "/folder/sub/moved.txt") == 200
    status, _ = await client.public("COPY", token, "/sub/moved.txt",
                                    headers={"Destination": f"{base}/copy.txt"})
    assert status == 201
    status, _ = await client.public(
        "MOVE", token, "/copy.txt",
        headers={"Destination": f"{client.url}/remote.php/webdav/stolen.txt"})
    assert status == 502
    view = (await client.link(permissions="1"))["token"]
    status, _ = await client.public(
        "COPY", view, "/copy.txt",
        headers={"Destination": f"{client.url}/dav/public-files/{view}/again.txt"})
    assert status == 403


async def test_propfind_shows_share_type_3_to_the_owner(client: Client) -> None:
    await client.link(permissions="1")
    async with client.session.request(
            "PROPFIND", client.url + "/remote.php/webdav/", headers={
                **ocs_headers("einstein"), "Depth": "1"},
            data=b'<?xml version="1.0"?><d:propfind xmlns:d="DAV:" '
                 b'xmlns:oc="http://owncloud.org/ns"><d:prop><oc:share-types/></d:prop>'
                 b'</d:propfind>') as resp:
        body = await resp.text()
    assert resp.status == 207
    folder = body.split("/remote.php/webdav/folder/")[1].split("</d:response>")[0]
    assert "<oc:share-type>3</oc:share-type>" in folder


async def test_tus_creation_follows_the_link_bits(client: Client) -> None:
    def tus(name: str) -> dict[str, str]:
        return {"Tus-Resumable": "1.0.0", "Upload-Length": "3",
                "Upload-Metadata": "filename " + base64.b64encode(name.encode()).decode()}
    view = (await client.link(permissions="1"))["token"]
    assert (await client.public("POST", view, "/", headers=tus("n.txt")))[0] == 403
    upload = (await client.link(permissions="5"))["token"]
    assert (await client.public("POST", upload, "/", headers=tus("f.txt")))[0] == 403
    assert (await client.public("POST", upload, "/", headers=tus("n.txt")))[0] == 201
    drop = (await client.link(permissions="4"))["token"]
    assert (await client.public("POST", drop, "/", headers=tus("/sub/n.txt")))[0] == 403
    for content in (b"one", b"two"):       # creation-with-upload, the same name twice
        headers = {**tus("f.txt"), "Content-Type": "application/offset+octet-stream"}
        assert (await client.public("POST", drop, "/", headers=headers, body=content))[0] == 201
    async with client.session.get(client.url + "/remote.php/webdav/folder/f (3).txt",
                                  headers=ocs_headers("einstein")) as resp:
        assert await resp.read() == b"two"
    async with client.session.get(client.url + "/remote.php/webdav/folder/f.txt",
                                  headers=ocs_headers("einstein")) as resp:
        assert await resp.read() == b"data"


async def test_upload_over_the_sharers_quota_is_507(client: Client) -> None:
    token = (await client.link(permissions="4"))["token"]
    storage = client.srv.ctx.storage  # type: ignore[attr-defined]
    einstein = await client.srv.ctx.users.get_by_name("einstein")  # type: ignore[attr-defined]
    space = await storage.get_space(einstein.id)
    await storage.update_space(space.id, quota_total=space.used + 10)
    assert (await client.public("PUT", token, "/big.bin", body=b"x" * 100))[0] == 507
    assert (await client.public("PUT", token, "/small.bin", body=b"x"))[0] == 201


async def test_personal_space_root_cannot_be_linked(client: Client) -> None:
    status, body = await client.ocs("POST", "einstein", "/shares",
                                    data={"shareType": "3", "path": "/"})
    assert status == 400 and body["ocs"]["meta"]["message"] == "Can not share space root"


async def test_one_quicklink_per_resource(client: Client) -> None:
    first = await client.link(quicklink="true")
    again = await client.link(quicklink="true")
    other = await client.link()
    assert first["quicklink"] is True and again["id"] == first["id"]
    assert other["id"] != first["id"] and other["quicklink"] is False


async def test_anonymous_propfind_shows_no_login_name_and_nothing_outside_the_link(
        client: Client) -> None:
    """oCIS shows the owner's display name at most: not the login name, not the space, not the
    parent of the link's root, not private links (meant for signed-in users)."""
    async with client.session.request(
            "PROPFIND", client.url + "/remote.php/dav/files/einstein/", headers={
                **ocs_headers("einstein"), "Depth": "1"}) as resp:
        home = await resp.text()
    srv = client.srv  # type: ignore[attr-defined]
    einstein = await srv.ctx.users.get_by_name("einstein")
    folder_id = re.search(r"<d:href>[^<]*/folder/</d:href><d:propstat><d:prop>"
                          r"<oc:id>([^<]+)</oc:id>", home)
    assert folder_id is not None, home
    async with client.session.request(
            "PROPFIND", client.url + "/remote.php/webdav/folder/sub/", headers={
                **ocs_headers("einstein"), "Depth": "0"}) as resp:
        assert resp.status == 207 and folder_id.group(1) in await resp.text()   # its parent
    status, data = await client.ocs("POST", "einstein", "/shares", data={
        "shareType": "3", "path": "/folder/sub", "permissions": "1"})
    assert status == 200
    token = data["ocs"]["data"]["token"]
    assert await client.dav("PUT", "einstein", "/folder/sub/in.txt", b"x") == 201
    explicit = (b'<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">'
                b"<d:prop><oc:owner-id/><oc:owner-display-name/><oc:spaceid/><oc:file-parent/>"
                b"<oc:privatelink/><oc:fileid/></d:prop></d:propfind>")
    for body in (b"", explicit):
        status, raw = await client.public("PROPFIND", token, "/", body=body,
                                          headers={"Depth": "1"})
        text = raw.decode()
        assert status == 207 and "in.txt" in text
        assert "einstein" not in text.lower().replace("albert einstein", "")   # no login name
        assert "Albert Einstein" in text                        # the display name is shown
        assert "<oc:owner-id>" not in text and "<oc:spaceid>" not in text
        assert "<oc:privatelink>" not in text and "/f/" not in text
        assert folder_id.group(1) not in text                   # the parent outside the link
        assert f"<oc:spaceid>{einstein.id}" not in text
    # the owner's own view keeps them all
    async with client.session.request(
            "PROPFIND", client.url + "/remote.php/webdav/folder/sub/", data=explicit,
            headers={**ocs_headers("einstein"), "Depth": "0"}) as resp:
        own = await resp.text()
    assert "<oc:owner-id>einstein</oc:owner-id>" in own and "<oc:spaceid>" in own
