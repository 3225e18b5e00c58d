"""Public links through sharing NG (protocol-notes.md §6, §9, §13 #22): createLink, links in
permissions, PATCH type/expiry/name, setPassword, DELETE, the password policy, and the link at
work over /dav/public-files."""

from __future__ import annotations

import base64
from pathlib import Path

import aiohttp
import pytest
from graph_sharing_helpers import B, Client, invite_body, split

from ocis_server.domain import roles
from ocis_server.runtime import embedded_server, make_test_config


async def _client(session: aiohttp.ClientSession, url: str) -> Client:
    c = Client(session, url)
    for user in ("einstein", "marie"):
        _, me = await c.call("GET", user, "/graph/v1.0/me")
        c.ids[user] = me["id"]
    assert (await c.dav("MKCOL", "einstein", "/remote.php/webdav/folder")).status == 201
    assert (await c.dav("PUT", "einstein", "/remote.php/webdav/folder/f.txt", b"data")).status == 201
    assert (await c.dav("PUT", "einstein", "/remote.php/webdav/file.txt", b"file")).status == 201
    return c


@pytest.fixture
async def client(tmp_path: Path):
    config = make_test_config(tmp_path)
    async with embedded_server(config, only=["ocdav", "graph"]) as srv, \
            aiohttp.ClientSession() as session:
        yield await _client(session, srv.url)


def public(password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"public:{password}".encode()).decode()}


async def public_status(client: Client, method: str, token: str, path: str = "",
                        password: str | None = None, body: bytes = b"") -> int:
    headers = {"Depth": "1", **(public(password) if password is not None else {})}
    async with client.session.request(method, f"{client.url}/dav/public-files/{token}{path}",
                                      data=body or None, headers=headers) as resp:
        await resp.read()
        return resp.status


async def test_create_link_and_use_it(client: Client) -> None:
    drive, item = split(await client.item_id("einstein", "/folder"))
    base = f"{B}/drives/{drive}/items/{item}"
    status, perm = await client.call("POST", "einstein", base + "/createLink",
                                     {"type": "view", "password": "Secret123!",
                                      "displayName": "for the team"})
    assert status == 200, perm
    assert perm["hasPassword"] is True and perm["link"]["type"] == "view"
    assert perm["link"]["@libre.graph.displayName"] == "for the team"
    url = perm["link"]["webUrl"]
    assert url.startswith(client.url + "/s/")
    token = url.rsplit("/", 1)[1]
    assert len(token) >= 15
    assert await public_status(client, "PROPFIND", token, "/", "Secret123!") == 207
    assert await public_status(client, "PROPFIND", token, "/", "wrong") == 401
    assert await public_status(client, "PUT", token, "/new.txt", "Secret123!", b"x") == 403

    _, listing = await client.call("GET", "einstein", base + "/permissions")
    assert [p["id"] for p in listing["value"]] == [perm["id"]]

    status, patched = await client.call("PATCH", "einstein", f"{base}/permissions/{perm['id']}",
                                        {"link": {"type": "edit"},
                                         "expirationDateTime": "2099-01-01T00:00:00Z"})
    assert status == 200 and patched["link"]["type"] == "edit"
    assert patched["expirationDateTime"].startswith("2099-01-01")
    assert await public_status(client, "PUT", token, "/new.txt", "Secret123!", b"x") == 201

    status, changed = await client.call("POST", "einstein",
                                        f"{base}/permissions/{perm['id']}/setPassword",
                                        {"password": "Other456!"})
    assert status == 200 and changed["hasPassword"] is True
    assert await public_status(client, "PROPFIND", token, "/", "Secret123!") == 401
    assert await public_status(client, "PROPFIND", token, "/", "Other456!") == 207
    status, cleared = await client.call("POST", "einstein",
                                        f"{base}/permissions/{perm['id']}/setPassword",
                                        {"password": ""})
    assert status == 200 and cleared["hasPassword"] is False

    status, _ = await client.call("DELETE", "einstein", f"{base}/permissions/{perm['id']}")
    assert status == 204
    assert await public_status(client, "PROPFIND", token, "/", "Other456!") in (401, 404)
    _, listing = await client.call("GET", "einstein", base + "/permissions")
    assert listing["value"] == []


async def test_link_errors_and_rights(client: Client) -> None:
    drive, folder = split(await client.item_id("einstein", "/folder"))
    _, file_item = split(await client.item_id("einstein", "/file.txt"))
    for body, item in (({"type": "upload"}, file_item), ({"type": "createOnly"}, file_item),
                       ({"type": "nope"}, folder), ({"type": "view", "password": 5}, folder),
                       ({"type": "view", "expirationDateTime": "2000-01-01T00:00:00Z"}, folder),
                       ({"type": "view", "@libre.graph.quickLink": "yes"}, folder)):
        status, answer = await client.call("POST", "einstein",
                                           f"{B}/drives/{drive}/items/{item}/createLink", body)
        assert status == 400, (body, answer)
    status, drop = await client.call("POST", "einstein",
                                     f"{B}/drives/{drive}/items/{folder}/createLink",
                                     {"type": "createOnly"})
    assert status == 200 and drop["link"]["type"] == "createOnly"
    # a viewer through a share may neither create links nor see or change them
    _, body = await client.call("POST", "einstein", f"{B}/drives/{drive}/items/{folder}/invite",
                                invite_body(client.ids["marie"], roles.VIEWER))
    assert body["value"]
    status, _ = await client.call("POST", "marie", f"{B}/drives/{drive}/items/{folder}/createLink",
                                  {"type": "view"})
    assert status == 403
    status, _ = await client.call(
        "POST", "marie", f"{B}/drives/{drive}/items/{folder}/permissions/{drop['id']}/setPassword",
        {"password": "x"})
    assert status == 403
    status, _ = await client.call(
        "POST", "einstein",
        f"{B}/drives/{drive}/items/{folder}/permissions/{drive}:nope:nope/setPassword",
        {"password": "x"})
    assert status == 404


async def test_password_policy(tmp_path: Path) -> None:
    config = make_test_config(tmp_path, OCIS_SHARING_PUBLIC_WRITEABLE_SHARE_MUST_HAVE_PASSWORD="true")
    async with embedded_server(config, only=["ocdav", "graph"]) as srv, \
            aiohttp.ClientSession() as session:
        client = await _client(session, srv.url)
        drive, folder = split(await client.item_id("einstein", "/folder"))
        url = f"{B}/drives/{drive}/items/{folder}/createLink"
        status, body = await client.call("POST", "einstein", url, {"type": "edit"})
        assert status == 400 and body["error"]["message"] == "missing required password"
        status, view = await client.call("POST", "einstein", url, {"type": "view"})
        assert status == 200
        status, _ = await client.call(
            "PATCH", "einstein", f"{B}/drives/{drive}/items/{folder}/permissions/{view['id']}",
            {"link": {"type": "edit"}})
        assert status == 400
        status, edit = await client.call("POST", "einstein", url,
                                         {"type": "edit", "password": "Secret123!"})
        assert status == 200
        status, _ = await client.call(
            "POST", "einstein",
            f"{B}/drives/{drive}/items/{folder}/permissions/{edit['id']}/setPassword",
            {"password": ""})
        assert status == 400
