"""One front (`ocis server` with OCIS_EXCLUDE_RUN_SERVICES=storage-users) and one storage
provider (`ocis storage-users server`), real processes on loopback ports, with a nats-server
-js for the registry and the events: everything a user does goes through the front to the
provider's internal API; the provider killed with SIGKILL makes its spaces answer 503 with
Retry-After within a second while the front stays up, and after a restart a TUS upload that was
in flight resumes and finishes, and every write that got a 2xx is there."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import re
import signal
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import aiohttp
import pytest
from PIL import Image

from ocis_server.domain.ids import SHARE_JAIL_ID
from tests.conftest import ADMIN_PASSWORD
from tests.kit.cluster import Cluster, Provider, post
from tests.kit.tools import litmus_run
from tests.kit.nats import NatsServer, nats_server  # noqa: F401  (fixture)
from tests.sse_helpers import SseReader

pytestmark = pytest.mark.scaleout
EINSTEIN = aiohttp.BasicAuth("einstein", "relativity")
MARIE = aiohttp.BasicAuth("marie", "radioactivity")
JAIL = f"{SHARE_JAIL_ID}${SHARE_JAIL_ID}"


@pytest.fixture
def cluster(nats_server: NatsServer, tmp_path: Path) -> Iterator[Cluster]:  # noqa: F811
    found = Cluster(tmp_path, nats_server)
    found.init()
    try:
        found.start_provider()
        found.start_front()
        yield found
    finally:
        found.stop()


async def _req(http: aiohttp.ClientSession, method: str, url: str, *,
               auth: aiohttp.BasicAuth = EINSTEIN, **kw: Any) -> tuple[int, bytes, Any]:
    async with http.request(method, url, auth=auth, **kw) as resp:
        return resp.status, await resp.read(), resp.headers


def _meta(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


async def test_front_and_provider_in_two_processes(cluster: Cluster) -> None:
    dav = f"{cluster.url}/remote.php/dav/files/einstein"
    async with aiohttp.ClientSession() as http, \
            SseReader(cluster.url, "einstein", "relativity") as sse:
        data = bytes(range(256)) * 2000                         # 512000 bytes: not "small"
        status, _, headers = await _req(http, "PUT", f"{dav}/big.bin", data=data)
        assert status == 201
        etag = headers["ETag"]
        # the provider's event, through NATS, reaches the front's SSE
        message = await asyncio.wait_for(sse.messages.get(), 15)
        assert message.event == "postprocessing-finished" and message.data["etag"] == etag
        status, body, headers = await _req(http, "GET", f"{dav}/big.bin")
        assert status == 200 and body == data and headers["ETag"] == etag
        status, body, headers = await _req(http, "GET", f"{dav}/big.bin",
                                           headers={"Range": "bytes=100-199"})
        assert (status, body) == (206, data[100:200])
        assert headers["Content-Range"] == f"bytes 100-199/{len(data)}"
        status, _, _ = await _req(http, "GET", f"{dav}/big.bin",
                                  headers={"Range": f"bytes={len(data) + 10}-"})
        assert status == 416
        got = await _req(http, "PUT", f"{dav}/small.txt", data=b"v1")
        assert got[0] == 201, got[1]
        assert (await _req(http, "PUT", f"{dav}/small.txt", data=b"v2"))[0] == 204
        assert (await _req(http, "GET", f"{dav}/small.txt"))[1] == b"v2"
        assert (await _req(http, "MKCOL", f"{dav}/Docs"))[0] == 201
        assert (await _req(http, "COPY", f"{dav}/small.txt",
                           headers={"Destination": f"{dav}/Docs/copy.txt"}))[0] == 201
        assert (await _req(http, "MOVE", f"{dav}/Docs/copy.txt",
                           headers={"Destination": f"{dav}/Docs/moved.txt"}))[0] == 201
        status, body, _ = await _req(http, "PROPFIND", f"{dav}/Docs", headers={"Depth": "1"})
        assert status == 207 and b"moved.txt" in body and b"copy.txt" not in body
        # versions: the first content of small.txt
        status, body, headers = await _req(http, "PROPFIND", f"{dav}/small.txt", headers={
            "Depth": "0"}, data='<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">'
            '<d:prop><oc:fileid/></d:prop></d:propfind>')
        fileid = body.split(b"<oc:fileid>")[1].split(b"</oc:fileid>")[0].decode()
        versions = f"{cluster.url}/remote.php/dav/meta/{fileid}/v"
        status, body, _ = await _req(http, "PROPFIND", versions, headers={"Depth": "1"})
        assert status == 207
        hrefs = [h.split(b"</d:href>")[0].decode() for h in body.split(b"<d:href>")[2:]]
        assert len(hrefs) == 1
        assert (await _req(http, "GET", f"{cluster.url}{hrefs[0]}"))[1] == b"v1"
        # trash: delete, list, restore
        assert (await _req(http, "DELETE", f"{dav}/Docs/moved.txt"))[0] == 204
        trash = f"{cluster.url}/remote.php/dav/spaces/trash-bin/{fileid.split('!')[0]}"
        status, body, _ = await _req(http, "PROPFIND", trash, headers={"Depth": "1"})
        assert status == 207 and b"moved.txt" in body
        key = [h.split(b"</d:href>")[0].decode() for h in body.split(b"<d:href>")[2:]][0]
        assert (await _req(http, "MOVE", f"{cluster.url}{key}", headers={
            "Destination": f"{dav}/Docs/restored.txt"}))[0] == 201
        assert (await _req(http, "GET", f"{dav}/Docs/restored.txt"))[1] == b"v2"
        await _share_and_link(http, cluster.url)
        await _tus(http, cluster.url, b"tus-content" * 1000)


async def _share_and_link(http: aiohttp.ClientSession, url: str) -> None:
    ocs = f"{url}/ocs/v2.php/apps/files_sharing/api/v1/shares?format=json"
    status, body, _ = await _req(http, "POST", ocs, headers={"OCS-APIREQUEST": "true"}, data={
        "path": "/Docs", "shareType": "0", "shareWith": "marie", "permissions": "1"})
    assert status == 200, body
    shares = f"{url}/remote.php/dav/files/marie/Shares"
    status, body, _ = await _req(http, "GET", f"{shares}/Docs/restored.txt", auth=MARIE)
    assert (status, body) == (200, b"v2")
    status, body, _ = await _req(http, "POST", ocs, headers={"OCS-APIREQUEST": "true"}, data={
        "path": "/big.bin", "shareType": "3", "permissions": "1"})
    assert status == 200, body
    token = json.loads(body)["ocs"]["data"]["token"]
    async with http.get(f"{url}/s/{token}/download") as resp:
        assert resp.status == 200
        assert hashlib.sha1(await resp.read()).hexdigest() == \
            hashlib.sha1(bytes(range(256)) * 2000).hexdigest()


async def _jail(http: aiohttp.ClientSession, url: str) -> list[str]:
    """The names in marie's share jail (a PROPFIND that must answer 207)."""
    status, body, _ = await _req(http, "PROPFIND", f"{url}/remote.php/dav/spaces/{JAIL}/",
                                 auth=MARIE, headers={"Depth": "1"})
    assert status == 207, body
    hrefs = [h.text or "" for h in ET.fromstring(body).iter("{DAV:}href")]
    return [unquote(h.rstrip("/").rsplit("/", 1)[-1]) for h in hrefs[1:]]


async def _tus(http: aiohttp.ClientSession, url: str, data: bytes) -> None:
    status, _, headers = await _req(http, "POST", f"{url}/remote.php/dav/files/einstein/", headers={
        "Tus-Resumable": "1.0.0", "Upload-Length": str(len(data)),
        "Upload-Metadata": _meta(filename="tus.bin")})
    assert status == 201
    location = headers["Location"]
    for offset in range(0, len(data), 4000):
        status, _, _ = await _req(http, "PATCH", location, data=data[offset:offset + 4000], headers={
            "Tus-Resumable": "1.0.0", "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream"})
        assert status == 204
    status, body, _ = await _req(http, "GET", f"{url}/remote.php/dav/files/einstein/tus.bin")
    assert (status, body) == (200, data)


async def test_wrong_machine_secret_is_401(cluster: Cluster) -> None:
    for secret in ("", "wrong", cluster.secret[:-1]):
        assert post(f"{cluster.internal}/rpc/list_spaces", {
            "X-Machine-Auth-Api-Key": secret}) == 401
    # the internal API is not on the public listener
    assert post(f"{cluster.url}/rpc/list_spaces", {
        "X-Machine-Auth-Api-Key": cluster.secret}) in (401, 404)


async def test_provider_killed_and_back(cluster: Cluster) -> None:
    dav = f"{cluster.url}/remote.php/dav/files/einstein"
    data = hashlib.sha256(b"seed").digest() * 4096          # 128 KiB
    async with aiohttp.ClientSession() as http:
        written = {}
        for i in range(20):
            body = f"file {i}".encode()
            assert (await _req(http, "PUT", f"{dav}/w{i}.txt", data=body))[0] == 201
            written[f"w{i}.txt"] = body
        status, _, headers = await _req(http, "POST", f"{dav}/", headers={
            "Tus-Resumable": "1.0.0", "Upload-Length": str(len(data)),
            "Upload-Metadata": _meta(filename="resume.bin"),
            "Upload-Checksum": "sha1 " + base64.b64encode(hashlib.sha1(data).digest()).decode()})
        assert status == 201
        location = headers["Location"]
        half = len(data) // 2
        status, _, _ = await _req(http, "PATCH", location, data=data[:half], headers={
            "Tus-Resumable": "1.0.0", "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream"})
        assert status == 204
        assert (await _req(http, "MKCOL", f"{dav}/Lent"))[0] == 201       # shared with marie
        ocs = f"{cluster.url}/ocs/v2.php/apps/files_sharing/api/v1/shares?format=json"
        status, body, _ = await _req(http, "POST", ocs, headers={"OCS-APIREQUEST": "true"},
                                     data={"path": "/Lent", "shareType": "0",
                                           "shareWith": "marie", "permissions": "1"})
        assert status == 200, body
        assert "Lent" in await _jail(http, cluster.url)

        assert cluster.provider is not None
        cluster.provider.send_signal(signal.SIGKILL)
        cluster.provider.wait(timeout=10)
        # the only provider away: listings stay 200, its spaces marked (issue 16)
        status, body, _ = await _req(http, "GET", f"{cluster.url}/graph/v1.0/me/drives")
        assert status == 200, body
        drives = json.loads(body)["value"]
        assert drives and all(d.get("@ocis.unavailable") is True for d in drives
                              if d["driveType"] == "personal")
        assert "Lent" in await _jail(http, cluster.url)                  # still mounted
        for method, url in (("GET", f"{dav}/w1.txt"), ("PROPFIND", f"{dav}/"),
                            ("PUT", f"{dav}/lost.txt"), ("HEAD", location)):
            t0 = time.monotonic()
            status, _, headers = await _req(http, method, url, data=b"x" if method == "PUT" else None,
                                            headers={"Tus-Resumable": "1.0.0", "Depth": "0"})
            assert time.monotonic() - t0 < 1.0, method
            assert status == 503 and int(headers["Retry-After"]) >= 1, (method, status)
        async with http.get(f"{cluster.url}/status.php") as resp:    # the front stays up
            assert resp.status == 200
        assert cluster.front is not None and cluster.front.poll() is None

        cluster.start_provider()
        deadline = time.monotonic() + 5      # the front's probe finds it back within a second
        while (status := (await _req(http, "HEAD", location, headers={
                "Tus-Resumable": "1.0.0"}))[0]) == 503 and time.monotonic() < deadline:
            await asyncio.sleep(0.3)             # as a client does after Retry-After
        status, _, headers = await _req(http, "HEAD", location, headers={"Tus-Resumable": "1.0.0"})
        assert status == 200 and int(headers["Upload-Offset"]) == half
        status, _, _ = await _req(http, "PATCH", location, data=data[half:], headers={
            "Tus-Resumable": "1.0.0", "Upload-Offset": str(half),
            "Content-Type": "application/offset+octet-stream"})
        assert status == 204
        status, body, headers = await _req(http, "GET", f"{dav}/resume.bin")
        assert status == 200 and hashlib.sha1(body).hexdigest() == hashlib.sha1(data).hexdigest()
        assert headers["OC-Checksum"] == f"SHA1:{hashlib.sha1(data).hexdigest()}"
        for name, body in written.items():               # every acknowledged write is there
            assert (await _req(http, "GET", f"{dav}/{name}"))[1] == body
        assert (await _req(http, "GET", f"{dav}/lost.txt"))[0] == 404


@pytest.fixture
def three(nats_server: NatsServer, tmp_path: Path) -> Iterator[Cluster]:  # noqa: F811
    """One front, two providers: personal spaces pinned to the first, project spaces to the
    second."""
    found = Cluster(tmp_path, nats_server)
    found.init("", "second-provider-0000-0000-000000000002")
    try:
        found.start_provider("provider")
        found.start_provider("provider1")
        first, second = (p.mount_id for p in found.providers.values())
        found.start_front({"STORAGE_USERS_PERSONAL_SPACES_MOUNT_ID": first,
                           "STORAGE_USERS_PROJECT_SPACES_MOUNT_ID": second})
        yield found
    finally:
        found.stop()


async def _spaces_of(provider: Provider, secret: str) -> set[str]:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{provider.internal}/rpc/list_spaces", json={"args": {}},
                             headers={"X-Machine-Auth-Api-Key": secret}) as resp:
            assert resp.status == 200
            return {s["id"] for s in (await resp.json())["result"]}


async def test_one_front_two_providers(three: Cluster) -> None:
    first, second = three.providers["provider"], three.providers["provider1"]
    admin = aiohttp.BasicAuth("admin", ADMIN_PASSWORD)
    async with aiohttp.ClientSession() as http:
        status, body, _ = await _req(http, "POST", f"{three.url}/graph/v1.0/drives", auth=admin,
                                     json={"name": "Physics", "driveType": "project"})
        assert status == 201, body
        drive = json.loads(body)
        space = drive["id"].split("$")[1]
        assert drive["id"].startswith(second.mount_id + "$")
        assert space in await _spaces_of(second, three.secret)
        assert space not in await _spaces_of(first, three.secret)
        project = f"{three.url}/remote.php/dav/spaces/{drive['id']}"
        home = f"{three.url}/remote.php/dav/files/admin"
        assert (await _req(http, "PUT", f"{project}/p.txt", auth=admin, data=b"project"))[0] == 201
        assert (await _req(http, "PUT", f"{home}/h.txt", auth=admin, data=b"home"))[0] == 201
        # a COPY from one provider to the other streams the bytes across
        assert (await _req(http, "COPY", f"{home}/h.txt", auth=admin, headers={
            "Destination": f"{project}/copied.txt"}))[0] == 201
        assert (await _req(http, "GET", f"{project}/copied.txt", auth=admin))[1] == b"home"

        assert second.proc is not None
        second.proc.send_signal(signal.SIGKILL)
        second.proc.wait(timeout=10)
        t0 = time.monotonic()
        status, _, headers = await _req(http, "GET", f"{project}/p.txt", auth=admin)
        assert status == 503 and headers["Retry-After"] and time.monotonic() - t0 < 1.0
        assert (await _req(http, "GET", f"{home}/h.txt", auth=admin))[1] == b"home"
        status, body, _ = await _req(http, "GET", f"{three.url}/graph/v1.0/me/drives", auth=admin)
        assert status == 200 and drive["id"] in body.decode()

        three.start_provider("provider1")
        deadline = time.monotonic() + 15
        while (status := (await _req(http, "GET", f"{project}/p.txt", auth=admin))[0]) != 200:
            assert time.monotonic() < deadline, status
            await asyncio.sleep(0.3)
        assert (await _req(http, "GET", f"{project}/p.txt", auth=admin))[1] == b"project"


async def test_thumbnail_and_litmus_through_the_front(cluster: Cluster) -> None:
    image = io.BytesIO()
    Image.new("RGB", (200, 100), (200, 30, 30)).save(image, "PNG")
    dav = f"{cluster.url}/remote.php/dav/files/einstein"
    async with aiohttp.ClientSession() as http:
        assert (await _req(http, "PUT", f"{dav}/red.png", data=image.getvalue()))[0] == 201
        status, body, headers = await _req(http, "GET", f"{dav}/red.png?preview=1&x=32&y=32")
        assert status == 200 and headers["Content-Type"] == "image/png"
        thumb = Image.open(io.BytesIO(body))
        assert max(thumb.size) <= 32 and thumb.getpixel((5, 5))[:3] == (200, 30, 30)
    proc = await asyncio.create_subprocess_exec(
        "bash", str(litmus_run()), f"{cluster.url}/remote.php/webdav/", "einstein", "relativity",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={"TESTS": "basic copymove props locks http", "PATH": "/usr/bin:/bin"})
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=300)
    text = out.decode(errors="replace")
    match = re.search(r"(\d+) passed, (\d+) failed", text)
    assert match and int(match.group(2)) == 0 and int(match.group(1)) >= 104, text


async def test_a_front_started_before_its_provider(nats_server: NatsServer,  # noqa: F811
                                                   tmp_path: Path) -> None:
    """No provider registered yet: 503 with Retry-After (not 502), then it works once the
    provider registers."""
    found = Cluster(tmp_path, nats_server)
    found.init()
    try:
        found.start_front(wait=False)
        dav = f"{found.url}/remote.php/dav/files/einstein/"
        async with aiohttp.ClientSession() as http:
            status, body, headers = await _req(http, "PROPFIND", dav, headers={"Depth": "0"})
            assert status == 503 and int(headers["Retry-After"]) >= 1, body
            found.start_provider()
            deadline = time.monotonic() + 20
            while (await _req(http, "PROPFIND", dav, headers={"Depth": "0"}))[0] != 207:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.3)
            assert (await _req(http, "PUT", f"{dav}late.txt", data=b"late"))[0] == 201
    finally:
        found.stop()
