"""`ocis backup consistency`: a clean storage passes; each kind of damage is found and reported;
--repair fixes what it can (nothing deleted: orphan blobs land in lost+found) and refuses while the
storage is open elsewhere."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ocis_server.runtime.maintenance import MaintenanceRefused, consistency
from ocis_server.storage.sqlite import SqliteStorage

STORAGE_ID = "1284d238-aa92-42ce-bdc4-0b0000009157"
USER = "4c510ada-c86b-4815-8820-42cdf82c3d51"
REPO = Path(__file__).resolve().parents[2]
BRAVO = b"bravo!" * 12_000   # above the size whose bytes may be staged in the database
GONE = (b"gone, first version " * 5000, b"gone, second version " * 5000)


async def _body(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _populate(root: Path) -> dict[str, str]:
    """A small tree with an overwrite (a version) and a delete (trash when the trash exists)."""
    store = await SqliteStorage.open(root, STORAGE_ID)
    try:
        await store.create_space(space_type="personal", name="A", owner_id=USER, alias="personal/a",
                                 space_id=USER)
        await store.mkdir(USER, ("docs",))
        await store.mkdir(USER, ("docs", "deep"))
        ids = {}
        for path, data in ((("docs", "a.txt"), b"alpha"), (("docs", "deep", "b.txt"), BRAVO),
                           (("docs", "a.txt"), b"alpha two"), (("gone.txt",), GONE[0]),
                           (("gone.txt",), GONE[1])):
            result = await store.upload(USER, path, _body(data), length=len(data))
            ids["/".join(path)] = result.node.id
        await store.delete(USER, ("gone.txt",))
        return ids
    finally:
        await store.close()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCIS_")}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-m", "ocis_cli", "backup", "consistency", *args],
                          capture_output=True, text=True, timeout=60, env=env, check=False,
                          stdin=subprocess.DEVNULL)


def _kinds(report: object) -> set[str]:
    return {f.kind for f in report.findings}  # type: ignore[attr-defined]


async def test_clean_storage_passes_and_cli_exits_0(tmp_path: Path) -> None:
    root = tmp_path / "data" / "storage" / "users"
    await _populate(root)
    report, after = consistency(tmp_path / "data")
    assert report.ok, report.findings
    assert after is None
    assert report.counts["nodes"] >= 5
    done = _cli("-p", str(tmp_path / "data"), "-o", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["ok"] is True


async def test_damage_is_found_and_repaired_without_losing_data(tmp_path: Path) -> None:
    root = tmp_path / "users"
    ids = await _populate(root)
    db = sqlite3.connect(root / "metadata.db")
    a_id = ids["docs/a.txt"]
    b_blob = db.execute("SELECT blob_id FROM nodes WHERE id = ?",
                        (ids["docs/deep/b.txt"],)).fetchone()[0]
    docs_id = db.execute("SELECT parent_id FROM nodes WHERE id = ?", (a_id,)).fetchone()[0]
    db.execute("UPDATE nodes SET tree_size = tree_size + 7 WHERE id = ?", (docs_id,))
    db.execute("UPDATE nodes SET etag = 'bogus' WHERE id = ?", (a_id,))
    db.execute("INSERT INTO props(node_id, name, value) VALUES ('no-such-node', 'x', 'y')")
    if "uploads" in {r[0] for r in db.execute("SELECT name FROM sqlite_master")}:
        db.execute("INSERT INTO uploads(id, kind, user_id, space_id, path, size, offset, created,"
                   " expires) VALUES ('old-session', 'tus', ?, ?, 'x.bin', 10, 3, 1, 2)",
                   (USER, USER))
        (root / "uploads").mkdir(exist_ok=True)
        (root / "uploads" / "old-session").write_bytes(b"abc")
    db.commit()
    db.close()
    blob_file = root / "blobs" / b_blob[:2] / b_blob
    blob_file.unlink()                                  # missing blob: not repairable
    orphan = root / "blobs" / "ab" / "cd" / "abcdorphan"
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"precious bytes")
    (root / "tmp" / "put-leftover").write_bytes(b"half")
    (root / "blobs" / "ab" / "put-leftover").write_bytes(b"half too")

    report, _ = consistency(root)
    found = _kinds(report)
    assert {"tree_size", "etag", "missing_blob", "orphan_blob", "temp_file",
            "dangling_row"} <= found
    done = _cli("-p", str(root))
    assert done.returncode == 1
    assert "orphan_blob" in done.stdout and "missing_blob" in done.stdout

    first, after = consistency(root, do_repair=True)
    assert after is not None and not first.ok
    assert _kinds(after) == {"missing_blob"}           # all the rest was repairable
    assert (root / "lost+found" / "abcdorphan").read_bytes() == b"precious bytes"
    assert not (root / "tmp" / "put-leftover").exists()
    assert not (root / "blobs" / "ab" / "put-leftover").exists()
    assert not (root / "uploads" / "old-session").exists()
    db = sqlite3.connect(root / "metadata.db")
    dangling = "SELECT count(*) FROM props WHERE node_id = 'no-such-node'"
    assert db.execute(dangling).fetchone()[0] == 0
    root_size = db.execute("SELECT tree_size FROM nodes WHERE id = ?", (USER,)).fetchone()[0]
    assert root_size == len(b"alpha two") + len(BRAVO)
    db.close()
    blob_file.parent.mkdir(parents=True, exist_ok=True)
    blob_file.write_bytes(BRAVO)                       # restored from a backup
    assert consistency(root)[0].ok
    assert _cli("-p", str(root), "--checksums").returncode == 0


async def test_repair_refused_while_the_storage_is_open(tmp_path: Path) -> None:
    root = tmp_path / "users"
    await _populate(root)
    (root / "tmp" / "put-inflight").write_bytes(b"uploading")
    old = time.time() - 7200
    (root / "tmp" / "put-old").write_bytes(b"old")
    os.utime(root / "tmp" / "put-old", (old, old))
    store = await SqliteStorage.open(root, STORAGE_ID)   # the "running server"
    try:
        (root / "tmp" / "put-inflight").write_bytes(b"uploading")   # setup() swept tmp/
        (root / "tmp" / "put-old").write_bytes(b"old")
        os.utime(root / "tmp" / "put-old", (old, old))
        with pytest.raises(MaintenanceRefused):
            consistency(root, do_repair=True)
        report, _ = consistency(root)
        assert report.live
        assert [f.subject for f in report.findings] == ["tmp/put-old"]   # in-flight one skipped
        done = _cli("-p", str(root), "--repair")
        assert done.returncode == 5, done.stderr
        assert (root / "tmp" / "put-old").exists()
    finally:
        await store.close()


async def test_a_lost_trash_item_is_repaired_into_lost_and_found(tmp_path: Path) -> None:
    """Trashed nodes whose item row is gone, and the version rows of those nodes: two passes of
    --repair drop them all and keep both blobs in lost+found."""
    root = tmp_path / "users"
    ids = await _populate(root)
    db = sqlite3.connect(root / "metadata.db")
    db.execute("DELETE FROM trash WHERE key = ?", (ids["gone.txt"],))
    db.commit()
    db.close()
    first, after = consistency(root)
    assert [f.subject for f in first.findings] == [f"trash_nodes:{ids['gone.txt']}"]
    first, after = consistency(root, do_repair=True)
    assert after is not None and after.ok, after
    kept = sorted(p.read_bytes() for p in (root / "lost+found").iterdir())
    assert kept == sorted(GONE)


def test_missing_data_path_exits_3(tmp_path: Path) -> None:
    done = _cli("-p", str(tmp_path / "nothing"))
    assert done.returncode == 3
    assert "metadata.db" in done.stderr
