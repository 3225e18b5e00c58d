"""The metadata database under faults, against the real server: locked by another process (a
write waits out the busy timeout, answers 503 with Retry-After and leaves no orphan blob while
reads go on), and damaged at start (never written to, the log names the file and the repair,
the storage is degraded and recovers once the file is repaired).
"""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from tests.test_diskfull import restarted

DAV = "/remote.php/dav/files/admin"


def _blobs(data: Path) -> set[str]:
    return {p.name for p in (data / "storage" / "users" / "blobs").rglob("*") if p.is_file()}


def test_locked_database_answers_503_and_leaves_no_orphan(
        tmp_path: Path, real_server_factory: Callable[..., Any]) -> None:
    with real_server_factory(tmp_path / "srv") as srv:
        url, auth = srv.url + DAV, srv.admin
        data = srv.workdir / "data"
        assert requests.put(f"{url}/a.txt", data=b"before", auth=auth).status_code == 201
        before = _blobs(data)
        holder = sqlite3.connect(data / "storage" / "users" / "metadata.db",
                                 isolation_level=None, timeout=0)
        holder.execute("BEGIN IMMEDIATE")         # another process holds the write lock
        try:
            started = time.monotonic()
            # curl reads meanwhile: WAL readers are not blocked by the lock
            got = subprocess.run(["curl", "-sf", "-u", "admin:admin", f"{url}/a.txt"],
                                 capture_output=True, timeout=30, check=False)
            assert got.returncode == 0 and got.stdout == b"before"
            put = requests.put(f"{url}/b.txt", data=b"x" * 100_000, auth=auth, timeout=60)
            waited = time.monotonic() - started
            assert put.status_code == 503, put.text
            assert int(put.headers["Retry-After"]) >= 1
            assert "Sabre\\DAV\\Exception\\ServiceUnavailable" in put.text
            assert "Traceback" not in put.text and str(data) not in put.text
            assert waited >= 9, waited                  # the busy timeout was waited out
            assert _blobs(data) == before               # the blob was removed again
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert requests.get(f"{url}/b.txt", auth=auth).status_code == 404
        assert requests.put(f"{url}/b.txt", data=b"after", auth=auth).status_code == 201
        assert srv.process.poll() is None


def test_damaged_database_is_never_written_and_named(
        tmp_path: Path, real_server_factory: Callable[..., Any]) -> None:
    with real_server_factory(tmp_path / "srv") as srv:
        for i in range(30):
            assert requests.put(f"{srv.url}{DAV}/f{i}.txt", data=b"x" * i,
                                auth=srv.admin).status_code == 201
    db = srv.workdir / "data" / "storage" / "users" / "metadata.db"
    assert not db.with_name("metadata.db-wal").exists()     # checkpointed at the clean stop
    pristine = db.read_bytes()
    page = 4096
    broken = bytearray(pristine)
    for n in range(1, len(pristine) // page):       # every page but the header's: garbage
        broken[n * page + 8:n * page + 64] = b"\xa5" * 56
    db.write_bytes(bytes(broken))
    digest = hashlib.sha256(bytes(broken)).hexdigest()
    with restarted(srv) as again:
        put = requests.put(f"{again.url}{DAV}/new.txt", data=b"no", auth=again.admin)
        assert put.status_code == 503, put.text
        assert "Traceback" not in put.text and str(db) not in put.text
        log = again.log_tail(50_000)
        assert f"{db} is damaged" in log and ".recover" in log
        health = again.ocis("health")
        assert health.returncode == 7, health.stdout + health.stderr    # degraded, not down
    assert hashlib.sha256(db.read_bytes()).hexdigest() == digest        # never written to
    full = srv.ocis("backup", "consistency", "--full", "-o", "json")
    assert full.returncode == 1, full.stdout + full.stderr
    assert '"damaged_database"' in full.stdout and "metadata.db" in full.stdout
    db.write_bytes(pristine)                                            # repaired
    for extra in ("metadata.db-wal", "metadata.db-shm"):
        db.with_name(extra).unlink(missing_ok=True)
    with restarted(srv) as repaired:
        got = requests.get(f"{repaired.url}{DAV}/f7.txt", auth=repaired.admin)
        assert got.status_code == 200 and got.content == b"x" * 7
    full = srv.ocis("backup", "consistency", "--full")
    assert full.returncode == 0, full.stdout + full.stderr


def test_damaged_identity_database_is_refused_unwritten(tmp_path: Path) -> None:
    """Every SQLite file gets the start check, not only the storage's: a damaged users.db."""
    import asyncio

    import pytest

    from ocis_server.domain.errors import ServiceUnavailable
    from ocis_server.identity.sqlitedb import SqliteThread

    path = tmp_path / "users.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
    conn.executemany("INSERT INTO t(v) VALUES (?)", [("x" * 300,) for _ in range(200)])
    conn.commit()
    conn.close()
    data = bytearray(path.read_bytes())
    data[4096 + 8:4096 + 64] = b"\xa5" * 56
    path.write_bytes(bytes(data))

    async def open_it() -> None:
        db = await SqliteThread.open(path, lambda c: c.execute("CREATE TABLE IF NOT EXISTS u(x)"),
                                     name="users")
        await db.close()

    with pytest.raises(ServiceUnavailable):
        asyncio.run(open_it())
    assert path.read_bytes() == bytes(data)


def test_locked_identity_database_is_503(tmp_path: Path) -> None:
    """The identity stores too: a write blocked past the busy timeout is a 503, not a bug."""
    import asyncio

    import pytest

    from ocis_server.domain.errors import ServiceUnavailable
    from ocis_server.identity.sqlitedb import SqliteThread

    path = tmp_path / "users.db"

    async def scenario() -> None:
        db = await SqliteThread.open(path, lambda c: c.execute("CREATE TABLE IF NOT EXISTS u(x)"),
                                     name="users", busy_timeout=0.2)
        holder = sqlite3.connect(path, isolation_level=None, timeout=0)
        holder.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(ServiceUnavailable) as caught:
                await db.transaction(lambda c: c.execute("INSERT INTO u VALUES (1)"))
            assert caught.value.status == 503 and caught.value.retry_after >= 1
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        await db.transaction(lambda c: c.execute("INSERT INTO u VALUES (2)"))
        await db.close()

    asyncio.run(scenario())
