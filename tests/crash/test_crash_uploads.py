"""kill -9 during resumable uploads (TUS PATCH, chunking NG chunk PUT and final MOVE), a version
restore and a trash restore; after the restart the upload resumes from the server's offset and the
file ends up whole, and the rest of the world verifies as in test_crash.py (conftest's `world`:
one server and data directory per module)."""

from __future__ import annotations

import base64
import time
from urllib.parse import urlsplit

import pytest

from .harness import DAV, body_of, read_response
from .test_crash import _raw_then_kill
from .world import World

pytestmark = pytest.mark.slow

TUS = {"Tus-Resumable": "1.0.0"}
PATCH = {**TUS, "Content-Type": "application/offset+octet-stream"}
SIZE = 3 * 1024 * 1024 + 11
CHUNKS = "/remote.php/dav/uploads/admin"


def _tus_create(world: World, name: str, size: int) -> str:
    meta = "filename " + base64.b64encode(name.encode()).decode()
    resp = world.up().request("POST", DAV + "/", headers={
        **TUS, "Upload-Length": str(size), "Upload-Metadata": meta})
    assert resp.status == 201, resp.status
    return urlsplit(resp.headers["location"]).path


def _tus_offset(world: World, location: str) -> int | None:
    resp = world.server.request("HEAD", location, headers=TUS)
    if resp.status in (404, 410):
        return None
    assert resp.status == 200, resp.status
    return int(resp.headers["upload-offset"])


def _tus_patch(world: World, location: str, data: bytes, offset: int) -> int:
    resp = world.server.request("PATCH", location, data[offset:], headers={
        **PATCH, "Upload-Offset": str(offset)})
    assert resp.status == 204, (resp.status, resp.body[:200])
    return int(resp.headers["upload-offset"])


def _kill_mid_patch(world: World, location: str, data: bytes, offset: int, sent: int) -> None:
    srv = world.up()
    sock = srv.open_raw("PATCH", location, {**PATCH, "Upload-Offset": str(offset),
                                            "Content-Length": str(len(data) - offset)})
    sock.sendall(data[offset:offset + sent])
    time.sleep(0.15)
    srv.kill9()
    sock.close()


@pytest.mark.parametrize("acked_first", [0, 1024 * 1024], ids=["first-patch", "second-patch"])
def test_kill_mid_tus_patch_then_resume(world: World, acked_first: int) -> None:
    name = f"tus-{acked_first}.bin"
    data = body_of(3000 + acked_first, SIZE)
    location = _tus_create(world, name, len(data))
    if acked_first:
        resp = world.server.request("PATCH", location, data[:acked_first], headers={
            **PATCH, "Upload-Offset": "0"})
        assert resp.status == 204
    _kill_mid_patch(world, location, data, acked_first, 1024 * 1024 + 5)
    world.recover(f"mid TUS PATCH (after {acked_first} acknowledged bytes)")
    offset = _tus_offset(world, location)
    assert offset is not None and acked_first <= offset < len(data)
    assert world.content("/" + name) is None           # invisible until the last byte
    world.verify()                                     # an open session is consistent too
    world.up()
    assert _tus_offset(world, location) == offset      # survived a clean restart as well
    assert _tus_patch(world, location, data, offset) == len(data)
    world.ledger.add_file("/" + name, data)
    assert world.content("/" + name) == data


def test_kill_right_after_the_last_tus_patch(world: World) -> None:
    data = body_of(3100, SIZE)
    location = _tus_create(world, "tus-acked.bin", len(data))
    sock = world.server.open_raw("PATCH", location, {**PATCH, "Upload-Offset": "0",
                                                     "Content-Length": str(len(data))})
    sock.sendall(data)
    status, _ = read_response(sock)
    assert status == 204
    world.server.kill9()
    world.ledger.add_file("/tus-acked.bin", data)
    world.recover("right after 204 of the last TUS PATCH")
    world.verify()


def test_kill_during_the_commit_of_a_tus_upload(world: World) -> None:
    """Whole body sent, server frozen at once and killed: committed whole or resumable."""
    data = body_of(3200, SIZE)
    location = _tus_create(world, "tus-frozen.bin", len(data))
    sock = world.server.open_raw("PATCH", location, {**PATCH, "Upload-Offset": "0",
                                                     "Content-Length": str(len(data))})
    sock.sendall(data)
    world.server.freeze_then_kill()
    sock.close()
    world.recover("last TUS PATCH body complete, SIGSTOP+SIGKILL")
    got = world.content("/tus-frozen.bin")
    world.note("committed" if got is not None else "resumed after the restart")
    if got is None:
        offset = _tus_offset(world, location)
        assert offset is not None
        if offset < len(data):
            _tus_patch(world, location, data, offset)
        got = world.content("/tus-frozen.bin")
    assert got == data
    world.ledger.add_file("/tus-frozen.bin", data)
    world.verify()


def _chunked_upload(world: World, transfer: str, data: bytes, parts: int) -> list[bytes]:
    srv = world.up()
    assert srv.request("MKCOL", f"{CHUNKS}/{transfer}", headers={
        "OC-Total-Length": str(len(data))}).status == 201
    step = -(-len(data) // parts)
    return [data[i:i + step] for i in range(0, len(data), step)]


def test_kill_mid_chunk_put_then_finish(world: World) -> None:
    data = body_of(3300, SIZE)
    chunks = _chunked_upload(world, "ng-mid", data, 3)
    srv = world.server
    assert srv.request("PUT", f"{CHUNKS}/ng-mid/{0:015d}", chunks[0]).status == 201
    sock = srv.open_raw("PUT", f"{CHUNKS}/ng-mid/{len(chunks[0]):015d}",
                        {"Content-Length": str(len(chunks[1]))})
    sock.sendall(chunks[1][: len(chunks[1]) // 2])
    time.sleep(0.15)
    srv.kill9()
    sock.close()
    world.recover("mid chunking-NG chunk PUT")
    listing = srv.request("PROPFIND", f"{CHUNKS}/ng-mid", headers={"Depth": "1"})
    assert listing.status == 207
    assert f"{len(chunks[0]):015d}".encode() not in listing.body   # the torn chunk is not there
    assert world.content("/ng-mid.bin") is None
    offset = len(chunks[0])
    for chunk in chunks[1:]:
        assert srv.request("PUT", f"{CHUNKS}/ng-mid/{offset:015d}", chunk).status == 201
        offset += len(chunk)
    resp = srv.request("MOVE", f"{CHUNKS}/ng-mid/.file", headers={
        "Destination": srv.dest("/ng-mid.bin"), "OC-Total-Length": str(len(data))})
    assert resp.status == 201, resp.status
    world.ledger.add_file("/ng-mid.bin", data)
    world.verify()


def test_kill_during_chunk_assembly_move(world: World) -> None:
    data = body_of(3400, SIZE)
    chunks = _chunked_upload(world, "ng-move", data, 4)
    srv, offset = world.server, 0
    for chunk in chunks:
        assert srv.request("PUT", f"{CHUNKS}/ng-move/{offset:015d}", chunk).status == 201
        offset += len(chunk)
    move = {"Destination": srv.dest("/ng-move.bin"), "OC-Total-Length": str(len(data))}
    sock = srv.open_raw("MOVE", f"{CHUNKS}/ng-move/.file", {"Content-Length": "0", **move})
    time.sleep(world.delay(0.05))
    srv.kill9()
    sock.close()
    world.recover("during the chunking-NG final MOVE")
    got = world.content("/ng-move.bin")
    world.note("committed" if got is not None else "MOVE repeated after the restart")
    if got is None:   # not committed: the transfer is still there, finish it
        resp = srv.request("MOVE", f"{CHUNKS}/ng-move/.file", headers={
            "Destination": srv.dest("/ng-move.bin"), "OC-Total-Length": str(len(data))})
        assert resp.status == 201, resp.status
        got = world.content("/ng-move.bin")
    assert got == data
    world.ledger.add_file("/ng-move.bin", data)
    world.verify()


def test_kill_during_version_restore(world: World) -> None:
    old, new = body_of(3500, 80_000), body_of(3501, 120_000)
    world.put("/versioned.bin", old)
    world.put("/versioned.bin", new)
    srv = world.server
    file_id = srv.request("HEAD", DAV + "/versioned.bin").headers["oc-fileid"]
    listing = srv.request("PROPFIND", f"/remote.php/dav/meta/{file_id}/v", headers={"Depth": "1"})
    assert listing.status == 207
    key = listing.body.split(b"/v/")[-1].split(b"<")[0].decode()
    _raw_then_kill(world, "COPY", f"/remote.php/dav/meta/{file_id}/v/{key}",
                   {"Destination": world.dest("/versioned.bin")}, delay=world.delay(0.02))
    world.recover("during a version restore (COPY of meta/<id>/v/<key>)")
    got = world.content("/versioned.bin")
    assert got in (old, new)
    world.note("restored" if got == old else "not restored")
    world.ledger.add_file("/versioned.bin", got)   # type: ignore[arg-type]
    world.verify()


def test_kill_right_after_version_restore(world: World) -> None:
    srv = world.up()
    file_id = srv.request("HEAD", DAV + "/versioned.bin").headers["oc-fileid"]
    listing = srv.request("PROPFIND", f"/remote.php/dav/meta/{file_id}/v", headers={"Depth": "1"})
    key = listing.body.split(b"/v/")[-1].split(b"<")[0].decode()
    target = srv.request("GET", f"/remote.php/dav/meta/{file_id}/v/{key}").body
    status = _raw_then_kill(world, "COPY", f"/remote.php/dav/meta/{file_id}/v/{key}",
                            {"Destination": world.dest("/versioned.bin")})
    assert status == 204
    world.ledger.add_file("/versioned.bin", target)
    world.recover("right after 204 of a version restore")
    world.verify()


def test_kill_during_trash_restore(world: World) -> None:
    data = body_of(3600, 60_000)
    world.put("/trashed.bin", data)
    srv = world.server
    file_id = srv.request("HEAD", DAV + "/trashed.bin").headers["oc-fileid"]
    assert srv.request("DELETE", DAV + "/trashed.bin").status == 204
    world.ledger.drop_tree("/trashed.bin")
    key = file_id.rsplit("!", 1)[-1]
    _raw_then_kill(world, "MOVE", f"/remote.php/dav/trash-bin/admin/{key}",
                   {"Destination": world.dest("/trashed.bin")}, delay=world.delay(0.02))
    world.recover("during a trash restore (MOVE out of the trash-bin)")
    got = world.content("/trashed.bin")
    assert got in (None, data)
    world.note("restored" if got is not None else "still in the trash, restored after")
    if got is None:   # still in the trash: restoring it now works
        resp = srv.request("MOVE", f"/remote.php/dav/trash-bin/admin/{key}",
                           headers={"Destination": srv.dest("/trashed.bin")})
        assert resp.status == 201, resp.status
    world.ledger.add_file("/trashed.bin", data)
    assert world.content("/trashed.bin") == data
    world.verify()
