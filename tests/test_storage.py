"""SqliteStorage: tree operations, propagation, preconditions, locks, durability."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ocis_server.domain.errors import (
    AlreadyExists,
    BadRequest,
    ChecksumMismatch,
    Conflict,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    QuotaExceeded,
)
from ocis_server.storage import LockRecord
from ocis_server.storage.sqlite import SqliteStorage

STORAGE_ID = "1284d238-aa92-42ce-bdc4-0b0000009157"
USER = "4c510ada-c86b-4815-8820-42cdf82c3d51"


async def body(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[SqliteStorage]:
    store = await SqliteStorage.open(tmp_path / "users", STORAGE_ID)
    yield store
    await store.close()


@pytest.fixture
async def space(storage: SqliteStorage) -> str:
    created = await storage.create_space(space_type="personal", name="Alice", owner_id=USER,
                                         alias="personal/alice", space_id=USER)
    return created.id


async def put(storage: SqliteStorage, space: str, path: tuple[str, ...], data: bytes,
              **kwargs: object):
    return await storage.upload(space, path, body(data), length=len(data), **kwargs)  # type: ignore[arg-type]


def blob_files(root: Path) -> list[Path]:
    return [p for p in (root / "blobs").rglob("*") if p.is_file() and not p.name.startswith("put-")]


def temp_files(root: Path) -> list[Path]:
    """Upload temp files: in the blob folders (and, from older versions, in tmp/)."""
    return [*(root / "tmp").iterdir(), *(root / "blobs").glob("*/put-*")]


# --- spaces and basic tree --------------------------------------------------------------------

async def test_create_space_and_root(storage: SqliteStorage, space: str) -> None:
    got = await storage.get_space(space)
    assert (got.type, got.alias, got.owner_id, got.used) == ("personal", "personal/alice", USER, 0)
    assert got.space_id == f"{STORAGE_ID}${USER}"
    root = await storage.lookup(space, ())
    assert root.id == space and root.parent_id is None and root.is_dir and root.name == ""
    assert root.etag == got.etag
    with pytest.raises(AlreadyExists):
        await storage.create_space(space_type="personal", name="x", owner_id=USER, alias="a",
                                   space_id=USER)
    with pytest.raises(NotFound):
        await storage.get_space("nope")


async def test_list_spaces_and_members(storage: SqliteStorage, space: str) -> None:
    project = await storage.create_space(space_type="project", name="Marketing", owner_id=USER,
                                         alias="project/marketing", quota_total=1000)
    bob = "bob-id"
    assert [s.id for s in await storage.list_spaces(member_id=bob)] == []
    await storage.set_member(project.id, bob, "editor")
    assert [s.id for s in await storage.list_spaces(member_id=bob)] == [project.id]
    assert await storage.members(project.id) == {bob: "editor"}
    assert {s.id for s in await storage.list_spaces(member_id=USER)} == {space}
    assert len(await storage.list_spaces()) == 2
    await storage.set_member(project.id, bob, None)
    assert await storage.members(project.id) == {}
    updated = await storage.update_space(project.id, name="Sales", disabled=True, quota_total=5)
    assert (updated.name, updated.disabled, updated.quota_total) == ("Sales", True, 5)


async def test_mkdir_upload_lookup_children(storage: SqliteStorage, space: str) -> None:
    folder = await storage.mkdir(space, ("docs",))
    res = await put(storage, space, ("docs", "a.txt"), b"hello", mtime=1_600_000_000.5)
    assert res.created
    node = res.node
    assert (node.size, node.mtime, node.parent_id, node.owner_id) == (5, 1_600_000_000.5, folder.id, USER)
    assert node.checksums == {"SHA1": hashlib.sha1(b"hello").hexdigest(),
                              "MD5": hashlib.md5(b"hello").hexdigest(),
                              "ADLER32": f"{zlib.adler32(b'hello'):08x}"}
    assert node.resource_id == f"{STORAGE_ID}${space}!{node.id}"
    assert storage.blob_path(node).read_bytes() == b"hello"
    await put(storage, space, ("docs", "B.txt"), b"x")
    names = [c.name for c in await storage.children(await storage.lookup(space, ("docs",)))]
    assert names == ["B.txt", "a.txt"]
    assert (await storage.lookup(space, ("docs", "a.txt"))).id == node.id
    assert await storage.node_path(node) == ("docs", "a.txt")
    assert (await storage.get_node(node.id)).name == "a.txt"
    assert await storage.children(node) == []
    with pytest.raises(NotFound):
        await storage.lookup(space, ("docs", "missing"))
    with pytest.raises(NotFound):
        await storage.lookup(space, ("docs", "a.txt", "below-a-file"))


async def test_name_conflicts(storage: SqliteStorage, space: str) -> None:
    await storage.mkdir(space, ("d",))
    await put(storage, space, ("f",), b"1")
    with pytest.raises(AlreadyExists):
        await storage.mkdir(space, ("d",))
    with pytest.raises(AlreadyExists):
        await storage.mkdir(space, ("f",))
    with pytest.raises(Conflict):
        await storage.mkdir(space, ("missing", "x"))
    with pytest.raises(Conflict):
        await storage.mkdir(space, ("f", "x"))
    with pytest.raises(Conflict):
        await put(storage, space, ("d",), b"onto a folder")
    with pytest.raises(Conflict):
        await put(storage, space, ("missing", "x"), b"1")
    with pytest.raises(Conflict):
        await put(storage, space, ("f", "x"), b"1")
    with pytest.raises(BadRequest):
        await storage.upload(space, ("short",), body(b"abc"), length=10)
    assert temp_files(storage.root) == []


# --- propagation ------------------------------------------------------------------------------

async def test_upload_propagates_etag_and_size(storage: SqliteStorage, space: str) -> None:
    await storage.mkdir(space, ("a",))
    await storage.mkdir(space, ("a", "b"))
    before = {p: await storage.lookup(space, p) for p in [(), ("a",), ("a", "b")]}
    created = await put(storage, space, ("a", "b", "f"), b"12345")
    assert created.node == await storage.lookup(space, ("a", "b", "f"))   # as stored
    after = {p: await storage.lookup(space, p) for p in [(), ("a",), ("a", "b")]}
    for p, old in before.items():
        assert after[p].etag != old.etag
        assert after[p].size == 5
    assert (await storage.get_space(space)).used == 5
    # Two changes in quick succession still give distinct etags.
    e1 = (await storage.lookup(space, ())).etag
    replaced = await put(storage, space, ("a", "b", "f"), b"1234567", mtime=1234.5)
    assert replaced.node == await storage.lookup(space, ("a", "b", "f")) and not replaced.created
    e2 = (await storage.lookup(space, ())).etag
    assert e1 != e2 and (await storage.get_space(space)).used == 7


async def test_delete_propagates_and_removes_blobs(storage: SqliteStorage, space: str) -> None:
    await storage.mkdir(space, ("a",))
    await storage.mkdir(space, ("a", "sub"))
    f1 = (await put(storage, space, ("a", "sub", "f1"), b"abc")).node
    await put(storage, space, ("a", "sub", "f1"), b"abcd")  # keeps a version blob
    await put(storage, space, ("a", "f2"), b"xy")
    await put(storage, space, ("keep",), b"k")
    await storage.patch_props(f1.id, {"{urn:x}p": "v"}, [])
    assert len(blob_files(storage.root)) == 4
    root_etag = (await storage.lookup(space, ())).etag
    await storage.delete(space, ("a",))
    root = await storage.lookup(space, ())
    assert root.etag != root_etag and root.size == 1
    with pytest.raises(NotFound):
        await storage.get_node(f1.id)
    # A delete moves the subtree to the trash (blobs kept); purging the trash removes them.
    assert len(blob_files(storage.root)) == 4
    assert await storage.empty_trash(space) == 1
    await asyncio.sleep(0.05)  # blob removal runs after the commit, off the writer
    for _ in range(50):
        if len(blob_files(storage.root)) == 1:
            break
        await asyncio.sleep(0.02)
    assert len(blob_files(storage.root)) == 1
    with pytest.raises(NotFound):
        await storage.get_props(f1.id)
    with pytest.raises(PermissionDenied):
        await storage.delete(space, ())
    with pytest.raises(NotFound):
        await storage.delete(space, ("a",))


async def test_move_keeps_id_and_propagates(storage: SqliteStorage, space: str) -> None:
    await storage.mkdir(space, ("src",))
    await storage.mkdir(space, ("dst",))
    f = (await put(storage, space, ("src", "f"), b"12345")).node
    await storage.patch_props(f.id, {"{urn:x}color": "red"}, [])
    src_etag = (await storage.lookup(space, ("src",))).etag
    dst_etag = (await storage.lookup(space, ("dst",))).etag
    res = await storage.move(space, ("src", "f"), space, ("dst", "g"), overwrite=False)
    assert res.created and res.node.id == f.id and res.node.name == "g"
    src, dst = await storage.lookup(space, ("src",)), await storage.lookup(space, ("dst",))
    assert (src.size, dst.size) == (0, 5)
    assert src.etag != src_etag and dst.etag != dst_etag
    assert await storage.get_props(f.id) == {"{urn:x}color": "red"}
    assert await storage.node_path(res.node) == ("dst", "g")
    # overwrite rules
    await put(storage, space, ("src", "h"), b"1")
    with pytest.raises(PreconditionFailed):
        await storage.move(space, ("src", "h"), space, ("dst", "g"), overwrite=False)
    res = await storage.move(space, ("src", "h"), space, ("dst", "g"), overwrite=True)
    assert not res.created
    assert (await storage.lookup(space, ("dst",))).size == 1
    assert (await storage.get_space(space)).used == 1
    with pytest.raises(Conflict):
        await storage.move(space, ("dst",), space, ("dst", "inner"), overwrite=False)
    with pytest.raises(Conflict):
        await storage.move(space, ("dst",), space, ("dst",), overwrite=True)
    with pytest.raises(Conflict):
        await storage.move(space, ("dst", "g"), space, ("nope", "g"), overwrite=False)
    await storage.move(space, ("dst",), space, ("renamed",), overwrite=False)
    assert (await storage.lookup(space, ("renamed", "g"))).size == 1


async def test_cross_space_move_and_quota(storage: SqliteStorage, space: str) -> None:
    project = await storage.create_space(space_type="project", name="P", owner_id=USER,
                                         alias="project/p", quota_total=10)
    await storage.mkdir(space, ("dir",))
    f = (await put(storage, space, ("dir", "f"), b"123456")).node
    res = await storage.move(space, ("dir",), project.id, ("moved",), overwrite=False)
    assert res.node.space_id == project.id
    moved_file = await storage.lookup(project.id, ("moved", "f"))
    assert moved_file.id == f.id and moved_file.space_id == project.id
    assert (await storage.get_space(space)).used == 0
    assert (await storage.get_space(project.id)).used == 6
    await put(storage, space, ("big",), b"12345")
    with pytest.raises(QuotaExceeded):
        await storage.move(space, ("big",), project.id, ("big",), overwrite=False)
    assert (await storage.lookup(space, ("big",))).size == 5


async def test_copy_deep_and_depth_zero(storage: SqliteStorage, space: str) -> None:
    await storage.mkdir(space, ("a",))
    await storage.mkdir(space, ("a", "b"))
    f = (await put(storage, space, ("a", "b", "f"), b"data")).node
    a = await storage.lookup(space, ("a",))
    await storage.patch_props(a.id, {"{urn:x}tag": "t"}, [])
    await storage.patch_props(f.id, {"{urn:x}tag": "ft"}, [])
    root_etag = (await storage.lookup(space, ())).etag
    res = await storage.copy(space, ("a",), space, ("c",), overwrite=False)
    assert res.created and res.node.id != a.id and res.node.size == 4
    copied = await storage.lookup(space, ("c", "b", "f"))
    assert copied.id != f.id and copied.blob_id != f.blob_id
    assert storage.blob_path(copied).read_bytes() == b"data"
    assert copied.checksums == f.checksums
    assert await storage.get_props(copied.id) == {"{urn:x}tag": "ft"}
    assert await storage.get_props(res.node.id) == {"{urn:x}tag": "t"}
    root = await storage.lookup(space, ())
    assert root.size == 8 and root.etag != root_etag
    shallow = await storage.copy(space, ("a",), space, ("d",), overwrite=False, depth_infinity=False)
    assert shallow.node.size == 0 and await storage.children(shallow.node) == []
    assert await storage.get_props(shallow.node.id) == {"{urn:x}tag": "t"}
    with pytest.raises(PreconditionFailed):
        await storage.copy(space, ("a",), space, ("c",), overwrite=False)
    res = await storage.copy(space, ("a", "b", "f"), space, ("c",), overwrite=True)
    assert not res.created and not res.node.is_dir
    assert (await storage.get_space(space)).used == 8
    with pytest.raises(Conflict):
        await storage.copy(space, ("a",), space, ("a", "b", "x"), overwrite=False)
    # the original is untouched by deleting the copy
    await storage.delete(space, ("c",))
    assert storage.blob_path(await storage.lookup(space, ("a", "b", "f"))).read_bytes() == b"data"


async def test_copy_quota(storage: SqliteStorage) -> None:
    project = await storage.create_space(space_type="project", name="P", owner_id=USER,
                                         alias="project/p", quota_total=10)
    await put(storage, project.id, ("f",), b"123456")
    with pytest.raises(QuotaExceeded):
        await storage.copy(project.id, ("f",), project.id, ("g",), overwrite=False)
    assert len(blob_files(storage.root)) == 1


async def test_proppatch_and_set_mtime_propagate(storage: SqliteStorage, space: str) -> None:
    await storage.mkdir(space, ("d",))
    f = (await put(storage, space, ("d", "f"), b"x")).node
    root_etag = (await storage.lookup(space, ())).etag
    node = await storage.patch_props(f.id, {"{urn:x}a": "1", "{urn:x}b": "2"}, [])
    assert node.etag != f.etag
    assert (await storage.lookup(space, ())).etag != root_etag
    await storage.patch_props(f.id, {"{urn:x}a": "3"}, ["{urn:x}b"])
    assert await storage.get_props(f.id) == {"{urn:x}a": "3"}
    root_etag = (await storage.lookup(space, ())).etag
    touched = await storage.set_mtime(f.id, 1_234_567_890.0)
    assert touched.mtime == 1_234_567_890.0 and touched.etag != node.etag
    assert (await storage.lookup(space, ())).etag != root_etag
    with pytest.raises(NotFound):
        await storage.patch_props("missing", {"{urn:x}a": "1"}, [])


async def test_get_props_many(storage: SqliteStorage, space: str) -> None:
    folder = await storage.mkdir(space, ("many",))
    kids = await asyncio.gather(*(storage.mkdir(space, ("many", f"k{i:04d}")) for i in range(2000)))
    tagged = kids[::3]   # spread over more than two chunks of the IN list
    for node in tagged[:5]:
        await storage.patch_props(node.id, {"{urn:x}tag": node.name, "{urn:x}two": "2"}, [])
    await asyncio.gather(*(storage.patch_props(n.id, {"{urn:x}tag": n.name}, []) for n in tagged[5:]))
    ids = [folder.id] + [n.id for n in kids] + ["missing"]
    got = await storage.get_props_many(ids)
    assert set(got) == {n.id for n in tagged}
    assert got[tagged[0].id] == {"{urn:x}tag": tagged[0].name, "{urn:x}two": "2"}
    assert got[tagged[-1].id] == {"{urn:x}tag": tagged[-1].name}
    for node in (tagged[0], tagged[400], tagged[-1]):
        assert got[node.id] == await storage.get_props(node.id)
    assert await storage.get_props_many([]) == {}
    assert await storage.get_props_many([kids[1].id, kids[1].id]) == {}


async def test_small_upload_is_read_without_disk(storage: SqliteStorage, space: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A small upload's bytes are kept at commit (write-through): its first GET reads no blob
    file. Overwrite, move, delete + restore and version restore answer the right bytes; a file
    over the small-file limit is still read from disk; the kept bytes stay bounded."""
    reads: list[Path] = []
    real = Path.read_bytes

    def counted(path: Path) -> bytes:
        reads.append(path)
        return real(path)

    monkeypatch.setattr(Path, "read_bytes", counted)
    await storage.mkdir(space, ("d",))
    node = (await put(storage, space, ("d", "f"), b"one")).node
    assert await storage.read_small(node) == b"one" and reads == []
    # two chunks of one body: kept whole
    two = (await storage.upload(space, ("d", "f"), body(b"tw", b"o"), length=3)).node
    assert await storage.read_small(await storage.lookup(space, ("d", "f"))) == b"two"
    assert await storage.read_small(node) == b"one"        # the old version's blob is unchanged
    moved = (await storage.move(space, ("d", "f"), space, ("d", "g"), overwrite=False)).node
    assert await storage.read_small(moved) == b"two"
    await storage.delete(space, ("d", "g"))
    [item] = await storage.list_trash(space)
    back = (await storage.restore_trash(space, item.key, overwrite=False)).node
    assert await storage.read_small(back) == b"two" and back.blob_id == two.blob_id
    [old] = await storage.list_versions(back.id)
    restored = await storage.restore_version(back.id, old.key)
    assert await storage.read_small(await storage.lookup(space, ("d", "g"))) == b"one"
    assert restored.etag != back.etag and reads == []
    big = os.urandom(65 * 1024)                            # over the 64 KiB small-file limit
    big_node = (await put(storage, space, ("d", "big"), big)).node
    assert await storage.read_small(big_node) == big and len(reads) == 1
    blob = os.urandom(60 * 1024)                           # 150 x 60 KiB > the 8 MiB bound
    for i in range(150):
        await put(storage, space, ("d", f"n{i}"), blob)
    assert storage._small_bytes <= 8 * 1024 * 1024
    assert storage._small_bytes == sum(len(v) for v in storage._small.values())
    first = await storage.lookup(space, ("d", "n0"))
    assert await storage.read_small(first) == blob and len(reads) == 2   # evicted: from disk


async def test_a_commit_frees_the_cached_reads_it_made_stale(storage: SqliteStorage,
                                                           space: str) -> None:
    """A cached listing is let go with the commit that made it stale, not with the next cached
    read, which may be far off (issue 18, memory: a 10,000-entry listing is about 9 MiB)."""
    await storage.mkdir(space, ("big",))
    for n in range(40):
        await put(storage, space, ("big", f"f{n:02d}"), b"x")
    page = await storage.children_page(await storage.lookup(space, ("big",)), None, 1000)
    assert len(page) == 40 and storage._cache_weight >= 40
    await storage.mkdir(space, ("elsewhere",))                 # any commit
    assert storage._cache == {} and storage._cache_weight == 0
    again = await storage.children_page(await storage.lookup(space, ("big",)), None, 1000)
    assert [n.name for n in again] == [f"f{n:02d}" for n in range(40)]


async def test_read_cache_follows_changes(storage: SqliteStorage, space: str) -> None:
    """Cached reads (lookup, children, props, locks, small blobs) never outlive a change."""
    folder = await storage.mkdir(space, ("c",))
    first = (await put(storage, space, ("c", "f"), b"one")).node
    assert (await storage.lookup(space, ("c", "f"))).etag == first.etag
    assert [n.name for n in await storage.children(await storage.lookup(space, ("c",)))] == ["f"]
    assert await storage.read_small(first) == b"one"
    second = (await put(storage, space, ("c", "f"), b"two")).node
    assert (await storage.lookup(space, ("c", "f"))).etag == second.etag != first.etag
    assert await storage.read_small(await storage.lookup(space, ("c", "f"))) == b"two"
    await put(storage, space, ("c", "g"), b"x")
    kids = await storage.children(await storage.lookup(space, ("c",)))
    assert [n.name for n in kids] == ["f", "g"]
    assert await storage.get_props_many([second.id]) == {}
    await storage.patch_props(second.id, {"{urn:x}a": "1"}, [])
    assert await storage.get_props_many([second.id]) == {second.id: {"{urn:x}a": "1"}}
    assert await storage.locks_covering(space, ("c", "f")) == []
    await storage.put_lock(lock("c", space, ("c",), depth_infinity=True))
    assert [lk.token for lk in await storage.locks_covering(space, ("c", "f"))] == ["opaquelocktoken:c"]
    await storage.remove_lock("opaquelocktoken:c")
    assert await storage.locks_covering(space, ("c", "f")) == []
    await storage.put_lock(lock("short", space, ("c",), depth_infinity=True,
                                expires=time.time() + 0.3))
    assert len(await storage.locks_below(space, ())) == 1           # cached now ...
    await asyncio.sleep(0.35)
    assert await storage.locks_below(space, ()) == []               # ... and expired since
    await storage.delete(space, ("c", "f"))
    with pytest.raises(NotFound):
        await storage.lookup(space, ("c", "f"))
    assert folder.id == (await storage.lookup(space, ("c",))).id


async def test_space_info_follows_space_changes(storage: SqliteStorage, space: str) -> None:
    """`space_info` (what access checks read) keeps the space across uploads, but never outlives
    a change of the space itself or of its members; `get_space` always has the current usage."""
    before = await storage.space_info(space)
    await put(storage, space, ("f",), b"12345")
    assert (await storage.get_space(space)).used == 5
    assert (await storage.space_info(space)).name == "Alice"
    project = await storage.create_space(space_type="project", name="P", owner_id=USER,
                                         alias="project/p", quota_total=10)
    assert (await storage.space_info(project.id)).quota_total == 10
    assert await storage.members(project.id) == {}
    await storage.set_member(project.id, "marie", "viewer")
    assert await storage.members(project.id) == {"marie": "viewer"}
    await storage.update_space(project.id, name="Q", quota_total=20, disabled=True)
    info = await storage.space_info(project.id)
    assert (info.name, info.quota_total, info.disabled) == ("Q", 20, True)
    await storage.set_member(project.id, "marie", None)
    assert await storage.members(project.id) == {}
    await storage.delete_space(project.id)
    with pytest.raises(NotFound):
        await storage.space_info(project.id)
    with pytest.raises(NotFound):
        await storage.members(project.id)
    assert (await storage.space_info(space)).id == before.id


async def test_blob_layout_and_migration(tmp_path: Path) -> None:
    """Blobs live in `blobs/<2 chars>/<id>`; opening a store moves blobs of the two-level layout
    of older versions there and drops temp files that no commit acknowledged."""
    store = await SqliteStorage.open(tmp_path / "users", STORAGE_ID)
    await store.create_space(space_type="personal", name="A", owner_id=USER, alias="personal/a",
                             space_id=USER)
    node = (await put(store, USER, ("f",), b"kept")).node
    await store.close()
    blobs = tmp_path / "users" / "blobs"
    assert len([p for p in blobs.iterdir() if p.is_dir()]) == 256
    assert blob_files(tmp_path / "users") == [blobs / node.blob_id[:2] / node.blob_id]
    old = blobs / node.blob_id[:2] / node.blob_id[2:4] / node.blob_id
    old.parent.mkdir()
    (blobs / node.blob_id[:2] / node.blob_id).rename(old)
    (blobs / "0a" / "put-unacknowledged").write_bytes(b"x")
    from ocis_server.runtime.maintenance import consistency
    report, _ = consistency(tmp_path / "users")       # a store in the old layout is consistent
    assert {f.kind for f in report.findings} == {"temp_file"}, report.findings
    store = await SqliteStorage.open(tmp_path / "users", STORAGE_ID)
    try:
        assert await store.read_small(await store.lookup(USER, ("f",))) == b"kept"
        assert not old.parent.exists() and not (blobs / "0a" / "put-unacknowledged").exists()
    finally:
        await store.close()


# --- uploads: versions and preconditions ------------------------------------------------------

async def test_overwrite_keeps_version(storage: SqliteStorage, space: str) -> None:
    first = (await put(storage, space, ("f",), b"v1")).node
    res = await put(storage, space, ("f",), b"version 2")
    assert not res.created and res.node.id == first.id and res.node.etag != first.etag
    assert storage.blob_path(res.node).read_bytes() == b"version 2"
    with sqlite3.connect(storage.root / "metadata.db") as db:
        rows = db.execute("SELECT blob_id, size, etag FROM versions WHERE node_id = ?",
                          (first.id,)).fetchall()
    assert rows == [(first.blob_id, 2, first.etag)]
    assert storage.blob_path(first).read_bytes() == b"v1"


async def test_if_match_and_if_none_match(storage: SqliteStorage, space: str) -> None:
    node = (await put(storage, space, ("f",), b"1")).node
    with pytest.raises(PreconditionFailed):
        await put(storage, space, ("f",), b"2", if_match='"not-the-etag"')
    with pytest.raises(PreconditionFailed):
        await put(storage, space, ("g",), b"2", if_match=node.etag)
    with pytest.raises(PreconditionFailed):
        await put(storage, space, ("f",), b"2", if_none_match_any=True)
    res = await put(storage, space, ("f",), b"2", if_match=f'"{node.etag}"')
    assert not res.created
    res = await put(storage, space, ("f",), b"3", if_match=res.node.etag)
    assert storage.blob_path(res.node).read_bytes() == b"3"
    assert temp_files(storage.root) == []


async def test_checksum_mismatch_leaves_no_trace(storage: SqliteStorage, space: str) -> None:
    with pytest.raises(ChecksumMismatch):
        await put(storage, space, ("f",), b"content", checksum=("SHA1", "0" * 40))
    with pytest.raises(NotFound):
        await storage.lookup(space, ("f",))
    await asyncio.sleep(0.05)
    assert blob_files(storage.root) == [] and temp_files(storage.root) == []
    with pytest.raises(BadRequest):
        await put(storage, space, ("f",), b"content", checksum=("CRC99", "00"))
    good = hashlib.md5(b"content").hexdigest()
    res = await put(storage, space, ("f",), b"content", checksum=("md5", good.upper()))
    assert res.created
    adler = f"{zlib.adler32(b'content'):08x}"
    assert (await put(storage, space, ("f",), b"content", checksum=("Adler32", adler))).node.size == 7


async def test_a_failed_blob_sync_fails_the_upload_and_leaves_no_trace(
        storage: SqliteStorage, space: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The I/O thread's last hop (rename, fsync, folder fsync, queueing the commit) is not
    awaited by the request: when its fsync fails (EIO), the request still fails with that error
    and neither the renamed blob nor the temp file stays; the next upload works."""
    real_fsync, calls = os.fsync, []

    def failing_fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 1:
            raise OSError(errno.EIO, "I/O error")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError) as failed:
        await put(storage, space, ("f",), b"content")
    assert failed.value.errno == errno.EIO
    with pytest.raises(NotFound):
        await storage.lookup(space, ("f",))
    assert blob_files(storage.root) == [] and temp_files(storage.root) == []
    res = await put(storage, space, ("f",), b"content")
    assert res.created and storage.blob_path(res.node).read_bytes() == b"content"
    assert len(blob_files(storage.root)) == 1 and temp_files(storage.root) == []


async def test_an_upload_whose_temp_file_cannot_be_made_or_removed_still_answers(
        storage: SqliteStorage, space: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A read-only folder: the temp file's open fails (EROFS) in the unawaited last hop, and so
    does removing it; the request still hears the open's error at once (it hung before)."""
    real_open = os.open

    def read_only_open(path: Any, flags: int, *args: Any) -> int:
        if "put-" in str(path) and flags & os.O_CREAT:
            raise OSError(errno.EROFS, "Read-only file system")
        return real_open(path, flags, *args)

    def refuse_unlink(path: Any, *args: Any) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(os, "open", read_only_open)
    monkeypatch.setattr(os, "unlink", refuse_unlink)
    with pytest.raises(OSError) as failed:
        await asyncio.wait_for(put(storage, space, ("f",), b"content"), 10)
    assert failed.value.errno == errno.EROFS
    monkeypatch.undo()
    assert (await put(storage, space, ("f",), b"content")).created


async def test_quota_exceeded_leaves_no_trace(storage: SqliteStorage) -> None:
    project = await storage.create_space(space_type="project", name="P", owner_id=USER,
                                         alias="project/p", quota_total=10)
    await put(storage, project.id, ("a",), b"12345678")
    before = await storage.get_space(project.id)
    with pytest.raises(QuotaExceeded):
        await put(storage, project.id, ("b",), b"123")
    # without a length the check happens at commit, after the blob was written
    with pytest.raises(QuotaExceeded):
        await storage.upload(project.id, ("c",), body(b"1", b"23"))
    await asyncio.sleep(0.05)
    assert len(blob_files(storage.root)) == 1 and temp_files(storage.root) == []
    after = await storage.get_space(project.id)
    assert (after.used, after.etag) == (before.used, before.etag)
    # shrinking the file that is there is always fine
    assert (await put(storage, project.id, ("a",), b"1234567890")).node.size == 10


# --- locks ------------------------------------------------------------------------------------

def lock(token: str, space: str, path: tuple[str, ...], *, depth_infinity: bool,
         expires: float | None = None) -> LockRecord:
    return LockRecord(token=f"opaquelocktoken:{token}", space_id=space, path=path,
                      depth_infinity=depth_infinity, exclusive=True, owner_xml="<D:href>me</D:href>",
                      principal_id=USER, expires=expires or time.time() + 60)


async def test_locks_covering_below_expiry(storage: SqliteStorage, space: str) -> None:
    await storage.put_lock(lock("deep", space, ("a",), depth_infinity=True))
    await storage.put_lock(lock("flat", space, ("a", "b"), depth_infinity=False))
    await storage.put_lock(lock("other", space, ("ab",), depth_infinity=True))
    await storage.put_lock(lock("old", space, ("a", "b", "c"), depth_infinity=True,
                                expires=time.time() - 1))
    covering = {lk.token for lk in await storage.locks_covering(space, ("a", "b", "c"))}
    assert covering == {"opaquelocktoken:deep"}
    covering = {lk.token for lk in await storage.locks_covering(space, ("a", "b"))}
    assert covering == {"opaquelocktoken:deep", "opaquelocktoken:flat"}
    below = {lk.token for lk in await storage.locks_below(space, ("a",))}
    assert below == {"opaquelocktoken:deep", "opaquelocktoken:flat"}
    assert len(await storage.locks_below(space, ())) == 3
    got = await storage.get_lock("opaquelocktoken:flat")
    assert got.path == ("a", "b") and not got.depth_infinity and got.owner_xml.startswith("<D:href>")
    with pytest.raises(NotFound):
        await storage.get_lock("opaquelocktoken:old")
    refreshed = lock("flat", space, ("a", "b"), depth_infinity=False, expires=time.time() + 999)
    await storage.put_lock(refreshed)
    assert (await storage.get_lock(refreshed.token)).expires == refreshed.expires
    await storage.remove_lock("opaquelocktoken:deep")
    with pytest.raises(NotFound):
        await storage.get_lock("opaquelocktoken:deep")
    await storage.mkdir(space, ("ab",))
    await storage.delete(space, ("ab",))
    assert {lk.token for lk in await storage.locks_below(space, ())} == {"opaquelocktoken:flat"}


# --- durability -------------------------------------------------------------------------------

async def test_reopen_sees_everything(tmp_path: Path) -> None:
    root = tmp_path / "users"
    store = await SqliteStorage.open(root, STORAGE_ID)
    space = (await store.create_space(space_type="personal", name="A", owner_id=USER,
                                      alias="personal/a", space_id=USER)).id
    await store.mkdir(space, ("d",))
    node = (await put(store, space, ("d", "f"), b"persist")).node
    await store.patch_props(node.id, {"{urn:x}k": "v"}, [])
    etag = (await store.lookup(space, ())).etag
    await store.close()
    store = await SqliteStorage.open(root, STORAGE_ID)
    try:
        again = await store.lookup(space, ("d", "f"))
        assert again.id == node.id and store.blob_path(again).read_bytes() == b"persist"
        assert await store.get_props(node.id) == {"{urn:x}k": "v"}
        assert (await store.lookup(space, ())).etag == etag
        await store.check()
        await put(store, space, ("d", "g"), b"1")
        assert (await store.lookup(space, ())).etag != etag
    finally:
        await store.close()


CRASH_SCRIPT = textwrap.dedent("""
    import asyncio, sys, time
    from pathlib import Path
    from ocis_server.storage.sqlite import SqliteStorage

    async def body(data):
        yield data

    async def main():
        store = await SqliteStorage.open(Path(sys.argv[1]), "sid")
        space = await store.create_space(space_type="personal", name="A", owner_id="u",
                                         alias="personal/a", space_id="u")
        data = bytes(range(256)) * 4096
        await store.upload(space.id, ("f.bin",), body(data), length=len(data))
        print("acked", flush=True)
        # keep writing so the kill lands mid-activity
        i = 0
        while True:
            await store.upload(space.id, (f"more{i}",), body(b"x" * 1000))
            i += 1

    asyncio.run(main())
""")


def test_acknowledged_upload_survives_kill9(tmp_path: Path) -> None:
    root = tmp_path / "users"
    repo = Path(__file__).resolve().parent.parent
    proc = subprocess.Popen([sys.executable, "-c", CRASH_SCRIPT, str(root)], cwd=repo,
                            stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(repo)})
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"acked"
        time.sleep(0.1)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(10)
    data = bytes(range(256)) * 4096

    async def verify() -> None:
        store = await SqliteStorage.open(root, "sid")
        try:
            node = await store.lookup("u", ("f.bin",))
            assert node.checksums["SHA1"] == hashlib.sha1(data).hexdigest()
            assert store.blob_path(node).read_bytes() == data
            space = await store.get_space("u")
            total = sum(c.size for c in await store.children(await store.lookup("u", ())))
            assert space.used == total  # tree size never drifts, even across a crash
        finally:
            await store.close()
        assert temp_files(root) == []  # unacknowledged temp files are cleaned on open

    asyncio.run(verify())


# --- performance sanity -----------------------------------------------------------------------

async def test_ten_thousand_children(storage: SqliteStorage, space: str) -> None:
    folder = await storage.mkdir(space, ("big",))
    await asyncio.gather(*(storage.mkdir(space, ("big", f"child-{i:05d}")) for i in range(10_000)))
    folder = await storage.lookup(space, ("big",))
    started = time.perf_counter()
    kids = await storage.children(folder)
    elapsed = time.perf_counter() - started
    assert len(kids) == 10_000 and kids[0].name == "child-00000"
    assert elapsed < 1.0, elapsed
    started = time.perf_counter()
    for _ in range(100):
        await storage.lookup(space, ("big", "child-05000"))
    assert time.perf_counter() - started < 1.0


async def test_concurrent_uploads_group_commit(storage: SqliteStorage, space: str) -> None:
    await asyncio.gather(*(put(storage, space, (f"f{i}",), b"x" * i) for i in range(200)))
    root = await storage.lookup(space, ())
    assert root.size == sum(range(200))
    assert len(await storage.children(root)) == 200


async def test_broken_body_leaves_no_trace(storage: SqliteStorage, space: str) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"x" * (3 << 20)  # past the first thread hand-off
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await storage.upload(space, ("f",), broken())
    with pytest.raises(NotFound):
        await storage.lookup(space, ("f",))
    for _ in range(50):
        if not temp_files(storage.root):
            break
        await asyncio.sleep(0.02)
    assert temp_files(storage.root) == [] and blob_files(storage.root) == []
    assert (await storage.get_space(space)).used == 0


async def test_failing_change_in_a_batch_is_isolated(storage: SqliteStorage, space: str) -> None:
    results = await asyncio.gather(*(storage.mkdir(space, ("same",)) for _ in range(20)),
                                   *(storage.mkdir(space, (f"d{i}",)) for i in range(20)),
                                   return_exceptions=True)
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 19 and all(isinstance(e, AlreadyExists) for e in errors)
    assert len(await storage.children(await storage.lookup(space, ()))) == 21


async def test_cross_space_copy_and_delete_space(storage: SqliteStorage, space: str) -> None:
    project = await storage.create_space(space_type="project", name="P", owner_id=USER,
                                         alias="project/p")
    await storage.mkdir(space, ("d",))
    await put(storage, space, ("d", "f"), b"abc")
    res = await storage.copy(space, ("d",), project.id, ("d",), overwrite=False)
    assert res.node.space_id == project.id
    copied = await storage.lookup(project.id, ("d", "f"))
    assert copied.space_id == project.id and storage.blob_path(copied).read_bytes() == b"abc"
    assert (await storage.get_space(project.id)).used == 3
    assert (await storage.get_space(space)).used == 3
    await storage.set_member(project.id, "bob", "viewer")
    await storage.delete_space(project.id)
    with pytest.raises(NotFound):
        await storage.get_space(project.id)
    with pytest.raises(NotFound):
        await storage.get_node(copied.id)
    for _ in range(50):
        if len(blob_files(storage.root)) == 1:
            break
        await asyncio.sleep(0.02)
    assert len(blob_files(storage.root)) == 1
    assert await storage.list_spaces(member_id="bob") == []


async def test_reads_do_not_block_the_loop(storage: SqliteStorage, space: str) -> None:
    await asyncio.gather(*(storage.mkdir(space, (f"c{i:04d}",)) for i in range(2000)))
    root = await storage.lookup(space, ())
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    for i in range(5):
        await storage.mkdir(space, (f"new{i}",))     # a commit: the next listing is not cached
        root = await storage.lookup(space, ())
        before = ticks
        listed = await storage.children(root)
        assert len(listed) == 2001 + i
        assert ticks > before, "the loop did not run while 2,000 entries were read"
    task.cancel()


async def test_read_cache_never_serves_state_older_than_an_acknowledged_write(
        storage: SqliteStorage, space: str) -> None:
    """Readers racing commits (a lookup or listing read before a commit may finish after it) never
    make a read issued after a write was acknowledged show the tree from before it."""
    for depth in range(1, 4):
        await storage.mkdir(space, ("a", "b", "c")[:depth])
    deep = ("a", "b", "c", "f")
    await put(storage, space, deep, b"000")
    stop = False

    async def reader() -> None:
        while not stop:
            for depth in range(4):
                await storage.children(await storage.lookup(space, deep[:depth]))
            # A cache hit never suspends: yield for real so the writer's replies get the loop
            # (and the GIL) even on a starved machine; a bare sleep(0) could spin for minutes.
            await asyncio.sleep(0.0005)

    readers = [asyncio.create_task(reader()) for _ in range(3)]
    try:
        seen: set[str] = set()
        for i in range(1, 50):
            done = (await put(storage, space, deep, f"{i:03d}".encode())).node  # same size
            folder = await storage.lookup(space, ("a",))
            listed = {n.name: n for n in await storage.children(await storage.lookup(space, ()))}
            assert (await storage.lookup(space, deep)).etag == done.etag
            assert listed["a"].etag == folder.etag and folder.etag not in seen, i
            kids = await storage.children(await storage.lookup(space, deep[:3]))
            assert [(n.name, n.etag) for n in kids] == [("f", done.etag)], i
            seen.add(folder.etag)
    finally:
        stop = True
        await asyncio.gather(*readers)


async def test_a_listing_page_holds_its_shared_ids_once(storage: SqliteStorage, space: str) -> None:
    # A cached 1,000-entry page (the read cache keeps up to 30,000 entries) held the space,
    # parent and owner id of every entry as strings of their own: a quarter of its memory.
    for i in range(5):
        await put(storage, space, (f"f{i}.txt",), b"x")
    root = await storage.lookup(space, ())
    page = await storage.children_page(root, None, 100)
    assert [n.name for n in page] == [f"f{i}.txt" for i in range(5)]
    assert {n.space_id for n in page} == {space} and {n.parent_id for n in page} == {root.id}
    assert len({id(n.space_id) for n in page}) == 1
    assert len({id(n.parent_id) for n in page}) == 1
    assert len({id(n.owner_id) for n in page}) == 1
