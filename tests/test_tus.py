"""TUS 1.0.0 in-process: creation (+with-upload), PATCH/HEAD/DELETE on /data/<token>, checksums,
expiry, the 412/409 cases of protocol-notes.md §5, resume after a restart, and the storage sessions."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import time
import zlib
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import kit
import pytest

from ocis_server.domain.errors import (
    BadRequest,
    ChecksumMismatch,
    Conflict,
    NotFound,
    PreconditionFailed,
    QuotaExceeded,
)
from ocis_server.services.context import ServiceContext
from ocis_server.services.ocdav.app import create_app
from ocis_server.services.ocdav.tus import sign_token, verify_token
from ocis_server.storage.sqlite import SqliteStorage

STORAGE_ID = "1284d238-aa92-42ce-bdc4-0b0000009157"
MOUNTS = ("/remote.php", "/webdav", "/dav", "/status.php", "/status", "/data")
SECRET = "tus-test-secret"


def meta(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def tus(**extra: str) -> dict[str, str]:
    return {"Tus-Resumable": "1.0.0", **kit.headers("alice"), **extra}


class Server:
    """An ocdav app over a storage in `data_dir`; `restart()` reopens both (same users)."""

    def __init__(self, aiohttp_client, data_dir: Path, **config: object) -> None:
        self.make_client, self.data_dir, self.config = aiohttp_client, data_dir, config
        self.users = None
        self.alice, self.bob = kit.ALICE, kit.BOB
        self.client = None
        self.storage: SqliteStorage | None = None

    async def start(self) -> Server:
        self.users = self.users or await kit.memory_users(self.alice, self.bob)
        self.storage = await kit.storage_with_homes(self.data_dir, self.alice, self.bob)
        settings = {"ocis_url": "http://localhost", "transfer_secret": SECRET,
                    "upload_expiration": 3600, **self.config}
        ctx = ServiceContext(config=SimpleNamespace(**settings), storage=self.storage,
                             users=self.users)  # type: ignore[arg-type]
        root = kit.root_app(self.users, *((mount, create_app(ctx, mount)) for mount in MOUNTS))
        self.client = await self.make_client(root)
        return self

    async def restart(self) -> None:
        await self.client.close()
        await self.storage.close()
        await self.start()

    async def close(self) -> None:
        await self.client.close()
        await self.storage.close()

    async def create(self, folder: str = "/remote.php/webdav/", *, length: int,
                     filename: str = "f.txt", status: int = 201, body: bytes | None = None,
                     headers: dict[str, str] | None = None, **metadata: str):
        hdrs = tus(**{"Upload-Length": str(length),
                      "Upload-Metadata": meta(filename=filename, **metadata)})
        if body is not None:
            hdrs["Content-Type"] = "application/offset+octet-stream"
        hdrs.update(headers or {})
        resp = await self.client.post(folder, data=body, headers=hdrs)
        text = await resp.read()
        assert resp.status == status, (resp.status, text[:300])
        return resp

    async def patch(self, location: str, offset: int, data: bytes, status: int = 204,
                    headers: dict[str, str] | None = None):
        hdrs = {"Tus-Resumable": "1.0.0", "Upload-Offset": str(offset),
                "Content-Type": "application/offset+octet-stream", **(headers or {})}
        resp = await self.client.patch(urlsplit(location).path, data=data, headers=hdrs)
        text = await resp.read()
        assert resp.status == status, (resp.status, text[:300])
        return resp

    async def head(self, location: str, status: int = 200):
        resp = await self.client.head(urlsplit(location).path, headers={"Tus-Resumable": "1.0.0"})
        assert resp.status == status, resp.status
        return resp

    async def get(self, path: str) -> bytes:
        resp = await self.client.get(path, headers=kit.headers("alice"))
        assert resp.status == 200, resp.status
        return await resp.read()


@pytest.fixture
async def srv(aiohttp_client, tmp_path):
    server = await Server(aiohttp_client, tmp_path / "data").start()
    yield server
    await server.close()


async def test_options_advertise_tus(srv):
    resp = await srv.client.options("/remote.php/webdav/")
    assert resp.headers["Tus-Resumable"] == "1.0.0"
    assert resp.headers["Tus-Version"] == "1.0.0"
    assert resp.headers["Tus-Extension"] == ("creation,creation-with-upload,checksum,expiration,"
                                             "termination")
    assert resp.headers["Tus-Checksum-Algorithm"] == "md5,sha1,adler32,crc32"
    resp = await srv.client.options("/data/whatever")
    assert resp.status == 204 and resp.headers["Tus-Version"] == "1.0.0"


@pytest.mark.parametrize("folder", ["/remote.php/webdav/", "/webdav/", "/remote.php/dav/files/alice/",
                                    "/dav/files/alice/", "/remote.php/dav/spaces/{space}/"])
async def test_create_patch_head_on_every_flavour(srv, folder):
    folder = folder.format(space=f"{STORAGE_ID}${srv.alice.id}")
    data = b"hello tus world" * 1000
    resp = await srv.create(folder, length=len(data), filename="t.txt")
    location = resp.headers["Location"]
    assert location.startswith("http://localhost/data/")
    assert resp.headers["Upload-Offset"] == "0" and "Upload-Expires" in resp.headers
    head = await srv.head(location)
    assert head.headers["Upload-Offset"] == "0"
    assert head.headers["Upload-Length"] == str(len(data))
    resp = await srv.patch(location, 0, data[:5000])
    assert resp.headers["Upload-Offset"] == "5000" and "OC-FileId" not in resp.headers
    assert (await srv.head(location)).headers["Upload-Offset"] == "5000"
    resp = await srv.patch(location, 5000, data[5000:])
    assert resp.headers["Upload-Offset"] == str(len(data))
    assert resp.headers["OC-FileId"].endswith("!" + resp.headers["OC-FileId"].split("!")[1])
    assert resp.headers["ETag"] == resp.headers["OC-ETag"] and resp.headers["OC-Perm"]
    assert "Last-Modified" in resp.headers
    assert await srv.get("/remote.php/webdav/t.txt") == data
    await srv.head(location, status=404)   # the session is gone once committed
    node = await srv.storage.lookup(srv.alice.id, ("t.txt",))
    assert node.checksums["SHA1"] == hashlib.sha1(data).hexdigest()
    assert node.checksums["MD5"] == hashlib.md5(data).hexdigest()
    assert node.checksums["ADLER32"] == f"{zlib.adler32(data):08x}"


async def test_creation_with_upload_and_owncloudcmd_metadata(srv):
    """owncloudcmd: POST to the DAV root, filename relative to the root, checksum + X-OC-Mtime."""
    await srv.client.request("MKCOL", "/remote.php/dav/files/alice/sub", headers=kit.headers("alice"))
    data = b"complete in one request"
    sha1 = hashlib.sha1(data).hexdigest()
    resp = await srv.create("/remote.php/dav/files/alice/", length=len(data), body=data,
                            filename="/sub/t.txt", checksum=f"SHA1 {sha1}",
                            headers={"X-OC-Mtime": "1600000000", "Upload-Offset": "0"})
    assert resp.headers["Upload-Offset"] == str(len(data))
    assert resp.headers["OC-FileId"] and resp.headers["OC-ETag"] and resp.headers["OC-Perm"]
    node = await srv.storage.lookup(srv.alice.id, ("sub", "t.txt"))
    assert node.mtime == 1600000000 and node.checksums["SHA1"] == sha1
    # relative filename below a folder URL
    await srv.create("/remote.php/webdav/sub/", length=2, body=b"ab", filename="rel.txt")
    assert await srv.get("/remote.php/webdav/sub/rel.txt") == b"ab"


async def test_partial_creation_with_upload(srv):
    resp = await srv.create(length=10, body=b"01234")
    assert resp.headers["Upload-Offset"] == "5" and "OC-FileId" not in resp.headers
    resp = await srv.patch(resp.headers["Location"], 5, b"56789")
    assert resp.headers["OC-FileId"]
    assert await srv.get("/remote.php/webdav/f.txt") == b"0123456789"


async def test_zero_length_creates_file_at_once(srv):
    resp = await srv.create(length=0, filename="empty.txt")
    assert resp.headers["Location"] == "" and resp.headers["OC-FileId"]
    assert await srv.get("/remote.php/webdav/empty.txt") == b""


async def test_metadata_mtime(srv):
    await srv.create(length=1, body=b"x", mtime="1500000000")
    assert (await srv.storage.lookup(srv.alice.id, ("f.txt",))).mtime == 1500000000


async def test_precondition_cases(srv):
    hdrs = {**kit.headers("alice"), "Upload-Length": "3", "Upload-Metadata": meta(filename="a.txt")}
    resp = await srv.client.post("/remote.php/webdav/", headers=hdrs)   # no Tus-Resumable
    assert resp.status == 412
    resp = await srv.client.post("/remote.php/webdav/", headers=tus(
        **{"Upload-Metadata": meta(filename="a.txt")}))                  # no Upload-Length
    assert resp.status == 412
    resp = await srv.client.post("/remote.php/webdav/", headers=tus(**{"Upload-Length": "3"}))
    assert resp.status == 412                                           # no filename
    await srv.create(length=3, filename="../evil", status=412)
    await srv.create(length=3, filename="a/b", status=412)              # parent missing
    await srv.create("/remote.php/webdav/nope/", length=3, status=412)  # folder missing
    await srv.client.request("MKCOL", "/remote.php/webdav/dir", headers=kit.headers("alice"))
    await srv.create(length=3, filename="dir", status=409)              # target is a folder
    await srv.client.put("/remote.php/webdav/f.txt", data=b"old", headers=kit.headers("alice"))
    await srv.create(length=3, headers={"If-Match": '"nomatch"'}, status=412)
    etag = (await srv.storage.lookup(srv.alice.id, ("f.txt",))).etag
    resp = await srv.create(length=3, body=b"new", headers={"If-Match": f'"{etag}"'})
    assert await srv.get("/remote.php/webdav/f.txt") == b"new"
    resp = await srv.client.post("/remote.php/webdav/", headers={
        "Tus-Resumable": "1.0.0", "Upload-Length": "3", "Upload-Metadata": meta(filename="x")})
    assert resp.status == 401                                            # no credentials


async def test_offset_conflict_and_overlong_chunk(srv):
    location = (await srv.create(length=4)).headers["Location"]
    await srv.patch(location, 1, b"abc", status=409)
    await srv.patch(location, 0, b"abcdef", status=400)
    resp = await srv.patch(location, 0, b"ab")
    assert resp.headers["Upload-Offset"] == "2"
    resp = await srv.client.patch(urlsplit(location).path, data=b"cd", headers={
        "Tus-Resumable": "1.0.0", "Upload-Offset": "2", "Content-Type": "text/plain"})
    assert resp.status == 415


@pytest.mark.parametrize("algo", ["md5", "sha1", "adler32", "crc32"])
async def test_upload_checksum_per_chunk(srv, algo):
    location = (await srv.create(length=6)).headers["Location"]
    chunk = b"abc"
    digest = {"md5": hashlib.md5(chunk).digest(), "sha1": hashlib.sha1(chunk).digest(),
              "adler32": zlib.adler32(chunk).to_bytes(4, "big"),
              "crc32": zlib.crc32(chunk).to_bytes(4, "big")}[algo]
    good = f"{algo} {base64.b64encode(digest).decode()}"
    bad = f"{algo} {base64.b64encode(b'0' * len(digest)).decode()}"
    await srv.patch(location, 0, chunk, status=406, headers={"Upload-Checksum": bad})
    assert (await srv.head(location)).headers["Upload-Offset"] == "0"   # chunk discarded
    resp = await srv.patch(location, 0, chunk, headers={"Upload-Checksum": good})
    assert resp.headers["Upload-Offset"] == "3"


async def test_final_checksum_mismatch(srv):
    """The whole-file checksum of Upload-Metadata: 406 like a chunk mismatch; nothing stored."""
    await srv.create(length=3, body=b"abc", checksum="SHA1 " + "0" * 40, status=406)
    with pytest.raises(NotFound):
        await srv.storage.lookup(srv.alice.id, ("f.txt",))
    assert await srv.storage.list_uploads() == []


@pytest.mark.parametrize("algo", ["MD5", "SHA1", "md5", "adler32"])
async def test_upload_checksum_hex_as_ocis_acceptance(srv, algo):
    """coreApiWebdavUploadTUS/checksums.feature: `Upload-Checksum: MD5 <hex>` is accepted; a wrong
    digest is 406 and the chunk is dropped, so the next chunk at offset 5 is a 409; the file is
    not there. Base64 of the same digest is accepted too (the tus form)."""
    first, second = b"01234", b"56789"
    def hexd(data: bytes) -> str:
        if algo.lower() == "adler32":
            return f"{zlib.adler32(data):08x}"
        return hashlib.new(algo.lower(), data).hexdigest()
    location = (await srv.create(length=10, filename="textFile.txt")).headers["Location"]
    wrong = hexd(first)[:-1] + ("0" if hexd(first)[-1] != "0" else "1")
    await srv.patch(location, 0, first, status=406, headers={"Upload-Checksum": f"{algo} {wrong}"})
    await srv.patch(location, 5, second, status=409, headers={"Upload-Checksum": f"{algo} {hexd(second)}"})
    with pytest.raises(NotFound):
        await srv.storage.lookup(srv.alice.id, ("textFile.txt",))
    await srv.patch(location, 0, first, headers={"Upload-Checksum": f"{algo} {hexd(first)}"})
    b64 = base64.b64encode(bytes.fromhex(hexd(second))).decode()
    await srv.patch(location, 5, second, headers={"Upload-Checksum": f"{algo} {b64}"})
    got = await srv.client.get("/remote.php/webdav/textFile.txt", headers=kit.headers("alice"))
    assert got.status == 200 and await got.read() == first + second


async def test_upload_checksum_garbage_is_400(srv):
    location = (await srv.create(length=3)).headers["Location"]
    for value in ("MD5 xyz", "MD5 " + "0" * 31, "SHA1 " + "g" * 40, "MD5"):
        await srv.patch(location, 0, b"abc", status=400, headers={"Upload-Checksum": value})
    assert (await srv.head(location)).headers["Upload-Offset"] == "0"


async def test_method_override_and_termination(srv):
    location = (await srv.create(length=4)).headers["Location"]
    path = urlsplit(location).path
    resp = await srv.client.post(path, data=b"ab", headers={
        "Tus-Resumable": "1.0.0", "Upload-Offset": "0", "X-HTTP-Method-Override": "PATCH",
        "Content-Type": "application/offset+octet-stream"})
    assert resp.status == 204 and resp.headers["Upload-Offset"] == "2"
    assert len(await srv.storage.list_uploads()) == 1
    resp = await srv.client.post(path, headers={"Tus-Resumable": "1.0.0",
                                                "X-HTTP-Method-Override": "DELETE"})
    assert resp.status == 204
    await srv.head(location, status=404)
    assert await srv.storage.list_uploads() == []
    assert not any((srv.data_dir / "uploads").iterdir())


async def test_forged_and_expired_tokens(srv):
    location = (await srv.create(length=4)).headers["Location"]
    token = urlsplit(location).path.rsplit("/", 1)[1]
    payload, mac = token.split(".")
    await srv.head(f"/data/{payload}.{mac[:-2]}AA", status=401)
    await srv.head("/data/garbage", status=401)
    forged = sign_token(b"another secret", "x", srv.alice.id, time.time() + 60)
    await srv.head(f"/data/{forged}", status=401)
    session_id, user_id = verify_token(SECRET.encode(), token)
    expired = sign_token(SECRET.encode(), session_id, user_id, time.time() - 1)
    await srv.head(f"/data/{expired}", status=404)
    other = sign_token(SECRET.encode(), session_id, srv.bob.id, time.time() + 60)
    await srv.head(f"/data/{other}", status=404)   # a valid token for someone else's session


async def test_unfinished_upload_is_invisible(srv):
    location = (await srv.create(length=10, body=b"01234", filename="hidden.txt")).headers["Location"]
    resp = await srv.client.request("PROPFIND", "/remote.php/webdav/",
                                    headers={**kit.headers("alice"), "Depth": "1"})
    assert b"hidden.txt" not in await resp.read()
    resp = await srv.client.get("/remote.php/webdav/hidden.txt", headers=kit.headers("alice"))
    assert resp.status == 404
    await srv.patch(location, 5, b"56789")
    resp = await srv.client.request("PROPFIND", "/remote.php/webdav/",
                                    headers={**kit.headers("alice"), "Depth": "1"})
    assert b"hidden.txt" in await resp.read()


async def test_resume_after_restart(srv):
    data = bytes(range(256)) * 100
    location = (await srv.create(length=len(data), body=data[:10000])).headers["Location"]
    await srv.restart()
    head = await srv.head(location)
    assert head.headers["Upload-Offset"] == "10000"
    resp = await srv.patch(location, 10000, data[10000:])
    assert resp.headers["OC-FileId"]
    assert await srv.get("/remote.php/webdav/f.txt") == data
    node = await srv.storage.lookup(srv.alice.id, ("f.txt",))
    assert node.checksums["SHA1"] == hashlib.sha1(data).hexdigest()   # re-hashed after restart


async def test_expired_session_is_cleaned(aiohttp_client, tmp_path):
    srv = await Server(aiohttp_client, tmp_path / "data", upload_expiration=1).start()
    try:
        location = (await srv.create(length=10, body=b"01234")).headers["Location"]
        assert len(await srv.storage.list_uploads(expired=False)) == 1
        await asyncio.sleep(1.1)
        await srv.head(location, status=404)
        assert len(await srv.storage.list_uploads(expired=True)) == 1
        count, freed = await srv.storage.clean_uploads()
        assert (count, freed) == (1, 5)
        assert await srv.storage.list_uploads() == []
        assert not any((srv.data_dir / "uploads").iterdir())
    finally:
        await srv.close()


# --- the storage sessions directly -----------------------------------------------------------

async def _chunks(*parts: bytes):
    for part in parts:
        yield part


async def test_storage_session_validation(srv):
    st, uid = srv.storage, srv.alice.id
    with pytest.raises(Conflict):
        await st.create_upload(uid, ("missing", "f"), size=1, user_id=uid, expires_in=60)
    await st.mkdir(uid, ("d",))
    with pytest.raises(Conflict):
        await st.create_upload(uid, ("d",), size=1, user_id=uid, expires_in=60)
    with pytest.raises(PreconditionFailed):
        await st.create_upload(uid, ("new",), size=1, user_id=uid, if_match='"x"', expires_in=60)
    await st.update_space(uid, quota_total=10)
    with pytest.raises(QuotaExceeded):
        await st.create_upload(uid, ("big",), size=11, user_id=uid, expires_in=60)
    session = await st.create_upload(uid, ("ok",), size=4, user_id=uid, expires_in=60)
    with pytest.raises(Conflict):
        await st.append_upload(session.id, 2, _chunks(b"ab"))
    with pytest.raises(BadRequest):
        await st.append_upload(session.id, 0, _chunks(b"abcde"))
    with pytest.raises(ChecksumMismatch):
        await st.append_upload(session.id, 0, _chunks(b"ab"), chunk_checksum=("crc32", "0"))
    assert (await st.get_upload(session.id)).offset == 0
    session, result = await st.append_upload(session.id, 0, _chunks(b"a", b"b"))
    assert session.offset == 2 and result is None
    session, result = await st.append_upload(session.id, 2, _chunks(b"cd"))
    assert result is not None and result.created and result.node.size == 4
    with pytest.raises(NotFound):
        await st.get_upload(session.id)


async def test_interrupted_chunk_keeps_received_bytes(srv):
    st, uid = srv.storage, srv.alice.id
    session = await st.create_upload(uid, ("f",), size=10, user_id=uid, expires_in=60)

    async def broken():
        yield b"abc"
        raise ConnectionResetError("client went away")
    with pytest.raises(ConnectionResetError):
        await st.append_upload(session.id, 0, broken())
    assert (await st.get_upload(session.id)).offset == 3


async def test_storage_unit_cleans_expired_sessions(tmp_path):
    """The storage-users unit of the runtime removes expired sessions on its own."""
    from ocis_server.runtime.units import StorageUnit
    from ocis_server.services import by_name

    from ocis_server.runtime import make_test_config

    # the real config (the unit reads more of it as the runtime grows: registry, extra mounts)
    config = make_test_config(tmp_path, STORAGE_USERS_MOUNT_ID=STORAGE_ID,
                              OCIS_RUNTIME_HEALTH_INTERVAL="0.05",
                              STORAGE_USERS_UPLOAD_EXPIRATION="60",
                              STORAGE_USERS_FREE_SPACE_RESERVE="0",
                              GRAPH_PERSONAL_SPACES_DEFAULT_QUOTA="0")
    ctx = ServiceContext(config=config, storage=None, users=None)  # type: ignore[arg-type]
    unit = StorageUnit(by_name()["storage-users"], ctx)
    await unit.start()
    try:
        st = ctx.storage
        await st.create_space(space_type="personal", name="A", owner_id="u", alias="personal/a",
                              space_id="u")
        # Long enough to write its data on a loaded machine, then it expires.
        stale = await st.create_upload("u", ("old",), size=3, user_id="u", expires_in=1.0)
        await st.append_upload(stale.id, 0, _chunks(b"ab"))
        fresh = await st.create_upload("u", ("new",), size=3, user_id="u", expires_in=60)
        await asyncio.sleep(max(0.05, stale.expires - time.time() + 0.05))
        runner = asyncio.create_task(unit.run())
        for _ in range(100):
            if len(await st.list_uploads()) == 1:
                break
            await asyncio.sleep(0.02)
        runner.cancel()
        assert [s.id for s in await st.list_uploads()] == [fresh.id]
        assert not (Path(config.base_data_path) / "storage" / "users" / "uploads"
                    / stale.id).exists()
    finally:
        await unit.stop()


async def test_clean_removes_old_orphan_data_only(srv):
    """Partial data without a session row (a crash between the two) goes once it is old."""
    folder = srv.data_dir / "uploads"
    folder.mkdir(exist_ok=True)
    old, young = folder / "orphan-old", folder / "orphan-young"
    old.write_bytes(b"12345")
    young.write_bytes(b"123")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    assert await srv.storage.clean_uploads() == (0, 5)
    assert not old.exists() and young.exists()


def test_lagging_running_hashes_match_inline_hashing():
    """The whole-file hashes fed block by block to the helper chains (bounded lag) equal
    hashing the same bytes in one go, whatever the block sizes."""
    from concurrent.futures import ThreadPoolExecutor

    from ocis_server.storage.uploadio import RunningHashes

    data = os.urandom(9 * (1 << 20) + 12345)
    sizes = [1 << 20, 1, 777_777, 3 << 20, 5, 2 << 20]
    with ThreadPoolExecutor(2) as helper:
        running, pos = RunningHashes(helper), 0
        while pos < len(data):
            size = sizes[pos % len(sizes)]
            running.update(data[pos:pos + size])
            pos += size
        digest = running.digest()
    assert digest is not None and digest.size == len(data)
    assert digest.sha1 == hashlib.sha1(data).hexdigest()
    assert digest.md5 == hashlib.md5(data).hexdigest()
    assert digest.adler32 == f"{zlib.adler32(data):08x}"
