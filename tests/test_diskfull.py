"""A full data disk, against the real server: its data folder on a small tmpfs this test mounts
(root may mount; a test that cannot mount fails, decision 0000). Every write that finds no room
answers 507 Insufficient Storage in its protocol's body and leaves nothing half-written; reads,
deletes and trash purges go on; the server starts on a full disk; `ocis health` says degraded
while the disk is full and healthy again once there is room; uploads that would eat into
the free-space reserve get 507; new personal spaces get the default quota.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import RealServer, _status_ok, _stop

DAV = "/remote.php/dav/files/admin"
MiB = 1024 * 1024
INSUFFICIENT = "Sabre\\DAV\\Exception\\InsufficientStorage"


@contextlib.contextmanager
def tmpfs(path: Path, size_mib: int) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mib}m,mode=0755", "tmpfs",
                           str(path)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs (the disk-full tests need root): {done.stderr}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def free(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def fill(path: Path, leave: int = 0) -> Path:
    """Write a filler file until `leave` bytes (about) are free; the file's path."""
    filler = path / f"filler-{len(list(path.glob('filler-*')))}"
    with open(filler, "wb", buffering=0) as fh:
        block = b"\0" * (64 * 1024)
        try:
            while free(path) - len(block) >= leave:
                fh.write(block)
            while leave == 0:
                fh.write(b"\0" * 4096)
        except OSError:
            pass
    return filler


def temp_files(data: Path) -> list[Path]:
    blobs = data / "storage" / "users" / "blobs"
    return [p for p in blobs.rglob("put-*")]


def assert_dav_507(response: requests.Response) -> None:
    assert response.status_code == 507, (response.status_code, response.text)
    assert INSUFFICIENT in response.text
    assert "Traceback" not in response.text and "/tmp" not in response.text


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    with tmpfs(tmp_path / "srv" / "data", 48) as data:
        yield data


def test_full_disk_answers_507_and_frees(disk: Path, real_server_factory: Callable[..., Any]
                                         ) -> None:
    env = {"STORAGE_USERS_FREE_SPACE_RESERVE": "0", "OCIS_RUNTIME_HEALTH_INTERVAL": "1",
           "OCIS_RUNTIME_MAX_RESTART_BACKOFF": "2"}
    workdir = disk.parent
    with real_server_factory(workdir, env) as srv:
        auth = srv.admin
        url = srv.url + DAV
        for name in ("keep.txt", "gone.txt", "purged.txt"):
            assert requests.put(f"{url}/{name}", data=name.encode() * 1000,
                                auth=auth).status_code == 201
        assert requests.delete(f"{url}/purged.txt", auth=auth).status_code == 204
        fill(disk)
        assert free(disk) < 64 * 1024

        # WebDAV: PUT (known length and streamed), MKCOL, PROPPATCH
        assert_dav_507(requests.put(f"{url}/new.bin", data=b"x" * (2 * MiB), auth=auth))
        assert_dav_507(requests.put(f"{url}/stream.bin",
                                    data=iter([b"y" * 65536] * 40), auth=auth))
        assert_dav_507(requests.request("MKCOL", f"{url}/folder", auth=auth))
        # TUS: the creation is refused up front
        tus = requests.post(srv.url + "/remote.php/dav/files/admin", auth=auth, headers={
            "Tus-Resumable": "1.0.0", "Upload-Length": str(MiB),
            "Upload-Metadata": "filename dHVzLmJpbg=="})
        assert_dav_507(tus)
        # OCS: a public link is a write to the share store
        ocs = requests.post(srv.url + "/ocs/v2.php/apps/files_sharing/api/v1/shares",
                            data={"path": "/keep.txt", "shareType": "3"}, auth=auth,
                            headers={"OCS-APIRequest": "true"})
        assert ocs.status_code == 507, ocs.text
        assert "<statuscode>507</statuscode>" in ocs.text
        # Graph: a new project space
        graph = requests.post(srv.url + "/graph/v1.0/drives", json={"name": "full"}, auth=auth)
        assert graph.status_code == 507, graph.text
        assert graph.json()["error"]["code"] == "insufficientStorage"

        # nothing half-written: no temp file, no node
        assert temp_files(disk) == []
        listing = requests.request("PROPFIND", url, auth=auth, headers={"Depth": "1"})
        assert listing.status_code == 207
        for name in ("new.bin", "stream.bin", "folder", "tus.bin"):
            assert f"/{name}<" not in listing.text
        # reads go on
        got = requests.get(f"{url}/keep.txt", auth=auth)
        assert got.status_code == 200 and got.content == b"keep.txt" * 1000

        # deletes and purges go on: they free space
        assert requests.delete(f"{url}/gone.txt", auth=auth).status_code == 204
        trash = srv.url + "/remote.php/dav/spaces/trash-bin/" + _space_id(srv)
        items = requests.request("PROPFIND", trash, auth=auth, headers={"Depth": "1"})
        assert items.status_code == 207
        assert requests.delete(trash, auth=auth).status_code == 204     # empty the trash
        assert "gone.txt" not in requests.request("PROPFIND", trash, auth=auth,
                                                  headers={"Depth": "1"}).text
        assert srv.process.poll() is None
        assert "Traceback" not in srv.log_tail(200_000)

    # the server starts on a full disk and serves reads
    for filler in disk.glob("filler-*"):
        filler.unlink()
    fill(disk)
    with restarted(srv) as srv:
        got = requests.get(f"{srv.url}{DAV}/keep.txt", auth=srv.admin)
        assert got.status_code == 200 and got.content == b"keep.txt" * 1000
        assert_dav_507(requests.put(f"{srv.url}{DAV}/after.bin", data=b"z" * (3 * MiB),
                                    auth=srv.admin))
        assert requests.delete(f"{srv.url}{DAV}/keep.txt", auth=srv.admin).status_code == 204
        # health says so (degraded, exit 7), while reads go on
        health = srv.ocis("health")
        assert health.returncode == 7, health.stdout + health.stderr
        assert health.stdout.startswith("degraded") and "disk is full" in health.stderr, health
        assert requests.request("PROPFIND", f"{srv.url}{DAV}", auth=srv.admin,
                                headers={"Depth": "1"}).status_code == 207
        # room again: healthy by itself, and uploads are taken, without a restart
        for filler in disk.glob("filler-*"):
            filler.unlink()
        deadline = time.monotonic() + 60
        while (health := srv.ocis("health")).returncode != 0:
            assert time.monotonic() < deadline, health.stdout + health.stderr
            time.sleep(1)
        assert requests.put(f"{srv.url}{DAV}/after.bin", data=b"z" * MiB,
                            auth=srv.admin).status_code == 201
        assert srv.process.poll() is None


@contextlib.contextmanager
def restarted(old: RealServer) -> Iterator[RealServer]:
    """`ocis server` again on the same config and data (no `ocis init`)."""
    with old.log_path.open("ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "ocis_cli", "server"], env=old.env,
                                cwd=old.workdir, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    srv = dataclasses.replace(old, process=proc)
    try:
        deadline = time.monotonic() + 30
        while not _status_ok(srv.url):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the server did not start on a full disk:\n{srv.log_tail()}")
            time.sleep(0.1)
        yield srv
    finally:
        _stop(proc)


def _space_id(srv: RealServer) -> str:
    me = requests.get(srv.url + "/graph/v1.0/me/drives", auth=srv.admin).json()
    return next(d["id"] for d in me["value"] if d["driveType"] == "personal")


def test_free_space_reserve_and_default_quota(disk: Path,
                                              real_server_factory: Callable[..., Any]) -> None:
    env = {"STORAGE_USERS_FREE_SPACE_RESERVE": str(8 * MiB),
           "GRAPH_PERSONAL_SPACES_DEFAULT_QUOTA": str(10 * MiB),
           "GRAPH_SPACES_DEFAULT_QUOTA": str(5 * MiB)}
    with real_server_factory(disk.parent, env) as srv:
        auth, url = srv.admin, srv.url + DAV
        drive = next(d for d in requests.get(srv.url + "/graph/v1.0/me/drives",
                                             auth=auth).json()["value"]
                     if d["driveType"] == "personal")
        assert drive["quota"]["total"] == 10 * MiB
        project = requests.post(srv.url + "/graph/v1.0/drives", json={"name": "p"}, auth=auth)
        assert project.status_code == 201 and project.json()["quota"]["total"] == 5 * MiB
        sized = requests.post(srv.url + "/graph/v1.0/drives",
                              json={"name": "q", "quota": {"total": 7 * MiB}}, auth=auth)
        assert sized.status_code == 201 and sized.json()["quota"]["total"] == 7 * MiB
        fill(disk, leave=8 * MiB + 3 * MiB)
        assert requests.put(f"{url}/fits.bin", data=b"a" * MiB, auth=auth).status_code == 201
        assert_dav_507(requests.put(f"{url}/big.bin", data=b"b" * (4 * MiB), auth=auth))
        # a body without a length is cut off once it reaches the reserve
        assert_dav_507(requests.put(f"{url}/stream.bin", data=iter([b"c" * 65536] * 80),
                                    auth=auth))
        tus = requests.post(srv.url + DAV, auth=auth, headers={
            "Tus-Resumable": "1.0.0", "Upload-Length": str(4 * MiB),
            "Upload-Metadata": "filename YmlnLmJpbg=="})
        assert_dav_507(tus)
        assert free(disk) > 8 * MiB
        assert temp_files(disk) == []
        # the default quota of the personal space: over 10 MiB is a quota error (507 too)
        for filler in disk.glob("filler-*"):
            filler.unlink()
        over = requests.put(f"{url}/over.bin", data=b"d" * (11 * MiB), auth=auth)
        assert over.status_code == 507 and "quota" in over.text.lower(), over.text


def test_tus_patch_that_fills_the_disk_resumes(disk: Path,
                                               real_server_factory: Callable[..., Any]) -> None:
    """A PATCH that runs out of room mid-way: 507, the offset is what is on disk, and once space
    is freed the client resumes from there and the file is whole."""
    with real_server_factory(disk.parent, {"STORAGE_USERS_FREE_SPACE_RESERVE": "0"}) as srv:
        auth = srv.admin
        content = os.urandom(6 * MiB)
        created = requests.post(srv.url + DAV, auth=auth, headers={
            "Tus-Resumable": "1.0.0", "Upload-Length": str(len(content)),
            "Upload-Metadata": "filename cmVzdW1lLmJpbg=="})
        assert created.status_code == 201, created.text
        location = created.headers["Location"]
        filler = fill(disk, leave=2 * MiB)
        patch = requests.patch(location, data=content, auth=auth, headers={
            "Tus-Resumable": "1.0.0", "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream"})
        assert_dav_507(patch)
        head = requests.head(location, auth=auth, headers={"Tus-Resumable": "1.0.0"})
        offset = int(head.headers["Upload-Offset"])
        assert 0 <= offset < len(content)
        filler.unlink()
        rest = requests.patch(location, data=content[offset:], auth=auth, headers={
            "Tus-Resumable": "1.0.0", "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream"})
        assert rest.status_code == 204, rest.text
        got = requests.get(f"{srv.url}{DAV}/resume.bin", auth=auth)
        assert got.status_code == 200 and got.content == content
        assert temp_files(disk) == []


def test_idp_writes_on_a_full_disk_answer_507(disk: Path,
                                              real_server_factory: Callable[..., Any]) -> None:
    """The IdP keeps device codes, sessions and refresh tokens in its own database on the data
    disk: on a full disk its writes answer 507 (OAuth error JSON at the API), never 500, as the
    user store's do (Graph), and work again once there is room."""
    with real_server_factory(disk.parent, {"STORAGE_USERS_FREE_SPACE_RESERVE": "0"}) as srv:
        device = srv.url + "/konnect/v1/device_authorization"
        assert requests.post(device, data={"client_id": "ocis-cli"}).status_code == 200
        fill(disk)
        refused = [requests.post(device, data={"client_id": "ocis-cli"}) for _ in range(20)]
        statuses = {r.status_code for r in refused}
        assert statuses == {507}, [(r.status_code, r.text[:200]) for r in refused]
        assert refused[0].json()["error"] == "temporarily_unavailable"
        assert "Traceback" not in refused[0].text and str(disk) not in refused[0].text
        # the user store (Graph) is a database on the same disk
        user = {"onPremisesSamAccountName": "late", "displayName": "Late",
                "mail": "late@example.org", "passwordProfile": {"password": "Late-pass-1"}}
        made = requests.post(srv.url + "/graph/v1.0/users", json=user, auth=srv.admin)
        assert made.status_code == 507, made.text
        assert made.json()["error"]["code"] == "insufficientStorage"
        for filler in disk.glob("filler-*"):
            filler.unlink()
        assert requests.post(device, data={"client_id": "ocis-cli"}).status_code == 200
        assert srv.process.poll() is None
        assert "Traceback" not in srv.log_tail(200_000)
