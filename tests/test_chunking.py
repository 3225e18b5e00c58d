"""Chunking NG in-process: MKCOL a transfer, chunk PUTs out of order and in parallel, PROPFIND to
resume, the final MOVE of `.file` (201/204, OC-FileId, ETag, If, checksums, mtime), DELETE."""

from __future__ import annotations

import asyncio
import hashlib
from xml.etree import ElementTree as ET

import kit
import pytest
from test_tus import Server

ROOT = "/remote.php/dav/uploads/alice"


@pytest.fixture
async def srv(aiohttp_client, tmp_path):
    server = await Server(aiohttp_client, tmp_path / "data").start()
    yield server
    await server.close()


async def req(srv, method, path, status, *, data=None, headers=None):
    resp = await srv.client.request(method, path, data=data, headers={**kit.headers("alice"), **(headers or {})})
    body = await resp.read()
    assert resp.status == status, (method, path, resp.status, body[:300])
    resp.body = body
    return resp


def chunk_name(offset: int) -> str:
    return f"{offset:016d}"


async def upload_chunks(srv, transfer: str, data: bytes, size: int, order=None) -> None:
    offsets = list(range(0, len(data), size))
    for offset in order(offsets) if order else offsets:
        await req(srv, "PUT", f"{ROOT}/{transfer}/{chunk_name(offset)}", 201,
                  data=data[offset:offset + size], headers={"OC-Chunk-Offset": str(offset)})


async def test_full_transfer_out_of_order(srv):
    data = bytes(range(256)) * 40
    await req(srv, "MKCOL", f"{ROOT}/t1", 201, headers={"OC-Total-Length": str(len(data))})
    await req(srv, "MKCOL", f"{ROOT}/t1", 405)
    await upload_chunks(srv, "t1", data, 1000, order=lambda o: list(reversed(o)))
    sha1 = hashlib.sha1(data).hexdigest()
    resp = await req(srv, "MOVE", f"{ROOT}/t1/.file", 201, headers={
        "Destination": "/remote.php/dav/files/alice/big.bin", "OC-Total-Length": str(len(data)),
        "OC-Checksum": f"SHA1:{sha1}", "X-OC-Mtime": "1600000000"})
    assert resp.headers["OC-FileId"] and resp.headers["ETag"] and resp.headers["OC-ETag"]
    assert resp.headers["X-OC-Mtime"] == "accepted"
    node = await srv.storage.lookup(srv.alice.id, ("big.bin",))
    assert node.size == len(data) and node.checksums["SHA1"] == sha1 and node.mtime == 1600000000
    assert (await srv.get("/remote.php/webdav/big.bin")) == data
    await req(srv, "PROPFIND", f"{ROOT}/t1", 404, headers={"Depth": "1"})   # session gone
    assert not any((srv.data_dir / "uploads").iterdir())


async def test_parallel_chunks_and_resume_listing(srv):
    data = b"0123456789" * 500
    await req(srv, "MKCOL", "/dav/uploads/alice/par", 201)
    await asyncio.gather(*(
        req(srv, "PUT", f"{ROOT}/par/{chunk_name(o)}", 201, data=data[o:o + 700])
        for o in range(0, 3500, 700)))
    resp = await req(srv, "PROPFIND", f"{ROOT}/par", 207, headers={"Depth": "1"})
    assert "application/xml; charset=utf-8" in resp.headers["Content-Type"]
    tree = ET.fromstring(resp.body)
    hrefs = [e.text for e in tree.iter("{DAV:}href")]
    assert hrefs[0] == f"{ROOT}/par/"
    assert hrefs[1:] == [f"{ROOT}/par/{chunk_name(o)}" for o in range(0, 3500, 700)]
    sizes = [e.text for e in tree.iter("{DAV:}getcontentlength")]
    assert sizes == ["700"] * 5
    # the client resumes with the remaining chunks
    await upload_chunks(srv, "par", data, 700)
    resp = await req(srv, "MOVE", f"{ROOT}/par/.file", 201, headers={
        "Destination": "http://localhost/remote.php/dav/files/alice/p.txt",
        "OC-Total-Length": str(len(data))})
    assert (await srv.get("/remote.php/webdav/p.txt")) == data


async def test_overwrite_with_if_etag(srv):
    await req(srv, "PUT", "/remote.php/webdav/f.txt", 201, data=b"old")
    etag = (await srv.storage.lookup(srv.alice.id, ("f.txt",))).etag
    dest = "/remote.php/dav/files/alice/f.txt"
    await req(srv, "MKCOL", f"{ROOT}/ow", 201)
    await upload_chunks(srv, "ow", b"new content", 4)
    await req(srv, "MOVE", f"{ROOT}/ow/.file", 412, headers={
        "Destination": dest, "If": f'<http://localhost{dest}> (["wrong"])'})
    resp = await req(srv, "MOVE", f"{ROOT}/ow/.file", 204, headers={
        "Destination": dest, "If": f'<http://localhost{dest}> (["{etag}"])',
        "OC-Total-Length": "11"})
    assert resp.headers["OC-FileId"].endswith(
        (await srv.storage.lookup(srv.alice.id, ("f.txt",))).id)
    assert (await srv.get("/remote.php/webdav/f.txt")) == b"new content"


async def test_missing_chunk_size_mismatch_and_checksum(srv):
    data = b"abcdefghij"
    await req(srv, "MKCOL", f"{ROOT}/gap", 201)
    await req(srv, "PUT", f"{ROOT}/gap/{chunk_name(0)}", 201, data=data[:4])
    await req(srv, "PUT", f"{ROOT}/gap/{chunk_name(8)}", 201, data=data[8:])
    dest = {"Destination": "/remote.php/dav/files/alice/g.txt"}
    await req(srv, "MOVE", f"{ROOT}/gap/.file", 409, headers=dest)
    await req(srv, "PUT", f"{ROOT}/gap/{chunk_name(4)}", 201, data=data[4:8])
    await req(srv, "MOVE", f"{ROOT}/gap/.file", 409, headers={**dest, "OC-Total-Length": "99"})
    await req(srv, "MOVE", f"{ROOT}/gap/.file", 400,
              headers={**dest, "OC-Checksum": "SHA1:" + "0" * 40})
    await req(srv, "MOVE", f"{ROOT}/gap/.file", 201, headers={**dest, "OC-Total-Length": "10"})
    assert (await srv.get("/remote.php/webdav/g.txt")) == data


async def test_abort_and_errors(srv):
    await req(srv, "MKCOL", f"{ROOT}/ab", 201)
    await req(srv, "PUT", f"{ROOT}/ab/{chunk_name(0)}", 201, data=b"xyz")
    await req(srv, "PUT", f"{ROOT}/ab/notanumber", 400, data=b"xyz")
    await req(srv, "DELETE", f"{ROOT}/ab", 204)
    await req(srv, "PUT", f"{ROOT}/ab/{chunk_name(0)}", 404, data=b"xyz")
    assert await srv.storage.list_uploads() == []
    await req(srv, "MKCOL", "/remote.php/dav/uploads/bob/x", 404)         # someone else's
    await req(srv, "MKCOL", f"{ROOT}/dirdest", 201)
    await req(srv, "PUT", f"{ROOT}/dirdest/{chunk_name(0)}", 201, data=b"1")
    await req(srv, "MKCOL", "/remote.php/webdav/folder", 201)
    await req(srv, "MOVE", f"{ROOT}/dirdest/.file", 409,
              headers={"Destination": "/remote.php/dav/files/alice/folder"})
    await req(srv, "MOVE", f"{ROOT}/dirdest/.file", 409,
              headers={"Destination": "/remote.php/dav/files/alice/nope/x"})
    resp = await srv.client.request("MKCOL", f"{ROOT}/anon")
    assert resp.status == 401


async def test_transfer_survives_restart_and_is_invisible(srv):
    await req(srv, "MKCOL", f"{ROOT}/rs", 201, headers={"OC-Total-Length": "6"})
    await req(srv, "PUT", f"{ROOT}/rs/{chunk_name(0)}", 201, data=b"abc")
    await srv.restart()
    resp = await req(srv, "PROPFIND", f"{ROOT}/rs", 207, headers={"Depth": "1"})
    assert chunk_name(0).encode() in resp.body
    sessions = await srv.storage.list_uploads()
    assert [(s.kind, s.offset, s.size) for s in sessions] == [("chunks", 3, 6)]
    resp = await req(srv, "PROPFIND", "/remote.php/webdav/", 207, headers={"Depth": "1"})
    assert len(list(ET.fromstring(resp.body).iter("{DAV:}response"))) == 1   # the root only
    await req(srv, "PUT", f"{ROOT}/rs/{chunk_name(3)}", 201, data=b"def")
    await req(srv, "MOVE", f"{ROOT}/rs/.file", 201,
              headers={"Destination": "/remote.php/dav/files/alice/rs.txt"})
    assert (await srv.get("/remote.php/webdav/rs.txt")) == b"abcdef"


def range_name(start: int, length: int) -> str:
    """rclone >= 1.63 (vendor nextcloud): `<start>-<end>`, both inclusive, 15 digits each."""
    return f"{start:015d}-{start + length - 1:015d}"


async def test_byte_range_chunk_names(srv):
    data = bytes(range(256)) * 9              # 2304 bytes: chunks of 1024, 1024 and 256
    await req(srv, "MKCOL", f"{ROOT}/rclone-chunked-upload-x", 201,
              headers={"Destination": "/remote.php/dav/files/alice/r.bin"})
    for start in (2048, 0, 1024):             # any order; assembled by start offset
        piece = data[start:start + 1024]
        await req(srv, "PUT", f"{ROOT}/rclone-chunked-upload-x/{range_name(start, len(piece))}",
                  201, data=piece)
    resp = await req(srv, "PROPFIND", f"{ROOT}/rclone-chunked-upload-x", 207,
                     headers={"Depth": "1"})
    hrefs = [e.text for e in ET.fromstring(resp.body).iter("{DAV:}href")][1:]
    assert hrefs == [f"{ROOT}/rclone-chunked-upload-x/{range_name(s, n)}"
                     for s, n in ((0, 1024), (1024, 1024), (2048, 256))]
    await req(srv, "MOVE", f"{ROOT}/rclone-chunked-upload-x/.file", 201, headers={
        "Destination": "/remote.php/dav/files/alice/r.bin", "OC-Total-Length": str(len(data))})
    assert (await srv.get("/remote.php/webdav/r.bin")) == data


async def test_byte_range_chunk_names_are_checked(srv):
    dest = {"Destination": "/remote.php/dav/files/alice/bad.bin"}
    await req(srv, "MKCOL", f"{ROOT}/rg", 201)
    # the body must fill the named range; names are ASCII digits only
    await req(srv, "PUT", f"{ROOT}/rg/{range_name(0, 5)}", 400, data=b"abcd")
    await req(srv, "PUT", f"{ROOT}/rg/000-00a", 400, data=b"a")
    await req(srv, "PUT", f"{ROOT}/rg/000-001-002", 400, data=b"ab")
    await req(srv, "PUT", f"{ROOT}/rg/{'٠' * 3}", 400, data=b"a")
    await req(srv, "PUT", f"{ROOT}/rg/{'0' * 21}", 400, data=b"a")
    # a gap between ranges is a missing chunk (409), as is mixing ranges with offsets
    await req(srv, "PUT", f"{ROOT}/rg/{range_name(0, 4)}", 201, data=b"abcd")
    await req(srv, "PUT", f"{ROOT}/rg/{range_name(6, 2)}", 201, data=b"gh")
    await req(srv, "MOVE", f"{ROOT}/rg/.file", 409, headers=dest)
    await req(srv, "PUT", f"{ROOT}/rg/{chunk_name(4)}", 201, data=b"ef")
    await req(srv, "MOVE", f"{ROOT}/rg/.file", 409, headers=dest)
    await req(srv, "DELETE", f"{ROOT}/rg", 204)
    await req(srv, "MKCOL", f"{ROOT}/rg", 201)
    for start, piece in ((0, b"abcd"), (4, b"ef"), (6, b"gh")):
        await req(srv, "PUT", f"{ROOT}/rg/{range_name(start, len(piece))}", 201, data=piece)
    await req(srv, "MOVE", f"{ROOT}/rg/.file", 201, headers={**dest, "OC-Total-Length": "8"})
    assert (await srv.get("/remote.php/webdav/bad.bin")) == b"abcdefgh"


# --- chunks sent one after another go to one file (.joined), hashed on the way ----------------

def chunk_dir(srv, transfer_id: str):
    return srv.data_dir / "uploads" / f"{transfer_id}.chunks"


async def session_of(srv, transfer: str):
    return await srv.storage.find_chunked_upload(srv.alice.id, transfer)


async def move_and_check(srv, transfer: str, data: bytes, name: str) -> None:
    await req(srv, "MOVE", f"{ROOT}/{transfer}/.file", 201, headers={
        "Destination": f"/remote.php/dav/files/alice/{name}", "OC-Total-Length": str(len(data)),
        "OC-Checksum": f"SHA1:{hashlib.sha1(data).hexdigest()}"})
    node = await srv.storage.lookup(srv.alice.id, (name,))
    assert node.checksums["SHA1"] == hashlib.sha1(data).hexdigest()
    assert node.checksums["MD5"] == hashlib.md5(data).hexdigest()
    import zlib
    assert node.checksums["ADLER32"] == f"{zlib.adler32(data):08x}"
    assert (await srv.get(f"/remote.php/webdav/{name}")) == data


async def test_in_order_chunks_are_joined(srv):
    data = bytes(range(256)) * 50
    await req(srv, "MKCOL", f"{ROOT}/j1", 201)
    await upload_chunks(srv, "j1", data, 3000)
    folder = chunk_dir(srv, (await session_of(srv, "j1")).id)
    assert sorted(p.name for p in folder.iterdir()) == [".joined", ".joined.idx"]
    assert (folder / ".joined").read_bytes() == data
    resp = await req(srv, "PROPFIND", f"{ROOT}/j1", 207, headers={"Depth": "1"})
    sizes = [e.text for e in ET.fromstring(resp.body).iter("{DAV:}getcontentlength")]
    assert sizes == ["3000"] * 4 + [str(len(data) - 12000)]
    assert [s.offset for s in await srv.storage.list_uploads()] == [len(data)]
    await move_and_check(srv, "j1", data, "j1.bin")
    assert not folder.exists()


async def test_sequence_numbers_in_order_are_joined(srv):
    data = b"nextcloud sequence " * 100
    await req(srv, "MKCOL", f"{ROOT}/seq", 201)
    pieces = [data[o:o + 512] for o in range(0, len(data), 512)]
    for number, piece in enumerate(pieces, start=1):
        await req(srv, "PUT", f"{ROOT}/seq/{number:05d}", 201, data=piece)
    folder = chunk_dir(srv, (await session_of(srv, "seq")).id)
    assert (folder / ".joined").read_bytes() == data
    await move_and_check(srv, "seq", data, "seq.bin")


async def test_resent_and_out_of_order_chunks_win_over_joined(srv):
    data = bytearray(b"a" * 4000)
    await req(srv, "MKCOL", f"{ROOT}/rs2", 201)
    await upload_chunks(srv, "rs2", bytes(data), 1000)
    data[1000:2000] = b"b" * 1000            # the client re-sends chunk 1000 with other bytes
    await req(srv, "PUT", f"{ROOT}/rs2/{chunk_name(1000)}", 201, data=bytes(data[1000:2000]))
    data += b"c" * 10                         # and a last one
    await req(srv, "PUT", f"{ROOT}/rs2/{chunk_name(4000)}", 201, data=b"c" * 10)
    await move_and_check(srv, "rs2", bytes(data), "rs2.bin")


async def test_joined_transfer_after_restart_is_hashed_from_disk(srv):
    data = bytes(range(200)) * 30
    await req(srv, "MKCOL", f"{ROOT}/rj", 201)
    await req(srv, "PUT", f"{ROOT}/rj/{chunk_name(0)}", 201, data=data[:2500])
    await srv.restart()
    await req(srv, "PUT", f"{ROOT}/rj/{chunk_name(2500)}", 201, data=data[2500:])
    await move_and_check(srv, "rj", data, "rj.bin")


async def test_crash_leftovers_in_joined_are_cut(srv):
    data = b"0123456789" * 300
    await req(srv, "MKCOL", f"{ROOT}/cr", 201)
    await req(srv, "PUT", f"{ROOT}/cr/{chunk_name(0)}", 201, data=data[:1000])
    folder = chunk_dir(srv, (await session_of(srv, "cr")).id)
    await srv.restart()
    with open(folder / ".joined", "ab") as fh:    # appended, never indexed: a crash mid-chunk
        fh.write(b"GARBAGE" * 10)
    with open(folder / ".joined.idx", "ab") as fh:  # and a torn index line
        fh.write(b"0000000000009999 10")
    await req(srv, "PUT", f"{ROOT}/cr/{chunk_name(1000)}", 201, data=data[1000:2000])
    await req(srv, "PUT", f"{ROOT}/cr/{chunk_name(2000)}", 201, data=data[2000:])
    with open(folder / ".joined", "ab") as fh:    # again, after the last chunk
        fh.write(b"GARBAGE")
    await move_and_check(srv, "cr", data, "cr.bin")


async def test_failed_joined_chunk_is_cut_off(srv):
    await req(srv, "MKCOL", f"{ROOT}/fc", 201)
    await req(srv, "PUT", f"{ROOT}/fc/{chunk_name(0)}", 201, data=b"x" * 100)
    session = await session_of(srv, "fc")

    async def broken():
        yield b"y" * 50
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await srv.storage.put_upload_chunk(session.id, chunk_name(100), broken())
    assert (chunk_dir(srv, session.id) / ".joined").read_bytes() == b"x" * 100
    await req(srv, "PUT", f"{ROOT}/fc/{chunk_name(100)}", 201, data=b"z" * 100)
    await move_and_check(srv, "fc", b"x" * 100 + b"z" * 100, "fc.bin")


@pytest.mark.parametrize("base", ["/remote.php/webdav", "/remote.php/dav/files/alice"])
async def test_oc9_chunked_put_is_refused_as_ocis(srv, base):
    """oC <= 9 chunking (`name-chunking-<id>-<n>-<i>`) is not taken: 503 like oCIS
    (coreApiMain/checksums.feature), with or without `OC-Chunked`; nothing is written, neither the
    chunk under its own name nor the assembled file. A file merely containing "-chunking-" stays fine."""
    for headers in ({"OC-Chunked": "1"}, {}):
        resp = await req(srv, "PUT", f"{base}/myChecksumFile.txt-chunking-4242-3-0", 503,
                         data=b"AAAAA", headers=headers)
        assert b"Sabre\\DAV\\Exception\\ServiceUnavailable" in resp.body
    await req(srv, "PUT", f"{base}/plain.txt", 503, data=b"x", headers={"OC-Chunked": "1"})
    for name in ("myChecksumFile.txt", "myChecksumFile.txt-chunking-4242-3-0", "plain.txt"):
        await req(srv, "GET", f"{base}/{name}", 404)
    await req(srv, "PUT", f"{base}/notes-chunking-draft.txt", 201, data=b"ok")


@pytest.mark.parametrize("name", ["%20", "%20%20%20", "%09"])
async def test_blank_name_is_refused(srv, name):
    """A name of spaces only: PUT 400 (reva ValidateName), TUS creation 412; nothing is created."""
    resp = await req(srv, "PUT", f"/remote.php/webdav/{name}", 400, data=b"x")
    assert b"Sabre\\DAV\\Exception\\BadRequest" in resp.body
    await srv.create(length=1, filename="   ", status=412)
    listing = await req(srv, "PROPFIND", "/remote.php/webdav/", 207, headers={"Depth": "1"})
    assert len(ET.fromstring(listing.body).findall("{DAV:}response")) == 1
