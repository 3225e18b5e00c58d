"""The storage's bulk import (storage/bulkimport.py) against the same storage uploads use: what it
leaves is what uploads would (sizes, etags, checksums, versions; `backup consistency` finds
nothing), batches commit one by one, and a failing batch leaves neither rows nor blobs."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ocis_server.domain.errors import Conflict, QuotaExceeded
from ocis_server.storage.bulkimport import Entry
from ocis_server.storage.consistency import check, open_db
from ocis_server.storage.sqlite import SqliteStorage

STORAGE_ID = "1284d238-aa92-42ce-bdc4-0b0000009157"


async def _body(data: bytes) -> AsyncIterator[bytes]:
    yield data


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[SqliteStorage]:
    store = await SqliteStorage.open(tmp_path / "users", STORAGE_ID)
    yield store
    await store.close()


async def _space(storage: SqliteStorage, quota: int = 0) -> str:
    made = await storage.create_space(space_type="project", name="P", owner_id="u", alias="p",
                                      quota_total=quota)
    return made.id


def _blobs(root: Path) -> int:
    return sum(1 for p in (root / "blobs").rglob("*") if p.is_file())


async def test_import_matches_uploads_and_is_consistent(storage: SqliteStorage,
                                                        tmp_path: Path) -> None:
    space = await _space(storage)
    await storage.mkdir(space, ("in",))
    await storage.upload(space, ("in", "x.txt"), _body(b"old"), length=3)
    before = await storage.lookup(space, ())
    entries = [Entry(("a", f"f{i}.txt"), data=b"%d" % i * 10, mtime=1_600_000_000 + i)
               for i in range(25)]
    entries += [Entry(("deep", "b", "c"), is_dir=True), Entry(("x.txt",), data=b"new!")]
    stats = await storage.import_tree(space, ("in",), entries, batch=7)   # four batches
    assert (stats.files, stats.replaced, stats.folders) == (26, 1, 4)
    root = await storage.lookup(space, ())
    assert root.etag != before.etag and root.size == sum(len(e.data or b"") for e in entries)
    f3 = await storage.lookup(space, ("in", "a", "f3.txt"))
    assert f3.size == 10 and f3.mtime == 1_600_000_003
    assert f3.checksums["SHA1"] == hashlib.sha1(b"3" * 10).hexdigest()
    assert (await storage.lookup(space, ("in", "deep", "b", "c"))).is_dir
    replaced = await storage.lookup(space, ("in", "x.txt"))
    assert replaced.size == 4 and len(await storage.list_versions(replaced.id)) == 1
    await storage.close()
    conn = open_db(tmp_path / "users", exclusive=True)
    try:
        report = check(conn, tmp_path / "users", checksums=True)
    finally:
        conn.close()
    assert report.ok, report.findings


async def test_a_failing_batch_leaves_nothing(storage: SqliteStorage, tmp_path: Path) -> None:
    space = await _space(storage, quota=100)
    ok = [Entry(("a", f"{i}"), data=b"x" * 10) for i in range(5)]
    over = [Entry(("b", f"{i}"), data=b"y" * 30) for i in range(5)]
    with pytest.raises(QuotaExceeded):
        await storage.import_tree(space, (), ok + over, batch=5)
    assert (await storage.lookup(space, ())).size == 50     # the first batch stays
    assert _blobs(tmp_path / "users") == 5                  # the second's blobs are gone
    await storage.upload(space, ("file",), _body(b"z"), length=1)
    with pytest.raises(Conflict):
        await storage.import_tree(space, (), [Entry(("file", "inside"), data=b"1")])
    assert _blobs(tmp_path / "users") == 6
