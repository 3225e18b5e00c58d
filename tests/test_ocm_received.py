"""What Marie at paris sees of a share einstein@zurich.test sent her over OCM: OCS lists it
among her shares with me (share type 6, pending, owner `einstein@zurich.test`) and under
ownCloud's `remote_shares` endpoints; she accepts or declines it with either API (the one verb
`shares/pending/<id>` serves both kinds, as in reva); Graph `sharedWithMe` shows it; nobody
else can see or answer it; the shared secret is never shown to her."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from test_ocm_shares import SHARE, changed

from ocis_server.domain.ids import OCM_STORAGE_ID
from ocis_server.runtime import EmbeddedServer, embedded_server, make_test_config
from ocm_peers import write_providers

ZURICH = "https://cloud.zurich.test"
OCS = "/ocs/v2.php/apps/files_sharing/api/v1"
MARIE = aiohttp.BasicAuth("marie", "radioactivity")
EINSTEIN = aiohttp.BasicAuth("einstein", "relativity")

Paris = tuple[EmbeddedServer, aiohttp.ClientSession]


@pytest.fixture
async def paris(tmp_path: Path) -> AsyncIterator[Paris]:
    providers = write_providers(tmp_path / "ocmproviders.json", {"zurich.test": ZURICH})
    config = make_test_config(tmp_path / "paris", OCIS_ENABLE_OCM="true", OCM_REQUIRE_INVITE="false", OCM_DOMAIN="paris.test",
                              OCM_OCM_PROVIDER_AUTHORIZER_PROVIDERS_FILE=str(providers),
                              OCM_CLIENT_CONNECT_TIMEOUT="1", OCM_CLIENT_TIMEOUT="2")
    async with embedded_server(config) as srv, aiohttp.ClientSession() as http:
        yield srv, http


async def receive(srv: EmbeddedServer, http: aiohttp.ClientSession, **fields: Any) -> None:
    async with http.post(f"{srv.url}/ocm/shares", json=changed(**fields) if fields else SHARE) as r:
        assert r.status == 201, await r.text()


async def ocs(srv: EmbeddedServer, http: aiohttp.ClientSession, method: str, path: str,
              auth: aiohttp.BasicAuth = MARIE, version: str = "v2") -> tuple[int, Any]:
    url = f"{srv.url}{OCS.replace('v2', version, 1)}/{path}"
    sep = "&" if "?" in url else "?"
    async with http.request(method, f"{url}{sep}format=json", auth=auth) as resp:
        body = await resp.json()
        return resp.status, body["ocs"]


async def test_pending_share_in_ocs_share_api_and_accept(paris: Paris) -> None:
    srv, http = paris
    await receive(srv, http)
    status, body = await ocs(srv, http, "GET", "shares?shared_with_me=true&state=1")
    assert status == 200
    [share] = body["data"]
    space = share["space_id"]
    assert space.startswith(f"{OCM_STORAGE_ID}$") and share["id"].startswith("ocm:")
    assert (share["share_type"], share["state"], share["uid_owner"], share["uid_file_owner"]) == (
        6, 1, "einstein@zurich.test", "einstein@zurich.test")
    assert (share["displayname_owner"], share["share_with"]) == ("Albert Einstein", "marie")
    assert (share["path"], share["item_type"], share["permissions"]) == (
        "/Shares/Physics", "folder", 15)
    assert share["item_source"] == f"{space}!Lw=="
    assert "hfiuhworzwnur98d3wjiwhr" not in str(body)       # the secret never leaves paris
    # accepted (the default listing) is empty until she accepts
    assert (await ocs(srv, http, "GET", "shares?shared_with_me=true"))[1]["data"] == []
    # nobody else sees or answers it
    assert (await ocs(srv, http, "GET", "shares?shared_with_me=true&state=all",
                      auth=EINSTEIN))[1]["data"] == []
    status, body = await ocs(srv, http, "POST", f"shares/pending/{share['id']}", auth=EINSTEIN)
    assert (status, body["meta"]["statuscode"]) == (404, 998)
    # she accepts with the verb of local shares
    status, body = await ocs(srv, http, "POST", f"shares/pending/{share['id']}")
    assert status == 200 and body["data"][0]["state"] == 0
    [accepted] = (await ocs(srv, http, "GET", "shares?shared_with_me=true"))[1]["data"]
    assert accepted["id"] == share["id"]
    status, body = await ocs(srv, http, "GET", f"shares/{share['id']}")
    assert status == 200 and body["data"][0]["state"] == 0
    # and declines it again; a DELETE of the share declines too
    status, body = await ocs(srv, http, "DELETE", f"shares/pending/{share['id']}")
    assert status == 200 and body["data"][0]["state"] == 2
    status, _ = await ocs(srv, http, "DELETE", f"shares/{share['id']}")
    assert status == 200
    [declined] = (await ocs(srv, http, "GET", "shares?shared_with_me=true&state=2"))[1]["data"]
    assert declined["id"] == share["id"]


async def test_remote_shares_endpoints(paris: Paris) -> None:
    srv, http = paris
    await receive(srv, http)
    await receive(srv, http, providerId="share-2", name="notes.txt", resourceType="file",
                  protocol__webdav__permissions=["read"])
    status, body = await ocs(srv, http, "GET", "remote_shares/pending", version="v1")
    assert (status, body["meta"]["statuscode"]) == (200, 100)
    pending = {s["name"]: s for s in body["data"]}
    assert set(pending) == {"/Physics", "/notes.txt"}
    physics = pending["/Physics"]
    assert (physics["owner"], physics["remote"], physics["remote_id"], physics["accepted"]) == (
        "einstein", f"{ZURICH}/", SHARE["providerId"], 0)
    assert (physics["type"], pending["/notes.txt"]["type"]) == ("dir", "file")
    assert pending["/notes.txt"]["permissions"] == 1 and physics["share_token"] == ""
    assert (await ocs(srv, http, "GET", "remote_shares"))[1]["data"] == []

    status, body = await ocs(srv, http, "POST", f"remote_shares/pending/{physics['id']}")
    assert (status, body["data"]) == (200, None)
    status, body = await ocs(srv, http, "DELETE",
                             f"remote_shares/pending/{pending['/notes.txt']['id']}")
    assert status == 200
    [listed] = (await ocs(srv, http, "GET", "remote_shares"))[1]["data"]
    assert (listed["id"], listed["accepted"], listed["mountpoint"]) == (
        physics["id"], 1, "/Shares/Physics")
    assert (await ocs(srv, http, "GET", "remote_shares/pending"))[1]["data"] == []
    status, body = await ocs(srv, http, "GET", f"remote_shares/{physics['id']}")
    assert status == 200 and body["data"]["name"] == "/Physics"

    # unknown or someone else's ids: 404 with ownCloud's messages
    for method, path, message in (
            ("GET", "remote_shares/ocm:nope", "share does not exist"),
            ("POST", "remote_shares/pending/ocm:nope", "wrong share ID, share doesn't exist."),
            ("DELETE", "remote_shares/pending/ocm:nope", "wrong share ID, share doesn't exist."),
            ("DELETE", f"remote_shares/{physics['id']}", "Share does not exist")):
        auth = EINSTEIN if "physics" in path or physics["id"] in path else MARIE
        status, body = await ocs(srv, http, method, path, auth=auth)
        assert (status, body["meta"]["message"]) == (404, message), (method, path)
        status, body = await ocs(srv, http, method, path, auth=auth, version="v1")
        assert (status, body["meta"]["statuscode"]) == (200, 998)

    # removing it from her registry: gone from every listing
    status, _ = await ocs(srv, http, "DELETE", f"remote_shares/{physics['id']}")
    assert status == 200
    assert (await ocs(srv, http, "GET", "remote_shares"))[1]["data"] == []
    assert [s["name"] for s in (await ocs(srv, http, "GET",
                                          "shares?shared_with_me=true&state=all"))[1]["data"]] \
        == ["notes.txt"]


async def test_graph_shared_with_me(paris: Paris) -> None:
    srv, http = paris
    await receive(srv, http)
    async with http.get(f"{srv.url}/graph/v1beta1/me/drive/sharedWithMe", auth=MARIE) as resp:
        assert resp.status == 200
        [item] = (await resp.json())["value"]
    remote = item["remoteItem"]
    assert item["name"] == "Physics" and item["@client.synchronize"] is False
    assert item["id"].startswith(f"{OCM_STORAGE_ID}$") and "folder" in item
    owner = remote["shared"]["owner"]["user"]
    assert owner == {"id": "einstein@zurich.test", "displayName": "Albert Einstein",
                     "@libre.graph.userType": "Federated"}
    assert remote["permissions"][0]["roles"] == ["fb6c3e19-e378-47e5-b277-9732f9de6e21"]  # editor
    async with http.get(f"{srv.url}/graph/v1beta1/me/drive/sharedWithMe",
                        auth=EINSTEIN) as resp:
        assert (await resp.json())["value"] == []
