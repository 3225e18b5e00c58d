"""The OCS frontend as clients see it: capabilities (JSON and XML, v1 and v2), cloud/user,
cloud/users, config, and the OCS error envelope."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from kit import ADMIN, ALICE, BOB, STORAGE_ID, Ocs, memory_users, root_app

from ocis_server import PRODUCT_VERSION
from ocis_server.config import load_config
from ocis_server.services.context import ServiceContext
from ocis_server.services.frontend.app import create_app
from ocis_server.storage.sqlite import SqliteStorage


@pytest.fixture
async def storage(tmp_path):
    store = await SqliteStorage.open(tmp_path / "storage", STORAGE_ID)
    yield store
    await store.close()


@pytest.fixture
async def client(aiohttp_client, storage, tmp_path):
    config = load_config({"OCIS_CONFIG_DIR": str(tmp_path / "cfg"),
                          "OCIS_BASE_DATA_PATH": str(tmp_path),
                          "OCIS_URL": "https://cloud.example.test:9200/"})
    users = await memory_users(ALICE, BOB, ADMIN)
    ctx = ServiceContext(config, storage, users)
    return await aiohttp_client(root_app(users, ("/ocs", create_app(ctx, "/ocs"))))


async def get_json(client, path, *, status=200, user="alice"):
    resp = await Ocs(client, user).get(path, status, params={"format": "json"})
    assert resp.content_type == "application/json"
    return resp, json.loads(resp.data)["ocs"]


async def get_xml(client, path, *, status=200, user="alice"):
    resp = await Ocs(client, user).get(path, status)
    assert "xml" in resp.content_type
    return resp, ET.fromstring(resp.data)


# --- capabilities ----------------------------------------------------------------------------

@pytest.mark.parametrize("version, code", [(1, 100), (2, 200)])
async def test_capabilities_json_unauthenticated(client, version, code):
    resp, body = await get_json(client, f"/ocs/v{version}.php/cloud/capabilities", user=None)
    assert resp.headers["Ocs-Api-Version"] == str(version)
    assert body["meta"] == {"status": "ok", "statuscode": code, "message": "OK"}
    caps = body["data"]["capabilities"]
    status = caps["core"]["status"]
    # owncloudcmd: server version must be >= 10.0.0, and checksums drive OC-Checksum.
    assert status["version"] == "10.11.0.0" and status["versionstring"] == "10.11.0"
    assert status["installed"] is True and status["maintenance"] is False
    assert status["productversion"] == PRODUCT_VERSION
    assert status["product"] == "Infinite Scale" and status["edition"] == "Community"
    assert status["hostname"] == "cloud.example.test"
    assert caps["core"]["pollinterval"] == 60
    assert caps["core"]["webdav-root"] == "remote.php/webdav"
    assert caps["checksums"] == {"supportedTypes": ["sha1", "md5", "adler32"],
                                 "preferredUploadType": "SHA1"}
    assert caps["spaces"]["enabled"] is True and caps["spaces"]["version"] == "1.0.0"
    assert caps["files"]["bigfilechunking"] is True   # owncloudcmd's chunkingNg() needs it
    assert caps["files"]["blacklisted_files"] == [".htaccess"]
    assert caps["files_sharing"]["api_enabled"] is True
    version_data = body["data"]["version"]
    assert (version_data["major"], version_data["minor"], version_data["micro"]) == (10, 11, 0)
    assert version_data["string"] == "10.11.0" and version_data["edition"] == "Community"


async def test_capabilities_advertise_tus_and_chunking(client):
    # max_chunk_size 0: owncloudcmd 2.11 sends each file in one TUS request (0002-uploads.md).
    _, body = await get_json(client, "/ocs/v1.php/cloud/capabilities")
    caps = body["data"]["capabilities"]
    assert caps["files"]["tus_support"] == {
        "version": "1.0.0", "resumable": "1.0.0", "extension": "creation,creation-with-upload",
        "max_chunk_size": 0, "http_method_override": ""}
    assert caps["dav"]["chunking"] == "1.0"


# Checksum names as the desktop engines compare them, case-sensitively (src/common/checksums.cpp).
ENGINE_CHECKSUM_NAMES = frozenset({"SHA1", "MD5", "Adler32", "SHA256", "SHA3-256"})


async def test_preferred_checksum_is_spelled_as_the_desktop_engines_spell_it(client):
    # nextcloudcmd 3.7 computes a download's content checksum in preferredUploadType and, when
    # the mtime second did not change, compares it with the local file's: with "sha1" (unknown to
    # it) both come out empty, compare equal, and the server's edit is silently dropped.
    _, body = await get_json(client, "/ocs/v1.php/cloud/capabilities")
    checksums = body["data"]["capabilities"]["checksums"]
    assert checksums["preferredUploadType"] in ENGINE_CHECKSUM_NAMES
    # The type of the OC-Checksum header a GET carries ("SHA1:..."), so it is reused as is.
    assert checksums["preferredUploadType"] == "SHA1"
    assert checksums["preferredUploadType"].lower() in checksums["supportedTypes"]


@pytest.mark.parametrize("version, code", [(1, "100"), (2, "200")])
async def test_capabilities_xml(client, version, code):
    # pyocclient never sends format=json and needs statuscode plus data/version/{string,edition}.
    resp, root = await get_xml(client, f"/ocs/v{version}.php/cloud/capabilities", user=None)
    assert resp.headers["Ocs-Api-Version"] == str(version)
    assert root.tag == "ocs"
    assert root.findtext("meta/status") == "ok"
    assert root.findtext("meta/statuscode") == code
    assert root.findtext("data/version/string") == "10.11.0"
    assert root.findtext("data/version/edition") == "Community"
    caps = root.find("data/capabilities")
    assert caps.findtext("core/status/installed") == "1"          # booleans are 1/0 in XML
    assert caps.findtext("core/status/maintenance") == "0"
    assert caps.findtext("files/privateLinks") == "1"
    assert caps.findtext("spaces/enabled") == "1"
    assert [e.text for e in caps.findall("checksums/supportedTypes/element")] == [
        "sha1", "md5", "adler32"]
    assert caps.find("files/archivers") is not None and len(caps.find("files/archivers")) == 0


async def test_config_endpoint(client):
    _, body = await get_json(client, "/ocs/v1.php/config", user=None)
    assert body["data"] == {"version": "1.7", "website": "ownCloud",
                            "host": "cloud.example.test:9200", "contact": "", "ssl": "true"}


# --- users -----------------------------------------------------------------------------------

async def test_cloud_user(client):
    _, body = await get_json(client, "/ocs/v1.php/cloud/user")
    assert body["meta"]["statuscode"] == 100
    assert body["data"]["id"] == "alice"          # owncloudcmd builds /remote.php/dav/files/<id>/
    assert body["data"]["display-name"] == "Alice Liddell"
    assert body["data"]["email"] == "alice@example.org"


async def test_cloud_user_xml(client):
    _, root = await get_xml(client, "/ocs/v2.php/cloud/user")
    assert root.findtext("data/id") == "alice"
    assert root.findtext("data/display-name") == "Alice Liddell"


@pytest.mark.parametrize("version", [1, 2])
async def test_cloud_user_without_principal_is_401(client, version):
    _, body = await get_json(client, f"/ocs/v{version}.php/cloud/user", status=401, user=None)
    assert body["meta"]["statuscode"] == 997
    assert body["meta"]["status"] == "failure"


async def test_cloud_users_self_with_quota(client, storage):
    space = await storage.create_space(space_type="personal", name="Alice Liddell",
                                       owner_id=ALICE.id, alias="personal/alice",
                                       space_id=ALICE.id, quota_total=1000)
    assert space.used == 0
    _, body = await get_json(client, "/ocs/v2.php/cloud/users/alice")
    data = body["data"]
    assert data["enabled"] == "true"
    assert data["displayname"] == "Alice Liddell" and data["email"] == "alice@example.org"
    assert data["quota"] == {"free": 1000, "used": 0, "total": 1000, "relative": 0.0,
                             "definition": "1000"}


async def test_cloud_users_unlimited_quota(client, storage):
    await storage.create_space(space_type="personal", name="Bob", owner_id=BOB.id,
                               alias="personal/bob", space_id=BOB.id)
    _, body = await get_json(client, "/ocs/v1.php/cloud/users/bob", user="bob")
    assert body["data"]["quota"]["total"] == -3 and body["data"]["quota"]["free"] == -3


async def test_cloud_users_other_user_is_not_found(client):
    _, body = await get_json(client, "/ocs/v2.php/cloud/users/bob", status=404)
    assert body["meta"]["statuscode"] == 998
    # v1 keeps HTTP 200 and reports the failure in the meta only.
    _, body = await get_json(client, "/ocs/v1.php/cloud/users/bob", status=200)
    assert body["meta"]["statuscode"] == 998 and body["meta"]["status"] == "failure"


async def test_cloud_users_admin_sees_anyone(client):
    _, body = await get_json(client, "/ocs/v2.php/cloud/users/bob", user="admin")
    assert body["data"]["displayname"] == "Bob"
    _, body = await get_json(client, "/ocs/v2.php/cloud/users/nobody", user="admin", status=404)
    assert body["meta"]["statuscode"] == 998


# --- errors ----------------------------------------------------------------------------------

async def test_unknown_path_v2_is_404_envelope(client):
    _, body = await get_json(client, "/ocs/v2.php/apps/nothing/here", status=404)
    assert body["meta"]["statuscode"] == 998
    assert body["data"] is None


async def test_unknown_path_v1_xml_is_200_with_998(client):
    resp, root = await get_xml(client, "/ocs/v1.php/apps/nothing", status=200)
    assert root.findtext("meta/statuscode") == "998"
    assert resp.headers["Ocs-Api-Version"] == "1"


async def test_cloud_user_groups(client):
    _, body = await get_json(client, "/ocs/v2.php/cloud/users/alice/groups")
    assert body["data"] == {"groups": []}
    _, body = await get_json(client, "/ocs/v2.php/cloud/users/bob/groups", status=404)
    assert body["meta"]["statuscode"] == 998


async def test_format_selection(client):
    # format=xml wins over Accept; without `format`, Accept: application/json selects JSON.
    resp = await client.get("/ocs/v2.php/config", params={"format": "xml"},
                            headers={"Accept": "application/json"})
    assert "xml" in resp.content_type
    resp = await client.get("/ocs/v2.php/config", headers={"Accept": "application/json"})
    assert resp.content_type == "application/json"
    assert (await resp.json())["ocs"]["data"]["website"] == "ownCloud"
