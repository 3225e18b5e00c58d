"""Federated shares through the OCS share API (share type 6) between two real instances: Einstein
at zurich shares with marie@paris.test, lists, changes the role, removes; paris's registry entry
follows each step through `/ocm/notifications` (`SHARE_CHANGE_PERMISSION`, `SHARE_UNSHARED`),
and Marie's next request with the secret fails at once. The capability `files_sharing.federation`
says whether it is on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ocis_server.runtime import EmbeddedServer, embedded_server, make_test_config
from ocis_server.sharing import federated
from ocis_server.storage import RemoteShare
from ocm_peers import zurich_and_paris

Pair = tuple[EmbeddedServer, EmbeddedServer]
EINSTEIN = aiohttp.BasicAuth("einstein", "relativity")
API = "/ocs/v2.php/apps/files_sharing/api/v1/shares"


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[Pair]:
    async with zurich_and_paris(tmp_path, OCM_REQUIRE_INVITE="false") as both:
        yield both


async def call(method: str, url: str, *, auth: aiohttp.BasicAuth | None = EINSTEIN,
               data: dict[str, str] | bytes | None = None,
               headers: dict[str, str] | None = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.request(
            method, url, auth=auth, data=data, headers=headers or {},
            params={"format": "json"} if "/ocs/" in url else None) as resp:
        if "/ocs/" in url:
            return resp.status, await resp.json()
        return resp.status, await resp.text()


async def entries(paris: EmbeddedServer) -> list[RemoteShare]:
    marie = await paris.ctx.users.get_by_name("marie")
    return await federated.received(paris.ctx, marie)


async def test_ocs_federated_share_lifecycle(pair: Pair) -> None:
    zurich, paris = pair
    dav = f"{zurich.url}/remote.php/webdav"
    assert (await call("MKCOL", f"{dav}/Physics"))[0] == 201
    assert (await call("PUT", f"{dav}/Physics/a.txt", data=b"E=mc2"))[0] == 201
    caps = (await call("GET", f"{zurich.url}/ocs/v2.php/cloud/capabilities"))[1]
    assert caps["ocs"]["data"]["capabilities"]["files_sharing"]["federation"] == {
        "outgoing": True, "incoming": True}

    status, body = await call("POST", zurich.url + API, data={
        "shareType": "6", "path": "/Physics", "shareWith": "marie@paris.test", "role": "editor"})
    assert status == 200, body
    record = body["ocs"]["data"]
    assert (record["share_type"], record["share_with"], record["permissions"]) == (
        6, "marie@paris.test", 15)
    assert record["path"] == "/Physics" and record["token"] == "" and record["item_type"] == "folder"
    share_id = record["id"]
    [entry] = await entries(paris)
    assert (entry.provider_id, entry.permissions) == (share_id, ("read", "write"))
    assert "secret" not in str(body) and entry.secret not in str(body)
    marie = {"Authorization": f"Bearer {entry.secret}"}

    listed = (await call("GET", zurich.url + API))[1]["ocs"]["data"]
    assert [(s["id"], s["share_type"], s["share_with"]) for s in listed] == [
        (share_id, 6, "marie@paris.test")]
    assert (await call("GET", zurich.url + API + "?share_types=6"))[1]["ocs"]["data"] == listed
    assert (await call("GET", zurich.url + API + "?share_types=0,3"))[1]["ocs"]["data"] == []
    got = (await call("GET", f"{zurich.url}{API}/{share_id}"))[1]["ocs"]["data"]
    assert got[0]["share_with"] == "marie@paris.test"
    # Marie writes through paris's entry; then Einstein makes her a viewer.
    assert (await call("PUT", entry.uri + "/b.txt", auth=None, data=b"b", headers=marie))[0] == 201
    status, body = await call("PUT", f"{zurich.url}{API}/{share_id}", data={"role": "viewer"})
    assert status == 200 and body["ocs"]["data"]["permissions"] == 1
    assert [e.permissions for e in await entries(paris)] == [("read",)]
    assert (await call("PUT", entry.uri + "/c.txt", auth=None, data=b"c", headers=marie))[0] == 403
    assert (await call("GET", entry.uri + "/b.txt", auth=None, headers=marie)) == (200, "b")
    # Marie at zurich may not see or change Einstein's federated share.
    marie_z = aiohttp.BasicAuth("marie", "radioactivity")
    assert (await call("GET", f"{zurich.url}{API}/{share_id}", auth=marie_z))[0] == 404
    assert (await call("DELETE", f"{zurich.url}{API}/{share_id}", auth=marie_z))[0] == 404
    # Removal: paris's entry goes, the secret opens nothing.
    assert (await call("DELETE", f"{zurich.url}{API}/{share_id}"))[0] == 200
    assert await entries(paris) == []
    assert (await call("GET", entry.uri + "/b.txt", auth=None, headers=marie))[0] == 404
    assert (await call("GET", zurich.url + API))[1]["ocs"]["data"] == []


async def test_ocs_federated_refusals(pair: Pair) -> None:
    zurich, paris = pair
    dav = f"{zurich.url}/remote.php/webdav"
    assert (await call("MKCOL", f"{dav}/Physics"))[0] == 201
    assert (await call("PUT", f"{dav}/notes.txt", data=b"n"))[0] == 201

    async def post(**form: str) -> tuple[int, Any]:
        return await call("POST", zurich.url + API, data={"shareType": "6", **form})

    status, body = await post(path="/Physics", shareWith="marie@lyon.test")
    assert status == 400 and "'lyon.test' is not a trusted OCM provider (not listed in " \
        "ocmproviders.json)" in body["ocs"]["meta"]["message"]
    status, body = await post(path="/Physics", shareWith="nobody@paris.test")
    assert status == 502 and "paris.test refused the share" in body["ocs"]["meta"]["message"]
    status, body = await post(path="/Physics", shareWith="marie@paris.test", role="uploader")
    assert status == 400 and "not applicable" in body["ocs"]["meta"]["message"]
    status, body = await post(path="/Physics", shareWith="not-an-address")
    assert status == 400
    assert (await call("GET", zurich.url + API))[1]["ocs"]["data"] == []    # nothing recorded
    # reva's form (shareWithUser + shareWithProvider) and permissions instead of a role; a file
    # with write permissions becomes File Editor.
    status, body = await post(path="/notes.txt", shareWithUser="marie",
                              shareWithProvider="paris.test", permissions="3")
    assert status == 200 and body["ocs"]["data"]["permissions"] == 3
    status, _ = await post(path="/notes.txt", shareWith="marie@paris.test")
    assert status == 403                                           # already shared with her
    # The own domain names the local user: an ordinary user share (type 0) with marie here.
    status, body = await post(path="/Physics", shareWith="marie@zurich.test", role="viewer")
    assert status == 200 and (body["ocs"]["data"]["share_type"],
                              body["ocs"]["data"]["share_with"]) == (0, "marie")
    assert len(await entries(paris)) == 1


async def test_federation_off_refuses_type_6(tmp_path: Path) -> None:
    async with embedded_server(make_test_config(tmp_path / "plain")) as plain:
        caps = (await call("GET", f"{plain.url}/ocs/v2.php/cloud/capabilities"))[1]
        assert caps["ocs"]["data"]["capabilities"]["files_sharing"]["federation"] == {
            "outgoing": False, "incoming": False}
        assert (await call("MKCOL", f"{plain.url}/remote.php/webdav/P"))[0] == 201
        status, body = await call("POST", plain.url + API, data={
            "shareType": "6", "path": "/P", "shareWith": "marie@paris.test"})
        assert status == 400 and "OCIS_ENABLE_OCM" in body["ocs"]["meta"]["message"]


async def test_change_permission_notification_needs_the_secret(pair: Pair) -> None:
    zurich, paris = pair
    assert (await call("MKCOL", f"{zurich.url}/remote.php/webdav/Physics"))[0] == 201
    status, body = await call("POST", zurich.url + API, data={
        "shareType": "6", "path": "/Physics", "shareWith": "marie@paris.test"})
    share_id = body["ocs"]["data"]["id"]
    [entry] = await entries(paris)
    assert entry.permissions == ("read",)

    def note(secret: str, permissions: Any) -> dict[str, Any]:
        return {"notificationType": "SHARE_CHANGE_PERMISSION", "resourceType": "folder",
                "providerId": share_id, "notification": {
                    "sharedSecret": secret,
                    "protocols": {"webdav": {"permissions": permissions}}}}

    async def notify(payload: dict[str, Any]) -> int:
        async with aiohttp.ClientSession() as session, session.post(
                f"{paris.url}/ocm/notifications", json=payload) as resp:
            return resp.status

    assert await notify(note("wrong", ["read", "write"])) == 403
    assert await notify(note(entry.secret, ["read", "root"])) == 400
    assert await notify(note(entry.secret, "read")) == 400
    assert [e.permissions for e in await entries(paris)] == [("read",)]
    assert await notify(note(entry.secret, ["read", "write"])) == 201
    assert [e.permissions for e in await entries(paris)] == [("read", "write")]


async def test_marie_at_paris_loses_write_then_access_at_once(pair: Pair) -> None:
    """Story step 5 end to end: Marie works in the remote space through paris with her paris
    login; Einstein lowers the role at zurich, then removes the share; her very next request
    through paris is refused (403, then 404), within a second."""
    import time

    zurich, paris = pair
    assert (await call("MKCOL", f"{zurich.url}/remote.php/webdav/Physics"))[0] == 201
    status, body = await call("POST", zurich.url + API, data={
        "shareType": "6", "path": "/Physics", "shareWith": "marie@paris.test", "role": "editor"})
    share_id = body["ocs"]["data"]["id"]
    marie_p = aiohttp.BasicAuth("marie", "radioactivity")
    [entry] = await entries(paris)
    marie = await paris.ctx.users.get_by_name("marie")
    await federated.answer(paris.ctx, marie, entry.id, "accepted")
    space = f"{paris.url}/dav/spaces/{federated.space_id(entry)}"
    assert (await call("PUT", f"{space}/m.txt", auth=marie_p, data=b"m"))[0] == 201
    assert await call("GET", f"{zurich.url}/remote.php/webdav/Physics/m.txt") == (200, "m")

    status, _ = await call("PUT", f"{zurich.url}{API}/{share_id}", data={"role": "viewer"})
    started = time.monotonic()
    assert (await call("PUT", f"{space}/m.txt", auth=marie_p, data=b"x"))[0] == 403
    assert time.monotonic() - started < 1.0
    assert await call("GET", f"{space}/m.txt", auth=marie_p) == (200, "m")

    assert (await call("DELETE", f"{zurich.url}{API}/{share_id}"))[0] == 200
    started = time.monotonic()
    assert (await call("GET", f"{space}/m.txt", auth=marie_p))[0] == 404
    assert time.monotonic() - started < 1.0
    assert await call("GET", f"{zurich.url}/remote.php/webdav/Physics/m.txt") == (200, "m")
