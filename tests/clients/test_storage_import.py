"""`ocis storage-users import`: a local folder tree of a few hundred files goes into a stopped
server's space through the storage's bulk import; once the server runs again, WebDAV shows every
file with its content, size, mtime and three checksums, `ocis backup consistency` finds nothing
wrong, and owncloudcmd (the desktop sync engine) syncs the imported folder down byte for byte."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import RealServer, _status_ok, _stop

from .helpers import DAV, OC, Dav, describe, read_tree, require_tool, run

pytestmark = pytest.mark.slow

MTIME = 1_600_000_000


def _source(root: Path) -> dict[str, bytes]:
    """~300 files: a flat folder of 200, a deep chain, an empty file, a 300 KiB one, an empty
    folder, odd names; a symlink that must be left out."""
    tree: dict[str, bytes] = {}
    for i in range(200):
        tree[f"flat/f-{i:03d}.txt"] = f"file {i}\n".encode() * (i % 7 + 1)
    for i in range(90):
        tree[f"deep/a/b/c/d-{i:02d}.bin"] = os.urandom(100 + i)
    tree["deep/a/empty.txt"] = b""
    tree["big.bin"] = os.urandom(300 * 1024)
    tree["names/ä ö ü & #1.txt"] = b"umlauts"
    tree["names/x y (copy).txt"] = b"spaces"
    for rel, data in tree.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (MTIME, MTIME))
    (root / "empty-folder").mkdir()
    (root / "link.txt").symlink_to(root / "big.bin")
    return tree


@pytest.fixture
def stopped_server(real_server_factory, tmp_path: Path) -> Iterator[RealServer]:
    """A real server whose admin has a personal space (signed in once), then stopped."""
    with real_server_factory(tmp_path / "srv") as server:
        dav = Dav(server.url, *server.admin)
        dav.mkcol("/remote.php/webdav/imported")          # the target folder exists already
        dav.put("/remote.php/webdav/imported/big.bin", b"old content")   # replaced: a version
        refused = server.ocis("storage-users", "import", str(tmp_path), "--space",
                              "personal/admin")
        assert refused.returncode == 5, describe(refused)          # a server runs: refused
        assert "stop" in refused.stderr
        _stop(server.process)
        yield server


def _restart(server: RealServer) -> subprocess.Popen[bytes]:
    with (server.workdir / "server2.log").open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "ocis_cli", "server"], env=server.env,
                                cwd=server.workdir, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not _status_ok(server.url):
        assert proc.poll() is None and time.monotonic() < deadline, "the server did not restart"
        time.sleep(0.1)
    return proc


def test_import_then_webdav_and_owncloudcmd(stopped_server: RealServer, tmp_path: Path) -> None:
    owncloudcmd = require_tool("owncloudcmd")
    server = stopped_server
    tree = _source(tmp_path / "src")
    done = server.ocis("storage-users", "import", str(tmp_path / "src"), "--space",
                       "personal/admin", "--path", "/imported", "-o", "json", timeout=120)
    assert done.returncode == 7, describe(done)      # imported, the symlink left out
    stats = json.loads(done.stdout)
    assert stats["files"] == len(tree) and stats["replaced"] == 1
    assert len(stats["skipped"]) == 1 and "link.txt" in stats["skipped"][0]
    checked = server.ocis("backup", "consistency", "--checksums", "-o", "json")
    assert checked.returncode == 0, describe(checked)
    assert json.loads(checked.stdout)["counts"]["nodes"] >= len(tree) + 7

    proc = _restart(server)
    try:
        dav = Dav(server.url, *server.admin)
        assert dav.walk("/remote.php/webdav/imported") == dict(sorted(tree.items()))
        entries = {e.href.split("/imported/", 1)[-1]: e for e in dav.propfind(
            "/remote.php/webdav/imported/deep/a/b/c", "1",
            ("d:getcontentlength", "d:getlastmodified", "oc:checksums", "d:getetag"))}
        for i in (0, 45, 89):
            data = tree[f"deep/a/b/c/d-{i:02d}.bin"]
            props = entries[f"deep/a/b/c/d-{i:02d}.bin"].props
            assert props[f"{DAV}getcontentlength"] == str(len(data))
            assert props[f"{DAV}getlastmodified"] == "Sun, 13 Sep 2020 12:26:40 GMT"
            assert props[f"{OC}checksums"].split() == [
                f"SHA1:{hashlib.sha1(data).hexdigest()}", f"MD5:{hashlib.md5(data).hexdigest()}",
                f"ADLER32:{zlib.adler32(data):08x}"]
        assert [e.is_collection for e in dav.propfind("/remote.php/webdav/imported/empty-folder",
                                                      "0")] == [True]
        versions = dav.propfind("/remote.php/webdav/imported/big.bin", "0", ("oc:fileid",))
        fileid = versions[0].props[f"{OC}fileid"]
        listed = dav.propfind(f"/remote.php/dav/meta/{fileid}/v", "1")
        assert len(listed) == 2, "the replaced content is kept as a version"

        exclude = tmp_path / "exclude.lst"
        exclude.write_text("")
        (tmp_path / "home").mkdir()
        local = tmp_path / "down"
        local.mkdir()
        synced = run([owncloudcmd, "--non-interactive", "--exclude", str(exclude),
                      "-u", server.admin_user, "-p", server.admin_password, str(local),
                      f"{server.url}/remote.php/webdav/imported"],
                     env={**os.environ, "HOME": str(tmp_path / "home")})
        assert synced.returncode == 0, describe(synced)
        assert read_tree(local) == tree
        assert (local / "empty-folder").is_dir()
        assert (local / "flat" / "f-007.txt").stat().st_mtime == MTIME
    finally:
        _stop(proc)
