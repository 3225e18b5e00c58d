"""Real owncloudcmd 2.11 uploads against a private server: over TUS (advertised by default) and,
with OWNCLOUD_NO_TUS=1 and a small chunk size, over chunking NG. A recording proxy shows which
path the client took; the server's upload-session area must be empty afterwards."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import Dav, describe, require_tool, run
from .request_log import RequestLog, recording_proxy

pytestmark = pytest.mark.slow


class Client:
    def __init__(self, server, url: str, log: RequestLog, tmp_path: Path) -> None:
        self.server, self.url, self.log, self.tmp = server, url, log, tmp_path
        self.binary = require_tool("owncloudcmd")
        self.exclude = tmp_path / "exclude.lst"
        self.exclude.write_text("")
        (tmp_path / "home").mkdir(exist_ok=True)
        self.dav = Dav(server.url, *server.admin)

    def sync(self, local: Path, remote: str, **env: str):
        mark = self.log.mark()
        proc = run([self.binary, "--non-interactive", "--exclude", str(self.exclude),
                    "-u", self.server.admin_user, "-p", self.server.admin_password,
                    str(local), f"{self.url}/remote.php/webdav/{remote}"],
                   env={**os.environ, "HOME": str(self.tmp / "home"), **env}, timeout=120)
        assert proc.returncode == 0, describe(proc)
        return self.log.since(mark)

    def sessions_left(self) -> list[str]:
        folder = self.server.workdir / "data" / "storage" / "users" / "uploads"
        return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


@pytest.fixture
def client(real_server_factory, tmp_path: Path) -> Iterator[Client]:
    with real_server_factory(tmp_path / "srv") as server, \
            recording_proxy(server.url) as (url, log):
        yield Client(server, url, log, tmp_path)


def test_owncloudcmd_uploads_over_tus(client: Client) -> None:
    local = client.tmp / "tus"
    (local / "sub").mkdir(parents=True)
    files = {"empty.txt": b"", "small.txt": b"small file over tus\n",
             "sub/three-mb.bin": hashlib.sha256(b"3").digest() * 100_000}
    for rel, data in files.items():
        (local / rel).write_bytes(data)
    client.dav.mkcol("/remote.php/webdav/tus")
    moved = client.sync(local, "tus")
    posts = [x for x in moved if x.method == "POST"]
    assert len(posts) == len(files), [str(x) for x in moved]
    assert all(x.headers.get("tus-resumable") == "1.0.0" and "upload-metadata" in x.headers
               for x in posts)
    assert all(x.status == 201 for x in posts), [str(x) for x in posts]
    assert not [x for x in moved if x.method == "PUT"], [str(x) for x in moved]
    for rel, data in files.items():
        assert client.dav.get(f"/remote.php/webdav/tus/{rel}") == data, rel
    assert client.sessions_left() == []
    again = RequestLog.file_transfers(client.sync(local, "tus"))
    assert again == [], [str(x) for x in again]


def test_owncloudcmd_uploads_over_chunking_ng(client: Client) -> None:
    local = client.tmp / "ng"
    local.mkdir()
    data = hashlib.sha256(b"ng").digest() * 7_813 + b"tail"     # 250 020 bytes: 3 chunks
    (local / "chunked.bin").write_bytes(data)
    client.dav.mkcol("/remote.php/webdav/ng")
    moved = client.sync(local, "ng", OWNCLOUD_NO_TUS="1", OWNCLOUD_CHUNK_SIZE="100000",
                        OWNCLOUD_MIN_CHUNK_SIZE="100000", OWNCLOUD_MAX_CHUNK_SIZE="100000")
    mkcols = [x for x in moved if x.method == "MKCOL" and x.path.startswith("/remote.php/dav/uploads/")]
    chunks = [x for x in moved if x.method == "PUT" and x.path.startswith("/remote.php/dav/uploads/")]
    final = [x for x in moved if x.method == "MOVE" and x.path.endswith("/.file")]
    assert len(mkcols) == 1 and len(chunks) == 3 and len(final) == 1, [str(x) for x in moved]
    assert final[0].status == 201 and final[0].headers["oc-total-length"] == str(len(data))
    assert not [x for x in moved if x.method == "POST"], [str(x) for x in moved]
    assert client.dav.get("/remote.php/webdav/ng/chunked.bin") == data
    assert client.sessions_left() == []
